"""Isthmus: the open-source integration hub for low-code applications."""

from __future__ import annotations

__version__ = "0.1.0"

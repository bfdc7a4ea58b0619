"""Owners' documentation (``metadata.docs``), Markdown rendered to HTML.

Raw HTML in the Markdown is not passed through (markdown-it's ``html`` option off) and
links may only be http(s), mailto or relative: a resource's docs cannot inject script
into the portal.
"""

from __future__ import annotations

from markdown_it import MarkdownIt
from markupsafe import Markup

_SAFE_LINK = ("http://", "https://", "mailto:", "/", "#", "./", "../")


class _Renderer(MarkdownIt):
    def validateLink(self, url: str) -> bool:
        """Only web, mail and relative links (no javascript:, data:, vbscript:)."""
        return url.strip().lower().startswith(_SAFE_LINK) or ":" not in url.split("/")[0]


_renderer = _Renderer("commonmark", {"html": False, "linkify": False}).enable("table")


def render_markdown(text: str | None) -> Markup:
    if not text:
        return Markup("")
    return Markup(_renderer.render(text))  # noqa: S704 - markdown-it escapes, raw HTML off

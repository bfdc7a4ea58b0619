"""Governance: the secrets vault now; catalog, grants, tokens and health build on it."""

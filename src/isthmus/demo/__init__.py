"""The demo behind ``isthmus demo``: a small CRM system and a project that exposes it."""

"""The governed SQL connector. So far its statement guard (``guard``): what a caller's
SQL may do, decided on sqlglot's parse before anything reaches a database."""

"""Declarative connectors: a REST API described in YAML — auth, paging, errors, streams
and operations — run by one engine. ``spec`` holds the schema, ``paginators`` the paging
styles, ``auth`` the credentials, ``calls`` the rules for one call, ``connector`` the
reads and operations."""

"""Data virtualization: Views over many systems, planned with pushdown to each source
and finished in DuckDB; served as SQL, REST collections, OData v4 and GraphQL."""

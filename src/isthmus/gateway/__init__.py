"""The data plane: a lean ASGI app compiled from an in-memory snapshot of the store."""

"""The control plane: the admin API (FastAPI) and health endpoints."""

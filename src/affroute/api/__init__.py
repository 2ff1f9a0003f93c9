"""The REST API (FastAPI): routers per resource, schemas, auth, one error shape."""

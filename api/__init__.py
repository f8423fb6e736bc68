"""The docserve gateway: FastAPI front door, Triton client, and the embedded Triton launcher."""

API_VERSION = "v1"
API_PREFIX = f"/api/{API_VERSION}"  # where every versioned route lives (routers/versioned.py)

"""The docserve gateway: FastAPI front door, Triton client, and the embedded Triton launcher."""

API_VERSION = "v1"

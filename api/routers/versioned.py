"""The versioned API: every resource router under ``API_PREFIX`` (``/api/v1``), behind the API keys.

With a keys file every route here needs a key (401 without one, 403 for a revoked one, 429 over
the key's rate): declared once here, not per router; the probes and the home page stay outside.
Each resource router's own prefix starts with ``API_PREFIX`` rather than this router carrying it:
FastAPI >= 0.16x includes routers lazily and leaves the route template in ``scope["route"]``
without the prefixes added at inclusion, and that template names the request's metrics and
span (``/api/v1/jobs/{request_id}``, not ``/jobs/{request_id}``).
"""

from __future__ import annotations

from fastapi import APIRouter, Depends

from docserve.api.dependencies import authenticate
from docserve.api.routers import health, jobs, pipelines, predict
from docserve.api.schemas.errors import error_responses

api_router = APIRouter(dependencies=[Depends(authenticate)], responses=error_responses(401, 403, 429))
for resource in (health.router, predict.router, pipelines.router, jobs.router):
    api_router.include_router(resource)

"""Injected dependencies: routers declare what they need with these ``Annotated`` aliases.

Everything comes from the process's :class:`~docserve.api.services.Services`; ``get_settings``
is the one way a route reads the settings (the app's own, not a fresh read of the environment).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from docserve.api.api_keys import ApiClient
from docserve.api.car_evaluation import CarEvaluationService
from docserve.api.documents.service import DocumentService
from docserve.api.jobs.service import JobService
from docserve.api.settings import Settings
from docserve.api.step_repair import StepRepair
from docserve.inference.pipelines import PipelineCatalog
from docserve.inference.triton_client import TritonClient


def get_settings(request: Request) -> Settings:
    return request.app.state.services.settings


def get_triton(request: Request) -> TritonClient:
    return request.app.state.services.triton


def get_car_evaluation(request: Request) -> CarEvaluationService:
    return request.app.state.services.car_evaluation


def get_catalog(request: Request) -> PipelineCatalog:
    return request.app.state.services.catalog


def get_documents(request: Request) -> DocumentService:
    return request.app.state.services.documents


def get_jobs(request: Request) -> JobService:
    return request.app.state.services.jobs


def get_step_repair(request: Request) -> StepRepair:
    return request.app.state.services.step_repair


def authenticate(request: Request) -> ApiClient | None:
    """The client behind the request's API key; None when the gateway has no keys file."""
    keys = request.app.state.services.keys
    if keys is None:
        return None
    bearer = request.headers.get("authorization", "")
    key = bearer[7:].strip() if bearer[:7].lower() == "bearer " else request.headers.get("x-api-key")
    client = keys.authenticate(key)
    request.state.api_client = client
    return client


ClientDep = Annotated[ApiClient | None, Depends(authenticate)]


def job_owner(client: ClientDep) -> str | None:
    """Who owns the jobs a request submits and may see: its API key's name; None when the API is open."""
    return client.name if client else None


SettingsDep = Annotated[Settings, Depends(get_settings)]
TritonDep = Annotated[TritonClient, Depends(get_triton)]
CarEvaluationDep = Annotated[CarEvaluationService, Depends(get_car_evaluation)]
CatalogDep = Annotated[PipelineCatalog, Depends(get_catalog)]
DocumentsDep = Annotated[DocumentService, Depends(get_documents)]
JobsDep = Annotated[JobService, Depends(get_jobs)]
OwnerDep = Annotated[str | None, Depends(job_owner)]
StepRepairDep = Annotated[StepRepair, Depends(get_step_repair)]

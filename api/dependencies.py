"""Injected dependencies: routers declare what they need with these ``Annotated`` aliases."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from docserve.api.api_keys import ApiClient
from docserve.api.car_evaluation import CarEvaluationService
from docserve.api.documents.fetch import DocumentFetcher
from docserve.api.jobs.store import JobStore
from docserve.api.jobs.uploads import UploadStore
from docserve.api.jobs.worker import JobWorkers
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


def get_store(request: Request) -> JobStore:
    return request.app.state.services.store


def get_uploads(request: Request) -> UploadStore:
    return request.app.state.services.uploads


def get_catalog(request: Request) -> PipelineCatalog:
    return request.app.state.services.catalog


def get_fetcher(request: Request) -> DocumentFetcher:
    return request.app.state.services.fetcher


def get_step_repair(request: Request) -> StepRepair:
    return request.app.state.services.step_repair


def get_workers(request: Request) -> JobWorkers | None:
    return request.app.state.services.workers


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


SettingsDep = Annotated[Settings, Depends(get_settings)]
TritonDep = Annotated[TritonClient, Depends(get_triton)]
CarEvaluationDep = Annotated[CarEvaluationService, Depends(get_car_evaluation)]
StoreDep = Annotated[JobStore, Depends(get_store)]
UploadsDep = Annotated[UploadStore, Depends(get_uploads)]
CatalogDep = Annotated[PipelineCatalog, Depends(get_catalog)]
FetcherDep = Annotated[DocumentFetcher, Depends(get_fetcher)]
ClientDep = Annotated[ApiClient | None, Depends(authenticate)]
StepRepairDep = Annotated[StepRepair, Depends(get_step_repair)]
WorkersDep = Annotated[JobWorkers | None, Depends(get_workers)]

"""Injected dependencies: routers declare what they need with these ``Annotated`` aliases."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from docserve.api.car_evaluation import CarEvaluationService
from docserve.api.settings import Settings
from docserve.api.triton_client import TritonClient


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_triton(request: Request) -> TritonClient:
    return request.app.state.triton


def get_car_evaluation(request: Request) -> CarEvaluationService:
    return request.app.state.car_evaluation


SettingsDep = Annotated[Settings, Depends(get_settings)]
TritonDep = Annotated[TritonClient, Depends(get_triton)]
CarEvaluationDep = Annotated[CarEvaluationService, Depends(get_car_evaluation)]

"""The obvious alternative to docserve: the models inside the web app, run per request.

A plain FastAPI service with the same ONNX models and the same pre/post-processing code as the
Triton pipelines (docserve.export.reference_pipelines), loaded once at import and called in the
request handler (FastAPI runs sync handlers in its thread pool). This is the classic "model in
the microservice" design that bench/monolith.py measures docserve against:

    uvicorn monolith_app:app --app-dir bench --port 9000
"""

from __future__ import annotations

from typing import Annotated

from fastapi import FastAPI, File, HTTPException, UploadFile

from docserve.contract.model_repositories import PROJECT_ROOT
from docserve.export.reference_pipelines import PIPELINES, ReferencePipelines

pipelines = ReferencePipelines(PROJECT_ROOT / "model_repository", threads=2)
app = FastAPI(title="monolith document analysis")


@app.post("/pipelines/{name}")
def analyze(name: str, document: Annotated[UploadFile, File()]) -> dict:
    if name not in PIPELINES:
        raise HTTPException(404, f"no pipeline {name!r}")
    return pipelines.pipeline(name)(document.file.read()).model_dump(mode="json")

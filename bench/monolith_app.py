"""The obvious alternative to docserve: the models inside the web app, run per request.

A plain FastAPI service with the same ONNX models and the same pre/post-processing code as the
`ocr` pipeline, loaded once at import and called in the request handler (FastAPI runs sync
handlers in its thread pool). This is the classic "model in the microservice" design that
bench/monolith.py measures docserve against:

    uvicorn monolith_app:app --app-dir bench --port 9000
"""

from __future__ import annotations

from typing import Annotated

from fastapi import FastAPI, File, UploadFile

from docserve.api.settings import PROJECT_ROOT
from docserve.export.processing.ocr_pipeline import InProcessOcr

REPOSITORY = PROJECT_ROOT / "model_repository"
ocr = InProcessOcr(
    REPOSITORY / "text_detection/1/model.onnx",
    REPOSITORY / "text_recognition/1/model.onnx",
    REPOSITORY / "ocr_lines/1/character_set.txt",
    threads=2,
)
app = FastAPI(title="monolith OCR")


@app.post("/ocr")
def read_page(document: Annotated[UploadFile, File()]) -> dict:
    lines = ocr(document.file.read())
    return {"lines": [line.as_dict() for line in lines]}

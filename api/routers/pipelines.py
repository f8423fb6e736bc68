"""``/api/v1/pipelines``: the document pipelines Triton serves now, and synchronous analysis."""

from __future__ import annotations

from fastapi import APIRouter, Request

from docserve.api import API_PREFIX
from docserve.api.dependencies import CatalogDep, DocumentsDep, SettingsDep
from docserve.api.documents.service import Budget
from docserve.api.logs import request_id_var
from docserve.api.request_bodies import parse_body, read_multipart, upload_too_large
from docserve.api.schemas.errors import DOCUMENT_EXAMPLES, error_responses
from docserve.api.schemas.pipelines import DocumentLocation, PipelineView
from docserve.contract.errors import DocumentError, UnsupportedMediaTypeError
from docserve.contract.page_result import DocumentResult

router = APIRouter(prefix=f"{API_PREFIX}/pipelines", tags=["pipelines"])

_RESPONSES = error_responses(
    400, 404, 413, 415, 422, 502, 503,
    _400="a multipart body that cannot be parsed", _404="unknown pipeline",
    _415="neither multipart/form-data nor JSON; or not a PDF, PNG, JPEG or TIFF",
    _422="validation_error (malformed fields); invalid_document: a page too small for the pipeline, "
         "an unreadable document, pages it lacks; location_refused / document_not_found",
    examples=DOCUMENT_EXAMPLES,
)


@router.get("", response_model=list[PipelineView], responses=error_responses(503))
async def list_pipelines(catalog: CatalogDep) -> list[PipelineView]:
    """Every ensemble with the page contract, found in Triton's repository index (no restart
    needed when one is added)."""
    return [PipelineView(**vars(pipeline)) for pipeline in await catalog.all()]


_PREDICT_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": DocumentLocation.model_json_schema()},
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["document"],
                    "additionalProperties": False,
                    "properties": {
                        "document": {"type": "string", "format": "binary",
                                     "description": "PDF, PNG, JPEG or TIFF"},
                        "pages": {"type": "string", "description": "Comma-separated 1-based page numbers"},
                    },
                }
            },
        },
    }
}


@router.post("/{name}/predict", response_model=DocumentResult, responses=_RESPONSES,
             openapi_extra=_PREDICT_BODY)
async def predict(name: str, request: Request, documents: DocumentsDep,
                  settings: SettingsDep) -> DocumentResult:
    """Analyse one small document and wait for the result: upload it (multipart field
    ``document``) or name its location (JSON ``{"location": ...}``).

    For large or many documents, submit a job (``POST /api/v1/jobs``) instead.
    """
    pipeline = await documents.pipeline(name)
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("multipart/form-data"):
        fields, upload = await read_multipart(request, settings.max_document_bytes, ("pages",))
        document = await upload.read(settings.max_document_bytes + 1)
        if len(document) > settings.max_document_bytes:
            raise upload_too_large(settings.max_document_bytes)
        pages = _page_numbers(fields.get("pages"))
    elif content_type.startswith("application/json"):
        body = parse_body(DocumentLocation, await request.body())
        document, pages = await documents.fetch(body.location), body.pages
    else:
        raise UnsupportedMediaTypeError(
            "send the document as multipart/form-data (field 'document') or its location as JSON"
        )
    return await documents.analyze(pipeline, document, Budget.SYNCHRONOUS, pages, request_id_var.get())


MAX_PAGE_NUMBERS = 1000  # as many as the JSON body's ``pages`` may list


def _page_numbers(pages: str | None) -> list[int] | None:
    """``"1,3"`` -> ``[1, 3]``; held to the same bounds as the JSON body's ``pages``."""
    if not pages:
        return None
    parts = pages.split(",", MAX_PAGE_NUMBERS)
    if len(parts) > MAX_PAGE_NUMBERS:
        raise DocumentError(f"pages lists more than {MAX_PAGE_NUMBERS} page numbers")
    if not all(part.strip().isdigit() and len(part.strip()) <= 6 for part in parts):
        raise DocumentError(f"pages must be comma-separated page numbers, got {pages[:100]!r}")
    return [int(part) for part in parts]

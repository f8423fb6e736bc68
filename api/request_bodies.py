"""Reading request bodies the routes parse themselves (one route, two content types).

Routes that accept JSON *or* multipart (``POST /jobs``, ``POST /pipelines/{name}/predict``) read
the body here, so both give the same typed errors: a JSON body that does not validate is the usual
422 ``validation_error``; a multipart body that cannot be parsed is 400 ``malformed_body``, one
with fields the route does not accept (named, or too many to name) 422 ``invalid_document``; an
upload over the byte limit is 413 before its bulk is read.
"""

from __future__ import annotations

from typing import TypeVar

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel, ValidationError
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException
from starlette.types import Message

from docserve.contract.errors import DocumentError, DocumentTooLargeError, MalformedBodyError

Model = TypeVar("Model", bound=BaseModel)
# Multipart framing (boundaries, part headers) and the small form fields, on top of the document
# itself: what an upload may add to DOCSERVE_MAX_DOCUMENT_BYTES (body_limit allows the same).
MULTIPART_OVERHEAD_BYTES = 64 * 1024
DOCUMENT_FIELD = "document"
# Text fields read beyond a route's own before parsing stops: unknown fields up to this many are
# refused by name; more, without names; both are the same 422 ``invalid_document``.
EXTRA_FIELDS_READ = 8


def parse_body(model: type[Model], raw: bytes) -> Model:
    """``raw`` JSON as ``model``; errors answer like FastAPI's own body validation (422)."""
    try:
        return model.model_validate_json(raw)
    except ValidationError as error:
        raise body_validation_error(error) from error


def body_validation_error(error: ValidationError) -> RequestValidationError:
    """Pydantic's errors located in the body, as FastAPI locates those of a body it parses."""
    return RequestValidationError([{**item, "loc": ("body", *item["loc"])}
                                   for item in error.errors(include_url=False)])


def upload_too_large(max_bytes: int) -> DocumentTooLargeError:
    return DocumentTooLargeError(f"the upload is larger than {max_bytes} bytes (DOCSERVE_MAX_DOCUMENT_BYTES)")


async def read_multipart(request: Request, max_bytes: int, fields: tuple[str, ...]
                         ) -> tuple[dict[str, str], UploadFile]:
    """The text ``fields`` present and the ``document`` file of a multipart body.

    The file is spooled to a temporary file by the parser (not held in memory); a declared body
    over the limit is refused before it is read; unknown fields are refused by name.
    """
    declared = int(request.headers.get("content-length") or 0)
    if declared > max_bytes + MULTIPART_OVERHEAD_BYTES:
        raise upload_too_large(max_bytes)
    watched = _TailWatcher(request)
    accepted = [DOCUMENT_FIELD, *fields]
    try:
        # A few fields more than accepted get parsed, so unknown ones are refused by name below.
        form = await watched.request.form(max_files=1, max_fields=len(fields) + EXTRA_FIELDS_READ,
                                          max_part_size=64 * 1024)
    except (HTTPException, MultiPartException) as error:
        detail = str(getattr(error, "detail", None) or getattr(error, "message", error))
        if detail.startswith("Too many fields"):  # Starlette's only word for it: more unknown fields
            raise DocumentError(f"the multipart body has more than {len(fields) + EXTRA_FIELDS_READ} "
                                f"fields; accepted: {accepted}") from error
        raise MalformedBodyError(f"the multipart body cannot be parsed: {detail}") from error
    if not watched.ends_with_closing_boundary():
        await form.close()
        raise MalformedBodyError("the multipart body is truncated: its closing boundary is missing")
    unknown = sorted(set(form.keys()) - {*fields, DOCUMENT_FIELD})
    if unknown:
        raise DocumentError(f"unknown multipart fields {unknown[:5]}; accepted: {accepted}")
    document = form.get(DOCUMENT_FIELD)
    if not isinstance(document, UploadFile):
        raise DocumentError(f"the multipart body needs a file field named {DOCUMENT_FIELD!r}")
    if document.size is not None and document.size > max_bytes:
        raise upload_too_large(max_bytes)
    values = {name: value for name in fields if isinstance(value := form.get(name), str)}
    return values, document


class _TailWatcher:
    """The request, re-read through a receive that keeps the body's last bytes.

    python-multipart stops quietly at the end of a body cut short (a client that died, a proxy
    limit): the parts it finished look like a complete, smaller form. Only the closing boundary
    ``--<boundary>--`` tells a whole body from a truncated one.
    """

    def __init__(self, request: Request):
        self.boundary = _boundary(request.headers.get("content-type", ""))
        self._tail = b""
        self._keep = len(self.boundary) + 8
        self.request = Request(request.scope, self._receive)
        self._upstream = request.receive

    async def _receive(self) -> Message:
        message = await self._upstream()
        if message["type"] == "http.request":
            self._tail = (self._tail + message.get("body", b""))[-self._keep:]
        return message

    def ends_with_closing_boundary(self) -> bool:
        return bool(self.boundary) and self._tail.rstrip(b"\r\n").endswith(b"--" + self.boundary + b"--")


def _boundary(content_type: str) -> bytes:
    for parameter in content_type.split(";")[1:]:
        name, _, value = parameter.strip().partition("=")
        if name.lower() == "boundary":
            return value.strip('"').encode("latin-1")
    return b""


def publish_body_schemas(app: FastAPI, *models: type[BaseModel]) -> None:
    """Put ``models`` into the OpenAPI components, for the request bodies routes describe by
    ``$ref`` in ``openapi_extra`` (FastAPI adds only the models it parses itself)."""

    def openapi() -> dict:
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version, description=app.description,
                                 routes=app.routes)
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            for model in models:
                model_schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
                components.update(model_schema.pop("$defs", {}))
                components[model.__name__] = model_schema
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]

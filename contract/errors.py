"""Every error docserve reports, in one table, and one class per code.

:data:`ERROR_CODES` is the table: each code clients see (``{"error": {"code": ..., "message": ...,
"details": ...}}``, and a failed job's ``error.code``) with its HTTP status, its gRPC status and
whether it is ``transient`` (another attempt may succeed: the job worker retries it, a client may
come back after ``Retry-After``). Nothing else defines a status: the gateway answers with the row's
HTTP status, the Triton client turns Triton's gRPC statuses into these codes, and the Python
clients raise the class an answer's code names, so callers catch the same classes the gateway
raises. The gRPC status is a :class:`grpc.StatusCode` member's *name*: this layer imports no
gRPC (the inference layer maps names to members).

The classes bind to their row by ``code`` when they are defined (a class naming a code the table
lacks fails at import), and carry the row's ``status_code``, ``grpc_status`` and ``transient``.
A situation's ``Retry-After`` is the raiser's to compute (the workers' pace, Triton's outage,
a step's reload schedule): no class carries a default one.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

MAX_RETRY_AFTER_S = 60  # a client told to wait longer than a minute is better off polling


@dataclass(frozen=True)
class ErrorCode:
    """One row of the error table."""

    code: str
    http_status: int
    grpc_status: str  # a grpc.StatusCode member name
    transient: bool
    meaning: str


def error_table(*rows: ErrorCode) -> Mapping[str, ErrorCode]:
    """The rows by code; a code defined twice is refused."""
    by_code = {row.code: row for row in rows}
    if len(by_code) != len(rows):
        raise ValueError("the error table defines a code twice")
    return by_code


ERROR_CODES: Mapping[str, ErrorCode] = error_table(
    # The request
    ErrorCode("malformed_body", 400, "INVALID_ARGUMENT", False,
              "The request body cannot be parsed at all (a truncated or garbled multipart body)."),
    ErrorCode("bad_request", 400, "INVALID_ARGUMENT", False,
              "The web framework could not read the request (e.g. an unparsable form)."),
    ErrorCode("invalid_input", 400, "INVALID_ARGUMENT", False,
              "The request is well-formed but the model refuses its content (a value outside its "
              "vocabulary, named with the accepted ones)."),
    ErrorCode("validation_error", 422, "INVALID_ARGUMENT", False,
              "Fields missing or of the wrong type; `details` locates each problem."),
    ErrorCode("unauthorized", 401, "UNAUTHENTICATED", False,
              "API keys are on and the request has no valid one."),
    ErrorCode("key_revoked", 403, "PERMISSION_DENIED", False,
              "The request's API key was revoked (`docserve keys revoke`)."),
    ErrorCode("origin_refused", 403, "PERMISSION_DENIED", False,
              "A state-changing request (POST, PUT, PATCH, DELETE) sent by a web page of another "
              "origin: its `Origin` is neither the gateway's own nor one of DOCSERVE_CORS_ORIGINS."),
    ErrorCode("not_found", 404, "NOT_FOUND", False, "No such pipeline, model, job or route."),
    ErrorCode("method_not_allowed", 405, "UNIMPLEMENTED", False,
              "The path does not serve this method; `Allow` names those it serves."),
    ErrorCode("conflict", 409, "ALREADY_EXISTS", False,
              "The request contradicts what is stored: a used request id with another body, or a "
              "job that can no longer be cancelled."),
    ErrorCode("payload_too_large", 413, "INVALID_ARGUMENT", False,
              "The body, or the records of a prediction, are over their limit."),
    ErrorCode("request_headers_too_large", 431, "INVALID_ARGUMENT", False,
              "The request's headers are over DOCSERVE_MAX_HEADER_BYTES; answered before the "
              "rest is read, and the connection is closed."),
    ErrorCode("unsupported_media_type", 415, "INVALID_ARGUMENT", False,
              "The body is neither of the content types the endpoint accepts."),
    ErrorCode("queue_full", 429, "RESOURCE_EXHAUSTED", True,
              "The job queue is at its bound; `Retry-After` is the time the workers' recent pace "
              "needs to make room."),
    ErrorCode("queue_unavailable", 503, "UNAVAILABLE", True,
              "The job queue's broker (Kafka) did not take the job in time; the job is stored as "
              "queued and is offered again when the same submission is repeated."),
    ErrorCode("rate_limited", 429, "RESOURCE_EXHAUSTED", True,
              "The request's API key is over its requests per minute; `Retry-After` says when it "
              "has one again."),
    # The document
    ErrorCode("invalid_document", 422, "INVALID_ARGUMENT", False,
              "The document, its location, or a page of it cannot be used (also: a page a "
              "pipeline step refuses)."),
    ErrorCode("location_refused", 422, "PERMISSION_DENIED", False,
              "The location is outside what docserve may read: a private network, outside the "
              "file roots."),
    ErrorCode("document_not_found", 422, "NOT_FOUND", False, "Nothing is at the document's location."),
    ErrorCode("document_too_large", 413, "INVALID_ARGUMENT", False,
              "The document is over a limit: bytes, pages, pixels of a page or of the document."),
    ErrorCode("unsupported_document", 415, "INVALID_ARGUMENT", False,
              "The document is not a PDF, PNG, JPEG or TIFF (read from its first bytes), or is empty."),
    ErrorCode("fetch_failed", 502, "UNAVAILABLE", True,
              "The document's server timed out or failed (5xx, connection reset)."),
    # Triton and the gateway
    ErrorCode("triton_unavailable", 503, "UNAVAILABLE", True,
              "Triton cannot be reached or is not ready; `Retry-After` grows with the outage."),
    ErrorCode("step_unavailable", 503, "UNAVAILABLE", True,
              "A pipeline step's process died; the gateway is reloading it and `Retry-After` "
              "follows the reload schedule."),
    ErrorCode("inference_failed", 502, "INTERNAL", False,
              "Triton answered with an error that is not the client's fault, or a pipeline "
              "returned a result that is not a page result."),
    ErrorCode("internal_error", 500, "INTERNAL", True,
              "A bug, logged with the request id; a job meeting one is tried again."),
    ErrorCode("attempts_exhausted", 500, "ABORTED", False,
              "A failed job's code only: its last attempt ended without an outcome (its worker "
              "died or lost the lease) and no attempt is left."),
    ErrorCode("http_error", 500, "UNKNOWN", False,
              "An error answer without a docserve code: the web framework's for a status no other "
              "code has, or a proxy's page. Its HTTP status is the one it was answered with."),
)


def retry_after(seconds: float) -> int:
    """``seconds`` as a ``Retry-After``: whole seconds, at least one, at most a minute."""
    return max(1, min(MAX_RETRY_AFTER_S, math.ceil(seconds)))


_CLASSES: dict[str, type[DocserveError]] = {}


class DocserveError(Exception):
    """Base of every error docserve reports; the base itself is a bug (``internal_error``).

    ``retry_after_s`` is sent as ``Retry-After`` (when another try is worth it), ``headers``
    with the answer (e.g. ``WWW-Authenticate``).
    """

    code = "internal_error"
    status_code: int
    grpc_status: str
    transient: bool
    headers: dict[str, str] | None = None

    def __init__(self, message: str, details: Any = None, retry_after_s: int | None = None):
        super().__init__(message)
        self.message = message
        self.details = details
        self.retry_after_s = retry_after_s

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        _bind(cls)

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.details is not None:
            error["details"] = self.details
        return {"error": error}


def _bind(cls: type[DocserveError]) -> None:
    """Give ``cls`` its row's status and transient flag; one class per code."""
    row = ERROR_CODES.get(cls.code)
    if row is None:
        raise TypeError(f"{cls.__name__} names the code {cls.code!r}, which the error table lacks")
    if cls.code in _CLASSES:
        raise TypeError(f"{cls.__name__} and {_CLASSES[cls.code].__name__} both name {cls.code!r}")
    cls.status_code, cls.grpc_status, cls.transient = row.http_status, row.grpc_status, row.transient
    _CLASSES[cls.code] = cls


_bind(DocserveError)


def error_class(code: str) -> type[DocserveError]:
    """The class of ``code`` (:class:`HttpError` for a code not in the table)."""
    return _CLASSES.get(code, HttpError)


def error_from_answer(status_code: int, code: str, message: str, details: Any = None,
                      retry_after_s: int | None = None) -> DocserveError:
    """The error an answer's envelope names, as the class the gateway raised for it: what the
    Python clients raise. It keeps the status and code it came with."""
    error = error_class(code)(message, details=details, retry_after_s=retry_after_s)
    error.status_code, error.code = status_code, code
    return error


class MalformedBodyError(DocserveError):
    code = "malformed_body"


class BadRequestError(DocserveError):
    code = "bad_request"


class InvalidInputError(DocserveError):
    code = "invalid_input"


class ValidationFailedError(DocserveError):
    code = "validation_error"


class UnauthorizedError(DocserveError):
    code = "unauthorized"
    headers = {"WWW-Authenticate": "Bearer"}  # noqa: RUF012 - a constant, never mutated


class KeyRevokedError(DocserveError):
    code = "key_revoked"


class OriginRefusedError(DocserveError):
    code = "origin_refused"


class NotFoundError(DocserveError):
    code = "not_found"


class MethodNotAllowedError(DocserveError):
    code = "method_not_allowed"


class ConflictError(DocserveError):
    code = "conflict"


class PayloadTooLargeError(DocserveError):
    code = "payload_too_large"


class RequestHeadersTooLargeError(DocserveError):
    code = "request_headers_too_large"


class UnsupportedMediaTypeError(DocserveError):
    code = "unsupported_media_type"


class QueueFullError(DocserveError):
    code = "queue_full"


class QueueUnavailableError(DocserveError):
    code = "queue_unavailable"


class RateLimitedError(DocserveError):
    code = "rate_limited"


class DocumentError(DocserveError):
    """A document location or its content cannot be used (the base of the document errors)."""

    code = "invalid_document"


class LocationRefusedError(DocumentError):
    code = "location_refused"


class DocumentNotFoundError(DocumentError):
    code = "document_not_found"


class DocumentTooLargeError(DocumentError):
    code = "document_too_large"


class UnsupportedDocumentError(DocumentError):
    code = "unsupported_document"


class FetchFailedError(DocumentError):
    code = "fetch_failed"


class TritonUnavailableError(DocserveError):
    code = "triton_unavailable"


class StepDownError(TritonUnavailableError):
    """A step of a pipeline cannot run: its python backend stub process died. The gateway reloads
    that model (:mod:`docserve.api.step_repair`); until then the pipeline answers 503.

    ``model`` is the step (empty when the error comes from a gateway's answer, which does not
    name it)."""

    code = "step_unavailable"

    def __init__(self, message: str, details: Any = None, retry_after_s: int | None = None,
                 model: str = ""):
        super().__init__(message, details, retry_after_s)
        self.model = model


class InferenceError(DocserveError):
    code = "inference_failed"


class AttemptsExhaustedError(DocserveError):
    code = "attempts_exhausted"


class HttpError(DocserveError):
    code = "http_error"

"""The errors docserve reports, one class per code: the gateway, the Triton client and the
document readers raise these, and one handler per transport turns them into answers.

``code`` is what clients see (``{"error": {"code": ..., "message": ..., "details": ...}}``),
``status_code`` the HTTP status, and ``transient`` whether another attempt may succeed.
"""

from __future__ import annotations

from typing import Any


class DocserveError(Exception):
    """Base of every error the gateway reports to a client.

    ``transient`` tells a job worker whether another attempt may succeed (Triton restarting, a
    fetch timing out) or the job should fail at once (a corrupt document, a refused location).
    """

    status_code = 500
    code = "internal_error"
    transient = False
    retry_after_s: int | None = None  # sent as Retry-After: when another try is worth it
    headers: dict[str, str] | None = None  # sent with the answer (e.g. WWW-Authenticate)

    def __init__(self, message: str, details: Any = None, retry_after_s: int | None = None):
        super().__init__(message)
        self.message = message
        self.details = details
        if retry_after_s is not None:  # this situation's wait, instead of the class's default
            self.retry_after_s = retry_after_s

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.details is not None:
            error["details"] = self.details
        return {"error": error}


class InvalidInputError(DocserveError):
    """The request is well-formed JSON but the model refuses its content."""

    status_code = 400
    code = "invalid_input"


class MalformedBodyError(DocserveError):
    """The request body cannot be parsed at all (a truncated or garbled multipart body)."""

    status_code = 400
    code = "malformed_body"


class NotFoundError(DocserveError):
    status_code = 404
    code = "not_found"


class PayloadTooLargeError(DocserveError):
    status_code = 413
    code = "payload_too_large"


class ConflictError(DocserveError):
    """The request contradicts what is stored (a used request id with another body)."""

    status_code = 409
    code = "conflict"


class QueueFullError(DocserveError):
    """The job queue is at its bound; the client should come back after ``Retry-After``
    (the time the workers' recent pace needs to make room)."""

    status_code = 429
    code = "queue_full"


class UnauthorizedError(DocserveError):
    """API keys are on and the request has no valid one."""

    status_code = 401
    code = "unauthorized"
    headers = {"WWW-Authenticate": "Bearer"}  # noqa: RUF012 - a constant, never mutated


class KeyRevokedError(DocserveError):
    """The request's API key was revoked (docserve keys revoke)."""

    status_code = 403
    code = "key_revoked"


class RateLimitedError(DocserveError):
    """The request's API key is over its requests per minute."""

    status_code = 429
    code = "rate_limited"


class TritonUnavailableError(DocserveError):
    """Triton cannot be reached or is not ready; the client may retry later."""

    status_code = 503
    code = "triton_unavailable"
    transient = True
    retry_after_s = 5  # Triton starting or restarting takes seconds


class StepDownError(TritonUnavailableError):
    """A step of a pipeline cannot run: its python backend stub process died. The gateway reloads
    that model (:mod:`docserve.api.step_repair`); until then the pipeline answers 503."""

    code = "step_unavailable"
    retry_after_s = 2  # reloading one model

    def __init__(self, message: str, model: str):
        super().__init__(message)
        self.model = model


class DocumentError(DocserveError):
    """A document location or its content cannot be used."""

    status_code = 422
    code = "invalid_document"


class LocationRefusedError(DocumentError):
    """The location is outside what docserve may read: private network, outside file roots."""

    code = "location_refused"


class DocumentNotFoundError(DocumentError):
    code = "document_not_found"


class DocumentTooLargeError(DocumentError):
    status_code = 413
    code = "document_too_large"


class UnsupportedDocumentError(DocumentError):
    status_code = 415
    code = "unsupported_document"


class UnsupportedMediaTypeError(DocserveError):
    """The request body is neither of the content types an endpoint accepts."""

    status_code = 415
    code = "unsupported_media_type"


class FetchFailedError(DocumentError):
    """The document's server timed out or failed (5xx, connection reset): worth another try."""

    status_code = 502
    code = "fetch_failed"
    transient = True


class InferenceError(DocserveError):
    """Triton answered with an error that is not the client's fault."""

    status_code = 502
    code = "inference_failed"

"""Signed result callbacks: the receiver can tell docserve's POSTs from anyone else's.

Every callback carries ``X-Docserve-Timestamp`` (Unix seconds) and ``X-Docserve-Signature:
sha256=<hex>``, the HMAC-SHA256 under ``DOCSERVE_CALLBACK_SECRET`` of ``"<timestamp>.<body>"``
(the body's exact bytes). Signing the timestamp with the body lets a receiver refuse replays of
an old callback; comparing in constant time keeps the signature from leaking byte by byte.
:func:`verify_callback` is what receivers call (``docserve.client`` re-exports it).
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Mapping

TIMESTAMP_HEADER = "X-Docserve-Timestamp"
SIGNATURE_HEADER = "X-Docserve-Signature"
_SCHEME = "sha256="


class InvalidCallbackSignature(ValueError):
    """The callback is not signed with the secret, or not recently (the reason is the message)."""


def _digest(secret: str, timestamp: str, body: bytes) -> str:
    return hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def signature_headers(body: bytes, secret: str, now: float | None = None) -> dict[str, str]:
    """The two headers that sign ``body`` at ``now``."""
    timestamp = str(int(time.time() if now is None else now))
    return {TIMESTAMP_HEADER: timestamp, SIGNATURE_HEADER: _SCHEME + _digest(secret, timestamp, body)}


def verify_callback(headers: Mapping[str, str], body: bytes, secret: str, tolerance_s: float = 300,
                    now: float | None = None) -> None:
    """Raise :class:`InvalidCallbackSignature` unless ``body`` was signed with ``secret`` within
    ``tolerance_s`` seconds of ``now``. ``headers`` may be any case-insensitive or plain mapping."""
    lowered = {name.lower(): value for name, value in headers.items()}
    timestamp = lowered.get(TIMESTAMP_HEADER.lower())
    signature = lowered.get(SIGNATURE_HEADER.lower())
    if not timestamp or not signature:
        raise InvalidCallbackSignature(f"missing {TIMESTAMP_HEADER} or {SIGNATURE_HEADER} header")
    try:
        age = (time.time() if now is None else now) - int(timestamp)
    except ValueError as error:
        raise InvalidCallbackSignature(f"{TIMESTAMP_HEADER} is not a Unix time: {timestamp!r}") from error
    if abs(age) > tolerance_s:
        raise InvalidCallbackSignature(f"the callback was signed {age:.0f}s away from now (> {tolerance_s}s)")
    expected = _SCHEME + _digest(secret, timestamp, body)
    if not hmac.compare_digest(expected, signature):
        raise InvalidCallbackSignature("the signature does not match the body and secret")

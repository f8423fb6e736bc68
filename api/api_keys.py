"""API keys: who may call ``/api/*``, under which name, and how often.

The keys file (``DOCSERVE_API_KEYS_FILE``, written by ``docserve keys create|revoke``) holds one
entry per client: a name, the SHA-256 of its key (never the key: keys are 256-bit random tokens,
so a plain hash cannot be reversed or guessed), an optional requests-per-minute limit, and
whether it was revoked. The gateway re-reads the file when it changes, so a revocation takes
effect within a second, without a restart.

A request names its key as ``Authorization: Bearer <key>`` or ``X-API-Key: <key>``; no key or an
unknown one is 401, a revoked one 403, a key over its rate 429 with ``Retry-After``. Jobs remember
the name of the key that created them, and a key sees only its own jobs.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from loguru import logger

from docserve.contract.errors import KeyRevokedError, RateLimitedError, UnauthorizedError, retry_after

KEY_PREFIX = "dsk_"
RELOAD_CHECK_S = 1.0
# A key's name owns its jobs and names the folder of their files (``records.owner_folder``: its
# UTF-8 in hex, which must fit a file name): 1 to this many bytes.
MAX_NAME_BYTES = 100


class KeysFileError(ValueError):
    """The keys file cannot be read, or a change to it is refused (a name used twice...)."""


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


@dataclass(frozen=True)
class ApiKey:
    """One client's entry in the keys file."""

    name: str
    sha256: str
    created_at: float
    rate_per_minute: int | None = None
    revoked: bool = False


@dataclass
class KeysFile:
    """The keys file on disk: read, and changed atomically (temporary file + rename, mode 0600)."""

    path: Path
    keys: list[ApiKey] = field(default_factory=list)

    @classmethod
    def load(cls, path: Path) -> KeysFile:
        if not path.exists():
            return cls(path)
        try:
            entries = json.loads(path.read_text(encoding="utf-8"))["keys"]
            return cls(path, [ApiKey(**entry) for entry in entries])
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise KeysFileError(f"cannot read the API keys file {path}: {error}") from error

    def create(self, name: str, rate_per_minute: int | None = None) -> str:
        """Add a client; returns its key, which is shown once and stored only as a hash."""
        if not 0 < len(name.encode()) <= MAX_NAME_BYTES:
            raise KeysFileError(f"a key's name is 1 to {MAX_NAME_BYTES} bytes (UTF-8), not {name!r}")
        if any(key.name == name for key in self.keys):
            raise KeysFileError(f"a key named {name!r} exists already (revoke it or pick another name)")
        key = KEY_PREFIX + secrets.token_urlsafe(32)
        self.keys.append(ApiKey(name, hash_key(key), time.time(), rate_per_minute))
        self.save()
        return key

    def revoke(self, name: str) -> None:
        if not any(key.name == name for key in self.keys):
            raise KeysFileError(f"no key named {name!r}")
        self.keys = [replace(key, revoked=True) if key.name == name else key for key in self.keys]
        self.save()

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        text = json.dumps({"keys": [asdict(key) for key in self.keys]}, indent=2)
        handle, temporary = tempfile.mkstemp(dir=self.path.parent, prefix=".keys-")
        try:
            os.fchmod(handle, 0o600)
            with os.fdopen(handle, "w", encoding="utf-8") as out:
                out.write(text)
            os.replace(temporary, self.path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise


@dataclass(frozen=True)
class ApiClient:
    """The client a request authenticated as."""

    name: str


class _RateBucket:
    """A token bucket: ``per_minute`` requests, refilled continuously."""

    def __init__(self, per_minute: int):
        self.capacity = float(per_minute)
        self.tokens = float(per_minute)
        self.refill_per_s = per_minute / 60.0
        self.updated = time.monotonic()

    def take(self) -> float:
        """0 if a request may go now, else the seconds until it may."""
        now = time.monotonic()
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.refill_per_s)
        self.updated = now
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        return (1 - self.tokens) / self.refill_per_s


class KeyRing:
    """The gateway's view of the keys file: authenticates keys and applies their rates."""

    def __init__(self, path: Path):
        self.path = path
        self._lock = threading.Lock()
        self._by_hash: dict[str, ApiKey] = {}
        self._buckets: dict[str, _RateBucket] = {}
        self._mtime: float | None = None
        self._checked = 0.0
        self._reload()

    def authenticate(self, key: str | None) -> ApiClient:
        if not key:
            raise UnauthorizedError("this API needs a key: send 'Authorization: Bearer <key>' or 'X-API-Key'")
        with self._lock:
            self._reload_if_changed()
            entry = self._by_hash.get(hash_key(key))
            if entry is None:
                raise UnauthorizedError("unknown API key")
            if entry.revoked:
                raise KeyRevokedError(f"the API key {entry.name!r} was revoked")
            wait_s = self._bucket(entry).take() if entry.rate_per_minute else 0.0
        if wait_s > 0:
            raise RateLimitedError(
                f"the API key {entry.name!r} is over its {entry.rate_per_minute} requests per minute",
                retry_after_s=retry_after(wait_s),
            )
        return ApiClient(entry.name)

    def _bucket(self, entry: ApiKey) -> _RateBucket:
        bucket = self._buckets.get(entry.name)
        if bucket is None or bucket.capacity != entry.rate_per_minute:
            bucket = self._buckets[entry.name] = _RateBucket(entry.rate_per_minute or 1)
        return bucket

    def _reload_if_changed(self) -> None:
        now = time.monotonic()
        if now - self._checked < RELOAD_CHECK_S:
            return
        self._checked = now
        try:
            mtime = self.path.stat().st_mtime
        except FileNotFoundError:
            mtime = None
        if mtime != self._mtime:
            try:
                self._reload()
            except KeysFileError as error:  # a half-edited file must not lock every client out
                logger.error("{}; keeping the keys read before", error)

    def _reload(self) -> None:
        keys = KeysFile.load(self.path)
        self._by_hash = {key.sha256: key for key in keys.keys}
        self._mtime = self.path.stat().st_mtime if self.path.exists() else None

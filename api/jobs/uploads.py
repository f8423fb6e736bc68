"""Documents uploaded with a job: kept durably under the data dir until the job no longer needs them.

A multipart ``POST /api/v1/jobs`` copies its file to ``<data dir>/uploads/.incoming/`` while
hashing it, checks it (size, type, pages, pixels), then *links* it to
``uploads/<owner folder>/<request_id>.<sha256>.document`` (the owner folder keeps two owners'
jobs of one request id apart: ``records.owner_folder``) and only then queues the job, whose
location is
``upload:sha256:<digest>``. The digest in the location makes idempotency the jobs store's usual
fingerprint (the same bytes again are the same job, other bytes a 409), and in the file name it
keeps uploads under one request id apart: ``os.link`` never replaces a file, and a file of that
name can only hold those bytes.

The file goes when the job's outcome is stored or the job is cancelled; a sweep removes files
whose job is gone or final, half-received files, and uploads older than the retention (a job
still queued by then fails with ``document_not_found`` when it runs).

Uploads kept by an earlier version (``uploads/<request_id>.<sha256>.document``, from when
request ids were global) stay readable by their job (the digest in the name still proves the
bytes) and are swept like the others, as the uploads of the job that request id then named
(``JobStore.legacy_owner``).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from loguru import logger

from docserve.api.jobs.protocols import JobStore
from docserve.api.jobs.records import Job, folder_owner, owner_folder
from docserve.contract.errors import (
    DocumentError,
    DocumentNotFoundError,
    DocumentTooLargeError,
    NotFoundError,
)

LOCATION_PREFIX = "upload:sha256:"
_SUFFIX = ".document"
_INCOMING = ".incoming"
_CHUNK = 1024 * 1024
# A file this young may be an upload between its link and its job's insert: never swept.
SWEEP_GRACE_S = 300.0


def is_upload(location: str) -> bool:
    return location.startswith(LOCATION_PREFIX)


@dataclass(frozen=True)
class StagedUpload:
    """A received, not yet committed upload."""

    path: Path
    digest: str
    size: int

    @property
    def location(self) -> str:
        return f"{LOCATION_PREFIX}{self.digest}"

    def read(self) -> bytes:
        return self.path.read_bytes()


class UploadStore:
    """The uploads folder of one data dir, shared by the gateway and every worker process."""

    def __init__(self, root: Path, max_bytes: int, retention_s: float):
        self.root = root
        self.max_bytes = max_bytes
        self.retention_s = retention_s
        (root / _INCOMING).mkdir(parents=True, exist_ok=True)

    def path_of(self, owner: str | None, request_id: str, location: str) -> Path:
        return self.root / owner_folder(owner) / _file_name(request_id, location)

    def _legacy_path(self, request_id: str, location: str) -> Path:
        """Where an earlier version kept the upload (by request id alone)."""
        return self.root / _file_name(request_id, location)

    def receive(self, source: BinaryIO) -> StagedUpload:
        """Copy the upload to the incoming folder (hashing it, refusing it past ``max_bytes``) and
        fsync it. Blocking: run it in a thread."""
        path = self.root / _INCOMING / uuid.uuid4().hex
        digest, size = hashlib.sha256(), 0
        try:
            with path.open("wb") as handle:
                while chunk := source.read(_CHUNK):
                    size += len(chunk)
                    if size > self.max_bytes:
                        raise DocumentTooLargeError(
                            f"the upload is larger than {self.max_bytes} bytes (DOCSERVE_MAX_DOCUMENT_BYTES)"
                        )
                    digest.update(chunk)
                    handle.write(chunk)
                handle.flush()
                os.fsync(handle.fileno())
        except BaseException:
            path.unlink(missing_ok=True)
            raise
        if size == 0:
            path.unlink(missing_ok=True)
            raise DocumentError("the uploaded document is empty")
        return StagedUpload(path, digest.hexdigest(), size)

    def commit(self, staged: StagedUpload, owner: str | None, request_id: str) -> bool:
        """Make the upload the document of the owner's ``request_id``, durably; False if these
        very bytes already are (a repeated submission)."""
        target = self.path_of(owner, request_id, staged.location)
        try:
            if not target.parent.is_dir():
                target.parent.mkdir(exist_ok=True)
                _fsync_dir(self.root)
            os.link(staged.path, target)
        except FileExistsError:
            return False
        finally:
            staged.path.unlink(missing_ok=True)
        _fsync_dir(target.parent)
        return True

    @staticmethod
    def discard(staged: StagedUpload) -> None:
        staged.path.unlink(missing_ok=True)

    def read(self, job: Job) -> bytes:
        """The job's uploaded document, checked against the digest its location names."""
        try:
            data = self._read_either(job)
        except FileNotFoundError as error:
            raise DocumentNotFoundError(
                f"the uploaded document of job {job.request_id!r} is gone (uploads are kept "
                f"{self.retention_s:.0f}s at most: DOCSERVE_UPLOAD_RETENTION_S)"
            ) from error
        if f"{LOCATION_PREFIX}{hashlib.sha256(data).hexdigest()}" != job.location:
            raise DocumentError(f"the uploaded document of job {job.request_id!r} was altered on disk")
        return data

    def _read_either(self, job: Job) -> bytes:
        """The owner's file, else one an earlier version kept under the same name and digest."""
        try:
            return self.path_of(job.owner, job.request_id, job.location).read_bytes()
        except FileNotFoundError:
            return self._legacy_path(job.request_id, job.location).read_bytes()

    def delete(self, owner: str | None, request_id: str, location: str) -> None:
        if is_upload(location):
            self.path_of(owner, request_id, location).unlink(missing_ok=True)

    async def sweep(self, store: JobStore, now: float | None = None) -> int:
        """Remove what no job needs any more (see the module docstring); how many files went."""
        now = time.time() if now is None else now
        expendable = []
        for path, age in await asyncio.to_thread(self._documents_by_age, now):
            if await self._expendable(path, age, store):
                expendable.append(path)
        removed = await asyncio.to_thread(self._remove, expendable, now)
        if removed:
            logger.info("upload sweep removed {} file(s)", removed)
        return removed

    def _documents_by_age(self, now: float) -> list[tuple[Path, float]]:
        """Every kept document (the owners' and an earlier version's) with its age."""
        paths = [*self.root.glob(f"~*/*{_SUFFIX}"), *self.root.glob(f"*{_SUFFIX}")]
        return [(path, now - _mtime(path, now)) for path in paths]

    def _remove(self, expendable: list[Path], now: float) -> int:
        """The expendable documents and the half-received files left in the incoming folder."""
        incoming = (self.root / _INCOMING).iterdir()
        stale = [path for path in incoming if now - _mtime(path, now) > SWEEP_GRACE_S]
        for path in (*expendable, *stale):
            path.unlink(missing_ok=True)
        return len(expendable) + len(stale)

    async def _expendable(self, path: Path, age: float, store: JobStore) -> bool:
        if age > self.retention_s:
            return True
        if age < SWEEP_GRACE_S:
            return False
        request_id, digest = path.name.removesuffix(_SUFFIX).rsplit(".", 1)
        if path.parent == self.root:  # kept by an earlier version: its job's owner is the id's first
            owner = await store.legacy_owner(request_id)
        else:
            owner = folder_owner(path.parent.name)
        try:
            job = await store.get(request_id, owner)
        except NotFoundError:
            return True
        return job.status.final or job.location != f"{LOCATION_PREFIX}{digest}"


def _file_name(request_id: str, location: str) -> str:
    return f"{request_id}.{location.removeprefix(LOCATION_PREFIX)}{_SUFFIX}"


def _mtime(path: Path, default: float) -> float:
    with contextlib.suppress(FileNotFoundError):
        return path.stat().st_mtime
    return default


def _fsync_dir(path: Path) -> None:
    """The new directory entry survives a crash too, not just the file's bytes."""
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


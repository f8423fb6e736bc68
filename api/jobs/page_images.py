"""The page images a job analysed, kept so that clients can draw its results on them.

A worker writes every page it analysed to ``<data dir>/pages/<owner folder>/<request_id>/<n>.png``
(``n`` the 1-based page number; the owner folder keeps two owners' jobs of one request id
apart: ``records.owner_folder``) as the pipeline sees it: PDF pages as rasterized, TIFF pages
split, every page turned upright by its EXIF orientation, laid on white where transparent and
scaled to 8 bits (``processing.page_image.as_seen_on_paper``, the decode step's own rule). So
the coordinates of a result are pixels of its image, whatever the document was.

The images of a job go with it: when it is cancelled, when its record is gone, and at the
latest ``retention_s`` after they were written (the sweep). Every process of a deployment
shares the data dir, as for uploads. The sweep also moves the folders of earlier versions
(``pages/<request_id>``, from when request ids were global) under the owner of their job
(``JobStore.legacy_owner``), or removes them when it is gone.
"""

from __future__ import annotations

import asyncio
import io
import os
import shutil
import threading
import time
from pathlib import Path

from loguru import logger
from PIL import Image

from docserve.api.jobs.protocols import JobStore
from docserve.api.jobs.records import folder_owner, owner_folder
from docserve.contract.errors import NotFoundError
from docserve.processing.page_image import as_seen_on_paper

_SUFFIX = ".png"


def page_png(encoded: bytes) -> bytes:
    """The page a pipeline decodes from ``encoded``, as PNG: the pixels its coordinates refer to."""
    with Image.open(io.BytesIO(encoded)) as image:
        page = as_seen_on_paper(image)
    buffer = io.BytesIO()
    page.save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


class PageImageStore:
    """The page images of every job of one data dir."""

    def __init__(self, root: Path, retention_s: float):
        self.root = root
        self.retention_s = retention_s
        root.mkdir(parents=True, exist_ok=True)

    def folder(self, owner: str | None, request_id: str) -> Path:
        return self.root / owner_folder(owner) / request_id

    def clear(self, owner: str | None, request_id: str) -> None:
        """Drop the images of an earlier attempt (a new one writes its own). Blocking."""
        shutil.rmtree(self.folder(owner, request_id), ignore_errors=True)

    def save(self, owner: str | None, request_id: str, number: int, encoded: bytes) -> None:
        """Keep page ``number`` (1-based) of the job as the pipeline decodes ``encoded``; the file
        appears complete or not at all. Blocking: run it in a thread."""
        folder = self.folder(owner, request_id)
        folder.mkdir(parents=True, exist_ok=True)
        partial = folder / f".{number}.{os.getpid()}.{threading.get_ident()}.tmp"
        partial.write_bytes(page_png(encoded))
        os.replace(partial, folder / f"{number}{_SUFFIX}")

    def numbers(self, owner: str | None, request_id: str) -> list[int]:
        """The page numbers kept for the job (empty when none are)."""
        folder = self.folder(owner, request_id)
        if not folder.is_dir():
            return []
        return sorted(int(path.stem) for path in folder.glob(f"*{_SUFFIX}") if path.stem.isdigit())

    def read(self, owner: str | None, request_id: str, number: int) -> bytes:
        """One page image; ``NotFoundError`` naming the page and the pages there are."""
        try:
            return (self.folder(owner, request_id) / f"{number}{_SUFFIX}").read_bytes()
        except FileNotFoundError:
            kept = self.numbers(owner, request_id)
            raise NotFoundError(
                f"job {request_id!r} has no page {number}; its page images: {kept}" if kept
                else f"job {request_id!r} has no page images (not split yet, or no longer kept)"
            ) from None

    def delete(self, owner: str | None, request_id: str) -> None:
        shutil.rmtree(self.folder(owner, request_id), ignore_errors=True)

    async def sweep(self, store: JobStore, now: float | None = None) -> int:
        """Remove the images of jobs that are gone and those kept past the retention; how many
        jobs' images went."""
        now = time.time() if now is None else now
        removed = await self._adopt_legacy(store)
        for owner, folder in await asyncio.to_thread(self._job_folders):
            expired = now - _mtime(folder, now) > self.retention_s
            if expired or not await _exists(store, owner, folder.name):
                await asyncio.to_thread(shutil.rmtree, folder, True)
                removed += 1
        if removed:
            logger.info("page image sweep removed the images of {} job(s)", removed)
        return removed

    def _job_folders(self) -> list[tuple[str | None, Path]]:
        """Every job's folder, with its owner."""
        return [(folder_owner(entry.name), folder)
                for entry in self.root.glob("~*") for folder in entry.iterdir()]

    async def _adopt_legacy(self, store: JobStore) -> int:
        """Move each folder of an earlier version (named by the request id alone) under the owner
        of its job, or remove it when the job is gone; how many went."""
        removed = 0
        legacy = await asyncio.to_thread(lambda: [entry for entry in self.root.iterdir()
                                                  if not entry.name.startswith("~")])
        for folder in legacy:
            owner = await store.legacy_owner(folder.name)
            if await _exists(store, owner, folder.name):
                await asyncio.to_thread(self._adopt, folder, owner)
            else:
                await asyncio.to_thread(shutil.rmtree, folder, True)
                removed += 1
        return removed

    def _adopt(self, legacy: Path, owner: str | None) -> None:
        target = self.folder(owner, legacy.name)
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            legacy.rename(target)
        except OSError:  # a new attempt wrote the job's images there already: those are the newer
            shutil.rmtree(legacy, ignore_errors=True)


async def _exists(store: JobStore, owner: str | None, request_id: str) -> bool:
    try:
        await store.get(request_id, owner)
    except NotFoundError:
        return False
    return True


def _mtime(path: Path, default: float) -> float:
    try:
        return path.stat().st_mtime
    except FileNotFoundError:
        return default

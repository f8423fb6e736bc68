"""Documents through pipelines, whatever brought them: a REST call, a job, later a queue message.

The synchronous predict route and the job workers (and the job submission's checks) go through
this one service, so the same document gets the same result and is held to the same budgets
whichever way it came. It knows nothing of HTTP: routers parse the request, call it, and turn
what it returns into their view.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from enum import Enum
from typing import Protocol

from docserve.api.documents.fetch import DocumentFetcher
from docserve.api.settings import Settings
from docserve.api.step_repair import StepRepair
from docserve.contract.errors import DocumentError, InvalidInputError
from docserve.contract.page_result import DocumentResult, PageEntry
from docserve.inference.pipelines import Pipeline, PipelineCatalog, analyze_page
from docserve.inference.triton_client import TritonClient
from docserve.processing.document_pages import PageLimits, check_document, document_pages


class Budget(Enum):
    """Whose budgets a document is held to: a client waiting on its connection gets smaller ones."""

    SYNCHRONOUS = "synchronous"
    JOB = "job"


class PageObserver(Protocol):
    """Told about a document's pages while it is analysed (a job reports its progress this way)."""

    async def pages_split(self, pages_total: int) -> None:
        """The document is split: ``pages_total`` pages are to be analysed, none is yet."""
        ...

    async def page_done(self, entry: PageEntry, image: bytes) -> None:
        """One page's result as soon as it is known (pages finish in any order), with the
        encoded page the pipeline read: the coordinates of the result are its pixels."""
        ...


class DocumentService:
    """Finds pipelines, fetches documents, splits them into pages and runs every page through Triton."""

    def __init__(self, settings: Settings, triton: TritonClient, catalog: PipelineCatalog,
                 fetcher: DocumentFetcher, step_repair: StepRepair | None = None):
        self.settings = settings
        self.triton = triton
        self.catalog = catalog
        self.fetcher = fetcher
        self.step_repair = step_repair  # refuses at once a document whose pipeline has a dead step

    async def pipeline(self, name: str) -> Pipeline:
        """The pipeline Triton serves under ``name`` (``NotFoundError`` if none)."""
        return await self.catalog.get(name)

    def check_location(self, location: str) -> None:
        """Refuse a location the fetcher would refuse (422), without fetching it."""
        self.fetcher.parse(location)

    async def fetch(self, location: str) -> bytes:
        """The document at ``location``, within the byte limit and the fetch deadline."""
        return await self.fetcher.fetch(location)

    def limits(self, pipeline: Pipeline, budget: Budget) -> PageLimits:
        """The budgets of one document through ``pipeline`` (a deskewing one's pages grow)."""
        settings = self.settings
        if budget is Budget.SYNCHRONOUS:
            pixels, timeout = settings.max_sync_document_pixels, settings.sync_rasterize_timeout_s
            hint = ("for a document this large, submit a job (POST /api/v1/jobs); "
                    "DOCSERVE_MAX_SYNC_DOCUMENT_PIXELS, DOCSERVE_SYNC_RASTERIZE_TIMEOUT_S")
        else:
            pixels, timeout = settings.max_job_document_pixels, settings.job_rasterize_timeout_s
            hint = "DOCSERVE_MAX_JOB_DOCUMENT_PIXELS, DOCSERVE_JOB_RASTERIZE_TIMEOUT_S"
        return PageLimits(
            max_pages=settings.max_pages, max_page_pixels=settings.max_page_pixels, pdf_dpi=settings.pdf_dpi,
            max_document_pixels=pixels, rasterize_timeout_s=timeout, deskew=pipeline.deskews,
            min_page_side=pipeline.min_page_side, over_budget_hint=hint,
        )

    async def check(self, document: bytes, pipeline: Pipeline, budget: Budget,
                    pages: Sequence[int] | None = None) -> None:
        """Refuse now what analysing would refuse later (type, pages, pixels), without rendering
        every page: a job's upload is checked before it is queued."""
        await asyncio.to_thread(check_document, document, self.limits(pipeline, budget), pages)

    async def analyze(self, pipeline: Pipeline, document: bytes, budget: Budget,
                      pages: Sequence[int] | None = None, request_id: str = "",
                      observer: PageObserver | None = None) -> DocumentResult:
        """Every selected page through ``pipeline``, ``page_concurrency`` pages at a time; the
        pages of the result are in document order. ``observer`` hears of the split and of each
        page as it finishes."""
        if self.step_repair is not None:
            self.step_repair.refuse_if_down(pipeline)
        started = time.perf_counter()
        split = await asyncio.to_thread(document_pages, document, self.limits(pipeline, budget), pages)
        split_s = time.perf_counter() - started
        if observer is not None:
            await observer.pages_split(len(split.selected))
        in_flight = asyncio.Semaphore(self.settings.page_concurrency)

        async def one(index: int, image: bytes) -> PageEntry:
            async with in_flight:
                page_started = time.perf_counter()
                try:
                    result = await analyze_page(self.triton, pipeline, image, request_id)
                except InvalidInputError as refused:  # a step refused the page (INVALID_ARGUMENT)
                    raise DocumentError(f"page {index + 1}: {refused.message}") from refused
                entry = PageEntry(page=index + 1, seconds=round(time.perf_counter() - page_started, 4),
                                  result=result)
            if observer is not None:
                await observer.page_done(entry, image)
            return entry

        results = await asyncio.gather(*(one(index, image) for index, image in split.selected))
        return DocumentResult(
            pipeline=pipeline.name,
            page_count=split.count,
            pages=list(results),
            timings={"split_pages_s": round(split_s, 4), "total_s": round(time.perf_counter() - started, 4)},
        )

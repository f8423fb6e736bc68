"""Analyse one document with one pipeline: pages out of the document, each through Triton.

The same function serves job workers and synchronous predictions, so both return the same
result for the same document, and the same error: a page a pipeline step refuses (Triton's
INVALID_ARGUMENT) is ``invalid_document``, as when the gateway's own checks refuse it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence

from docserve.api.settings import Settings
from docserve.contract.errors import DocumentError, InvalidInputError
from docserve.contract.page_result import DocumentResult, PageEntry
from docserve.inference.pipelines import Pipeline, analyze_page
from docserve.inference.triton_client import TritonClient
from docserve.processing.document_pages import PageLimits, document_pages


def page_limits(settings: Settings, synchronous: bool = False, deskew: bool = False) -> PageLimits:
    """The budgets of one document: a synchronous prediction's are smaller than a job's."""
    if synchronous:
        budget, timeout = settings.max_sync_document_pixels, settings.sync_rasterize_timeout_s
        hint = ("for a document this large, submit a job (POST /api/v1/jobs); "
                "DOCSERVE_MAX_SYNC_DOCUMENT_PIXELS, DOCSERVE_SYNC_RASTERIZE_TIMEOUT_S")
    else:
        budget, timeout = settings.max_job_document_pixels, settings.job_rasterize_timeout_s
        hint = "DOCSERVE_MAX_JOB_DOCUMENT_PIXELS, DOCSERVE_JOB_RASTERIZE_TIMEOUT_S"
    return PageLimits(
        max_pages=settings.max_pages, max_page_pixels=settings.max_page_pixels, pdf_dpi=settings.pdf_dpi,
        max_document_pixels=budget, rasterize_timeout_s=timeout, deskew=deskew, over_budget_hint=hint,
    )


async def analyze_document(
    triton: TritonClient,
    pipeline: Pipeline,
    document: bytes,
    settings: Settings,
    pages: Sequence[int] | None = None,
    request_id: str = "",
    synchronous: bool = False,
) -> DocumentResult:
    """Every selected page through ``pipeline``, ``settings.page_concurrency`` pages at a time;
    the pages of the result are in document order. ``synchronous``: the smaller budgets of a
    client waiting on its connection."""
    started = time.perf_counter()
    limits = page_limits(settings, synchronous=synchronous, deskew=pipeline.deskews)
    split = await asyncio.to_thread(document_pages, document, limits, pages)
    split_s = time.perf_counter() - started
    in_flight = asyncio.Semaphore(settings.page_concurrency)

    async def one(index: int, image: bytes) -> PageEntry:
        async with in_flight:
            page_started = time.perf_counter()
            try:
                result = await analyze_page(triton, pipeline, image, request_id)
            except InvalidInputError as refused:
                raise DocumentError(f"page {index + 1}: {refused.message}") from refused
            return PageEntry(page=index + 1, seconds=round(time.perf_counter() - page_started, 4),
                             result=result)

    results = await asyncio.gather(*(one(index, image) for index, image in split.selected))
    return DocumentResult(
        pipeline=pipeline.name,
        page_count=split.count,
        pages=list(results),
        timings={"split_pages_s": round(split_s, 4), "total_s": round(time.perf_counter() - started, 4)},
    )

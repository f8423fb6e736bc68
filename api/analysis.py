"""Analyse one document with one pipeline: pages out of the document, each through Triton.

The same function serves job workers and synchronous predictions, so both return the same
result for the same document.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence

from docserve.api.documents.pages import PageLimits, split_pages
from docserve.api.errors import DocumentError
from docserve.api.pipelines import Pipeline, analyze_page
from docserve.api.settings import Settings
from docserve.api.triton_client import TritonClient
from docserve.export.processing.page_result import DocumentResult, PageEntry


def page_limits(settings: Settings) -> PageLimits:
    return PageLimits(
        max_pages=settings.max_pages, max_page_pixels=settings.max_page_pixels, pdf_dpi=settings.pdf_dpi
    )


def select_pages(count: int, wanted: Sequence[int] | None) -> list[int]:
    """0-based indices of the pages to analyse (``wanted`` holds 1-based page numbers)."""
    if not wanted:
        return list(range(count))
    outside = [number for number in wanted if not 1 <= number <= count]
    if outside:
        raise DocumentError(f"pages {outside} do not exist: the document has {count} page(s)")
    return [number - 1 for number in sorted(set(wanted))]


async def analyze_document(
    triton: TritonClient,
    pipeline: Pipeline,
    document: bytes,
    settings: Settings,
    pages: Sequence[int] | None = None,
    request_id: str = "",
) -> DocumentResult:
    """Every selected page through ``pipeline``, ``settings.page_concurrency`` pages at a time;
    the pages of the result are in document order."""
    started = time.perf_counter()
    images = await asyncio.to_thread(split_pages, document, page_limits(settings))
    split_s = time.perf_counter() - started
    in_flight = asyncio.Semaphore(settings.page_concurrency)

    async def one(index: int) -> PageEntry:
        async with in_flight:
            page_started = time.perf_counter()
            result = await analyze_page(triton, pipeline, images[index], request_id)
            return PageEntry(page=index + 1, seconds=round(time.perf_counter() - page_started, 4),
                             result=result)

    results = await asyncio.gather(*(one(index) for index in select_pages(len(images), pages)))
    return DocumentResult(
        pipeline=pipeline.name,
        page_count=len(images),
        pages=list(results),
        timings={"split_pages_s": round(split_s, 4), "total_s": round(time.perf_counter() - started, 4)},
    )

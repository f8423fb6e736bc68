"""Direct Triton gRPC access to document pipelines: the high-throughput path.

Services that process many pages skip the gateway and its queue: they send encoded pages
straight to a pipeline's ensemble and get the same page result the gateway would return
(:class:`~docserve.export.processing.page_result.PageResult`), with the pipeline's step
parameters (e.g. form_intake's ``expected_document_types``) sent along::

    async with TritonPipelineClient("localhost:8001") as triton:
        result = await triton.analyze(Path("page.png").read_bytes(), "ocr")
        async for index, result in triton.analyze_many(pages, "ocr", max_in_flight=8):
            ...

Pages go as encoded bytes (a few hundred KB), never as decoded pixels: decoding happens inside
Triton, next to the models, so the large tensors never cross the network or protobuf.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence

from docserve.api.pipelines import Pipeline, PipelineCatalog, analyze_page
from docserve.api.triton_client import TritonClient
from docserve.export.processing.page_result import PageResult


class TritonPipelineClient:
    """Analyse pages with a Triton document pipeline over gRPC (asyncio)."""

    def __init__(self, url: str = "localhost:8001", timeout_s: float = 60.0, retries: int = 3):
        self._triton = TritonClient(url, timeout_s=timeout_s, retries=retries)
        self._catalog = PipelineCatalog(self._triton, ttl_s=60.0)

    async def __aenter__(self) -> TritonPipelineClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def close(self) -> None:
        await self._triton.close()

    async def pipelines(self) -> list[Pipeline]:
        return await self._catalog.all()

    async def analyze(self, page: bytes, pipeline: str) -> PageResult:
        """One encoded page (PNG/JPEG/TIFF bytes) -> the pipeline's page result."""
        return await analyze_page(self._triton, await self._catalog.get(pipeline), page)

    async def analyze_many(
        self, pages: Sequence[bytes], pipeline: str, max_in_flight: int = 8
    ) -> AsyncIterator[tuple[int, PageResult | Exception]]:
        """Yield ``(index, result or error)`` as each page finishes, ``max_in_flight`` at a time."""
        spec = await self._catalog.get(pipeline)
        limit = asyncio.Semaphore(max_in_flight)

        async def one(index: int) -> tuple[int, PageResult | Exception]:
            async with limit:
                try:
                    return index, await analyze_page(self._triton, spec, pages[index])
                except Exception as error:  # reported per page; the others go on
                    return index, error

        for finished in asyncio.as_completed([one(index) for index in range(len(pages))]):
            yield await finished

"""Direct Triton gRPC access to document pipelines: the high-throughput path.

Services that process many pages skip the gateway and its queue: they send encoded pages
straight to a pipeline's ensemble and get the same page result the gateway would return
(:class:`~docserve.contract.page_result.PageResult`), with the pipeline's step
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

import tritonclient.grpc.aio as grpcclient
from tritonclient.utils import serialize_byte_tensor, serialized_byte_size

from docserve.client.shared_memory import SharedMemoryPages
from docserve.contract.page_result import PageResult
from docserve.contract.tensor_names import PAGE_INPUT
from docserve.inference.pipelines import (
    Pipeline,
    PipelineCatalog,
    analyze_page,
    page_array,
    run_page,
)
from docserve.inference.triton_client import TritonClient


class TritonPipelineClient:
    """Analyse pages with a Triton document pipeline over gRPC (asyncio).

    ``shared_memory=True`` (Triton on this host only) passes pages through system shared memory:
    ``shared_memory_regions`` regions of ``region_bytes`` are registered on first use and released
    by :meth:`close`; a page waits for a free region, and larger pages go inline.
    """

    def __init__(self, url: str = "localhost:8001", timeout_s: float = 60.0, retries: int = 3,
                 shared_memory: bool = False, shared_memory_regions: int = 16,
                 region_bytes: int = 16 * 1024 * 1024):
        self._triton = TritonClient(url, timeout_s=timeout_s, retries=retries)
        self._catalog = PipelineCatalog(self._triton, ttl_s=60.0)
        self._shared_memory = (SharedMemoryPages(self._triton, shared_memory_regions, region_bytes)
                               if shared_memory else None)
        self._shared_memory_open: asyncio.Task[None] | None = None

    async def __aenter__(self) -> TritonPipelineClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def close(self) -> None:
        if self._shared_memory_open is not None:
            await self._shared_memory.close()
        await self._triton.close()

    async def pipelines(self) -> list[Pipeline]:
        return await self._catalog.all()

    async def analyze(self, page: bytes, pipeline: str) -> PageResult:
        """One encoded page (PNG/JPEG/TIFF bytes) -> the pipeline's page result."""
        return await self._analyze(await self._catalog.get(pipeline), page)

    async def analyze_many(
        self, pages: Sequence[bytes], pipeline: str, max_in_flight: int = 8
    ) -> AsyncIterator[tuple[int, PageResult | Exception]]:
        """Yield ``(index, result or error)`` as each page finishes, ``max_in_flight`` at a time."""
        spec = await self._catalog.get(pipeline)
        limit = asyncio.Semaphore(max_in_flight)

        async def one(index: int) -> tuple[int, PageResult | Exception]:
            async with limit:
                try:
                    return index, await self._analyze(spec, pages[index])
                except Exception as error:  # reported per page; the others go on
                    return index, error

        for finished in asyncio.as_completed([one(index) for index in range(len(pages))]):
            yield await finished

    async def _analyze(self, spec: Pipeline, page: bytes) -> PageResult:
        if self._shared_memory is None:
            return await analyze_page(self._triton, spec, page)
        serialized = serialize_byte_tensor(page_array(spec, page))
        size = serialized_byte_size(serialized)
        if size > self._shared_memory.region_bytes:
            return await analyze_page(self._triton, spec, page)
        await self._open_shared_memory()
        async with self._shared_memory.region() as region:
            region.write(serialized)
            tensor = grpcclient.InferInput(PAGE_INPUT, spec.page_shape(), "BYTES")
            tensor.set_shared_memory(region.name, size)
            return await run_page(self._triton, spec, tensor)

    async def _open_shared_memory(self) -> None:
        """Create and register the regions once, however many pages ask at the same time."""
        if self._shared_memory_open is None:
            self._shared_memory_open = asyncio.ensure_future(self._shared_memory.open())
        await asyncio.shield(self._shared_memory_open)

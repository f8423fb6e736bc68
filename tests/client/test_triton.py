"""Direct gRPC pipeline client against the real Triton."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sample_documents import png_page

from docserve.client.triton import TritonPipelineClient
from docserve.contract.errors import InvalidInputError, NotFoundError


def test_analyze_and_analyze_many(triton, probe_pipeline):
    pages = [png_page(10 + index, 5) for index in range(10)] + [b"\x89PNG\r\n\x1a\nnot really"]

    async def scenario():
        async with TritonPipelineClient(triton.grpc_url) as client:
            single = await client.analyze(pages[0], probe_pipeline)
            many = [item async for item in client.analyze_many(pages, probe_pipeline, max_in_flight=3)]
            with pytest.raises(NotFoundError):
                await client.analyze(pages[0], "nope")
            return single, dict(many)

    single, many = asyncio.run(scenario())
    assert single.page.width == 10
    assert sorted(many) == list(range(11))
    assert [many[index].page.width for index in range(10)] == list(range(10, 20))
    assert isinstance(many[10], InvalidInputError)


def test_shared_memory_pages_give_the_same_results(triton, probe_pipeline):
    pages = [png_page(30 + index, 7) for index in range(6)]

    async def scenario():
        async with TritonPipelineClient(triton.grpc_url, shared_memory=True, shared_memory_regions=2,
                                        region_bytes=64 * 1024) as client:
            many = dict([item async for item in client.analyze_many(pages, probe_pipeline, max_in_flight=4)])
            large = await client.analyze(png_page(900, 900, shade=7) + b"\0" * 70_000, probe_pipeline)
            regions = set(Path("/dev/shm").glob("docserve_client_*"))
            return many, large, regions

    before = set(Path("/dev/shm").glob("docserve_client_*"))
    many, large, regions = asyncio.run(scenario())
    assert [many[index].page.width for index in range(6)] == list(range(30, 36))
    assert large.page.width == 900  # over the region size: sent inline
    assert len(regions - before) == 2  # in use while the client was open ...
    assert set(Path("/dev/shm").glob("docserve_client_*")) == before  # ... and gone after close

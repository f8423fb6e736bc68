"""Direct gRPC pipeline client against the real Triton."""

from __future__ import annotations

import asyncio

import pytest
from sample_documents import png_page

from docserve.api.errors import InvalidInputError, NotFoundError
from docserve.client.triton import TritonPipelineClient


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

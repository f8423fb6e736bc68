"""System shared memory for page inputs: a local client hands Triton pages without copying them
through gRPC.

A fixed pool of regions is created and registered with Triton once; each page in flight borrows
one region, writes its serialized bytes there and names the region in its request. Only for a
Triton on the same host (and the same /dev/shm: not across containers without a shared IPC
namespace). Pages larger than a region go inline as usual.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import numpy as np
import tritonclient.utils.shared_memory as system_shm

from docserve.inference.triton_client import TritonClient


@dataclass(frozen=True)
class Region:
    name: str
    handle: object  # tritonclient's SharedMemoryRegion

    def write(self, serialized: np.ndarray) -> None:
        system_shm.set_shared_memory_region(self.handle, [serialized])


class SharedMemoryPages:
    """``count`` regions of ``region_bytes`` each, registered with Triton until :meth:`close`."""

    def __init__(self, triton: TritonClient, count: int, region_bytes: int = 16 * 1024 * 1024):
        self.triton = triton
        self.count = count
        self.region_bytes = region_bytes
        self._free: asyncio.Queue[Region] = asyncio.Queue()
        self._regions: list[Region] = []
        self._prefix = f"docserve_client_{uuid.uuid4().hex[:12]}"

    async def open(self) -> None:
        for index in range(self.count):
            name = f"{self._prefix}_{index}"
            handle = system_shm.create_shared_memory_region(name, f"/{name}", self.region_bytes)
            region = Region(name, handle)
            self._regions.append(region)
            await self.triton.register_system_shared_memory(name, f"/{name}", self.region_bytes)
            self._free.put_nowait(region)

    async def close(self) -> None:
        for region in self._regions:
            with contextlib.suppress(Exception):  # Triton may be gone already; free ours anyway
                await self.triton.unregister_system_shared_memory(region.name)
            system_shm.destroy_shared_memory_region(region.handle)
        self._regions.clear()

    @contextlib.asynccontextmanager
    async def region(self) -> AsyncIterator[Region]:
        region = await self._free.get()
        try:
            yield region
        finally:
            self._free.put_nowait(region)

"""OCR benchmark: quality and throughput of the Triton ``ocr`` ensemble against its references.

On N rendered pages with known text (half clean, half degraded like a scan; see
``docserve.export.synthetic_text_pages``) it measures character error rate, word accuracy and
pages/s of:
  * the Triton pipeline: a fresh embedded Triton, the ``ocr`` ensemble over gRPC, page bytes in;
  * the same processing in-process (``InProcessOcr``): what serving itself costs;
  * rapidocr in-process with the same weights (no angle classifier: our pipeline has none);
  * Tesseract 5 (Debian), single-threaded (OMP_THREAD_LIMIT=1) and with its default threads.
Then throughput on the scanned pages: the Triton pipeline with 4 pages in flight against
rapidocr's best in-process configuration (1 or 2 onnxruntime threads).
The machine is shared and noisy, so the systems are measured interleaved, page by page, in a
rotating order; each system reads one warm-up page first. Prints one markdown table.

    python bench/ocr.py --quick        # 2 pages, under a minute
    python bench/ocr.py --pages 20
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
import tritonclient.grpc as grpcclient
from harness import embedded_triton
from rapidocr import RapidOCR

from docserve.api.embedded_triton import EmbeddedTriton
from docserve.contract.model_repositories import PROJECT_ROOT
from docserve.contract.tensor_names import PAGE_INPUT
from docserve.export.ocr import RAPIDOCR_VERSION
from docserve.export.reference_ocr import InProcessOcr
from docserve.export.synthetic_text_pages import TextPage, render_text_page
from docserve.export.text_accuracy import edit_distance, normalize_whitespace

REPOSITORY = PROJECT_ROOT / "model_repository"
ONNX_THREADS = 2  # the machine's cores: every ONNX Runtime system gets the same
Reader = Callable[[bytes], str]  # page image bytes -> text, lines separated by newlines


@dataclass
class Tally:
    """One system's accumulated errors and time over the measured pages."""

    character_edits: int = 0
    characters: int = 0
    word_edits: int = 0
    words: int = 0
    seconds: list[float] = field(default_factory=list)

    def add(self, page: TextPage, text: str, seconds: float) -> None:
        reference, hypothesis = normalize_whitespace(page.text), normalize_whitespace(text)
        self.character_edits += edit_distance(reference, hypothesis)
        self.characters += len(reference)
        self.word_edits += edit_distance(reference.split(), hypothesis.split())
        self.words += len(reference.split())
        self.seconds.append(seconds)

    @property
    def cer(self) -> float:
        return self.character_edits / max(1, self.characters)

    @property
    def word_accuracy(self) -> float:
        return max(0.0, 1.0 - self.word_edits / max(1, self.words))

    @property
    def pages_per_second(self) -> float:
        return len(self.seconds) / sum(self.seconds)


def triton_reader(server: EmbeddedTriton) -> Reader:
    client = grpcclient.InferenceServerClient(server.grpc_url)

    def read(page_image_bytes: bytes) -> str:
        page = grpcclient.InferInput(PAGE_INPUT, [1], "BYTES")
        page.set_data_from_numpy(np.array([page_image_bytes], dtype=np.object_))
        wanted = [grpcclient.InferRequestedOutput("line_texts")]
        result = client.infer("ocr", [page], outputs=wanted)
        return "\n".join(text.decode("utf-8") for text in result.as_numpy("line_texts"))

    return read


def in_process_reader() -> Reader:
    ocr = InProcessOcr(
        REPOSITORY / "text_detection/1/model.onnx",
        REPOSITORY / "text_recognition/1/model.onnx",
        REPOSITORY / "ocr_lines/1/character_set.txt",
        threads=ONNX_THREADS,
    )
    return lambda page_image_bytes: "\n".join(line.text for line in ocr(page_image_bytes))


def rapidocr_reader(threads: int = ONNX_THREADS) -> Reader:
    engine = RapidOCR(
        params={
            "Global.use_cls": False,
            "Global.log_level": "warning",
            "EngineConfig.onnxruntime.intra_op_num_threads": threads,
            "EngineConfig.onnxruntime.inter_op_num_threads": 1,
        }
    )
    return lambda page_image_bytes: "\n".join(engine(page_image_bytes).txts or ())


def tesseract_reader(single_threaded: bool) -> Reader:
    if shutil.which("tesseract") is None:
        sys.exit("tesseract not found: apt-get install -y tesseract-ocr tesseract-ocr-eng")
    env = dict(os.environ)
    if single_threaded:
        env["OMP_THREAD_LIMIT"] = "1"
    else:
        env.pop("OMP_THREAD_LIMIT", None)

    def read(page_image_bytes: bytes) -> str:
        command = ["tesseract", "stdin", "stdout", "-l", "eng"]
        done = subprocess.run(command, input=page_image_bytes, capture_output=True, env=env)
        if done.returncode != 0:
            raise RuntimeError(f"tesseract failed: {done.stderr.decode(errors='replace')}")
        return done.stdout.decode("utf-8")

    return read


def tesseract_version() -> str:
    done = subprocess.run(["tesseract", "--version"], capture_output=True, text=True)
    return (done.stdout or done.stderr).split("\n", 1)[0].replace("tesseract ", "")


def measure(readers: dict[str, Reader], pages: list[TextPage]) -> dict[str, Tally]:
    """Read every page with every system, interleaved in a rotating order, after a warm-up."""
    warm_up = render_text_page(seed=10_000, size=(800, 600), line_count=4)
    for read in readers.values():
        read(warm_up.image_bytes)
    tallies = {name: Tally() for name in readers}
    names = list(readers)
    for number, page in enumerate(pages):
        for name in names[number % len(names) :] + names[: number % len(names)]:
            start = time.perf_counter()
            text = readers[name](page.image_bytes)
            tallies[name].add(page, text, time.perf_counter() - start)
    return tallies


def pages_per_second(read: Reader, pages: list[bytes], concurrency: int) -> float:
    """Throughput of ``read`` over ``pages`` with ``concurrency`` pages in flight (threads)."""
    read(pages[0])  # warm-up
    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(read, pages))
    return len(pages) / (time.perf_counter() - started)


def throughput_table(server: EmbeddedTriton, pages: list[TextPage], concurrency: int) -> str:
    """Scanned pages, ``concurrency`` in flight over gRPC, against rapidocr's best in-process
    configuration on this machine (1 or 2 onnxruntime threads, one page at a time: one engine
    is not thread-safe, and two engines would split the same cores)."""
    scanned = [page.image_bytes for page in pages]
    rapidocr = {threads: pages_per_second(rapidocr_reader(threads), scanned, 1) for threads in (1, 2)}
    best = max(rapidocr, key=rapidocr.get)
    triton = pages_per_second(triton_reader(server), scanned, concurrency)
    return "\n".join([
        f"\nThroughput on {len(scanned)} scanned pages ({_load()}):\n",
        "| system | pages/s | x rapidocr best |", "| --- | ---: | ---: |",
        f"| docserve Triton ocr ensemble (gRPC), concurrency {concurrency} | {triton:.3f} | "
        f"{triton / rapidocr[best]:.2f}x |",
        *(f"| rapidocr {RAPIDOCR_VERSION} in-process, {threads} thread{'s' * (threads > 1)} | "
          f"{rate:.3f} | {rate / rapidocr[best]:.2f}x |" for threads, rate in rapidocr.items()),
    ])


def _load() -> str:
    return "load " + ", ".join(f"{value:.2f}" for value in os.getloadavg())


def markdown_table(tallies: dict[str, Tally], reference: str) -> str:
    rows = [
        "| system | CER % | word accuracy % | pages/s | s/page (median) | throughput vs "
        f"{reference.split(' (')[0]} |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, tally in tallies.items():
        ratio = tally.pages_per_second / tallies[reference].pages_per_second
        rows.append(
            f"| {name} | {100 * tally.cer:.2f} | {100 * tally.word_accuracy:.1f} | "
            f"{tally.pages_per_second:.3f} | {np.median(tally.seconds):.2f} | {ratio:.2f}x |"
        )
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, default=10, help="pages to read (default 10)")
    parser.add_argument(
        "--quick", action="store_true", help="2 pages (1 clean, 1 scanned): under a minute"
    )
    args = parser.parse_args()
    page_count = 2 if args.quick else args.pages
    if not (REPOSITORY / "ocr_lines/1/character_set.txt").exists():
        sys.exit("OCR models missing: run `docserve export ocr` first")
    pages = [render_text_page(seed, scanned=seed % 2 == 1) for seed in range(page_count)]
    rapidocr_name = f"rapidocr {RAPIDOCR_VERSION} in-process (same weights)"
    with embedded_triton() as server:
        readers = {
            "docserve Triton ocr ensemble (gRPC)": triton_reader(server),
            "docserve pipeline in-process (no Triton)": in_process_reader(),
            rapidocr_name: rapidocr_reader(),
            f"tesseract {tesseract_version()} (1 thread)": tesseract_reader(single_threaded=True),
            f"tesseract {tesseract_version()} (default threads)": tesseract_reader(False),
        }
        tallies = measure(readers, pages)
        throughput = throughput_table(server, [page for page in pages if page.image_bytes[:4] !=
                                               b"\x89PNG"] or pages, concurrency=4)
    scanned = sum(1 for page in pages if not page.image_bytes.startswith(b"\x89PNG"))
    characters = sum(len(normalize_whitespace(page.text)) for page in pages)
    print(
        f"\n{page_count} pages of 1000 x 1400 px ({page_count - scanned} clean PNG, {scanned} "
        f"scanned JPEG), {characters} characters; {os.cpu_count()} CPU cores, ONNX Runtime "
        f"{ONNX_THREADS} threads, one page in flight\n"
    )
    print(markdown_table(tallies, reference=rapidocr_name))
    print(throughput)


if __name__ == "__main__":
    main()

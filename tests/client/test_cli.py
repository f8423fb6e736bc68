"""The docserve command line against a live gateway and the real Triton."""

from __future__ import annotations

import json
from pathlib import Path

from sample_documents import pdf_document, png_page
from typer.testing import CliRunner

from docserve.cli.main import app

runner = CliRunner()


def test_submit_a_folder_via_rest_then_via_grpc(live_gateway, triton, tmp_path):
    base, inbox = live_gateway
    folder = inbox / "batch"
    folder.mkdir()
    for index in range(4):
        (folder / f"p{index}.png").write_bytes(png_page(30 + index, 10))
    (folder / "two.pdf").write_bytes(pdf_document([(72, 72), (72, 72)]))
    (folder / "notes.txt").write_text("not a document: skipped")
    out = tmp_path / "results.jsonl"
    result = runner.invoke(app, ["submit", str(folder), "-p", "page_probe_pipeline", "--url", base,
                                 "--out", str(out), "-c", "3"])
    assert result.exit_code == 0, result.output
    assert "pages/s" in result.output
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(lines) == 5 and all(line["ok"] for line in lines)
    assert sum(line["result"]["page_count"] for line in lines) == 6

    grpc = runner.invoke(app, ["submit", str(folder), "-p", "page_probe_pipeline", "--via", "grpc",
                               "--triton", triton.grpc_url])
    assert grpc.exit_code == 0, grpc.output


def test_submit_exits_non_zero_and_lists_failures(live_gateway, tmp_path):
    base, inbox = live_gateway
    (inbox / "good.png").write_bytes(png_page())
    (inbox / "bad.png").write_bytes(b"\x89PNG\r\n\x1a\nbroken")
    result = runner.invoke(app, ["submit", str(inbox / "good.png"), str(inbox / "bad.png"),
                                 "file:///etc/hostname", "-p", "page_probe_pipeline", "--url", base])
    assert result.exit_code == 1
    assert "invalid_document" in result.output and "location_refused" in result.output


def test_submit_uploads_local_files_from_anywhere(live_gateway, tmp_path):
    """Files outside the gateway's DOCSERVE_FILE_ROOTS go as uploads: nothing to configure."""
    base, _ = live_gateway
    outside = tmp_path / "laptop" / "scans"
    outside.mkdir(parents=True)
    (outside / "a.png").write_bytes(png_page(41, 17))
    (outside / "b.pdf").write_bytes(pdf_document([(72, 72), (72, 144)]))
    out = tmp_path / "results.jsonl"
    result = runner.invoke(app, ["submit", str(outside), "-p", "page_probe_pipeline", "--url", base,
                                 "--out", str(out)])
    assert result.exit_code == 0, result.output
    lines = {Path(line["source"]).name: line for line in map(json.loads, out.read_text().splitlines())}
    assert lines["a.png"]["result"]["pages"][0]["result"]["page"] == {"width": 41, "height": 17}
    assert lines["b.pdf"]["result"]["page_count"] == 2
    again = runner.invoke(app, ["submit", str(outside), "-p", "page_probe_pipeline", "--url", base])
    assert again.exit_code == 0, again.output  # the same files again: the same jobs, not a 409


def test_predict_and_pipelines(live_gateway, tmp_path):
    base, _ = live_gateway
    page = tmp_path / "one.png"
    page.write_bytes(png_page(12, 34))
    result = runner.invoke(app, ["predict", str(page), "-p", "page_probe_pipeline", "--url", base])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["pages"][0]["result"]["page"]["height"] == 34
    listed = runner.invoke(app, ["pipelines", "--url", base])
    assert "page_probe_pipeline" in listed.output
    missing = runner.invoke(app, ["predict", str(page), "-p", "nope", "--url", base])
    assert missing.exit_code == 2 and "404 not_found" in missing.output

"""The document factory: deterministic per seed, and its ground truth matches its pixels."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from docserve.cli.main import app
from docserve.contract.document_types import DOCUMENT_TYPES
from docserve.export.documents import fonts
from docserve.export.documents.dataset import read_dataset
from docserve.export.documents.generator import generate_page
from docserve.export.documents.ground_truth import PageTruth
from docserve.processing.page_rotation import MAX_SKEW_DEGREES

SEEDS = range(7000, 7012)


@pytest.fixture(scope="module")
def pages():
    return [generate_page(seed) for seed in SEEDS]


def test_same_seed_same_page_and_truth():
    first, second = generate_page(4242), generate_page(4242)
    assert np.array_equal(first.image, second.image)
    assert first.truth == second.truth


def test_different_seeds_differ(pages):
    assert not np.array_equal(pages[0].image[:200, :200], pages[1].image[:200, :200])
    assert len({page.truth.skew_degrees for page in pages}) == len(pages)


def test_truth_survives_json(pages):
    for page in pages:
        assert PageTruth.from_json(page.truth.to_json()) == page.truth


def test_every_polygon_lies_inside_its_page(pages):
    for page in pages:
        height, width = page.image.shape
        assert (page.truth.height, page.truth.width) == (height, width)
        polygons = [line.polygon for line in page.truth.text_lines]
        polygons += [box.polygon for box in page.truth.checkboxes]
        polygons += [page.truth.signature.polygon] if page.truth.signature.present else []
        points = np.array(polygons).reshape(-1, 2)
        assert points.min() >= 0
        assert (points[:, 0] <= width).all() and (points[:, 1] <= height).all()


def test_text_line_polygons_are_rotated_by_the_skew(pages):
    """The top edge of every long text line runs at the page's skew angle (plus perspective)."""
    for page in pages:
        assert abs(page.truth.skew_degrees) <= MAX_SKEW_DEGREES
        for line in page.truth.text_lines:
            (x0, y0), (x1, y1) = line.polygon[0], line.polygon[1]
            if x1 - x0 > 200:
                angle = np.degrees(np.arctan2(-(y1 - y0), x1 - x0))
                assert angle == pytest.approx(page.truth.skew_degrees, abs=0.6)


def _mean_ink(image: np.ndarray, box: tuple[float, ...]) -> float:
    x0, y0, x1, y1 = (round(v) for v in box)
    return float(255 - image[y0:y1, x0:x1].mean())


def test_boxes_hold_ink_where_the_truth_says(pages):
    """Text, checkbox and signature boxes are darker than the page on average."""
    for page in pages:
        page_ink = 255 - float(np.median(page.image))
        for line in page.truth.text_lines:
            assert _mean_ink(page.image, _bounds(line.polygon)) > page_ink
        for box in page.truth.checkboxes:
            assert _mean_ink(page.image, box.box) > page_ink + 10
        if page.truth.signature.present:
            assert _mean_ink(page.image, page.truth.signature.box) > page_ink + 5


def _bounds(polygon) -> tuple[float, float, float, float]:
    xs, ys = zip(*polygon, strict=True)
    return (min(xs), min(ys), max(xs), max(ys))


def test_layouts_carry_their_elements():
    """Forms have checkboxes; only forms and letters can be signed; all five types occur."""
    truths = [generate_page(seed).truth for seed in range(100, 140)]
    assert {truth.document_type for truth in truths} == set(DOCUMENT_TYPES)
    for truth in truths:
        assert bool(truth.checkboxes) == (truth.document_type == "application_form")
        if truth.signature.present:
            assert truth.document_type in {"application_form", "letter"}
        assert {box.checked for box in truth.checkboxes} <= {True, False}
        assert all((box.mark is None) == (not box.checked) for box in truth.checkboxes)


def test_missing_font_names_its_debian_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(fonts, "FONT_ROOT", tmp_path)
    with pytest.raises(fonts.FontMissingError, match=r"apt-get install -y .*fonts-kristi"):
        fonts.require_fonts()


def test_cli_writes_pngs_and_truth(tmp_path: Path):
    result = CliRunner().invoke(
        app, ["export", "data", "--count", "3", "--out", str(tmp_path), "--first-seed", "50",
              "--workers", "1"]
    )
    assert result.exit_code == 0, result.output
    assert sorted(path.name for path in tmp_path.iterdir()) == [
        f"000000{seed}.{suffix}" for seed in (50, 51, 52) for suffix in ("json", "png")
    ]
    assert json.loads((tmp_path / "00000051.json").read_text())["seed"] == 51
    written = list(read_dataset(tmp_path))
    assert [page.truth for page in written] == [generate_page(seed).truth for seed in (50, 51, 52)]
    assert np.array_equal(written[1].image, generate_page(51).image)  # PNG is lossless

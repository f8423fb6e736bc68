"""Deskew version 2: the gated readout on pages unlike the training pages, and how it is built.

Version 1 read pages it had never seen the like of (straight photo or scan edges, no lines of
text at all) as +-16 deg, the edge of its angle grid; version 2 is the same trained scorer
behind :class:`GatedSkewEstimator`. Each page below is one version 1 got wrong.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from docserve.contract.model_repositories import PROJECT_ROOT
from docserve.export.documents.generator import generate_page
from docserve.export.onnx_export import max_abs_diff
from docserve.export.vision.deskew_model import (
    GatedSkewEstimator,
    ProjectionProfiles,
    parabola_angle,
    skew_angle_grid,
)
from docserve.export.vision.deskew_versions import (
    PARITY_TOLERANCE_DEGREES,
    SERVED_VERSION,
    TRAINED_VERSION,
    parity_samples,
    trained_estimator,
)
from docserve.export.vision.real_evaluation import model_skew
from docserve.export.vision.reference import DESKEW, newest_version
from docserve.processing.page_rotation import deskew_page

DESKEW_DIR = PROJECT_ROOT / "model_repository" / "deskew"


def skew(version: int, page: np.ndarray) -> float:
    return model_skew(DESKEW_DIR / str(version) / "model.onnx")(page)


def photographed_page(seed: int) -> np.ndarray:
    """A synthetic page set upright and photographed on a dark table that shows to its left and
    right (the page runs off the photo at the top and bottom): straight edges at exactly 0 deg,
    columns far sharper than any synthetic training page's."""
    generated = generate_page(seed)
    upright = deskew_page(generated.image, generated.truth.skew_degrees)
    photo = np.full((upright.shape[0] + 120, upright.shape[1] + 160), 60, dtype=np.uint8)
    photo[60:-60, 80:-80] = upright
    photo[:60], photo[-60:] = 230, 255
    return photo


def test_version_2_is_served_and_version_1_kept_for_rollback():
    assert newest_version(DESKEW_DIR) == SERVED_VERSION == 2
    assert (DESKEW_DIR / str(TRAINED_VERSION) / "model.onnx").exists()


def test_the_committed_version_2_is_version_1s_scorer_behind_the_gated_readout():
    served = GatedSkewEstimator(trained_estimator(DESKEW_DIR / "1" / "model.onnx")).eval()
    diff = max_abs_diff(served, [parity_samples()], DESKEW_DIR / "2" / "model.onnx",
                        [DESKEW.input])
    assert diff <= PARITY_TOLERANCE_DEGREES


@pytest.mark.parametrize("name", ["white", "scattered dots"])
def test_a_page_without_lines_reads_no_skew_not_the_grid_edge(name: str):
    page = np.full((1000, 760), 255, dtype=np.uint8)
    if name == "scattered dots":
        rng = np.random.default_rng(0)
        page[rng.integers(0, 1000, 200), rng.integers(0, 760, 200)] = 0
    assert abs(skew(1, page)) > 10  # version 1: near the +-16 deg edge of its grid
    assert skew(2, page) == 0.0  # "no reliable skew": the page is left as it is


@pytest.mark.parametrize("seed", [10_000_021, 10_000_049])  # an application form, a receipt
def test_straight_photo_edges_do_not_throw_the_estimate_to_the_grid_edge(seed: int):
    page = photographed_page(seed)
    assert abs(skew(1, page)) > 10
    assert abs(skew(2, page)) < 0.25
    turned = deskew_page(page, -7.0)  # content turned by +7 deg
    assert skew(2, turned) == pytest.approx(7.0, abs=0.3)


def test_the_radon_layer_samples_as_a_bilinear_grid_sample_at_the_strip_centres():
    """The Gather + MatMul layer computes the sinogram version 1's graph computed with
    ``grid_sample``, so version 1's trained scorer reads the same features."""
    torch.manual_seed(0)
    thumbnail = (torch.rand(2, 1, 512, 512) > 0.97).float()
    profiles = ProjectionProfiles()
    angles = skew_angle_grid()
    strips, size = profiles.strips, profiles.size
    centres = (torch.arange(strips) + 0.5) * (size / strips) - size / 2
    drift = centres[None, None, :] * torch.tan(torch.deg2rad(angles))[:, None, None]
    rows = (torch.arange(size)[None, :, None] - drift) / (size - 1) * 2 - 1
    grid = torch.stack([torch.linspace(-1, 1, strips)[None, None, :].expand_as(rows), rows], -1)
    strip_profiles = thumbnail.reshape(2, 1, size, strips, -1).sum(-1)
    sampled = F.grid_sample(strip_profiles, grid.reshape(1, -1, strips, 2).expand(2, -1, -1, -1),
                            mode="bilinear", padding_mode="zeros", align_corners=True)
    expected = sampled.reshape(2, len(angles), size, strips).sum(-1)
    with torch.no_grad():
        torch.testing.assert_close(profiles(thumbnail), expected, atol=1e-3, rtol=1e-4)


def test_the_parabola_readout_finds_the_vertex_between_grid_angles_and_stops_at_the_ends():
    angles = skew_angle_grid()
    between = -(angles - 3.1) ** 2 + 0.5 * (angles + 9.0).abs().lt(0.3)  # and a far small bump
    assert float(parabola_angle(between[None], angles)) == pytest.approx(3.1, abs=1e-4)
    beyond = -(angles + 20.0) ** 2
    assert float(parabola_angle(beyond[None], angles)) == -16.0

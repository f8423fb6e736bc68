"""Training the document classifier from labelled folders: split, labels, augmentation, export."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from docserve.contract.document_types import DOCUMENT_TYPES
from docserve.export.vision.classifier_onnx import Backbone, join_classifier
from docserve.export.vision.doc_classifier_model import (
    FEATURES,
    ClassifierHead,
    augment_scans,
    grid_means,
    pooled_features,
    training_inputs,
)
from docserve.export.vision.labelled_pages import (
    PageFile,
    folder_labels,
    page_files,
    split_by_source,
    thumbnails,
)
from docserve.processing.document_gate import GateConfigurationError, parse_expected_types
from docserve.processing.document_labels import (
    LABELS_FILE,
    ServedLabels,
    read_labels,
    write_labels,
)


def _folder(root: Path, pages: dict[str, int]) -> Path:
    rng = np.random.default_rng(0)
    for label, count in pages.items():
        (root / label).mkdir(parents=True)
        for index in range(count):
            page = (255 - 80 * (rng.random((300, 220)) < 0.05)).astype(np.uint8)
            Image.fromarray(page).save(root / label / f"{index}.png")
    return root


def test_held_out_sources_validate_whole_and_the_rest_split_by_group():
    files = ([PageFile(Path(f"r{i}"), "receipt", "softmatic/vision-data:receipt") for i in range(8)]
             + [PageFile(Path(f"s{i}"), "receipt", "zzzDavid/ICDAR-2019-SROIE:receipt")
                for i in range(20)]
             + [PageFile(Path(f"f{i}"), "application_form", "mavillot/FUNSD:application_form")
                for i in range(10)])
    train, validation = split_by_source(files, seed=1)
    assert not set(train) & set(validation) and len(train) + len(validation) == len(files)
    held = {files[i].group for i in train}
    assert "softmatic/vision-data:receipt" not in held
    assert sum(files[i].group.startswith("zzzDavid") for i in validation) == 6
    assert sum(files[i].group.startswith("mavillot") for i in validation) == 3
    np.testing.assert_array_equal(split_by_source(files, seed=1)[1], validation)


def test_a_folder_gives_its_types_and_the_factory_types_keep_their_order(tmp_path: Path):
    custom = _folder(tmp_path / "custom", {"slip": 2, "memo": 3})
    assert folder_labels(custom) == ("memo", "slip")
    files = page_files(custom, folder_labels(custom))
    pages = thumbnails(files, folder_labels(custom), workers=1)
    assert pages.thumbnails.shape == (5, 512, 512) and list(pages.labels) == [0, 0, 0, 1, 1]
    assert pages.page_sizes.tolist() == [[300, 220]] * 5
    factory = _folder(tmp_path / "factory", dict.fromkeys(sorted(DOCUMENT_TYPES), 1))
    assert folder_labels(factory) == DOCUMENT_TYPES


def test_labels_travel_with_a_version_and_old_versions_have_the_factory_types(tmp_path: Path):
    assert read_labels(tmp_path) == DOCUMENT_TYPES
    write_labels(tmp_path / LABELS_FILE, ("slip", "memo"))
    assert read_labels(tmp_path) == ("slip", "memo")


def test_served_labels_follow_a_version_with_another_number_of_types(tmp_path: Path):
    model_dir = tmp_path / "doc_classifier"
    (model_dir / "1").mkdir(parents=True)
    ready = {"1"}
    labels = ServedLabels(model_dir, lambda model, version: version in ready, ttl_s=3600)
    assert labels.current(5) == DOCUMENT_TYPES
    (model_dir / "2").mkdir()
    write_labels(model_dir / "2" / LABELS_FILE, ("slip", "memo"))
    ready.add("2")
    assert labels.current(5) == DOCUMENT_TYPES  # cached: same number of outputs
    assert labels.current(2) == ("slip", "memo")  # a two-type answer forces a look-up


def test_unknown_expected_types_name_the_served_ones():
    assert parse_expected_types("slip", known=("slip", "memo")) == ("slip",)
    with pytest.raises(GateConfigurationError, match="known: slip, memo"):
        parse_expected_types("application_form", known=("slip", "memo"))


def test_augmentation_is_seeded_and_stays_ink():
    thumbnails_ = np.zeros((2, 512, 512), dtype=np.uint8)
    thumbnails_[:, 100:400, 150:350] = 40
    inputs = training_inputs(thumbnails_, np.array([[1000, 700], [1000, 700]]))
    assert inputs.shape == (2, 2, 512, 512) and inputs[:, 1].max() == 255
    first = augment_scans(inputs, torch.Generator().manual_seed(3))
    again = augment_scans(inputs, torch.Generator().manual_seed(3))
    torch.testing.assert_close(first, again)
    assert first.shape == (2, 1, 512, 512) and first.min() >= 0 and first.max() <= 1


def test_joined_graph_matches_its_parts_with_a_dynamic_batch(tmp_path: Path):
    torch.manual_seed(0)
    backbone = Backbone(tmp_path, threads=1)
    head = ClassifierHead(types=3).eval()
    samples = torch.rand(2, 1, 512, 512) * 0.3
    report = join_classifier(head, backbone, samples, tmp_path / "model.onnx", tolerance=1e-4)
    assert report.max_abs_diff < 1e-4
    session = ort.InferenceSession(str(report.path), providers=["CPUExecutionProvider"])
    batch = np.random.default_rng(0).random((3, 1, 512, 512), dtype=np.float32) * 0.3
    probabilities = session.run(None, {"page_thumbnail": batch})[0]
    assert probabilities.shape == (3, 3)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)


@pytest.mark.parametrize("size", [16, 32])
@pytest.mark.parametrize("cells", [2, 3])
def test_grid_means_are_adaptive_pooling_in_slices(size: int, cells: int):
    feature_map = torch.randn(2, 4, size, size)
    torch.testing.assert_close(grid_means(feature_map, cells),
                               F.adaptive_avg_pool2d(feature_map, cells).flatten(1))


def test_the_head_averages_its_members_probabilities():
    torch.manual_seed(0)
    maps = [torch.rand(2, 256, 32, 32), torch.rand(2, 256, 32, 32), torch.rand(2, 256, 16, 16)]
    head = ClassifierHead(types=4, heads=3).eval()
    features = head.standardised(pooled_features(*maps))
    assert features.shape == (2, FEATURES)
    members = torch.stack([torch.softmax(member(features), dim=1) for member in head.members])
    with torch.no_grad():
        torch.testing.assert_close(head(*maps), members.mean(0))
        torch.testing.assert_close(head(*maps).sum(1), torch.ones(2))

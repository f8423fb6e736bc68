"""The vision models in the real Triton, each called alone, on a handful of held-out pages.

Thresholds are looser than the model cards' (a dozen pages, not 500), but each one fails if a
model or its pre/post-processing is broken. Triton's answers must also match the in-process
reference path (same processing code, same ONNX files).
"""

from __future__ import annotations

import io
from collections.abc import Sequence

import cv2
import numpy as np
import pytest
import tritonclient.grpc as grpcclient
from PIL import Image
from tritonclient.utils import InferenceServerException, np_to_triton_dtype

from docserve.contract.document_types import DOCUMENT_TYPES
from docserve.contract.model_repositories import PROJECT_ROOT
from docserve.export.documents.dataset import HELD_OUT_FIRST_SEED
from docserve.export.documents.generator import GeneratedPage, generate_page
from docserve.export.vision.reference import VisionModels
from docserve.processing.checkboxes import box_iou
from docserve.processing.page_thumbnail import page_thumbnail

# Held-out seeds past the 500 evaluation pages: every document type, 6 signed pages, 35 checkboxes.
PAGE_SEEDS = range(HELD_OUT_FIRST_SEED + 900, HELD_OUT_FIRST_SEED + 916)


@pytest.fixture(scope="module")
def client(triton) -> grpcclient.InferenceServerClient:
    return grpcclient.InferenceServerClient(triton.grpc_url)


@pytest.fixture(scope="module")
def pages() -> list[GeneratedPage]:
    return [generate_page(seed) for seed in PAGE_SEEDS]


@pytest.fixture(scope="module")
def reference() -> VisionModels:
    return VisionModels(PROJECT_ROOT / "model_repository")


def infer(client: grpcclient.InferenceServerClient, model: str, inputs: dict[str, np.ndarray],
          outputs: Sequence[str]) -> list[np.ndarray]:
    tensors = []
    for name, value in inputs.items():
        tensor = grpcclient.InferInput(name, list(value.shape), np_to_triton_dtype(value.dtype))
        tensor.set_data_from_numpy(value)
        tensors.append(tensor)
    result = client.infer(model, tensors,
                          outputs=[grpcclient.InferRequestedOutput(name) for name in outputs])
    return [result.as_numpy(name) for name in outputs]


def png(image: np.ndarray) -> bytes:
    return cv2.imencode(".png", image)[1].tobytes()


def decode(client, data: bytes) -> np.ndarray:
    return infer(client, "page_decode", {"page_bytes": np.array([data], dtype=np.object_)},
                 ["page"])[0]


def thumbnail(client, page: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return tuple(infer(client, "page_thumbnail", {"page": page}, ["page_thumbnail", "page_size"]))


@pytest.fixture(scope="module")
def thumbnails(client, pages) -> np.ndarray:
    """``[pages, 1, 512, 512]``: the pages decoded and thumbnailed by Triton."""
    return np.concatenate([thumbnail(client, decode(client, png(page.image)))[0]
                           for page in pages])


def test_page_decode_and_thumbnail_match_the_shared_processing(client, pages):
    page = pages[0]
    decoded = decode(client, png(page.image))
    assert np.array_equal(decoded, page.image)
    served, size = thumbnail(client, decoded)
    assert np.array_equal(served[0], page_thumbnail(page.image))
    assert size.tolist() == list(page.image.shape)


def test_deskew_estimates_the_angle_in_one_batch(client, pages, thumbnails, reference):
    skew = infer(client, "deskew", {"page_thumbnail": thumbnails}, ["skew_degrees"])[0][:, 0]
    errors = np.abs(skew - np.array([page.truth.skew_degrees for page in pages]))
    assert errors.mean() < 0.4 and errors.max() < 1.5
    np.testing.assert_allclose(skew, reference.skew_degrees(thumbnails), atol=1e-3)


def test_deskew_apply_straightens_the_page(client, pages):
    page = pages[1]
    upright = infer(client, "deskew_apply", {
        "page": page.image, "skew_degrees": np.array([[page.truth.skew_degrees]], np.float32),
    }, ["deskewed_page"])[0]
    assert upright.shape[0] > page.image.shape[0]
    residual = infer(client, "deskew", {"page_thumbnail": thumbnail(client, upright)[0]},
                     ["skew_degrees"])[0]
    assert abs(float(residual[0, 0])) < 0.5


def test_doc_classifier_names_the_document_types(client, pages, thumbnails, reference):
    probabilities = infer(client, "doc_classifier", {"page_thumbnail": thumbnails},
                          ["document_type_probabilities"])[0]
    assert probabilities.shape == (len(pages), len(DOCUMENT_TYPES))
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)
    predicted = [DOCUMENT_TYPES[i] for i in probabilities.argmax(axis=1)]
    truth = [page.truth.document_type for page in pages]
    assert set(truth) == set(DOCUMENT_TYPES)
    assert np.mean([p == t for p, t in zip(predicted, truth, strict=True)]) >= 0.9
    np.testing.assert_allclose(probabilities, reference.document_type_probabilities(thumbnails),
                               atol=1e-4)


def served_checkboxes(client, page: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    boxes, crops = infer(client, "checkbox_candidates", {"page": page},
                         ["checkbox_candidate_boxes", "checkbox_crops"])
    probabilities = infer(client, "checkbox", {"checkbox_crops": crops},
                          ["checkbox_state_probabilities"])[0]
    kept, checked = infer(client, "checkbox_select", {
        "checkbox_candidate_boxes": boxes, "checkbox_state_probabilities": probabilities,
    }, ["checkbox_boxes", "checkbox_checked"])
    return kept, checked


def test_checkboxes_are_found_and_read(client, pages, reference):
    forms = [page for page in pages if page.truth.document_type == "application_form"]
    found = states_right = total = 0
    for page in forms:
        boxes, checked = served_checkboxes(client, page.image)
        expected = reference.checkboxes(page.image)
        np.testing.assert_allclose(boxes, expected.boxes)
        true_boxes = np.array([box.box for box in page.truth.checkboxes])
        overlaps = box_iou(true_boxes, boxes)
        total += len(true_boxes)
        for index, box in enumerate(page.truth.checkboxes):
            best = int(np.argmax(overlaps[index]))
            if overlaps[index, best] >= 0.5:
                found += 1
                states_right += bool(checked[best]) == box.checked
    assert total >= 20
    assert found / total >= 0.95 and states_right / found >= 0.95


def test_signature_presence_and_box(client, pages, thumbnails):
    heatmaps = infer(client, "signature", {"page_thumbnail": thumbnails}, ["signature_heatmap"])[0]
    presence_right, ious = [], []
    for page, heatmap in zip(pages, heatmaps, strict=True):
        present, score, box = infer(client, "signature_postprocess", {
            "signature_heatmap": heatmap[None], "page_size": np.array(page.image.shape, np.int32),
        }, ["signature_present", "signature_score", "signature_box"])
        presence_right.append(bool(present[0]) == page.truth.signature.present)
        assert 0.0 <= float(score[0]) <= 1.0
        if page.truth.signature.present:
            ious.append(box_iou(np.array([page.truth.signature.box]), box[None])[0, 0])
    assert len(ious) >= 3
    assert np.mean(presence_right) >= 0.85
    assert np.mean(np.array(ious) >= 0.5) >= 0.75


def test_blank_page_gives_nothing_to_find(client):
    blank = np.full((1650, 1275), 250, dtype=np.uint8)
    page_thumbnail_, size = thumbnail(client, decode(client, png(blank)))
    skew = infer(client, "deskew", {"page_thumbnail": page_thumbnail_}, ["skew_degrees"])[0]
    assert np.isfinite(skew).all() and abs(float(skew[0, 0])) <= 16
    boxes, crops = infer(client, "checkbox_candidates", {"page": blank},
                         ["checkbox_candidate_boxes", "checkbox_crops"])
    assert boxes.shape == (0, 4) and crops.shape == (0, 1, 32, 32)
    heatmap = infer(client, "signature", {"page_thumbnail": page_thumbnail_},
                    ["signature_heatmap"])[0]
    present = infer(client, "signature_postprocess",
                    {"signature_heatmap": heatmap, "page_size": size}, ["signature_present"])[0]
    assert not present[0]


def _image_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.mark.parametrize(("data", "message"), [
    (b"GIF89a? no, just text", "not an image format we can decode"),
    (_image_bytes(Image.new("L", (30, 30), 255)), "too small"),
    (_image_bytes(Image.new("1", (9_000, 9_000), 1)), "more than the .* allowed"),
])
def test_page_decode_refuses_bad_images(client, data: bytes, message: str):
    with pytest.raises(InferenceServerException, match=message):
        decode(client, data)


@pytest.mark.parametrize("model", ["page_thumbnail", "checkbox_candidates"])
def test_page_models_refuse_a_page_too_small_to_read(client, model: str):
    with pytest.raises(InferenceServerException, match="too small"):
        infer(client, model, {"page": np.zeros((0, 10), dtype=np.uint8)}, [])


def test_deskew_apply_refuses_a_page_too_small_to_read(client):
    with pytest.raises(InferenceServerException, match="too small"):
        infer(client, "deskew_apply", {"page": np.zeros((5, 5), dtype=np.uint8),
                                       "skew_degrees": np.zeros((1, 1), np.float32)}, [])

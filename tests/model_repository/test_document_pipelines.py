"""The document pipelines in the real embedded Triton, on generated pages with ground truth.

Thresholds are looser than the held-out targets of the model cards (a handful of pages cannot
measure 98%), tight enough that a broken step or a coordinate off by the page's skew fails:
ground-truth coordinates are on the skewed page as generated, which is the page the client sends.
"""

from __future__ import annotations

import io
import shutil
import time
from dataclasses import replace

import cv2
import numpy as np
import pytest
import tritonclient.grpc as grpcclient
from PIL import Image
from sample_documents import on_turned_page, turned
from tritonclient.utils import InferenceServerException

from docserve.api.embedded_triton import EmbeddedTriton
from docserve.contract.model_repositories import PROJECT_ROOT
from docserve.contract.page_result import PageResult
from docserve.export.documents.dataset import HELD_OUT_FIRST_SEED
from docserve.export.documents.generator import GeneratedPage, generate_page
from docserve.export.reference_pipelines import PIPELINES, ReferencePipelines
from docserve.export.text_accuracy import character_error_rate
from docserve.processing.checkboxes import box_iou
from docserve.processing.page_rotation import box_corners

FORM_EXPECTED = {"expected_document_types": "application_form"}


def png(page: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(page).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture(scope="module")
def pages() -> dict[str, list[GeneratedPage]]:
    """Three forms (the pipelines' main case) and one page of each other type."""
    wanted = {"application_form": 3, "invoice": 1, "letter": 1, "receipt": 1, "other": 1}
    found: dict[str, list[GeneratedPage]] = {name: [] for name in wanted}
    seed = HELD_OUT_FIRST_SEED  # pages no model was trained or tuned on
    while any(len(found[name]) < count for name, count in wanted.items()):
        page = generate_page(seed)
        if len(found[page.truth.document_type]) < wanted[page.truth.document_type]:
            found[page.truth.document_type].append(page)
        seed += 1
    return found


@pytest.fixture(scope="module")
def analyze(triton: EmbeddedTriton):
    client = grpcclient.InferenceServerClient(triton.grpc_url)

    def run(pipeline: str, page: GeneratedPage | np.ndarray, parameters: dict[str, str] | None = None
            ) -> PageResult:
        image = page if isinstance(page, np.ndarray) else page.image
        tensor = grpcclient.InferInput("page_image_bytes", [1], "BYTES")
        tensor.set_data_from_numpy(np.array([png(image)], dtype=np.object_))
        result = client.infer(pipeline, [tensor], parameters=parameters,
                              outputs=[grpcclient.InferRequestedOutput("page_result_json")])
        return PageResult.model_validate_json(result.as_numpy("page_result_json")[0])

    yield run
    client.close()


def assert_skew_right(result: PageResult, page: GeneratedPage) -> None:
    assert result.skew is not None
    assert abs(result.skew.degrees - page.truth.skew_degrees) <= 1.0
    assert [(m.name, m.version) for m in result.skew.models] == [("deskew", "2")]


def read_text(result: PageResult) -> str:
    assert result.text is not None
    return "\n".join(line.text for line in result.text.lines)


def assert_text_read(result: PageResult, page: GeneratedPage) -> None:
    """Printed lines are read (handwriting is out of the recognizer's reach), at their place on
    the page as sent. OCR may merge a label with its checkbox glyph ("☐ Post"): a line counts as
    read when an OCR line contains it and the truth line's centre lies inside that OCR line."""
    printed = [line for line in page.truth.text_lines if not line.handwritten]
    found = 0
    for truth in printed:
        centre = np.mean(truth.polygon, axis=0)
        found += any(truth.text in line.text and _inside(centre, np.array(line.polygon), margin=6)
                     for line in result.text.lines)
    assert found >= 0.85 * len(printed), read_text(result)
    offsets = [_nearest_same_text(truth, result.text.lines) for truth in printed]
    exact = [offset for offset in offsets if offset is not None]
    assert len(exact) >= len(printed) / 2
    # Lines read exactly sit where they are on the page as sent: an unmapped rotation would move
    # most of them by tens to hundreds of pixels. Not every one: checkbox labels ("Owner") sit
    # ~15-20 px off their ground-truth polygon, and a repeated word ("Yes") may be matched at
    # another place.
    assert np.median(exact) <= 4 and np.mean(np.array(exact) <= 8) >= 0.6, exact


def _nearest_same_text(truth, lines) -> float | None:
    """Distance from a truth line's centre to the nearest OCR line with exactly its text."""
    centre = np.mean(truth.polygon, axis=0)
    distances = [np.linalg.norm(np.mean(line.polygon, axis=0) - centre)
                 for line in lines if line.text == truth.text]
    return min(distances, default=None)


def _inside(point: np.ndarray, polygon: np.ndarray, margin: float) -> bool:
    low, high = polygon.min(axis=0) - margin, polygon.max(axis=0) + margin
    return bool(np.all(point >= low) and np.all(point <= high))


def test_form_intake_reads_the_forms_it_expects(analyze, pages):
    for page in pages["application_form"]:
        result = analyze("form_intake", page, FORM_EXPECTED)
        assert_skew_right(result, page)
        assert result.document_type.label == "application_form"
        assert result.text.skipped is None
        assert_text_read(result, page)
        assert set(result.timings_ms) >= {"decode", "thumbnail", "deskew_apply", "text_lines"}


@pytest.mark.parametrize("document_type", ["letter", "invoice", "receipt"])
def test_form_intake_skips_ocr_for_other_document_types(analyze, pages, document_type):
    page = pages[document_type][0]
    result = analyze("form_intake", page, FORM_EXPECTED)
    assert result.document_type.label == document_type
    assert result.text.lines == []
    assert result.text.skipped.model_dump() == {
        "reason": "unexpected document type", "document_type": document_type,
        "expected_document_types": ["application_form"],
    }
    assert result.timings_ms["text_lines"] == 0.0  # OCR never ran


def test_form_intake_expected_types_are_per_request(analyze, pages):
    letter = pages["letter"][0]
    result = analyze("form_intake", letter, {"expected_document_types": "letter, invoice"})
    assert result.text.skipped is None and result.text.lines


@pytest.mark.parametrize(("parameters", "message"), [
    (None, "'expected_document_types' is missing"),
    ({"expected_document_types": "passport"}, "unknown document types ['passport']"),
])
def test_form_intake_without_valid_expected_types_is_an_invalid_argument(
    analyze, pages, parameters, message
):
    with pytest.raises(InferenceServerException) as error:
        analyze("form_intake", pages["letter"][0], parameters)
    assert error.value.status() == "StatusCode.INVALID_ARGUMENT"
    assert message in error.value.message()


def test_checkbox_form_finds_boxes_and_states_on_the_page_as_sent(analyze, pages):
    found = states_right = total = 0
    for page in pages["application_form"]:
        result = analyze("checkbox_form", page)
        assert_skew_right(result, page)
        assert result.text is None and result.signature is None and result.document_type is None
        boxes = np.array([item.box for item in result.checkboxes.items])
        truth = page.truth.checkboxes
        overlaps = box_iou(np.array([box.box for box in truth]), boxes)
        total += len(truth)
        for index, box in enumerate(truth):
            best = int(np.argmax(overlaps[index]))
            if overlaps[index, best] >= 0.5:
                found += 1
                states_right += result.checkboxes.items[best].checked == box.checked
    assert total >= 10
    assert found / total >= 0.9 and states_right / found >= 0.95


def test_checkbox_form_finds_nothing_on_a_letter(analyze, pages):
    assert analyze("checkbox_form", pages["letter"][0]).checkboxes.items == []


def test_signature_check_finds_the_signature(analyze, pages):
    signed = [p for p in pages["application_form"] if p.truth.signature.present]
    unsigned = [p for group in pages.values() for p in group if not p.truth.signature.present]
    assert signed and unsigned
    for page in signed:
        result = analyze("signature_check", page)
        assert_skew_right(result, page)
        assert result.signature.present and result.signature.score >= 0.5
        iou = box_iou(np.array([page.truth.signature.box]), np.array([result.signature.box]))[0, 0]
        assert iou >= 0.5
    for page in unsigned[:3]:
        result = analyze("signature_check", page)
        assert not result.signature.present and result.signature.box is None


def test_document_full_gives_every_part(analyze, pages):
    page = pages["application_form"][0]
    result = analyze("document_full", page)
    assert_skew_right(result, page)
    assert result.document_type.label == "application_form"
    assert_text_read(result, page)
    assert len(result.checkboxes.items) >= 0.9 * len(page.truth.checkboxes)
    assert result.signature.present == page.truth.signature.present
    parts = {part: [(m.name, m.version) for m in getattr(result, part).models]
             for part in ("orientation", "skew", "document_type", "text", "checkboxes", "signature")}
    assert parts == {
        "orientation": [("page_orientation", "1")], "skew": [("deskew", "2")],
        "document_type": [("doc_classifier", "3")],
        "text": [("text_detection", "1"), ("text_recognition", "1")],
        "checkboxes": [("checkbox", "1")], "signature": [("signature", "1")],
    }


@pytest.mark.parametrize("degrees", [90, 180, 270])
def test_a_turned_page_is_read_upright_with_coordinates_on_the_page_as_sent(analyze, pages, degrees):
    """Orientation comes first: the turned page gives the upright page's result, with every
    coordinate moved onto the page as sent (lines, checkboxes and the signature)."""
    page = next(form for form in pages["application_form"] if form.truth.signature.present)
    height, width = page.image.shape
    upright, sent = analyze("document_full", page), analyze("document_full", turned(page.image, degrees))
    assert (upright.orientation.degrees, sent.orientation.degrees) == (0, degrees)
    assert (sent.page.width, sent.page.height) == ((height, width) if degrees % 180 else (width, height))
    assert sent.skew.degrees == upright.skew.degrees
    assert [line.text for line in sent.text.lines] == [line.text for line in upright.text.lines]
    np.testing.assert_allclose([line.polygon for line in sent.text.lines],
                               on_turned_page([line.polygon for line in upright.text.lines],
                                              height, width, degrees), atol=0.11)
    np.testing.assert_allclose(line_words(sent), on_turned_page(line_words(upright), height, width, degrees),
                               atol=0.11)
    corners = on_turned_page([box_corners(item.box)[0] for item in upright.checkboxes.items],
                             height, width, degrees)
    np.testing.assert_allclose([item.box for item in sent.checkboxes.items],
                               np.concatenate([corners.min(axis=1), corners.max(axis=1)], axis=1), atol=0.11)
    signature = on_turned_page(box_corners(upright.signature.box)[0], height, width, degrees)
    np.testing.assert_allclose(sent.signature.box, [*signature.min(axis=0), *signature.max(axis=0)],
                               atol=0.11)


def turned_page(page: GeneratedPage, degrees: int) -> GeneratedPage:
    """``page`` turned ``degrees`` counter-clockwise, its text lines' truth moved with it."""
    height, width = page.image.shape
    lines = [replace(line, polygon=tuple(map(tuple, on_turned_page(line.polygon, height, width, degrees))))
             for line in page.truth.text_lines]
    return GeneratedPage(image=turned(page.image, degrees), truth=replace(page.truth, text_lines=lines))


@pytest.mark.parametrize("degrees", [90, 180, 270])
def test_the_ocr_pipeline_reads_a_turned_page_upright_with_lines_where_they_are_on_it(
        triton: EmbeddedTriton, analyze, pages, degrees):
    """The ``ocr`` pipeline turns the page upright before reading it: the printed lines come out
    reading upright, each polygon around the place the line was rendered on the page as sent,
    and the typed outputs say the same as the JSON."""
    page = pages["application_form"][0]
    sent = turned_page(page, degrees)
    client = grpcclient.InferenceServerClient(triton.grpc_url)
    tensor = grpcclient.InferInput("page_image_bytes", [1], "BYTES")
    tensor.set_data_from_numpy(np.array([png(sent.image)], dtype=np.object_))
    wanted = ("page_result_json", "orientation_degrees", "line_polygons", "word_polygons", "line_word_counts")
    typed = client.infer("ocr", [tensor], outputs=[grpcclient.InferRequestedOutput(name) for name in wanted])
    client.close()
    result = PageResult.model_validate_json(typed.as_numpy("page_result_json")[0])
    assert typed.as_numpy("orientation_degrees").tolist() == [float(degrees)]
    assert result.orientation.degrees == degrees and result.skew is None
    assert (result.page.height, result.page.width) == sent.image.shape
    assert_text_read(result, sent)
    np.testing.assert_allclose(typed.as_numpy("line_polygons"), [line.polygon for line in result.text.lines])
    np.testing.assert_allclose(typed.as_numpy("word_polygons"), line_words(result))
    assert typed.as_numpy("line_word_counts").tolist() == [len(line.words) for line in result.text.lines]
    upright = analyze("ocr", page)
    height, width = page.image.shape
    assert upright.orientation.degrees == 0
    assert [line.text for line in result.text.lines] == [line.text for line in upright.text.lines]
    np.testing.assert_allclose([line.polygon for line in result.text.lines],
                               on_turned_page([line.polygon for line in upright.text.lines],
                                              height, width, degrees), atol=0.11)
    np.testing.assert_allclose(line_words(result),
                               on_turned_page(line_words(upright), height, width, degrees), atol=0.11)


def line_words(result: PageResult) -> list[tuple[tuple[float, float], ...]]:
    """The polygons of every word of the page, line after line (none: the lines have no words)."""
    assert all(line.words is not None for line in result.text.lines)
    return [word.polygon for line in result.text.lines for word in line.words]


def bounds(polygon) -> np.ndarray:
    polygon = np.asarray(polygon, dtype=np.float64).reshape(-1, 2)
    return np.concatenate([polygon.min(axis=0), polygon.max(axis=0)])


def test_the_ocr_pipeline_splits_each_line_into_its_words_where_they_are(analyze, pages):
    """Each line's words join back to its text, lie inside its polygon in reading order, and a
    printed label that OCR reads as part of a longer line ("☐ Yes") has its words where it was
    rendered (the ground truth knows each label's box, on the skewed page as sent): IoU 0.78-0.96
    on these forms, where the whole line's box overlaps the label's by 0.16-0.32."""
    placed = []
    for page in pages["application_form"]:
        result = analyze("ocr", page)
        for line in result.text.lines:
            assert " ".join(word.text for word in line.words) == " ".join(line.text.split())
            polygon = np.array(line.polygon, dtype=np.float32)
            for word in line.words:
                assert all(cv2.pointPolygonTest(polygon, point, True) >= -0.15 for point in word.polygon)
            baseline = polygon[1] - polygon[0]
            starts = [np.dot(np.array(word.polygon[0]) - polygon[0], baseline) for word in line.words]
            assert starts == sorted(starts), line.text
        placed += _labels_inside_longer_lines(result, page)
    assert len(placed) >= 3 and min(placed) >= 0.5, placed


def _labels_inside_longer_lines(result: PageResult, page: GeneratedPage) -> list[float]:
    """IoU of each printed truth line read as a proper part of the OCR line around its centre
    with the bounds of the words read for it."""
    overlaps = []
    for truth in page.truth.text_lines:
        wanted, centre = truth.text.split(), tuple(np.mean(truth.polygon, axis=0))
        for line in result.text.lines:
            texts = [word.text for word in line.words]
            around = cv2.pointPolygonTest(np.array(line.polygon, dtype=np.float32), centre, False) >= 0
            if truth.handwritten or not around or len(texts) <= len(wanted):
                continue
            for first in range(len(texts) - len(wanted) + 1):
                if texts[first : first + len(wanted)] == wanted:
                    words = np.concatenate([word.polygon for word in line.words[first : first + len(wanted)]])
                    overlaps.append(float(box_iou(bounds(truth.polygon)[None], bounds(words)[None])[0, 0]))
    return overlaps


def test_document_full_reads_what_the_ocr_pipeline_reads_on_an_upright_page(analyze, pages):
    """Deskewing adds no text errors: on a form the two pipelines read (almost) the same."""
    page = pages["application_form"][1]
    full, plain = read_text(analyze("document_full", page)), read_text(analyze("ocr", page))
    assert character_error_rate(plain, full) <= 0.05


@pytest.mark.parametrize("pipeline", sorted(PIPELINES))
def test_non_image_bytes_fail_only_that_request(triton: EmbeddedTriton, pipeline):
    client = grpcclient.InferenceServerClient(triton.grpc_url)
    tensor = grpcclient.InferInput("page_image_bytes", [1], "BYTES")
    tensor.set_data_from_numpy(np.array([b"%PDF-1.7 not a page image"], dtype=np.object_))
    with pytest.raises(InferenceServerException) as error:
        client.infer(pipeline, [tensor], parameters=FORM_EXPECTED)
    assert error.value.status() == "StatusCode.INVALID_ARGUMENT"
    assert "not an image format we can decode" in error.value.message()



@pytest.fixture(scope="module")
def reference() -> ReferencePipelines:
    return ReferencePipelines(PROJECT_ROOT / "model_repository")


@pytest.mark.parametrize("degrees", [0, 270])
@pytest.mark.parametrize("pipeline", sorted(PIPELINES))
def test_triton_gives_what_the_in_process_reference_gives(analyze, pages, reference, pipeline, degrees):
    """Serving adds transport and timings, nothing else: same models, same shared processing."""
    image = turned(pages["application_form"][2].image, degrees)
    served = analyze(pipeline, image, FORM_EXPECTED).model_dump(exclude={"timings_ms"})
    in_process = reference.pipeline(pipeline)(png(image)).model_dump(exclude={"timings_ms"})
    assert served == in_process


def test_results_name_the_model_version_that_answered(triton: EmbeddedTriton, analyze, pages):
    """Roll deskew to version 3 and back with no restart: results follow within seconds."""
    folder = PROJECT_ROOT / "model_repository" / "deskew"
    client = grpcclient.InferenceServerClient(triton.grpc_url)
    page = pages["receipt"][0]

    def deskew_version_after_reload() -> str:
        client.load_model("deskew")
        deadline = time.monotonic() + 10
        while True:  # page_result looks versions up every 2 s
            version = analyze("signature_check", page).skew.models[0].version
            if version == client.get_model_metadata("deskew").versions[0] or time.monotonic() > deadline:
                return version
            time.sleep(0.5)

    shutil.copytree(folder / "2", folder / "3")
    try:
        assert deskew_version_after_reload() == "3"
    finally:
        shutil.rmtree(folder / "3")
    assert deskew_version_after_reload() == "2"
    client.close()


@pytest.mark.parametrize("pipeline", sorted(PIPELINES))
def test_typed_outputs_can_be_requested_alone_and_match_the_json(triton: EmbeddedTriton, pages, pipeline):
    """Any subset of outputs works (Triton 2.51 deadlocked ensembles on some subsets, hence the
    typed tensors come from the last step), and the tensors say what the JSON says."""
    client = grpcclient.InferenceServerClient(triton.grpc_url)
    outputs = [o.name for o in client.get_model_metadata(pipeline).outputs]
    tensor = grpcclient.InferInput("page_image_bytes", [1], "BYTES")
    tensor.set_data_from_numpy(np.array([png(pages["application_form"][0].image)], dtype=np.object_))

    def infer(names: list[str]) -> grpcclient.InferResult:
        return client.infer(pipeline, [tensor], parameters=FORM_EXPECTED,
                            outputs=[grpcclient.InferRequestedOutput(name) for name in names])

    alone = infer([outputs[-1]]).as_numpy(outputs[-1])
    everything = infer(outputs)
    result = PageResult.model_validate_json(everything.as_numpy("page_result_json")[0])
    np.testing.assert_array_equal(alone, everything.as_numpy(outputs[-1]))
    typed = {name: everything.as_numpy(name) for name in outputs}
    if "line_texts" in typed:
        assert [t.decode() for t in typed["line_texts"]] == [line.text for line in result.text.lines]
        np.testing.assert_allclose(typed["line_polygons"], [line.polygon for line in result.text.lines])
        words = [word for line in result.text.lines for word in line.words]
        assert [t.decode() for t in typed["word_texts"]] == [word.text for word in words]
        np.testing.assert_allclose(typed["word_polygons"], [word.polygon for word in words])
        np.testing.assert_allclose(typed["word_confidences"], [word.confidence for word in words], atol=1e-6)
        assert typed["line_word_counts"].tolist() == [len(line.words) for line in result.text.lines]
    if "checkbox_boxes" in typed:
        np.testing.assert_allclose(typed["checkbox_boxes"], [item.box for item in result.checkboxes.items])
        assert typed["checkbox_checked"].tolist() == [item.checked for item in result.checkboxes.items]
    if "signature_present" in typed:
        assert bool(typed["signature_present"][0]) == result.signature.present
    if "skew_degrees" in typed:
        assert float(typed["skew_degrees"][0]) == pytest.approx(result.skew.degrees)
    if "orientation_degrees" in typed:
        assert typed["orientation_degrees"].tolist() == [float(result.orientation.degrees)]
    client.close()

"""The page result schema, its assembly from model outputs, and mapping points off the upright page."""

from __future__ import annotations

import json

import numpy as np
import pytest

from docserve.contract.model_repositories import PROJECT_ROOT
from docserve.contract.page_result import DocumentResult, ModelVersion, PageResult
from docserve.processing.document_gate import (
    MIN_EXPECTED_PROBABILITY_PARAMETER,
    GateConfigurationError,
    expected_probability,
    min_expected_probability,
    parse_expected_types,
    skip_for_type,
)
from docserve.processing.page_assembly import (
    CheckboxOutputs,
    PageOutputs,
    SignatureOutputs,
    TextOutputs,
    WordOutputs,
    assemble_page_result,
    typed_outputs,
)
from docserve.processing.page_orientation import PageOrientation
from docserve.processing.page_rotation import box_corners, deskew_page, deskew_transform, undo_deskew
from docserve.processing.step_errors import StepConfigurationError

SCHEMA_FILE = PROJECT_ROOT / "docs" / "page-result.schema.json"


@pytest.mark.parametrize("skew", [-15.0, -3.2, 0.0, 0.7, 14.9])
def test_undo_deskew_inverts_the_deskew_rotation(skew):
    height, width = 1100, 850
    rotation, _ = deskew_transform(height, width, skew)
    points = np.random.default_rng(0).uniform(0, [width, height], size=(50, 2))
    on_upright = points @ rotation[:, :2].T + rotation[:, 2]
    np.testing.assert_allclose(undo_deskew(on_upright, height, width, skew), points, atol=1e-3)


def test_a_mark_on_the_upright_page_maps_back_to_where_it_was_drawn():
    page = np.full((600, 400), 255, np.uint8)
    page[100:110, 300:310] = 0  # a dark square on the skewed page as sent
    upright = deskew_page(page, 10.0)
    ys, xs = np.nonzero(upright < 128)
    centre = undo_deskew(np.array([[xs.mean(), ys.mean()]]), 600, 400, 10.0)[0]
    np.testing.assert_allclose(centre, [304.5, 104.5], atol=1.0)


def test_assembly_maps_boxes_and_lines_back_and_names_models():
    skew = 5.0
    upright_box = np.array([[400.0, 500.0, 430.0, 530.0]])
    models = {"checkboxes": [ModelVersion(name="checkbox", version="3")]}
    result = assemble_page_result(
        PageOutputs(
            page_height=1000, page_width=800, skew_degrees=skew,
            text=TextOutputs(["Hello"], np.array([0.9]), box_corners(upright_box)),
            checkboxes=CheckboxOutputs(upright_box, np.array([True]), np.array([0.97])),
            signature=SignatureOutputs(False, 0.01, np.zeros(4)),
        ),
        models, {"decode": 1.234},
    )
    expected = undo_deskew(box_corners(upright_box)[0], 1000, 800, skew)
    (checkbox,) = result.checkboxes.items
    np.testing.assert_allclose(checkbox.polygon, expected, atol=0.05)
    np.testing.assert_allclose(checkbox.box, [*expected.min(axis=0), *expected.max(axis=0)], atol=0.05)
    np.testing.assert_allclose(result.text.lines[0].polygon, expected, atol=0.05)
    assert checkbox.checked and result.checkboxes.models[0].version == "3"
    assert result.signature.box is None and result.document_type is None
    assert result.timings_ms == {"decode": 1.23}


def test_words_are_mapped_back_like_their_lines_and_grouped_by_line():
    """Words go through the same inverse deskew and quarter turn as the line polygons; a word
    spanning its whole line lands exactly on the line."""
    lines = box_corners(np.array([[100.0, 200.0, 400.0, 230.0], [100.0, 300.0, 200.0, 330.0]]))
    words = np.stack([box_corners(np.array([[100.0, 200.0, 180.0, 230.0]]))[0],
                      box_corners(np.array([[200.0, 200.0, 400.0, 230.0]]))[0], lines[1]])
    text = TextOutputs(["Date: 5/12/96", "Signed"], np.array([0.9, 0.8]), lines,
                       words=WordOutputs(["Date:", "5/12/96", "Signed"], np.array([0.7, 0.95, 0.8]),
                                         words, np.array([2, 1])))
    turned = {"page_height": 800, "page_width": 1000, "orientation": PageOrientation(90, 0.99),
              "skew_degrees": 4.0}
    result = assemble_page_result(PageOutputs(**turned, text=text), {})
    (date, signed) = result.text.lines
    assert [(word.text, word.confidence) for word in date.words] == [("Date:", 0.7), ("5/12/96", 0.95)]
    assert [word.text for word in signed.words] == ["Signed"]
    assert signed.words[0].polygon == signed.polygon
    as_a_line = assemble_page_result(
        PageOutputs(**turned, text=TextOutputs(["Date:"], np.array([0.7]), words[:1])), {})
    assert date.words[0].polygon == as_a_line.text.lines[0].polygon
    tensors = typed_outputs(result)
    assert tensors["page_line_word_counts"].tolist() == [2, 1]
    assert [text.decode() for text in tensors["page_word_texts"]] == ["Date:", "5/12/96", "Signed"]
    np.testing.assert_allclose(tensors["page_word_polygons"][2], signed.polygon)


def test_results_of_earlier_minor_versions_still_parse_without_words():
    line = {"text": "a", "confidence": 0.9, "polygon": [[0, 0], [1, 0], [1, 1], [0, 1]]}
    earlier = PageResult.model_validate({"schema_version": "1.1", "page": {"width": 2, "height": 3},
                                         "text": {"lines": [line], "models": []}})
    assert earlier.text.lines[0].words is None
    assert "page_word_texts" not in typed_outputs(earlier)


def test_the_gate_reads_expected_types_and_says_why_it_skips():
    assert parse_expected_types(" application_form, invoice ") == ("application_form", "invoice")
    for bad in (None, "", "passport"):
        with pytest.raises(GateConfigurationError):
            parse_expected_types(bad)
    letter = np.array([0.1, 0.1, 0.7, 0.05, 0.05])
    assert skip_for_type(letter, ("letter",)) is None
    skipped = skip_for_type(letter, ("application_form",))
    assert (skipped.reason, skipped.document_type) == ("unexpected document type", "letter")


def test_the_gate_runs_for_an_expected_type_probable_enough_though_not_the_most_probable():
    form_or_letter = np.array([0.3, 0.05, 0.55, 0.05, 0.05])
    assert skip_for_type(form_or_letter, ("application_form",), min_probability=0.25) is None
    assert skip_for_type(form_or_letter, ("application_form",), min_probability=0.35) is not None
    # The expected types count together: 0.3 + 0.05 for a form-or-invoice pipeline.
    assert skip_for_type(form_or_letter, ("application_form", "invoice"), min_probability=0.35) is None
    # 1 is the plain most-probable-type gate.
    assert skip_for_type(form_or_letter, ("application_form",), min_probability=1.0) is not None
    assert expected_probability(form_or_letter, ("letter", "other")) == pytest.approx(0.6)
    assert min_expected_probability(0.25) == 0.25
    for bad in (-0.1, 1.5):
        with pytest.raises(StepConfigurationError, match=MIN_EXPECTED_PROBABILITY_PARAMETER):
            min_expected_probability(bad)


def test_pipelines_may_add_parts_of_their_own():
    result = PageResult.model_validate({"page": {"width": 2, "height": 3}, "probe": {"x": 1}})
    assert result.model_dump()["probe"] == {"x": 1}


def test_the_documented_json_schema_is_current():
    schema = {"page_result": PageResult.model_json_schema(),
              "document_result": DocumentResult.model_json_schema()}
    assert json.loads(SCHEMA_FILE.read_text()) == schema, (
        "regenerate: python -m docserve.contract.page_result docs/page-result.schema.json")

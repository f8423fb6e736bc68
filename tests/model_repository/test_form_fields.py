"""Form fields through the real Triton: a rendered form whose every field is known."""

from __future__ import annotations

import io

import numpy as np
import pytest
import tritonclient.grpc as grpcclient
from form_pages import (
    CHECKBOX_OPTIONS,
    CHECKBOX_QUESTION,
    EMPTY_FIELD,
    SIGNATURE_DATE,
    SIGNATURE_LABEL,
    TEXT_FIELDS,
    membership_form,
)
from PIL import Image
from sample_documents import on_turned_page, turned

from docserve.api.embedded_triton import EmbeddedTriton
from docserve.contract.page_result import KeyValue, PageResult


def png(page: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(page).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture(scope="module")
def analyze(triton: EmbeddedTriton):
    client = grpcclient.InferenceServerClient(triton.grpc_url)

    def run(pipeline: str, image: np.ndarray) -> PageResult:
        tensor = grpcclient.InferInput("page_image_bytes", [1], "BYTES")
        tensor.set_data_from_numpy(np.array([png(image)], dtype=np.object_))
        result = client.infer(pipeline, [tensor],
                              outputs=[grpcclient.InferRequestedOutput("page_result_json")])
        return PageResult.model_validate_json(result.as_numpy("page_result_json")[0])

    yield run
    client.close()


@pytest.fixture(scope="module")
def form() -> np.ndarray:
    return membership_form().image


@pytest.fixture(scope="module")
def fields(analyze, form) -> dict[str, KeyValue]:
    return {pair.key.text: pair for pair in analyze("form_fields", form).key_values}


def test_typed_values_come_with_their_keys(fields):
    for key, value in TEXT_FIELDS.items():
        assert fields[key].kind == "text"
        assert fields[key].value is not None and fields[key].value.text == value, fields[key]


def test_an_empty_field_is_a_pair_with_no_value(fields):
    assert fields[EMPTY_FIELD].kind == "text" and fields[EMPTY_FIELD].value is None


def test_a_checkbox_question_is_one_pair_listing_its_options(fields):
    pair = fields[CHECKBOX_QUESTION]
    assert pair.kind == "checkbox"
    assert [(option.text, option.checked) for option in pair.options] == list(CHECKBOX_OPTIONS.items())
    assert pair.value.text == "married"
    assert not any(other.value and other.value.text in CHECKBOX_OPTIONS for other in fields.values()
                   if other.kind == "text"), "option labels paired again as text"


def test_the_signature_has_its_label_and_date(fields):
    pair = fields[SIGNATURE_LABEL]
    assert (pair.kind, pair.present, pair.value) == ("signature", True, None)
    assert pair.date is not None and pair.date.text == SIGNATURE_DATE


def test_document_full_gives_the_same_fields(analyze, form, fields):
    assert {pair.key.text: pair for pair in analyze("document_full", form).key_values} == fields


def test_a_turned_form_has_its_fields_on_the_page_as_sent(analyze, form, fields):
    height, width = form.shape
    sent = {pair.key.text: pair for pair in analyze("form_fields", turned(form, 90)).key_values}
    assert sent.keys() == fields.keys()
    for key, pair in fields.items():
        np.testing.assert_allclose(sent[key].key.polygon, on_turned_page(pair.key.polygon, height, width, 90),
                                   atol=2.0)
        if pair.value is not None:
            np.testing.assert_allclose(sent[key].value.polygon,
                                       on_turned_page(pair.value.polygon, height, width, 90), atol=2.0)

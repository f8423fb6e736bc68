"""Users' own document types: `docserve export classifier --data DIR` trains the next
doc_classifier version, which rolls in live; pipelines then answer with its labels."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import numpy as np
import pytest
import tritonclient.grpc as grpcclient
from PIL import Image
from tritonclient.utils import InferenceServerException

from docserve.api.embedded_triton import EmbeddedTriton
from docserve.contract.model_repositories import PROJECT_ROOT
from docserve.contract.page_result import PageResult
from docserve.export.documents.generator import generate_page
from docserve.export.vision.classifier_build import build_classifier
from docserve.export.vision.reference import newest_version
from docserve.processing.document_labels import read_labels

MODEL_DIR = PROJECT_ROOT / "model_repository" / "doc_classifier"
NEW_TYPES = {"receipt": "till_slip", "letter": "correspondence"}  # factory type -> user's name


def _user_folder(root: Path, per_type: int = 6) -> Path:
    """A folder of the user's two types: generated receipts and letters, renamed."""
    found = dict.fromkeys(NEW_TYPES, 0)
    seed = 20_000_000
    while min(found.values()) < per_type:
        page = generate_page(seed)
        seed += 1
        kind = page.truth.document_type
        if kind in found and found[kind] < per_type:
            folder = root / NEW_TYPES[kind]
            folder.mkdir(parents=True, exist_ok=True)
            Image.fromarray(page.image).save(folder / f"{seed}.png")
            found[kind] += 1
    return root


def _form_intake(client: grpcclient.InferenceServerClient, page: Path,
                 expected: str) -> PageResult:
    tensor = grpcclient.InferInput("page_image_bytes", [1], "BYTES")
    tensor.set_data_from_numpy(np.array([page.read_bytes()], dtype=np.object_))
    result = client.infer("form_intake", [tensor],
                          parameters={"expected_document_types": expected},
                          outputs=[grpcclient.InferRequestedOutput("page_result_json")])
    return PageResult.model_validate_json(result.as_numpy("page_result_json")[0])


def _answer_with_labels(client, page: Path, expected: str, labels: set[str]) -> PageResult:
    """The result once page_result and ocr_gate see the new version (they look every 2 s)."""
    deadline = time.monotonic() + 15
    while True:
        result = _form_intake(client, page, expected)
        if set(result.document_type.scores) == labels or time.monotonic() > deadline:
            return result
        time.sleep(0.5)


def test_a_users_folder_becomes_a_live_version_with_its_own_labels(triton: EmbeddedTriton,
                                                                   tmp_path: Path):
    data = _user_folder(tmp_path / "types")
    served = newest_version(MODEL_DIR)
    card = (MODEL_DIR / "README.md").read_text()
    client = grpcclient.InferenceServerClient(triton.grpc_url)
    report = build_classifier(MODEL_DIR.parent, data, synthetic_pages=0, epochs=10, workers=1)
    new = MODEL_DIR / str(report.version)
    try:
        assert report.version == served + 1
        assert read_labels(new) == ("correspondence", "till_slip")
        assert "correspondence" in (MODEL_DIR / "README.md").read_text()
        client.load_model("doc_classifier")
        assert client.get_model_metadata("doc_classifier").versions == [str(report.version)]
        slip = next((data / "till_slip").iterdir())
        result = _answer_with_labels(client, slip, "till_slip", {"correspondence", "till_slip"})
        assert set(result.document_type.scores) == {"correspondence", "till_slip"}
        assert result.document_type.models[0].version == str(report.version)
        if result.document_type.label == "till_slip":
            assert result.text.skipped is None
        with pytest.raises(InferenceServerException, match="known: correspondence, till_slip"):
            _form_intake(client, slip, "application_form")
    finally:
        shutil.rmtree(new)
        (MODEL_DIR / "README.md").write_text(card)
        client.load_model("doc_classifier")
    assert client.get_model_metadata("doc_classifier").versions == [str(served)]
    form = next((data / "correspondence").iterdir())
    restored = _answer_with_labels(client, form, "application_form", set(read_labels(
        MODEL_DIR / str(served))))
    assert set(restored.document_type.scores) == set(read_labels(MODEL_DIR / str(served)))
    client.close()

"""A page's model outputs -> ``page_result_json`` (docserve.contract.page_result).

The assembling itself (parts, coordinate mapping back to the page as sent) is
``docserve.processing.page_assembly``, shared with the in-process reference pipeline;
this model reads the tensors a pipeline mapped and names the model versions behind each part.
"""

import json
import time
from pathlib import Path

import numpy as np
import triton_python_backend_utils as pb_utils

from docserve.contract.page_result import ModelVersion, SkippedStep
from docserve.processing.document_labels import ServedLabels, newest_ready_version
from docserve.processing.page_assembly import (
    CheckboxOutputs,
    PageOutputs,
    SignatureOutputs,
    TextOutputs,
    assemble_page_result,
    typed_outputs,
)
from docserve.processing.page_orientation import PageOrientation

VERSIONS_TTL_S = 2.0  # a rolled model version shows up in results within this time


class TritonPythonModel:
    def initialize(self, args):
        config = json.loads(args["model_config"])
        part_models = json.loads(config["parameters"]["part_models"]["string_value"])
        repository = Path(args["model_repository"]).parent
        self.versions = ServedVersions(repository, part_models)
        # The document types are those of the classifier version that answered (its labels.txt).
        self.labels = ServedLabels(repository / part_models["document_type"][0],
                                   pb_utils.is_model_ready)
        self.timing_inputs = [t["name"] for t in config["input"] if t["name"].endswith("_ms")]
        self.output_dtypes = {
            output["name"]: pb_utils.triton_string_to_numpy(output["data_type"])
            for output in config["output"]
        }

    def execute(self, requests):
        models = self.versions.current()
        return [self._assemble(request, models) for request in requests]

    def _assemble(self, request, models):
        def tensor(name):
            found = pb_utils.get_input_tensor_by_name(request, name)
            return None if found is None else found.as_numpy()

        try:
            outputs = _page_outputs(tensor, self.labels)
        except ValueError as error:
            return pb_utils.InferenceResponse(
                error=pb_utils.TritonError(str(error), pb_utils.TritonError.INVALID_ARG)
            )
        timings = {name.removesuffix("_ms"): float(tensor(name).reshape(-1)[0])
                   for name in self.timing_inputs if tensor(name) is not None}
        result = assemble_page_result(outputs, models, timings)
        tensors = {"page_result_json": np.array([result.model_dump_json().encode("utf-8")], dtype=np.object_),
                   **typed_outputs(result)}
        wanted = set(request.requested_output_names())
        return pb_utils.InferenceResponse([
            pb_utils.Tensor(name, value.astype(self.output_dtypes[name], copy=False))
            for name, value in tensors.items() if name in wanted
        ])


def _page_outputs(tensor, labels: ServedLabels) -> PageOutputs:
    height, width = (int(side) for side in tensor("page_size").reshape(-1))
    skew = tensor("skew_degrees")
    probabilities = tensor("document_type_probabilities")
    probabilities = None if probabilities is None else probabilities.reshape(-1)
    return PageOutputs(
        page_height=height,
        page_width=width,
        orientation=_orientation(tensor),
        skew_degrees=None if skew is None else float(skew.reshape(-1)[0]),
        document_type_probabilities=probabilities,
        document_types=labels.current(None if probabilities is None else len(probabilities)),
        text=_text(tensor),
        checkboxes=_checkboxes(tensor),
        signature=_signature(tensor),
    )


def _orientation(tensor):
    degrees = tensor("orientation_degrees")
    if degrees is None:
        return None
    return PageOrientation(degrees=int(degrees.reshape(-1)[0]),
                           score=float(tensor("orientation_score").reshape(-1)[0]))


def _text(tensor):
    texts = tensor("line_texts")
    if texts is None:
        return None
    skipped = tensor("text_skipped_json")
    skipped_json = b"" if skipped is None else bytes(skipped.reshape(-1)[0])
    return TextOutputs(
        texts=[bytes(text).decode("utf-8") for text in texts.reshape(-1)],
        confidences=tensor("line_confidences").reshape(-1),
        polygons=tensor("line_polygons"),
        skipped=SkippedStep.model_validate_json(skipped_json) if skipped_json else None,
    )


def _checkboxes(tensor):
    boxes = tensor("checkbox_boxes")
    if boxes is None:
        return None
    return CheckboxOutputs(boxes=boxes, checked=tensor("checkbox_checked").reshape(-1),
                           confidence=tensor("checkbox_confidence").reshape(-1))


def _signature(tensor):
    present = tensor("signature_present")
    if present is None:
        return None
    return SignatureOutputs(present=bool(present.reshape(-1)[0]),
                            score=float(tensor("signature_score").reshape(-1)[0]),
                            box=tensor("signature_box").reshape(-1))


class ServedVersions:
    """The newest ready version of each model behind a result part, looked up every few seconds.

    Ensembles run the newest version (``model_version: -1``), so this is the one that answered;
    reading it from Triton, not from a file, keeps results right across live version rollouts.
    """

    def __init__(self, repository: Path, part_models: dict[str, list[str]]):
        self.repository = repository
        self.part_models = part_models
        self._models: dict[str, list[ModelVersion]] = {}
        self._read_at = float("-inf")

    def current(self) -> dict[str, list[ModelVersion]]:
        if time.monotonic() - self._read_at > VERSIONS_TTL_S:
            self._models = {part: [ModelVersion(name=name, version=self._newest_ready(name))
                                   for name in names]
                            for part, names in self.part_models.items()}
            self._read_at = time.monotonic()
        return self._models

    def _newest_ready(self, model: str) -> str:
        return newest_ready_version(self.repository / model, pb_utils.is_model_ready) or "unknown"

"""Candidate boxes + state probabilities -> ``checkbox_boxes``, ``checkbox_checked``, confidence."""

from docserve.processing.checkboxes import decide
from docserve.processing.triton_step import TritonStep


class TritonPythonModel(TritonStep):
    def run(self, request):
        decision = decide(request.input("checkbox_candidate_boxes"),
                          request.input("checkbox_state_probabilities"))
        return {"checkbox_boxes": decision.boxes, "checkbox_checked": decision.checked,
                "checkbox_confidence": decision.confidence}

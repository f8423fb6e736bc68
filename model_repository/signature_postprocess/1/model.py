"""``signature_heatmap`` + ``page_size`` -> ``signature_present``, ``signature_score``, box."""

from docserve.processing.signature_heatmap import read_heatmap
from docserve.processing.triton_step import TritonStep


class TritonPythonModel(TritonStep):
    def run(self, request):
        height, width = request.input("page_size").tolist()
        finding = read_heatmap(request.input("signature_heatmap")[0, 0], height, width)
        return {"signature_present": [finding.present], "signature_score": [finding.score],
                "signature_box": finding.box}

"""``signature_heatmap`` + ``page_size`` -> ``signature_present``, ``signature_score``, box."""

import numpy as np
import triton_python_backend_utils as pb_utils

from docserve.processing.signature_heatmap import read_heatmap


class TritonPythonModel:
    def execute(self, requests):
        return [self._read(request) for request in requests]

    def _read(self, request):
        heatmap = pb_utils.get_input_tensor_by_name(request, "signature_heatmap").as_numpy()
        height, width = pb_utils.get_input_tensor_by_name(request, "page_size").as_numpy().tolist()
        finding = read_heatmap(heatmap[0, 0], height, width)
        return pb_utils.InferenceResponse([
            pb_utils.Tensor("signature_present", np.array([finding.present])),
            pb_utils.Tensor("signature_score", np.array([finding.score], dtype=np.float32)),
            pb_utils.Tensor("signature_box", finding.box),
        ])

"""Words + checkboxes + signature -> ``key_values_json``: the page's form fields on the canvas
the words were read on (``docserve.processing.form_fields``); the ``key_values`` model is called
through BLS."""

import json

from docserve.processing.form_fields import UprightPage, page_key_values
from docserve.processing.key_values import OUTPUT_TENSORS, KvWord
from docserve.processing.triton_step import TritonStep


class TritonPythonModel(TritonStep):
    def setup(self, config):
        self.key_values_model = config.str_parameter("key_values_model")

    def run(self, request):
        words = [KvWord(bytes(text).decode("utf-8"), polygon.tolist(), float(confidence))
                 for text, polygon, confidence in zip(request.input("word_texts").reshape(-1),
                                                      request.input("word_polygons"),
                                                      request.input("word_confidences").reshape(-1),
                                                      strict=True)]
        height, width = request.input("upright_page_size").tolist()
        page = UprightPage(height, width, float(request.input("skew_degrees").reshape(-1)[0]))
        checkboxes = (request.input("checkbox_boxes"), request.input("checkbox_checked").reshape(-1),
                      request.input("checkbox_confidence").reshape(-1))
        signature = (bool(request.input("signature_present")[0]),
                     float(request.input("signature_score")[0]), request.input("signature_box"))
        pairs = page_key_values(words, page, self._pair, checkboxes, signature)
        return {"key_values_json": [json.dumps([pair.model_dump(mode="json") for pair in pairs]).encode()]}

    def _pair(self, features):
        return self.call(self.key_values_model, features, OUTPUT_TENSORS)

"""``page`` + ``orientation_probabilities`` (the first reading) -> ``upright_page``,
``orientation_degrees``, ``orientation_score`` and ``page_size`` ([height, width] of the page as
sent). A page whose first reading is unsure has its turned crops read by ``page_orientation``
through BLS (``docserve.processing.page_orientation.orient``)."""

from docserve.processing.page_image import check_page_array
from docserve.processing.page_orientation import (
    ORIENTATION_INPUT,
    ORIENTATION_OUTPUT,
    orient,
    turn_upright,
)
from docserve.processing.triton_step import TritonStep


class TritonPythonModel(TritonStep):
    def setup(self, config):
        self.orientation_model = config.str_parameter("orientation_model")

    def run(self, request):
        page = check_page_array(request.input("page"))
        orientation = orient(page, request.input("orientation_probabilities"), self._classify)
        return {"upright_page": turn_upright(page, orientation.degrees),
                "orientation_degrees": [orientation.degrees], "orientation_score": [orientation.score],
                "page_size": page.shape}

    def _classify(self, crops):
        return self.call(self.orientation_model, {ORIENTATION_INPUT: crops},
                         [ORIENTATION_OUTPUT])[ORIENTATION_OUTPUT]

"""``page`` + ``orientation_probabilities`` -> ``upright_page``, ``orientation_degrees``,
``orientation_score`` and ``page_size`` ([height, width] of the page as sent)."""

from docserve.processing.page_image import check_page_array
from docserve.processing.page_orientation import read_orientation, turn_upright
from docserve.processing.triton_step import TritonStep


class TritonPythonModel(TritonStep):
    def run(self, request):
        page = check_page_array(request.input("page"))
        orientation = read_orientation(request.input("orientation_probabilities"))
        return {"upright_page": turn_upright(page, orientation.degrees),
                "orientation_degrees": [orientation.degrees], "orientation_score": [orientation.score],
                "page_size": page.shape}

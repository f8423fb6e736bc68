"""``page`` -> ``orientation_input`` ([crops, 3, 224, 224]) for the ``page_orientation`` model."""

from docserve.processing.page_image import check_page_array
from docserve.processing.page_orientation import orientation_input
from docserve.processing.triton_step import TritonStep


class TritonPythonModel(TritonStep):
    def run(self, request):
        return {"orientation_input": orientation_input(check_page_array(request.input("page")))}

"""``page`` -> ``orientation_input`` ([crops, 3, 224, 224]: the crops as cut, the first reading)
for the ``page_orientation`` model."""

from docserve.processing.page_image import check_page_array
from docserve.processing.page_orientation import FIRST_READING, orientation_input
from docserve.processing.triton_step import TritonStep


class TritonPythonModel(TritonStep):
    def run(self, request):
        page = check_page_array(request.input("page"))
        return {"orientation_input": orientation_input(page, FIRST_READING)}

"""``page`` + ``skew_degrees`` -> ``deskewed_page`` (rotated back, canvas grown, paper-white)."""

from docserve.processing.page_image import check_page_array
from docserve.processing.page_rotation import deskew_page
from docserve.processing.triton_step import TritonStep


class TritonPythonModel(TritonStep):
    def run(self, request):
        page = check_page_array(request.input("page"))
        return {"deskewed_page": deskew_page(page, float(request.input("skew_degrees").ravel()[0]))}

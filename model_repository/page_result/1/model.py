"""A page's model outputs -> ``page_result_json`` (docserve.contract.page_result).

The assembling itself (parts, coordinate mapping back to the page as sent) is
``docserve.processing.page_assembly``, shared with the in-process reference pipeline;
this model reads the tensors a pipeline mapped and names the model versions behind each part.
"""

from docserve.processing.document_labels import ServedLabels
from docserve.processing.page_assembly import assemble_page_result, typed_outputs
from docserve.processing.page_tensors import read_page_outputs, read_timings
from docserve.processing.served_versions import ServedVersions
from docserve.processing.triton_step import TritonStep


class TritonPythonModel(TritonStep):
    def setup(self, config):
        part_models = config.json_parameter("part_models")
        self.versions = ServedVersions(config.repository, part_models, self.is_model_ready)
        # The document types are those of the classifier version that answered (its labels.txt).
        self.labels = ServedLabels(config.repository / part_models["document_type"][0],
                                   self.is_model_ready)

    def run(self, request):
        outputs = read_page_outputs(request.optional_input, self.labels.current)
        timings = read_timings(request.optional_input, self.config.input_dtypes)
        result = assemble_page_result(outputs, self.versions.current(), timings)
        return {"page_result_json": [result.model_dump_json().encode("utf-8")], **typed_outputs(result)}

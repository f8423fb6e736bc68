"""Car attribute strings -> one-hot ``car_features`` (shared encoding: car_features.py)."""

import json

import triton_python_backend_utils as pb_utils

from docserve.processing.car_features import ATTRIBUTES, UnknownCategoryError, encode_columns


class TritonPythonModel:
    def initialize(self, args):
        config = json.loads(args["model_config"])
        output = pb_utils.get_output_config_by_name(config, "car_features")
        self.features_dtype = pb_utils.triton_string_to_numpy(output["data_type"])

    def execute(self, requests):
        return [self._encode(request) for request in requests]

    def _encode(self, request):
        try:
            columns = {}
            for name in ATTRIBUTES:
                tensor = pb_utils.get_input_tensor_by_name(request, name)
                if tensor is None:
                    raise UnknownCategoryError(f"missing input tensor '{name}'")
                columns[name] = tensor.as_numpy().reshape(-1)
            features = encode_columns(columns).astype(self.features_dtype, copy=False)
        except UnknownCategoryError as error:
            return pb_utils.InferenceResponse(
                error=pb_utils.TritonError(str(error), pb_utils.TritonError.INVALID_ARG)
            )
        return pb_utils.InferenceResponse([pb_utils.Tensor("car_features", features)])

"""A Python-based Triton backend named ``onnxruntime``, for the embedded (CPU, wheel) Triton.

The Triton build inside nvidia-pytriton has no native ONNX Runtime backend. Installed as
``<backend-directory>/onnxruntime/model.py`` it makes every ``backend: "onnxruntime"`` model load
there, reading ``<version>/model.onnx`` and the tensors its config names. The official Triton image
ignores this file and uses its native backend: the model repository is the same for both.

Requests that arrive together (dynamic batching) are concatenated along the batch axis and run in
one onnxruntime call; each request still gets exactly one response, and a request with bad inputs
gets its own error without failing the others.

Config parameters understood (``parameters { key: ... value { string_value: ... } }``):
  ``intra_op_thread_count`` threads of each instance (default 1: instances x threads <= cores).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnxruntime as ort
import triton_python_backend_utils as pb_utils


class TritonPythonModel:
    def initialize(self, args: dict[str, str]) -> None:
        config = json.loads(args["model_config"])
        model_file = config.get("default_model_filename") or "model.onnx"
        path = Path(args["model_repository"]) / args["model_version"] / model_file
        parameters = {key: value["string_value"] for key, value in config.get("parameters", {}).items()}
        options = ort.SessionOptions()
        options.intra_op_num_threads = int(parameters.get("intra_op_thread_count", "1"))
        options.inter_op_num_threads = 1
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.batched = int(config.get("max_batch_size", 0)) > 0
        self.input_names = [tensor["name"] for tensor in config["input"]]
        self.output_names = [tensor["name"] for tensor in config["output"]]
        self.input_dtypes = {
            tensor["name"]: pb_utils.triton_string_to_numpy(tensor["data_type"])
            for tensor in config["input"]
        }

    def _inputs(self, request) -> dict[str, np.ndarray]:
        feeds = {}
        for name in self.input_names:
            tensor = pb_utils.get_input_tensor_by_name(request, name)
            if tensor is None:
                raise ValueError(f"missing input tensor '{name}'")
            feeds[name] = tensor.as_numpy().astype(self.input_dtypes[name], copy=False)
        return feeds

    def _run(self, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        return self.session.run(self.output_names, feeds)

    def _response(self, outputs: list[np.ndarray]):
        return pb_utils.InferenceResponse(
            [pb_utils.Tensor(name, value) for name, value in zip(self.output_names, outputs, strict=False)]
        )

    def execute(self, requests):
        responses: list = [None] * len(requests)
        ready: list[tuple[int, dict[str, np.ndarray]]] = []
        for index, request in enumerate(requests):
            try:
                ready.append((index, self._inputs(request)))
            except ValueError as error:
                responses[index] = pb_utils.InferenceResponse(
                    error=pb_utils.TritonError(str(error), pb_utils.TritonError.INVALID_ARG)
                )
        if self.batched and len(ready) > 1 and self._same_item_shapes(ready):
            self._run_together(ready, responses)
        else:
            for index, feeds in ready:
                responses[index] = self._run_alone(feeds)
        return responses

    @staticmethod
    def _same_item_shapes(ready) -> bool:
        first = ready[0][1]
        return all(
            feeds[name].shape[1:] == first[name].shape[1:] for _, feeds in ready for name in first
        )

    def _run_together(self, ready, responses) -> None:
        sizes = [next(iter(feeds.values())).shape[0] for _, feeds in ready]
        joined = {name: np.concatenate([feeds[name] for _, feeds in ready]) for name in ready[0][1]}
        try:
            outputs = self._run(joined)
        except Exception:  # one bad request must not fail its neighbours: retry them one by one
            for index, feeds in ready:
                responses[index] = self._run_alone(feeds)
            return
        bounds = np.cumsum(sizes)[:-1]
        parts = [np.split(output, bounds) for output in outputs]
        for position, (index, _) in enumerate(ready):
            responses[index] = self._response([part[position] for part in parts])

    def _run_alone(self, feeds: dict[str, np.ndarray]):
        try:
            return self._response(self._run(feeds))
        except Exception as error:  # onnxruntime reports shape/type problems of this request
            return pb_utils.InferenceResponse(
                error=pb_utils.TritonError(
                    f"onnxruntime rejected the request: {error}", pb_utils.TritonError.INVALID_ARG
                )
            )

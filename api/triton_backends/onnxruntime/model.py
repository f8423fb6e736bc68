"""A Python-based Triton backend named ``onnxruntime``, for the embedded (CPU, wheel) Triton.

The Triton build inside nvidia-pytriton has no native ONNX Runtime backend. Installed as
``<backend-directory>/onnxruntime/model.py`` it makes every ``backend: "onnxruntime"`` model load
there, reading ``<version>/model.onnx`` and the tensors its config names. The official Triton image
ignores this file and uses its native backend: the model repository is the same for both.

Requests that arrive together (dynamic batching) are concatenated along the batch axis and run in
one onnxruntime call; each request still gets exactly one response, and a request with bad inputs
gets its own error without failing the others. It is a :class:`TritonStep` that answers a whole
batch at once (``execute``) instead of one request at a time (``run``).

Config parameters understood (``parameters { key: ... value { string_value: ... } }``):
  ``intra_op_thread_count`` threads of each instance (default 0: onnxruntime's own default, one
  per core, as the native backend does without the parameter).

Idle onnxruntime threads sleep instead of spinning (``session.intra_op.allow_spinning`` off): a
lone page's model call gets every core, and with several models busy at once (pages in flight,
one stub process per model instance) no thread burns a core waiting for work the others need.
docs/performance.md has the measurements.
"""

from __future__ import annotations

import numpy as np
import onnxruntime as ort

from docserve.processing.step_config import StepConfig
from docserve.processing.step_errors import StepInputError
from docserve.processing.triton_step import StepRequest, TritonStep

Feeds = dict[str, np.ndarray]


class TritonPythonModel(TritonStep):
    def setup(self, config: StepConfig) -> None:
        model_file = config.model_config.get("default_model_filename") or "model.onnx"
        options = ort.SessionOptions()
        options.intra_op_num_threads = config.int_parameter("intra_op_thread_count", default=0)
        options.inter_op_num_threads = 1
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = ort.InferenceSession(str(config.version_dir / model_file), options,
                                            providers=["CPUExecutionProvider"])
        self.batched = int(config.model_config.get("max_batch_size", 0)) > 0

    def execute(self, requests):
        responses: list = [None] * len(requests)
        ready: list[tuple[int, StepRequest, Feeds]] = []
        for index, request in enumerate(map(StepRequest, requests)):
            try:
                ready.append((index, request, self._inputs(request)))
            except StepInputError as error:
                responses[index] = self.refuse(request, error)
        if self.batched and len(ready) > 1 and self._same_item_shapes(ready):
            self._run_together(ready, responses)
        else:
            for index, request, feeds in ready:
                responses[index] = self._run_alone(request, feeds)
        return responses

    def _inputs(self, request: StepRequest) -> Feeds:
        return {name: request.input(name).astype(dtype, copy=False)
                for name, dtype in self.config.input_dtypes.items()}

    def _run(self, feeds: Feeds) -> dict[str, np.ndarray]:
        outputs = self.config.output_dtypes
        return dict(zip(outputs, self.session.run(list(outputs), feeds), strict=True))

    @staticmethod
    def _same_item_shapes(ready) -> bool:
        first = ready[0][2]
        return all(
            feeds[name].shape[1:] == first[name].shape[1:] for _, _, feeds in ready for name in first
        )

    def _run_together(self, ready, responses) -> None:
        sizes = [next(iter(feeds.values())).shape[0] for _, _, feeds in ready]
        joined = {name: np.concatenate([feeds[name] for _, _, feeds in ready]) for name in ready[0][2]}
        try:
            outputs = self._run(joined)
        except Exception:  # one bad request must not fail its neighbours: retry them one by one
            for index, request, feeds in ready:
                responses[index] = self._run_alone(request, feeds)
            return
        bounds = np.cumsum(sizes)[:-1]
        parts = {name: np.split(output, bounds) for name, output in outputs.items()}
        for position, (index, request, _) in enumerate(ready):
            responses[index] = self.respond(request, {name: part[position] for name, part in parts.items()})

    def _run_alone(self, request: StepRequest, feeds: Feeds):
        try:
            return self.respond(request, self._run(feeds))
        except Exception as error:  # onnxruntime reports shape/type problems of this request
            return self.refuse(request, StepInputError(f"onnxruntime rejected the request: {error}"))

"""Which models a model runs: its ensemble steps, and the models a python step calls through BLS.

An ensemble names its steps in ``ensemble_scheduling``; a python step that calls another model
(BLS) names it in a string parameter whose key ends in ``_model`` (``ocr_lines``:
``recognition_model: "text_recognition"``), and reads the name from there, so the config is the
one place that says so. Both kinds of edge together are the graph the gateway's step repair
walks (which pipelines to probe once a step is reloaded) and ``docserve models list`` shows
("used by"). Configs are Triton's JSON form (protobuf field names), as the server's
``get_model_config`` answers and :func:`parse_config_text` reads a ``config.pbtxt``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from google.protobuf import json_format, text_format
from tritonclient.grpc.model_config_pb2 import ModelConfig

CALLED_MODEL_SUFFIX = "_model"  # a step parameter naming a model the step calls (BLS)


def parse_config_text(text: str) -> dict[str, Any]:
    """A ``config.pbtxt`` as the JSON form Triton answers for a loaded model."""
    message = text_format.Parse(text, ModelConfig())
    return json_format.MessageToDict(message, preserving_proto_field_name=True)


def called_models(config: Mapping[str, Any]) -> set[str]:
    """The models ``config``'s model runs directly: ensemble steps and BLS callees."""
    steps = {step["model_name"] for step in config.get("ensemble_scheduling", {}).get("step", [])}
    callees = {value.get("string_value", "") for key, value in config.get("parameters", {}).items()
               if key.endswith(CALLED_MODEL_SUFFIX)}
    return steps | (callees - {""})


def runs(model: str, calls: Mapping[str, Iterable[str]]) -> set[str]:
    """Every model a request to ``model`` may run, itself included (``calls``: model -> the
    models it calls directly, as :func:`called_models` reads them)."""
    seen, todo = set(), [model]
    while todo:
        current = todo.pop()
        if current not in seen:
            seen.add(current)
            todo.extend(calls.get(current, ()))
    return seen

"""A python model's ``config.pbtxt`` as its step reads it: typed parameters, output dtypes, paths.

Triton hands a python model its config as JSON in ``initialize``; every step used to pick its
parameters and output types out of that JSON by hand. :class:`StepConfig` parses it once, names
the model and parameter in every error, and knows nothing of Triton itself (the type-name
conversion is passed in), so it is tested without a server.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from docserve.processing.step_errors import StepConfigurationError

T = TypeVar("T")
NumpyDtype = Callable[[str], Any]  # "TYPE_FP32" -> np.float32 (pb_utils.triton_string_to_numpy)


@dataclass(frozen=True)
class StepConfig:
    name: str
    model_dir: Path  # <repository>/<name>: what Triton calls the model's "model_repository"
    version_dir: Path  # <repository>/<name>/<version>: files that travel with the version
    model_config: Mapping[str, Any]
    input_dtypes: Mapping[str, Any]  # name -> numpy dtype, in config order
    output_dtypes: Mapping[str, Any]

    @classmethod
    def from_args(cls, args: Mapping[str, str], numpy_dtype: NumpyDtype) -> StepConfig:
        """``args`` as Triton passes them to ``initialize``."""
        model_config = json.loads(args["model_config"])
        model_dir = Path(args["model_repository"])
        return cls(
            name=args["model_name"],
            model_dir=model_dir,
            version_dir=model_dir / args["model_version"],
            model_config=model_config,
            input_dtypes={tensor["name"]: numpy_dtype(tensor["data_type"])
                          for tensor in model_config["input"]},
            output_dtypes={tensor["name"]: numpy_dtype(tensor["data_type"])
                           for tensor in model_config["output"]},
        )

    @property
    def repository(self) -> Path:
        """The repository this model was loaded from, where a step finds the models it reports on."""
        return self.model_dir.parent

    def str_parameter(self, key: str, default: str | None = None) -> str:
        return self._parameter(key, str, default)

    def int_parameter(self, key: str, default: int | None = None) -> int:
        return self._parameter(key, int, default)

    def float_parameter(self, key: str, default: float | None = None) -> float:
        return self._parameter(key, float, default)

    def json_parameter(self, key: str) -> Any:
        return self._parameter(key, json.loads, None)

    def cast(self, output: str, value: Any) -> np.ndarray:
        """``value`` as the contiguous array of the dtype ``config.pbtxt`` declares for ``output``."""
        if output not in self.output_dtypes:
            raise StepConfigurationError(f"{self.name}: config.pbtxt declares no output {output!r}")
        return np.require(value, dtype=self.output_dtypes[output], requirements="C")

    def _parameter(self, key: str, parse: Callable[[str], T], default: T | None) -> T:
        found = self.model_config.get("parameters", {}).get(key)
        if found is None:
            if default is not None:
                return default
            raise StepConfigurationError(f"{self.name}: config.pbtxt has no parameter {key!r}")
        raw = found["string_value"]
        try:
            return parse(raw)
        except ValueError as error:
            raise StepConfigurationError(
                f"{self.name}: parameter {key!r} = {raw!r} is no {_kind(parse)}: {error}"
            ) from error


def _kind(parse: Callable[[str], Any]) -> str:
    return "JSON" if parse is json.loads else parse.__name__

"""Every ``config.pbtxt`` of the Triton repositories, parsed as Triton itself reads them.

``google.protobuf.text_format`` against tritonclient's ``ModelConfig`` message is strict: a
misspelt field or enum value is a parse error here, not a model that fails to load later.
"""

from __future__ import annotations

from pathlib import Path

from google.protobuf import text_format
from sample_documents import FIXTURE_REPOSITORY
from tritonclient.grpc.model_config_pb2 import ModelConfig, ModelInput, ModelOutput

from docserve.contract.model_repositories import PROJECT_ROOT, REPOSITORY_NAMES

SERVED_REPOSITORIES = tuple(PROJECT_ROOT / name for name in REPOSITORY_NAMES)
REPOSITORIES = (*SERVED_REPOSITORIES, FIXTURE_REPOSITORY)
CONFIG_FILE = "config.pbtxt"

Tensor = ModelInput | ModelOutput


def config_paths() -> list[Path]:
    """The config of every model in every repository, served and test-only."""
    return sorted(path for repository in REPOSITORIES for path in repository.glob(f"*/{CONFIG_FILE}"))


def parse_config(path: Path) -> ModelConfig:
    """``path`` as a ``ModelConfig`` (``text_format.ParseError`` names the line of a typo)."""
    return text_format.Parse(path.read_text(encoding="utf-8"), ModelConfig())


def load_configs() -> dict[str, ModelConfig]:
    """Every model's config by model name (Triton names a model after its folder)."""
    return {path.parent.name: parse_config(path) for path in config_paths()}


def tensor(config: ModelConfig, name: str) -> Tensor | None:
    """The input or output ``name`` of ``config`` (``None`` if it has none of that name)."""
    return next((found for found in (*config.input, *config.output) if found.name == name), None)


def full_shape(config: ModelConfig, found: Tensor) -> list[int]:
    """A tensor's shape as a request carries it: with the batch axis Triton adds when
    ``max_batch_size > 0`` (the config's ``dims`` leave it out)."""
    return ([-1] if config.max_batch_size > 0 else []) + list(found.dims)


def string_parameter(config: ModelConfig, key: str) -> str | None:
    return config.parameters[key].string_value if key in config.parameters else None

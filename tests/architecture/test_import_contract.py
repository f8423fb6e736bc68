"""The layers of docs/architecture.md hold, and the checks that say so can fail.

``lint-imports`` reads the contracts from pyproject.toml. A copy of the packages with one
forbidden import added proves the contract is not vacuous; the Triton python models, which are
files in a model repository rather than a package, are checked here by reading their imports.
"""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from docserve.contract.model_repositories import PROJECT_ROOT

LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")
LAYER_FOLDERS = ("contract", "processing", "inference", "api", "client", "export", "cli")
# What a python model inside Triton may import from docserve: the two bottom layers only.
TRITON_MODEL_IMPORTS = ("docserve.contract", "docserve.processing")


def _lint_imports(cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(LINT_IMPORTS), "--no-cache"], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=300, check=False)


def test_the_layers_of_the_packages_hold() -> None:
    checked = _lint_imports(PROJECT_ROOT)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "0 broken" in checked.stdout


def test_an_import_across_the_layers_breaks_the_contract(tmp_path: Path) -> None:
    """processing importing the gateway, in a copy of the packages, is reported by name."""
    package = tmp_path / "docserve"  # a namespace package, like the installed one
    for folder in LAYER_FOLDERS:
        shutil.copytree(PROJECT_ROOT / folder, package / folder,
                        ignore=shutil.ignore_patterns("__pycache__", "*.onnx", "static", "data"))
    (package / "processing" / "shortcut.py").write_text("from docserve.api.settings import Settings\n")
    shutil.copy(PROJECT_ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}

    checked = _lint_imports(tmp_path, env)

    assert checked.returncode == 1, checked.stdout + checked.stderr
    assert "docserve.processing is not allowed to import docserve.api" in checked.stdout
    assert "docserve.processing.shortcut -> docserve.api.settings" in checked.stdout
    assert "1 broken" in checked.stdout


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    modules = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            modules.add(node.module)
    return modules


def _docserve_imports(path: Path) -> set[str]:
    return {module for module in _imports(path) if module.split(".")[0] == "docserve"}


TRITON_MODEL_FILES = sorted(
    [*PROJECT_ROOT.glob("model_repository/*/*/model.py"),
     PROJECT_ROOT / "api" / "triton_backends" / "onnxruntime" / "model.py"]
)


@pytest.mark.parametrize("model_file", TRITON_MODEL_FILES,
                         ids=lambda path: str(path.relative_to(PROJECT_ROOT)))
def test_triton_python_models_import_only_the_contract_and_processing(model_file: Path) -> None:
    outside = {module for module in _docserve_imports(model_file)
               if not module.startswith(TRITON_MODEL_IMPORTS)}
    assert not outside, f"{model_file.name} imports {sorted(outside)}; allowed: {TRITON_MODEL_IMPORTS}"


@pytest.mark.parametrize("model_file", TRITON_MODEL_FILES,
                         ids=lambda path: str(path.relative_to(PROJECT_ROOT)))
def test_triton_python_models_reach_triton_only_through_the_step_base(model_file: Path) -> None:
    """pb_utils is docserve.processing.triton_step's alone (lint-imports checks the packages)."""
    assert "triton_python_backend_utils" not in _imports(model_file)
    assert "docserve.processing.triton_step" in _imports(model_file)


def test_the_model_import_check_sees_a_forbidden_import(tmp_path: Path) -> None:
    model = tmp_path / "model.py"
    model.write_text("import numpy\n"
                     "from docserve.export.ocr import build\n"
                     "from docserve.processing import x\n")
    assert _docserve_imports(model) == {"docserve.export.ocr", "docserve.processing"}

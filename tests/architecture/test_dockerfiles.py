"""Both images install docserve from its folders: each must copy every folder pyproject maps.

No Docker daemon runs here, so a folder added to the package-dir mapping but not to a
Dockerfile would only show up as an ImportError in production; this test catches it first.
"""

from __future__ import annotations

import re

import pytest

from docserve.contract.model_repositories import PROJECT_ROOT

# package-dir = { "docserve.contract" = "contract", ... } (tomllib is 3.11+; we support 3.10)
PACKAGE_DIR = re.search(r"^package-dir = \{(.*)\}$", (PROJECT_ROOT / "pyproject.toml").read_text(), re.M)
PACKAGE_FOLDERS = sorted(re.findall(r'"docserve\.\w+" = "(\w+)"', PACKAGE_DIR.group(1)))


def copied_before_each_install(dockerfile: str) -> list[set[str]]:
    """The folders COPY'd in each build stage before its ``pip install ... .``."""
    stages = []
    for stage in re.split(r"^FROM ", dockerfile, flags=re.M)[1:]:
        install = re.search(r"pip install [^\n]*\.(\s|$|\[|')", stage)
        if install:
            copied = re.findall(r"^COPY (\S+) \./\1$", stage[:install.start()], flags=re.M)
            stages.append(set(copied))
    return stages


@pytest.mark.parametrize("image", ["triton", "gateway"])
def test_the_image_copies_every_package_folder(image: str) -> None:
    stages = copied_before_each_install((PROJECT_ROOT / "docker" / f"{image}.Dockerfile").read_text())
    assert stages, f"{image}.Dockerfile installs docserve nowhere"
    for copied in stages:
        assert set(PACKAGE_FOLDERS) <= copied, f"missing: {sorted(set(PACKAGE_FOLDERS) - copied)}"


def test_every_code_folder_is_mapped() -> None:
    assert PACKAGE_FOLDERS == ["api", "cli", "client", "contract", "export", "inference", "processing"]


def test_the_check_sees_a_missing_folder() -> None:
    dockerfile = "FROM python:3.11-slim\nCOPY api ./api\nRUN pip install --no-cache-dir .\n"
    assert copied_before_each_install(dockerfile) == [{"api"}]

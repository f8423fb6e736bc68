"""The page in a real headless Chromium (Debian's ``chromium`` + ``chromium-driver``, driven by
selenium) against a real gateway (uvicorn) over the session's Triton.

Screenshots are test artefacts: they go to ``$DOCSERVE_WEB_ARTEFACTS`` when set, else to a
pytest temporary folder; the run's summary names the folder.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from live_gateway import serve
from selenium import webdriver
from selenium.webdriver.chrome.service import Service

from docserve.api.app import create_app
from docserve.api.settings import Settings

BROWSER = shutil.which("chromium") or "/usr/bin/chromium"
DRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
_ARTEFACTS: list[Path] = []


@pytest.fixture(scope="session")
def artefacts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = Path(os.environ.get("DOCSERVE_WEB_ARTEFACTS") or tmp_path_factory.mktemp("web_artefacts"))
    folder.mkdir(parents=True, exist_ok=True)
    _ARTEFACTS.append(folder)
    return folder


def pytest_terminal_summary(terminalreporter) -> None:
    for folder in _ARTEFACTS:
        shots = sorted(path.name for path in folder.glob("*.png"))
        terminalreporter.write_line(f"web screenshots ({len(shots)}) in {folder}: {', '.join(shots)}")


@pytest.fixture(scope="module")
def web_gateway(triton_settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The gateway with its workers; one page at a time, so a two-page job is seen half done."""
    settings = triton_settings.model_copy(update={
        "data_dir": tmp_path_factory.mktemp("web_data"), "page_concurrency": 1, "worker_concurrency": 1,
    })
    with serve(create_app(settings)) as (host, port):
        yield f"http://{host}:{port}"


@pytest.fixture(scope="module")
def browser() -> Iterator[webdriver.Chrome]:
    if not (Path(BROWSER).exists() and Path(DRIVER).exists()):
        pytest.fail(f"no {BROWSER} or {DRIVER}: `make system-deps` installs chromium and chromium-driver")
    options = webdriver.ChromeOptions()
    options.binary_location = BROWSER
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                     "--window-size=1400,1000", "--lang=en-US"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})  # the console, for CSP reports
    driver = webdriver.Chrome(options=options, service=Service(executable_path=DRIVER))
    driver.set_script_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()

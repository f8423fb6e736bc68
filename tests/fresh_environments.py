"""Fresh virtual environments with exactly what a deployment would install, for install tests.

They use the machine's pip cache (CI's ``make test`` fills it moments before), so creating one
costs the unpacking, not the download.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from docserve.contract.model_repositories import PROJECT_ROOT


def build_wheel(out: Path) -> Path:
    """docserve as a regular (non-editable) wheel, built from this checkout."""
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(out),
                    str(PROJECT_ROOT)], check=True, timeout=600)
    (wheel,) = out.glob("docserve-*.whl")
    return wheel


def create_venv(path: Path, *pip_installs: list[str]) -> Path:
    """A new virtualenv at ``path``; each item of ``pip_installs`` is one ``pip install`` call's
    arguments. Returns its ``bin/`` folder."""
    subprocess.run([sys.executable, "-m", "venv", str(path)], check=True, timeout=120)
    for arguments in pip_installs:
        subprocess.run([str(path / "bin" / "pip"), "install", "--quiet", "--disable-pip-version-check",
                        *arguments], check=True, timeout=900)
    return path / "bin"

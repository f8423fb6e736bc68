"""Where the Triton model repositories are: ``model_repository/`` and ``ensembles/``.

The gateway serves them, training writes into them and the tests read them, so the one rule
for finding them lives here, below all three.
"""

from __future__ import annotations

from pathlib import Path

# The source checkout this package runs from (an editable install or a clone on sys.path). In a
# regular ``pip install .`` this is site-packages/docserve, which holds no model repository.
PROJECT_ROOT = Path(__file__).resolve().parent.parent
REPOSITORY_NAMES = ("model_repository", "ensembles")


class ModelRepositoriesNotFoundError(RuntimeError):
    """Neither the settings nor the usual places name the model repositories to serve."""


def find_model_repositories(start: Path | None = None) -> list[Path]:
    """``model_repository/`` and ``ensembles/`` of the source checkout, else of ``start`` (the
    current directory): where an editable install, a clone and the docker images keep them."""
    bases = [PROJECT_ROOT, (start or Path.cwd()).resolve()]
    for base in bases:
        candidates = [base / name for name in REPOSITORY_NAMES]
        if all(candidate.is_dir() for candidate in candidates):
            return candidates
    raise ModelRepositoriesNotFoundError(
        f"no model repositories found (looked for {' and '.join(REPOSITORY_NAMES)} in "
        f"{' and '.join(str(base) for base in dict.fromkeys(bases))}): set "
        "DOCSERVE_MODEL_REPOSITORIES='[\"/path/model_repository\", \"/path/ensembles\"]' or pass "
        "--model-repository (repeat it)"
    )

"""The embedded default runs without the ``scale-out`` extra (``make run`` does not install it)."""

from __future__ import annotations

import subprocess
import sys

BLOCKED = ("confluent_kafka", "pymongo", "redis", "fastavro")
PROGRAM = f"""
import sys, tempfile, pathlib
class Missing:
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in {BLOCKED!r}:
            raise ModuleNotFoundError(f"No module named {{name!r}}")
sys.meta_path.insert(0, Missing())
import docserve.api.app, docserve.api.worker_process, docserve.cli.main, docserve.client.batch
from docserve.api.services import open_job_backends
from docserve.api.settings import Settings
store, queue = open_job_backends(Settings(data_dir=pathlib.Path(tempfile.mkdtemp())))
print(type(store).__name__, type(queue).__name__)
"""


def test_the_gateway_workers_and_cli_import_without_the_scale_out_clients():
    finished = subprocess.run([sys.executable, "-c", PROGRAM], capture_output=True, text=True, timeout=120)
    assert finished.returncode == 0, finished.stderr
    assert finished.stdout.split() == ["SqliteJobs", "SqliteJobs"]


def test_the_blocker_does_block():
    """The check above could not pass by accident: with the blocker, the Kafka queue cannot import."""
    program = PROGRAM.split("import docserve.api.app")[0] + "import docserve.api.jobs.kafka_queue\n"
    finished = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=120)
    assert finished.returncode != 0 and "confluent_kafka" in finished.stderr

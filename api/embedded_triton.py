"""Run the real Triton Inference Server bundled in the ``nvidia-pytriton`` wheel, on this machine.

The wheel ships ``tritonserver`` 2.51, its shared libraries and the python backend, but no native
ONNX Runtime backend. We make a private copy of the server, add the python backend stub for the
running interpreter, and install a *Python-based backend* named ``onnxruntime`` (our
``triton_backends/onnxruntime/model.py``): every ``backend: "onnxruntime"`` model of the
repository then loads here, while the official Triton image serves the same repository with its
native backend.

Two facts shape the code below:
* the python stub embeds libpython and derives ``sys.prefix`` from the first ``python3`` on
  ``PATH`` (``PYTHONPATH`` is ignored), so the interpreter's own ``bin/`` goes first on ``PATH``:
  the stubs then import numpy, onnxruntime and docserve from this virtual environment;
* stubs are children of the server and talk through ``/dev/shm`` regions; the server runs in its
  own process group with a shared-memory prefix of ours, so stopping it leaves nothing behind;
* a launcher killed with SIGKILL cannot clean up: the server gets SIGTERM from the kernel
  (parent-death signal) and a reaper process (``triton_reaper``) waiting on a pipe from the
  launcher stops the whole group and removes its regions when that pipe closes unannounced.
"""

from __future__ import annotations

import collections
import contextlib
import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from loguru import logger

from docserve.api.triton_reaper import DONE, SHM_DIR, remove_shm_regions

_BACKEND_SHIMS = Path(__file__).resolve().parent / "triton_backends"
_MIN_GLIBC = (2, 35)
EXIT_MARGIN_S = 3.0  # past the server's own exit timeout, before its process group is killed


class EmbeddedTritonError(RuntimeError):
    """The embedded Triton server could not be prepared, started or stopped."""


class PlatformNotSupportedError(EmbeddedTritonError):
    """This machine cannot run the Triton build bundled in nvidia-pytriton."""


class PortInUseError(EmbeddedTritonError):
    """A port Triton needs is already taken by another process."""


@dataclass(frozen=True)
class TritonPorts:
    http: int = 8000
    grpc: int = 8001
    metrics: int = 8002

    def named(self) -> dict[str, int]:
        return {"http": self.http, "grpc": self.grpc, "metrics": self.metrics}


@dataclass
class TritonOptions:
    """How to start the server: repositories, ports and model control."""

    model_repositories: Sequence[Path]
    work_dir: Path
    ports: TritonPorts = field(default_factory=TritonPorts)
    host: str = "127.0.0.1"
    model_control_mode: str = "explicit"
    log_verbose: int = 0
    startup_timeout_s: float = 180.0
    # How long a stopping server waits for in-flight requests and models to unload before it
    # exits anyway (Triton's --exit-timeout-secs, 30 by default): a model whose stub died never
    # unloads, and would hold every stop for the whole default.
    exit_timeout_s: int = 5
    extra_args: Sequence[str] = ()
    # The Python environment (its bin/ folder) the python-backend stubs import from; default:
    # the running interpreter's. Tests point it at a venv holding only the models' requirements.
    stub_python_bin: Path | None = None


def check_platform() -> None:
    """Refuse early, with the reason, on machines the bundled server cannot run on."""
    if sys.platform != "linux" or platform.machine() not in {"x86_64", "AMD64"}:
        raise PlatformNotSupportedError(
            f"the Triton server bundled in nvidia-pytriton runs on Linux x86_64 only, not on "
            f"{sys.platform}/{platform.machine()}; use the official tritonserver container instead "
            "(docker/)"
        )
    libc, version = platform.libc_ver()
    if libc == "glibc" and version:
        found = tuple(int(part) for part in version.split(".")[:2])
        if found < _MIN_GLIBC:
            raise PlatformNotSupportedError(
                f"the bundled Triton needs glibc >= {'.'.join(map(str, _MIN_GLIBC))}, found {version}"
            )


def _port_is_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def check_ports(host: str, ports: dict[str, int]) -> None:
    """Fail with the port's name and number instead of a late, cryptic bind error."""
    busy = [f"{name} port {port}" for name, port in ports.items() if not _port_is_free(host, port)]
    if busy:
        raise PortInUseError(
            f"cannot start: {', '.join(busy)} already in use on {host}; stop the other server or "
            "choose ports with --port/--triton-http-port/--triton-grpc-port/--triton-metrics-port "
            "(or DOCSERVE_PORT, DOCSERVE_TRITON_HTTP_PORT, ...)"
        )


def free_port(host: str = "127.0.0.1") -> int:
    """A port the OS considers free right now (for tests and ephemeral servers)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def bundled_server_dir() -> Path:
    """Where nvidia-pytriton installed ``tritonserver`` (found without importing pytriton)."""
    import importlib.util

    spec = importlib.util.find_spec("pytriton")
    if spec is None or not spec.submodule_search_locations:
        raise PlatformNotSupportedError("nvidia-pytriton is not installed: pip install nvidia-pytriton")
    server = Path(next(iter(spec.submodule_search_locations))) / "tritonserver"
    if not (server / "bin" / "tritonserver").exists():
        raise PlatformNotSupportedError(f"no tritonserver binary under {server}")
    return server


def prepare_server(work_dir: Path) -> Path:
    """Copy the bundled server into ``work_dir`` with the stub and backend shims installed.

    The copy is refreshed on every start (it is ~30 MB and takes well under a second), so an
    upgraded wheel or shim never runs stale.
    """
    source = bundled_server_dir()
    stub = source / "python_backend_stubs" / f"{sys.version_info.major}.{sys.version_info.minor}"
    stub = stub / "triton_python_backend_stub"
    if not stub.exists():
        raise PlatformNotSupportedError(
            f"nvidia-pytriton has no python backend stub for Python "
            f"{sys.version_info.major}.{sys.version_info.minor}"
        )
    target = work_dir / "tritonserver"
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("python_backend_stubs", "caches"))
    shutil.copy2(stub, target / "backends" / "python" / "triton_python_backend_stub")
    for shim in _BACKEND_SHIMS.iterdir():
        if (shim / "model.py").exists():
            (target / "backends" / shim.name).mkdir(parents=True, exist_ok=True)
            shutil.copy2(shim / "model.py", target / "backends" / shim.name / "model.py")
    return target


def server_environment(stub_python_bin: Path | None = None) -> dict[str, str]:
    """The environment the server and its python stubs need (see the module docstring)."""
    env = dict(os.environ)
    libs = bundled_server_dir().parent.parent / "nvidia_pytriton.libs"
    env["LD_LIBRARY_PATH"] = os.pathsep.join(filter(None, [str(libs), env.get("LD_LIBRARY_PATH")]))
    python_bin = stub_python_bin or Path(sys.executable).parent
    env["PATH"] = os.pathsep.join([str(python_bin), env.get("PATH", "")])
    # One onnxruntime/OpenMP thread pool per stub unless a model config says otherwise.
    env.setdefault("OMP_NUM_THREADS", "1")
    return env


_GLOG_LEVELS = {"I": "INFO", "W": "WARNING", "E": "ERROR", "F": "CRITICAL"}
_GLOG_PREFIX = re.compile(r"^([IWEF])\d{4} ")


def _log_triton_line(line: str) -> None:
    """Forward one line of Triton's log at Triton's own level (glog's I/W/E/F prefix)."""
    match = _GLOG_PREFIX.match(line)
    level = _GLOG_LEVELS[match.group(1)] if match else "INFO"
    logger.bind(source="tritonserver").log(level, line)


def _with_parent_death_signal(command: list[str]) -> list[str]:
    """Prefix ``command`` so the server gets SIGTERM if the launcher dies, even by SIGKILL.

    util-linux's ``setpriv --pdeathsig`` sets Linux's PR_SET_PDEATHSIG and execs the server. It
    replaces a Python ``preexec_fn``, which runs Python in the forked child: with gRPC threads
    alive in the parent (the gateway's Triton client), that child can abort before its exec.
    """
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        logger.warning("setpriv (util-linux) not found: Triton will outlive a killed launcher")
        return command
    return [setpriv, "--pdeathsig", "TERM", "--", *command]


def _start_reaper(pgid: int, shm_prefix: str) -> subprocess.Popen[bytes]:
    """The process that stops the server's group if this one dies (see ``triton_reaper``)."""
    return subprocess.Popen(
        [sys.executable, "-m", "docserve.api.triton_reaper", str(pgid), shm_prefix],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # neither Ctrl-C nor a signal to the launcher's group reaches it
    )


class EmbeddedTriton:
    """One real ``tritonserver`` process: start, wait until ready, stream its log, stop cleanly.

    Use as a context manager, or call :meth:`start` and :meth:`stop`.
    """

    def __init__(self, options: TritonOptions, log_sink: Callable[[str], None] | None = None):
        self.options = options
        self._log_sink = log_sink or _log_triton_line
        self._process: subprocess.Popen[str] | None = None
        self._log_tail: collections.deque[str] = collections.deque(maxlen=60)
        self._log_thread: threading.Thread | None = None
        self._reaper: subprocess.Popen[bytes] | None = None
        self.shm_prefix = f"docserve_{os.getpid()}_{uuid.uuid4().hex[:8]}_"

    # -- lifecycle -------------------------------------------------------------------------------
    def __enter__(self) -> EmbeddedTriton:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    @property
    def http_url(self) -> str:
        return f"{self.options.host}:{self.options.ports.http}"

    @property
    def grpc_url(self) -> str:
        return f"{self.options.host}:{self.options.ports.grpc}"

    def command(self, server_dir: Path) -> list[str]:
        opts = self.options
        cmd = [str(server_dir / "bin" / "tritonserver")]
        cmd += [f"--model-repository={Path(repo).resolve()}" for repo in opts.model_repositories]
        cmd += [
            f"--backend-directory={server_dir / 'backends'}",
            f"--http-address={opts.host}",
            f"--http-port={opts.ports.http}",
            f"--grpc-address={opts.host}",
            f"--grpc-port={opts.ports.grpc}",
            f"--metrics-address={opts.host}",
            f"--metrics-port={opts.ports.metrics}",
            "--allow-gpu-metrics=false",
            f"--model-control-mode={opts.model_control_mode}",
            f"--backend-config=python,shm-region-prefix-name={self.shm_prefix}",
            f"--log-verbose={opts.log_verbose}",
            "--exit-on-error=true",
            f"--exit-timeout-secs={opts.exit_timeout_s}",
        ]
        if opts.model_control_mode == "explicit":
            cmd.append("--load-model=*")
        if opts.model_control_mode == "poll":
            cmd.append("--repository-poll-secs=5")
        return [*cmd, *opts.extra_args]

    def start(self) -> None:
        if self._process is not None:
            raise EmbeddedTritonError("this Triton is already started")
        check_platform()
        for repo in self.options.model_repositories:
            if not Path(repo).is_dir():
                raise EmbeddedTritonError(f"model repository {repo} does not exist")
        check_ports(self.options.host, self.options.ports.named())
        self.options.work_dir.mkdir(parents=True, exist_ok=True)
        server_dir = prepare_server(self.options.work_dir)
        command = self.command(server_dir)
        logger.info("starting Triton: {}", " ".join(command))
        self._process = subprocess.Popen(
            _with_parent_death_signal(command),
            cwd=self.options.work_dir,
            env=server_environment(self.options.stub_python_bin),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            bufsize=1,
            start_new_session=True,  # its own process group: stubs included, stopped together
        )
        try:  # from here on, whatever goes wrong (a stop signal included) stops the server
            self._reaper = _start_reaper(self._process.pid, self.shm_prefix)
            self._log_thread = threading.Thread(target=self._pump_log, name="triton-log", daemon=True)
            self._log_thread.start()
            self.wait_ready(self.options.startup_timeout_s)
        except BaseException:
            self.stop()
            raise

    def _pump_log(self) -> None:
        assert self._process is not None and self._process.stdout is not None
        for line in self._process.stdout:
            line = line.rstrip()
            self._log_tail.append(line)
            self._log_sink(line)

    def log_tail(self) -> str:
        return "\n".join(self._log_tail)

    def is_ready(self) -> bool:
        url = f"http://{self.http_url}/v2/health/ready"
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                return response.status == 200
        except (urllib.error.URLError, OSError):
            return False

    def wait_ready(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._process is None or self._process.poll() is not None:
                if self._log_thread:
                    self._log_thread.join(timeout=2)
                raise EmbeddedTritonError(
                    f"Triton exited with code {self._process.returncode if self._process else '?'} "
                    f"before becoming ready. Last log lines:\n{self.log_tail()}"
                )
            if self.is_ready():
                logger.info("Triton ready: http {} grpc {}", self.http_url, self.grpc_url)
                return
            time.sleep(0.25)
        raise EmbeddedTritonError(
            f"Triton not ready after {timeout_s:.0f}s. Last log lines:\n{self.log_tail()}"
        )

    def stop(self, timeout_s: float | None = None) -> None:
        """SIGTERM the server (it unloads models and ends its stubs), then make sure of it: after
        ``timeout_s`` (default: the server's exit timeout and a little more) the whole group is
        killed, the stubs of models that never unloaded included."""
        process, self._process = self._process, None
        if process is None:
            return
        if timeout_s is None:
            timeout_s = self.options.exit_timeout_s + EXIT_MARGIN_S
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                logger.warning("Triton did not stop within {}s: killing it", timeout_s)
        # Whatever is left of its process group (a hung stub, a killed server's orphans) goes too.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=5)
        if self._log_thread:
            self._log_thread.join(timeout=5)
        remove_shm_regions(self.shm_prefix)
        self._dismiss_reaper()
        logger.info("Triton stopped")

    def _dismiss_reaper(self) -> None:
        """Everything is cleaned up: tell the reaper so, and let it go."""
        reaper, self._reaper = self._reaper, None
        if reaper is None:
            return
        with contextlib.suppress(BrokenPipeError, OSError, subprocess.TimeoutExpired):
            reaper.communicate(DONE, timeout=5)

    def leftover_shm_regions(self) -> Iterator[Path]:
        return SHM_DIR.glob(f"{self.shm_prefix}*") if SHM_DIR.is_dir() else iter(())

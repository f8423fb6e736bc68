"""``docserve serve`` and ``docserve triton``: the embedded Triton (and the gateway), stopped together.

The launcher owns SIGINT and SIGTERM for its whole life. uvicorn's own handling would re-raise
the signal once the gateway has stopped, killing the process before Triton and its stubs are
stopped; so uvicorn is told to leave signals alone and the launcher decides, per phase:

* while Triton starts, a signal aborts the start (the half-started server is stopped);
* while the gateway serves, a signal asks it to shut down gracefully (a second SIGINT forces it);
* while Triton stops, further signals are ignored: the clean-up always runs to its end.

A requested stop exits 0. A launcher killed with SIGKILL is covered by the Triton reaper.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Callable, Iterator
from types import FrameType

import uvicorn
from fastapi import FastAPI
from loguru import logger

from docserve.api.app import create_app
from docserve.api.embedded_triton import EmbeddedTriton, TritonOptions, TritonPorts, check_ports
from docserve.api.header_limit import header_limited
from docserve.api.logs import configure_logging
from docserve.api.settings import Settings

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
# How long a stopping gateway lets requests in flight finish (a long poll waits up to 30 s) before
# it closes them: with Triton's exit timeout, a stop takes well under 15 s whatever runs.
GATEWAY_GRACE_S = 5
SignalHandler = Callable[[int, FrameType | None], None]


class StopRequested(BaseException):  # a request to stop, like KeyboardInterrupt: not an Exception
    """A stop signal arrived while Triton was starting."""


def embedded_triton_for(settings: Settings) -> EmbeddedTriton:
    """An (unstarted) embedded Triton configured from ``settings``."""
    return EmbeddedTriton(
        TritonOptions(
            model_repositories=settings.served_repositories,
            work_dir=settings.data_dir.resolve() / "triton",
            ports=TritonPorts(
                settings.triton_http_port, settings.triton_grpc_port, settings.triton_metrics_port
            ),
            host=settings.triton_host,
            model_control_mode=settings.triton_model_control_mode,
            log_verbose=settings.triton_log_verbose,
            startup_timeout_s=settings.triton_startup_timeout_s,
            extra_args=settings.triton_extra_args,
        )
    )


class StopSignals:
    """SIGINT/SIGTERM for the launcher, handled by whatever the current phase says."""

    def __init__(self) -> None:
        self.received: int | None = None
        self._handler: SignalHandler = self._abort_start

    @contextlib.contextmanager
    def installed(self) -> Iterator[StopSignals]:
        previous = {signum: signal.signal(signum, self._dispatch) for signum in STOP_SIGNALS}
        try:
            yield self
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)

    def _dispatch(self, signum: int, frame: FrameType | None) -> None:
        if self.received is None:
            self.received = signum
        self._handler(signum, frame)

    def _abort_start(self, signum: int, frame: FrameType | None) -> None:
        self._handler = self._ignore  # the aborted start's own clean-up must not be interrupted
        raise StopRequested(signal.Signals(signum).name)

    def _ignore(self, signum: int, frame: FrameType | None) -> None:
        logger.info("{} received: already stopping", signal.Signals(signum).name)

    def route_to(self, handler: SignalHandler) -> None:
        """From now on, signals go to ``handler`` (e.g. the gateway's graceful shutdown)."""
        self._handler = handler

    def ignore(self) -> None:
        """Stopping: nothing may interrupt the clean-up."""
        self._handler = self._ignore


class _Gateway(uvicorn.Server):
    """uvicorn's server that leaves signals to the launcher and says where to look once up."""

    def __init__(self, config: uvicorn.Config, banner: str):
        super().__init__(config)
        self.banner = banner

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield  # the launcher's StopSignals call handle_exit; nothing is re-raised afterwards

    async def startup(self, sockets=None) -> None:
        await super().startup(sockets)
        if self.started:
            print(self.banner, flush=True)


def _banner(settings: Settings, triton: EmbeddedTriton) -> str:
    base = f"http://{settings.host}:{settings.port}"
    return "\n".join([
        "",
        "docserve is up (Ctrl-C stops the gateway and Triton)",
        f"  gateway      {base}/",
        f"  API docs     {base}/docs",
        f"  health       {base}/api/v1/health",
        f"  Triton gRPC  {triton.grpc_url}   (tritonclient.grpc, the high-throughput path)",
        f"  Triton HTTP  http://{triton.http_url}",
        f"  metrics      http://{settings.triton_host}:{settings.triton_metrics_port}/metrics",
        "",
    ])


def gateway_config(app: FastAPI, host: str, port: int, max_header_bytes: int) -> uvicorn.Config:
    """How uvicorn serves the gateway: request headers limited (431 past ``max_header_bytes``),
    uvicorn's records through our logging, the app's lifespan run, requests in flight given
    ``GATEWAY_GRACE_S`` on a stop."""
    return uvicorn.Config(app, host=host, port=port, http=header_limited(max_header_bytes),
                          log_config=None, lifespan="on", timeout_graceful_shutdown=GATEWAY_GRACE_S)


def serve(settings: Settings) -> int:
    """Start Triton, then the gateway; on SIGINT/SIGTERM stop the gateway, then Triton; exit code."""
    configure_logging(settings)
    check_ports(settings.host, {"gateway": settings.port})  # before a minute of model loading
    with StopSignals().installed() as signals:
        try:
            with _started(embedded_triton_for(settings), signals) as triton:
                config = gateway_config(create_app(settings), settings.host, settings.port,
                                        settings.max_header_bytes)
                gateway = _Gateway(config, _banner(settings, triton))
                signals.route_to(gateway.handle_exit)
                gateway.run()
        except StopRequested:
            logger.info("stopped while Triton was starting")
    return _exit_code(signals)


def run_triton(settings: Settings, on_ready: Callable[[EmbeddedTriton], None]) -> int:
    """``docserve triton``: the embedded server alone, until SIGINT/SIGTERM."""
    configure_logging(settings)
    stop = threading.Event()
    with StopSignals().installed() as signals:
        try:
            with _started(embedded_triton_for(settings), signals) as triton:
                signals.route_to(lambda *_: stop.set())
                on_ready(triton)
                stop.wait()
        except StopRequested:
            logger.info("stopped while Triton was starting")
    return _exit_code(signals)


@contextlib.contextmanager
def _started(triton: EmbeddedTriton, signals: StopSignals) -> Iterator[EmbeddedTriton]:
    """Triton started (a stop signal aborts the start), and stopped whatever happens after."""
    triton.start()
    try:
        yield triton
    finally:
        signals.ignore()
        triton.stop()


def _exit_code(signals: StopSignals) -> int:
    """0: stopped as asked. 1: the gateway ended by itself (uvicorn logged why)."""
    if signals.received is not None:
        logger.info("stopped on {}", signal.Signals(signals.received).name)
        return 0
    return 1

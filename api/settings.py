"""All gateway and launcher configuration, in one place, read from ``DOCSERVE_*`` variables."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from docserve.api.embedded_triton import TritonOptions, TritonPorts
from docserve.api.header_limit import DEFAULT_MAX_HEADER_BYTES
from docserve.contract.model_repositories import find_model_repositories
from docserve.processing.document_pages import DEFAULT_MAX_PAGES, DEFAULT_PDF_DPI
from docserve.processing.page_image import DEFAULT_MAX_PAGE_PIXELS


class Settings(BaseSettings):
    """Every knob docserve has. Each field can be set as ``DOCSERVE_<FIELD>`` in the environment."""

    model_config = SettingsConfigDict(env_prefix="DOCSERVE_", env_file=".env", extra="ignore")

    service_name: str = "docserve"
    data_dir: Path = Field(default=Path(".docserve"), description="Runtime state: Triton copy, queue")

    # Gateway
    host: str = "127.0.0.1"
    port: int = 8080
    cors_origins: list[str] = Field(default_factory=lambda: ["http://localhost:8080"])
    log_json: bool = True
    log_level: str = "INFO"
    otel_exporter: str = Field(
        default="none", pattern="^(none|otlp|console)$",
        description="Where spans go: nowhere (trace ids still made), OTLP/HTTP, or stdout",
    )
    max_predict_records: int = Field(default=10_000, ge=1)
    api_keys_file: Path | None = Field(
        default=None, description="Keys file (docserve keys create): when set, /api/* needs a key"
    )
    max_header_bytes: int = Field(
        default=DEFAULT_MAX_HEADER_BYTES, ge=1024,
        description="Request line and headers of one request; over it: 431, connection closed",
    )
    max_json_body_bytes: int = Field(
        default=4 * 1024 * 1024, ge=1, description="JSON request bodies (10,000 car records fit)"
    )

    # Triton, as seen by the gateway
    triton_host: str = "127.0.0.1"
    triton_http_port: int = TritonPorts.http
    triton_grpc_port: int = TritonPorts.grpc
    triton_metrics_port: int = TritonPorts.metrics
    triton_timeout_s: float = Field(default=30.0, gt=0)
    triton_retries: int = Field(default=3, ge=0, description="Retries on UNAVAILABLE and friends")
    step_probe_interval_s: float = Field(
        default=30.0, gt=0, description="How often a probe page runs through every pipeline for dead steps"
    )

    # Embedded Triton (docserve triton / docserve serve)
    model_repositories: list[Path] | None = Field(
        default=None,
        description="Repositories the embedded Triton serves (JSON list); default: model_repository/ "
        "and ensembles/ of the source checkout, else of the current directory",
    )
    triton_model_control_mode: str = Field(
        default=TritonOptions.model_control_mode, pattern="^(none|poll|explicit)$",
        description="explicit: every model loaded at start, rolled via the repository API",
    )
    triton_startup_timeout_s: float = Field(default=TritonOptions.startup_timeout_s, gt=0)
    triton_log_verbose: int = Field(default=TritonOptions.log_verbose, ge=0)
    triton_extra_args: list[str] = Field(
        default_factory=list, description="More tritonserver arguments (JSON list), e.g. --trace-config ..."
    )

    # Documents: where workers may fetch them from, and how much they may hold
    file_roots: Annotated[list[Path] | None, NoDecode] = Field(
        default=None,
        description="Roots allowed for file:// locations, os.pathsep-separated; default <data dir>/inbox",
    )
    allow_private_hosts: bool = Field(
        default=False, description="Allow http(s) locations on loopback/private/link-local addresses"
    )
    max_document_bytes: int = Field(default=50 * 1024 * 1024, ge=1)
    max_pages: int = Field(default=DEFAULT_MAX_PAGES, ge=1, description="Pages analysed per document")
    max_page_pixels: int = Field(
        default=DEFAULT_MAX_PAGE_PIXELS, ge=1, description="Decompression-bomb guard"
    )
    pdf_dpi: int = Field(default=DEFAULT_PDF_DPI, ge=36, le=600)
    max_sync_document_pixels: int = Field(
        default=120_000_000, ge=1, description="Pixels of all pages of one synchronous prediction"
    )
    max_job_document_pixels: int = Field(default=1_000_000_000, ge=1, description="... of one job")
    sync_rasterize_timeout_s: float = Field(default=10.0, gt=0, description="PDF/TIFF pages, synchronous")
    job_rasterize_timeout_s: float = Field(default=120.0, gt=0, description="PDF/TIFF pages, one job")
    page_concurrency: int = Field(
        default=4, ge=1, description="Pages of one document in flight toward Triton at once"
    )
    fetch_timeout_s: float = Field(default=20.0, gt=0)
    s3_endpoint_url: str | None = None

    pipeline_cache_ttl_s: float = Field(
        default=5.0, ge=0, description="How long the list of pipelines from Triton is reused"
    )

    # Jobs: the durable queue and the workers that drain it
    max_queue: int = Field(default=10_000, ge=1, description="Queued jobs before POST /jobs says 429")
    worker_concurrency: int = Field(default=4, ge=1, description="Jobs in flight toward Triton")
    run_workers: bool = Field(default=True, description="Run workers inside the gateway process")
    worker_probe_port: int = Field(
        default=0, ge=0, le=65535,
        description="`docserve worker` answers /healthz, /readyz, /metrics on this port; 0: no probes",
    )
    job_max_attempts: int = Field(default=5, ge=1)
    job_lease_s: float = Field(default=60.0, gt=0, description="A silent worker loses its job after")
    job_retry_base_s: float = Field(default=1.0, gt=0, description="First retry delay; doubles")
    callback_attempts: int = Field(default=5, ge=1)
    callback_secret: SecretStr | None = Field(
        default=None, description="HMAC key that signs every callback (X-Docserve-Signature)"
    )
    upload_retention_s: float = Field(
        default=86_400.0, gt=0, description="Longest an uploaded job document is kept unprocessed"
    )
    page_image_retention_s: float = Field(
        default=7 * 86_400.0, gt=0,
        description="How long a job's page images (GET /api/v1/jobs/{id}/pages/{n}/image) are kept",
    )

    # Scale-out mode (README "Scale out"): Kafka queue, MongoDB store, Redis result cache
    queue: str = Field(default="sqlite", pattern="^(sqlite|kafka)$",
                       description="sqlite: the store's own table; kafka: request/result topics")
    store: str = Field(default="sqlite", pattern="^(sqlite|mongodb)$",
                       description="Where job records live: the data dir's SQLite file, or MongoDB")
    kafka_bootstrap_servers: str | None = Field(default=None, description="host:port[,host:port]")
    kafka_request_topic: str = "docserve.requests"
    kafka_result_topic: str = "docserve.results"
    kafka_dead_letter_topic: str = "docserve.requests.dead"
    kafka_consumer_group: str = "docserve-workers"
    schema_registry_url: str | None = Field(
        default=None, description="Confluent-compatible schema registry (mock://NAME: in-process, tests)")
    mongodb_url: str | None = Field(default=None, description="mongodb://host:port/...")
    mongodb_database: str = "docserve"
    job_retention_s: float = Field(
        default=30 * 86_400.0, gt=0, description="MongoDB store: finished jobs are removed after (TTL index)")
    redis_url: str | None = Field(default=None, description="Result cache for GET /jobs/{id} (optional)")
    result_cache_ttl_s: float = Field(default=300.0, gt=0, description="How long a cached final job is kept")

    @model_validator(mode="after")
    def _scale_out_needs_its_servers(self) -> Settings:
        """A mode without its server's address is refused at start, not at the first job."""
        if self.queue == "kafka" and not (self.kafka_bootstrap_servers and self.schema_registry_url):
            raise ValueError("DOCSERVE_QUEUE=kafka needs DOCSERVE_KAFKA_BOOTSTRAP_SERVERS and "
                             "DOCSERVE_SCHEMA_REGISTRY_URL")
        if self.store == "mongodb" and not self.mongodb_url:
            raise ValueError("DOCSERVE_STORE=mongodb needs DOCSERVE_MONGODB_URL")
        return self

    # The car evaluation pipeline behind POST /api/v1/predict
    car_pipeline: str = "car_evaluation"
    car_model: str = "car_evaluation_model"

    @field_validator("file_roots", mode="before")
    @classmethod
    def _split_roots(cls, value: object) -> object:
        """``DOCSERVE_FILE_ROOTS=/a:/b`` (os.pathsep-separated, like PATH)."""
        if isinstance(value, str):
            return [Path(part) for part in value.split(os.pathsep) if part]
        return value

    @property
    def allowed_file_roots(self) -> list[Path]:
        return self.file_roots or [self.data_dir / "inbox"]

    @property
    def served_repositories(self) -> list[Path]:
        """The configured repositories, or the ones found where docserve keeps them."""
        return self.model_repositories or find_model_repositories()

    @property
    def jobs_database(self) -> Path:
        return self.data_dir / "jobs.sqlite3"

    @property
    def uploads_dir(self) -> Path:
        return self.data_dir / "uploads"

    @property
    def page_images_dir(self) -> Path:
        return self.data_dir / "pages"

    @property
    def triton_grpc_url(self) -> str:
        return f"{self.triton_host}:{self.triton_grpc_port}"

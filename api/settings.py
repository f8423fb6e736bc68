"""All gateway and launcher configuration, in one place, read from ``DOCSERVE_*`` variables."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent


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
    max_predict_records: int = Field(default=10_000, ge=1)

    # Triton, as seen by the gateway
    triton_host: str = "127.0.0.1"
    triton_http_port: int = 8000
    triton_grpc_port: int = 8001
    triton_metrics_port: int = 8002
    triton_timeout_s: float = Field(default=30.0, gt=0)
    triton_retries: int = Field(default=3, ge=0, description="Retries on UNAVAILABLE and friends")

    # Embedded Triton (docserve triton / docserve serve)
    model_repositories: list[Path] = Field(
        default_factory=lambda: [PROJECT_ROOT / "model_repository", PROJECT_ROOT / "ensembles"]
    )
    triton_model_control_mode: str = Field(
        default="explicit", pattern="^(none|poll|explicit)$",
        description="explicit: every model loaded at start, rolled via the repository API",
    )
    triton_startup_timeout_s: float = Field(default=180.0, gt=0)
    triton_log_verbose: int = Field(default=0, ge=0)

    # The car evaluation pipeline behind POST /api/v1/predict
    car_pipeline: str = "car_evaluation"
    car_model: str = "car_evaluation_model"

    @property
    def triton_grpc_url(self) -> str:
        return f"{self.triton_host}:{self.triton_grpc_port}"

    @property
    def triton_http_url(self) -> str:
        return f"{self.triton_host}:{self.triton_http_port}"


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings (tests build their own ``Settings`` and pass them explicitly)."""
    return Settings()

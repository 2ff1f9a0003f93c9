"""Runtime settings, read once at the edge from ``AFFROUTE_*`` environment variables."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="AFFROUTE_", extra="ignore")

    database_url: str = Field(default="sqlite:///var/affroute.db", description="SQLAlchemy URL")
    config_path: Path = Field(
        default=Path("examples/affiliate.yaml"),
        description="configuration activated at start-up when the database has none",
    )
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    default_page_size: int = Field(default=50, ge=1)
    max_page_size: int = Field(default=500, ge=1)
    rebalance_seconds: float = Field(default=5.0, ge=0, description="0 turns the queue sweep off")
    sla_sweep_seconds: float = Field(default=30.0, ge=0, description="0 turns the SLA sweeper off")
    key_cache_seconds: float = Field(
        default=10.0, ge=0, description="how long a checked key is trusted"
    )
    public_url: str = Field(
        default="http://127.0.0.1:8000",
        description="the address partners reach this service at (survey links start with it)",
    )
    survey_dispatch_seconds: float = Field(
        default=60.0, ge=0, description="0 turns survey delivery off"
    )
    survey_webhook_url: str | None = Field(
        default=None,
        description="where survey invitations and reminders are POSTed (Standard Webhooks)",
    )
    webhook_secret: str | None = Field(
        default=None,
        description="signing secret for outbound webhooks, 'whsec_' + base64 (Standard Webhooks)",
    )
    analytics_refresh_seconds: float = Field(
        default=10.0, ge=0, description="how often the analytics facts catch up; 0 turns it off"
    )
    metrics_token: str | None = Field(
        default=None,
        description="bearer token a Prometheus scrape of /metrics may use instead of an API key",
    )

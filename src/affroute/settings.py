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
    max_model_bytes: int = Field(
        default=256 * 1024 * 1024, ge=1024, description="largest model file one may register"
    )
    default_page_size: int = Field(default=50, ge=1)
    max_page_size: int = Field(default=500, ge=1)
    rebalance_seconds: float = Field(default=5.0, ge=0, description="0 turns the queue sweep off")
    sla_sweep_seconds: float = Field(default=30.0, ge=0, description="0 turns the SLA sweeper off")
    anomaly_scan_seconds: float = Field(
        default=60.0, ge=0, description="how often new events are scanned; 0 turns it off"
    )
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
    web_packages: Path = Field(
        default=Path(__file__).resolve().parents[2] / "web" / "node_modules",
        description="the dashboard's front-end packages (installed by `make` with npm ci)",
    )
    tune_hours: float = Field(
        default=24.0, ge=0, description="how often the tuner runs on stored outcomes (0: never)"
    )
    tune_window_days: int = Field(
        default=90, ge=1, description="the tuner learns from tickets created this recently"
    )

    # Integrations. Secrets come from the environment only, never from the config file.
    outbox_seconds: float = Field(
        default=2.0, ge=0, description="how often owed write-backs and webhooks are sent; 0: off"
    )
    outbox_max_attempts: int = Field(
        default=8, ge=1, description="attempts before a delivery is parked as dead"
    )
    outbox_backoff_seconds: float = Field(
        default=5.0, gt=0, description="first retry delay; doubled each attempt (capped at 1h)"
    )
    http_timeout_seconds: float = Field(
        default=10.0, gt=0, description="timeout of each call to a help desk, CRM or receiver"
    )
    webhook_tolerance_seconds: int = Field(
        default=300, ge=1, description="inbound signatures older or newer than this are refused"
    )
    zendesk_url: str | None = Field(default=None, description="https://<subdomain>.zendesk.com")
    zendesk_email: str | None = Field(default=None, description="the API user (token auth)")
    zendesk_api_token: str | None = None
    zendesk_webhook_secret: str | None = Field(
        default=None, description="the signing secret Zendesk shows for the webhook"
    )
    freshdesk_url: str | None = Field(default=None, description="https://<domain>.freshdesk.com")
    freshdesk_api_key: str | None = None
    freshdesk_webhook_token: str | None = Field(
        default=None, description="shared secret Freshdesk sends in X-Affroute-Token"
    )
    freshdesk_allowed_ips: list[str] = Field(
        default_factory=list,
        description="addresses or networks Freshdesk calls from (JSON list); empty: any",
    )
    inbound_webhook_secret: str | None = Field(
        default=None, description="'whsec_...' secret for the generic Standard Webhooks endpoint"
    )
    events_webhook_url: str | None = Field(
        default=None, description="where decisions and escalations are POSTed (signed)"
    )
    enrichment_seconds: float = Field(
        default=60.0, ge=0, description="how often due CRM sources are refreshed; 0: off"
    )
    hubspot_url: str = "https://api.hubapi.com"
    hubspot_token: str | None = Field(default=None, description="a private app access token")
    salesforce_url: str | None = Field(default=None, description="the instance URL")
    salesforce_token: str | None = Field(default=None, description="an OAuth access token")
    salesforce_api_version: str = "v60.0"
    analytics_refresh_seconds: float = Field(
        default=10.0, ge=0, description="how often the analytics facts catch up; 0 turns it off"
    )
    metrics_token: str | None = Field(
        default=None,
        description="bearer token a Prometheus scrape of /metrics may use instead of an API key",
    )

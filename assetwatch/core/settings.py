"""One typed settings object, read from ``ASSETWATCH_*`` environment variables.

Defaults point at the project-local services that ``assetwatch stack up`` starts (PostgreSQL
with TimescaleDB on port 55432, Mosquitto on port 51883, data under ``./.assetwatch``). To use
existing servers, set ``ASSETWATCH_DB_URL`` and ``ASSETWATCH_MQTT_HOST`` / ``_PORT`` /
``_USERNAME`` / ``_PASSWORD`` and ``ASSETWATCH_MANAGE_SERVICES=false``.

Nothing is read at import time: call :func:`load_settings`.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from assetwatch.errors import ConfigError

__all__ = ["Settings", "load_settings"]

ENV_PREFIX = "ASSETWATCH_"


class Settings(BaseSettings):
    """Where the servers are and how the pipeline behaves."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore", frozen=True)

    data_dir: Path = Field(
        default=Path(".assetwatch"),
        description="Project-local data: database cluster, broker state, secrets, outputs.",
    )
    manage_services: bool = Field(
        default=True, description="Start the project-local PostgreSQL and Mosquitto ourselves."
    )
    db_url: str = Field(
        default="postgresql://assetwatch@127.0.0.1:55432/assetwatch",
        description="libpq connection URL of the PostgreSQL database with TimescaleDB.",
    )
    db_pool_size: int = Field(default=4, ge=1, le=64)
    db_connect_timeout_s: float = Field(default=5.0, gt=0)
    mqtt_host: str = "127.0.0.1"
    mqtt_port: int = Field(default=51883, ge=1, le=65535)
    mqtt_username: str = "ingest"
    mqtt_password: str | None = Field(
        default=None, description="Password of the server-side MQTT user; local stack reads it."
    )
    mqtt_tls_ca: Path | None = None
    mosquitto: str = Field(
        default="current",
        description="The local stack's broker: 'current' (Mosquitto 2.1 built from Debian's "
                    "source into /opt/assetwatch), 'debian' (the machine's package) or the "
                    "path of a mosquitto binary.",
    )
    topic_prefix: str = "assetwatch"
    ingest_group: str = Field(default="ingest", description="MQTT 5 shared-subscription group.")
    ingest_batch_max_messages: int = Field(default=200, ge=1)
    ingest_batch_max_wait_s: float = Field(default=0.2, gt=0)
    ingest_max_inflight: int = Field(default=2000, ge=1, le=65535)
    alert_webhook_url: str | None = Field(
        default=None, description="Where the notifier POSTs alerts (JSON); unset: no webhook.")
    alert_email_to: str | None = Field(
        default=None, description="Comma-separated recipients of alert e-mail (needs SMTP).")
    alert_renotify_hours: float = Field(
        default=12.0, gt=0, description="A lasting alert is notified again after this long.")
    model_shadow_days: float = Field(
        default=14.0, ge=0, description="A retrained model that validates better runs in "
        "shadow next to the champion this long before it may take over (0: at once).")
    model_min_outcomes: int = Field(
        default=3, ge=1, description="Failures a shadow comparison needs before it decides.")
    dispatch_speed_kmh: float = Field(
        default=60.0, gt=0, description="Travel speed of technicians between places (km/h).")
    dispatch_road_factor: float = Field(
        default=1.3, ge=1, description="Road distance per straight-line distance.")
    dispatch_time_limit_s: float = Field(
        default=30.0, gt=0, description="Time the dispatch solver may search for a plan.")
    smtp_host: str | None = None
    smtp_port: int = Field(default=25, ge=1, le=65535)
    smtp_from: str = "assetwatch@localhost"
    smtp_starttls: bool = False
    smtp_user: str | None = None
    smtp_password: str | None = None
    prefect_api_url: str | None = Field(
        default=None, description="Prefect server; unset runs flows on an ephemeral server."
    )

    @field_validator("data_dir")
    @classmethod
    def _absolute_data_dir(cls, value: Path) -> Path:
        # Daemons (the broker's supervisor) change directory; a relative path would move.
        return value.expanduser().absolute()

    @field_validator("topic_prefix")
    @classmethod
    def _prefix_is_one_level(cls, value: str) -> str:
        if not value or any(ch in value for ch in "/+#"):
            raise ValueError("must be one topic level without '/', '+' or '#'")
        return value

    @field_validator("db_url")
    @classmethod
    def _db_url_is_postgres(cls, value: str) -> str:
        if urlsplit(value).scheme not in ("postgresql", "postgres"):
            raise ValueError("must be a postgresql:// URL")
        return value

    @property
    def db_endpoint(self) -> str:
        """``host:port`` of the database, for messages."""
        parts = urlsplit(self.db_url)
        return f"{parts.hostname or 'localhost'}:{parts.port or 5432}"

    @property
    def secrets_dir(self) -> Path:
        return self.data_dir / "secrets"

    @property
    def output_dir(self) -> Path:
        return self.data_dir / "out"

    def resolved_mqtt_password(self) -> str | None:
        """The server-side MQTT password: the setting, else the local stack's secret file."""
        if self.mqtt_password is not None:
            return self.mqtt_password
        secret = self.secrets_dir / f"mqtt-{self.mqtt_username}.password"
        return secret.read_text().strip() if secret.exists() else None


def load_settings(**overrides: object) -> Settings:
    """Read settings from the environment; a bad value raises :class:`ConfigError`.

    The error names the environment variable to change, for example
    ``ASSETWATCH_MQTT_PORT: Input should be a valid integer``.
    """
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as e:
        first = e.errors()[0]
        field = str(first["loc"][0]) if first["loc"] else "?"
        raise ConfigError(f"{ENV_PREFIX}{field.upper()}: {first['msg']}") from None

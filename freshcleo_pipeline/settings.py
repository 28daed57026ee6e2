"""The one settings object: every variable the product reads from the environment (or a ``.env`` file).

Owns names, defaults and validation of configuration. Knows nothing of how the values are used. A bad or
missing value raises ``ConfigError`` naming the variable, the value given (never a secret) and what is
expected. ``.env.example`` documents every variable listed here.

Sandbox mode (the default) needs no variable at all: URLs point at the loopback emulators, credentials are
the sandbox's published ones, and a secret key is generated once into the data folder.
"""

from __future__ import annotations

import datetime as dt
import os
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet
from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from freshcleo_pipeline.errors import ConfigError

#: Published credentials of the embedded sandbox; they unlock nothing outside this machine's loopback.
SANDBOX_FRESHBOOKS_CLIENT_ID = "freshcleo-sandbox-client"
SANDBOX_FRESHBOOKS_CLIENT_SECRET = "freshcleo-sandbox-secret"  # noqa: S105
SANDBOX_CLEO_USERNAME = "freshcleo-sandbox"
SANDBOX_CLEO_PASSWORD = "freshcleo-sandbox-password"  # noqa: S105
SANDBOX_FRESHBOOKS_PORT = 8711
SANDBOX_CLEO_PORT = 8712

SECRET_FIELDS = frozenset({"secret_key", "freshbooks_client_secret", "cleo_password"})


class Mode(StrEnum):
    SANDBOX = "sandbox"
    LIVE = "live"


class Settings(BaseSettings):
    """Configuration of one freshcleo installation."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore", env_ignore_empty=True,
                                      populate_by_name=True)

    mode: Mode = Field(Mode.SANDBOX, alias="FRESHCLEO_MODE")
    data_dir: Path = Field(Path(".data"), alias="FRESHCLEO_DATA_DIR")
    ledger_url: str = Field("", alias="FRESHCLEO_LEDGER_URL")
    secret_key: SecretStr | None = Field(None, alias="FRESHCLEO_SECRET_KEY")
    partners_file: Path | None = Field(None, alias="FRESHCLEO_PARTNERS_FILE")
    # Bill payments have no update timestamp: each poll lists those paid within this many days and files every
    # version not seen before under the day it was observed (sync/extract.py).
    bill_payment_lookback_days: int = Field(120, alias="FRESHCLEO_BILL_PAYMENT_LOOKBACK_DAYS", ge=1, le=3660)
    # Routing and rendering follow extraction once a run has stored this many pages (sync/stream.py); a smaller
    # run gains nothing from it. 0 turns streaming off.
    stream_after_pages: int = Field(5, alias="FRESHCLEO_STREAM_AFTER_PAGES", ge=0)

    freshbooks_api_url: str = Field("", alias="FRESHBOOKS_API_URL")
    freshbooks_auth_url: str = Field("", alias="FRESHBOOKS_AUTH_URL")
    freshbooks_client_id: str = Field("", alias="FRESHBOOKS_CLIENT_ID")
    freshbooks_client_secret: SecretStr | None = Field(None, alias="FRESHBOOKS_CLIENT_SECRET")
    freshbooks_redirect_uri: str = Field("", alias="FRESHBOOKS_REDIRECT_URI")
    freshbooks_scopes: str = Field(
        "user:profile:read user:invoices:read user:clients:read user:bills:read user:bill_vendors:read "
        "user:payments:read user:bill_payments:read user:billable_items:read",
        alias="FRESHBOOKS_SCOPES",
    )
    # Nothing is written to FreshBooks while this is true, whatever partners.yaml opts into.
    freshbooks_read_only: bool = Field(True, alias="FRESHCLEO_FRESHBOOKS_READ_ONLY")
    freshbooks_requests_per_second: float = Field(5.0, alias="FRESHBOOKS_REQUESTS_PER_SECOND", gt=0)

    cleo_api_url: str = Field("", alias="CLEO_API_URL")
    cleo_username: str = Field("", alias="CLEO_USERNAME")
    cleo_password: SecretStr | None = Field(None, alias="CLEO_PASSWORD")

    partitions_start: dt.date = Field(dt.date(2024, 1, 1), alias="FRESHCLEO_PARTITIONS_START")
    poll_interval_minutes: int = Field(15, alias="FRESHCLEO_POLL_INTERVAL_MINUTES", ge=1, le=1440)
    inbound_poll_interval_minutes: int = Field(10, alias="FRESHCLEO_INBOUND_POLL_INTERVAL_MINUTES", ge=1,
                                               le=1440)
    inbox_sensor_interval_seconds: int = Field(5, alias="FRESHCLEO_INBOX_SENSOR_INTERVAL_SECONDS", ge=5)
    webhook_host: str = Field("127.0.0.1", alias="FRESHCLEO_WEBHOOK_HOST")
    webhook_port: int = Field(8713, alias="FRESHCLEO_WEBHOOK_PORT", ge=1, le=65535)
    webhook_max_body_bytes: int = Field(16384, alias="FRESHCLEO_WEBHOOK_MAX_BODY_BYTES", ge=256)

    # Limits that keep one oversized input from taking the process down: over them, input is quarantined.
    inbound_max_file_bytes: int = Field(25 * 1024 * 1024, alias="FRESHCLEO_INBOUND_MAX_FILE_BYTES", ge=1024)
    freshbooks_max_field_bytes: int = Field(1024 * 1024, alias="FRESHCLEO_FRESHBOOKS_MAX_FIELD_BYTES", ge=1024)
    # After Cleo refuses our credentials, no process logs in again for this long (Cleo can lock the account).
    cleo_login_cooldown_seconds: int = Field(900, alias="FRESHCLEO_CLEO_LOGIN_COOLDOWN_SECONDS", ge=0)
    # How long a CLI run waits for a Dagster pool slot held by another live run before giving up.
    pool_wait_timeout_seconds: int = Field(600, alias="FRESHCLEO_POOL_WAIT_TIMEOUT_SECONDS", ge=1)

    @field_validator("ledger_url")
    @classmethod
    def _ledger_url(cls, value: str) -> str:
        if value and "://" not in value:
            raise ValueError("an SQLAlchemy URL such as sqlite:///path/ledger.db or postgresql+psycopg2://…")
        return value

    @field_validator("freshbooks_api_url", "freshbooks_auth_url", "cleo_api_url", "freshbooks_redirect_uri")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if value and not value.startswith(("http://", "https://")):
            raise ValueError("an http:// or https:// URL")
        return value.rstrip("/") if value else value

    # ---- resolved values (defaults that depend on the mode) ----

    @property
    def is_sandbox(self) -> bool:
        return self.mode is Mode.SANDBOX

    def resolved_ledger_url(self) -> str:
        if self.ledger_url:
            return self.ledger_url
        return f"sqlite:///{(self.data_dir / 'ledger.db').as_posix()}"

    def resolved_freshbooks_api_url(self) -> str:
        return self.freshbooks_api_url or self._default_url("FRESHBOOKS_API_URL", SANDBOX_FRESHBOOKS_PORT,
                                                            "https://api.freshbooks.com")

    def resolved_freshbooks_auth_url(self) -> str:
        if self.freshbooks_auth_url:
            return self.freshbooks_auth_url
        return self._default_url("FRESHBOOKS_AUTH_URL", SANDBOX_FRESHBOOKS_PORT, "https://auth.freshbooks.com")

    def resolved_cleo_api_url(self) -> str:
        return self.cleo_api_url or self._default_url("CLEO_API_URL", SANDBOX_CLEO_PORT, None)

    def resolved_freshbooks_client_id(self) -> str:
        return self.freshbooks_client_id or self._sandbox_only("FRESHBOOKS_CLIENT_ID", SANDBOX_FRESHBOOKS_CLIENT_ID)

    def resolved_freshbooks_client_secret(self) -> str:
        if self.freshbooks_client_secret is not None:
            return self.freshbooks_client_secret.get_secret_value()
        return self._sandbox_only("FRESHBOOKS_CLIENT_SECRET", SANDBOX_FRESHBOOKS_CLIENT_SECRET)

    def resolved_freshbooks_redirect_uri(self) -> str:
        return self.freshbooks_redirect_uri or f"http://127.0.0.1:{self.webhook_port}/oauth/freshbooks/callback"

    def resolved_cleo_username(self) -> str:
        return self.cleo_username or self._sandbox_only("CLEO_USERNAME", SANDBOX_CLEO_USERNAME)

    def resolved_cleo_password(self) -> str:
        if self.cleo_password is not None:
            return self.cleo_password.get_secret_value()
        return self._sandbox_only("CLEO_PASSWORD", SANDBOX_CLEO_PASSWORD)

    def resolved_partners_file(self) -> Path:
        if self.partners_file is not None:
            if not self.partners_file.is_file():
                raise ConfigError("FRESHCLEO_PARTNERS_FILE", str(self.partners_file), "an existing YAML file")
            return self.partners_file
        if self.is_sandbox:
            return Path(__file__).parent / "sandbox" / "data" / "partners.yaml"
        raise ConfigError("FRESHCLEO_PARTNERS_FILE", None, "the path of partners.yaml (required in live mode)")

    def resolved_secret_key(self) -> bytes:
        """The Fernet key for secrets at rest; in sandbox mode one is generated once into the data folder."""
        if self.secret_key is not None:
            key = self.secret_key.get_secret_value().encode("ascii", "replace")
            try:
                Fernet(key)
            except ValueError:
                raise ConfigError("FRESHCLEO_SECRET_KEY", None,
                                  "a Fernet key: 32 url-safe base64-encoded bytes "
                                  "(make one with `freshcleo secret-key`)", secret=True) from None
            return key
        if not self.is_sandbox:
            raise ConfigError("FRESHCLEO_SECRET_KEY", None, "a Fernet key (required in live mode; make one with "
                              "`freshcleo secret-key`)", secret=True)
        path = self.data_dir / "secret.key"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as handle:
                handle.write(Fernet.generate_key())
        return path.read_bytes().strip()

    def _default_url(self, variable: str, port: int, live_default: str | None) -> str:
        if self.is_sandbox:
            return f"http://127.0.0.1:{port}"
        if live_default is None:
            raise ConfigError(variable, None, "your tenant's URL, e.g. https://<tenant>.cleointegration.com "
                              "(required in live mode)")
        return live_default

    def _sandbox_only(self, variable: str, sandbox_value: str) -> str:
        if self.is_sandbox:
            return sandbox_value
        raise ConfigError(variable, None, "a value (required in live mode)", secret=variable in SECRET_FIELDS)

    def safe_summary(self) -> dict[str, Any]:
        """Settings for display: secrets shown only as set/unset."""
        out: dict[str, Any] = {}
        for name, field_info in type(self).model_fields.items():
            value = getattr(self, name)
            label = field_info.alias or name
            if name in SECRET_FIELDS:
                out[label] = "set" if value is not None else "unset"
            else:
                out[label] = str(value) if value is not None else ""
        return out


def load_settings(**overrides: Any) -> Settings:
    """Read settings from the environment, turning pydantic's errors into ``ConfigError``."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        first = exc.errors()[0]
        name = str(first["loc"][0]) if first["loc"] else "settings"
        field = Settings.model_fields.get(name)
        variable = (field.alias if field is not None and field.alias else name)
        secret = name in SECRET_FIELDS or variable.lower() in SECRET_FIELDS
        raise ConfigError(variable, first.get("input"), first["msg"], secret=secret) from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()

"""Dagster resources: small configurable handles on the plain-Python objects the pipeline uses.

The heavy lifting stays in plain classes (``Ledger``, ``FreshBooksClient``, ``CleoClient``,
``PartnerDirectory``, the ``sync`` stages) so the CLI and the tests use the same code without Dagster.
Configuration comes from the settings; secrets are ``EnvVar`` references when set in the environment (the UI
shows the variable's name, never its value) and otherwise fall back to the settings, which supply the sandbox's
published credentials in sandbox mode and refuse to run without them in live mode.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import dagster as dg

from freshcleo_pipeline.cleo.client import CleoClient
from freshcleo_pipeline.errors import ConfigError
from freshcleo_pipeline.freshbooks.client import FreshBooksClient
from freshcleo_pipeline.freshbooks.oauth import vault_for
from freshcleo_pipeline.ledger import Ledger, open_ledger
from freshcleo_pipeline.partners import PartnerDirectory, load_partners
from freshcleo_pipeline.settings import Settings, get_settings, load_settings
from freshcleo_pipeline.sync.context import SyncContext


class LedgerResource(dg.ConfigurableResource):
    """The ledger database (migrated on open); the caller disposes of the ``Ledger`` it gets."""

    url: str

    def get_ledger(self) -> Ledger:
        return open_ledger(self.url)


class FreshBooksResource(dg.ConfigurableResource):
    """The FreshBooks connection stored by ``freshcleo connect freshbooks`` (tokens live in the ledger)."""

    api_url: str
    auth_url: str
    client_id: str
    client_secret: str = ""  # EnvVar("FRESHBOOKS_CLIENT_SECRET") when set; else the settings decide
    requests_per_second: float = 5.0
    data_dir: str = ".data"  # where the sandbox keeps its generated secret key
    secret_key: str = ""  # EnvVar("FRESHCLEO_SECRET_KEY") when set: decrypts the stored tokens

    def settings(self) -> Settings:
        overrides: dict[str, Any] = {"freshbooks_api_url": self.api_url, "freshbooks_auth_url": self.auth_url,
                                     "freshbooks_client_id": self.client_id,
                                     "freshbooks_requests_per_second": self.requests_per_second,
                                     "data_dir": self.data_dir}
        if self.client_secret:
            overrides["freshbooks_client_secret"] = self.client_secret
        if self.secret_key:
            overrides["secret_key"] = self.secret_key
        return load_settings(**overrides)

    def client(self, ledger: Ledger) -> FreshBooksClient:
        return FreshBooksClient.from_settings(self.settings(), ledger)

    def account_id(self, ledger: Ledger) -> str:
        settings = self.settings()
        return vault_for(settings, ledger).require().account_id or ""


class CleoResource(dg.ConfigurableResource):
    """The Cleo Integration Cloud tenant (password grant; tokens only in memory)."""

    api_url: str
    username: str
    password: str = ""  # EnvVar("CLEO_PASSWORD") when set; else the settings decide

    def client(self) -> CleoClient:
        overrides: dict[str, Any] = {"cleo_api_url": self.api_url, "cleo_username": self.username}
        if self.password:
            overrides["cleo_password"] = self.password
        return CleoClient.from_settings(load_settings(**overrides))


class PartnerDirectoryResource(dg.ConfigurableResource):
    """partners.yaml: who each trading partner is, what it receives, and its Cleo folders."""

    path: str

    def load(self) -> PartnerDirectory:
        return load_partners(Path(self.path))


class PipelineResource(dg.ConfigurableResource):
    """The four handles every stage needs, opened together for one step: ``with pipeline.open(context) as ctx``."""

    ledger: LedgerResource
    freshbooks: FreshBooksResource
    cleo: CleoResource
    partners: PartnerDirectoryResource

    @contextmanager
    def open(self, context: dg.AssetExecutionContext) -> Iterator[SyncContext]:
        ledger = self.ledger.get_ledger()
        try:
            yield SyncContext(
                settings=self.freshbooks.settings(),
                ledger=ledger,
                partners=self.partners.load(),
                freshbooks=lambda: self.freshbooks.client(ledger),
                cleo=self.cleo.client,
                run_id=context.run.run_id,
                log=context.log,
            )
        finally:
            ledger.dispose()

    def account_id(self, ctx: SyncContext) -> str:
        return self.freshbooks.account_id(ctx.ledger)


def _secret(variable: str) -> Any:
    """An EnvVar reference when the variable is set, so the value is resolved at run time and never shown."""
    return dg.EnvVar(variable) if os.environ.get(variable) else ""


def _value(settings: Settings, resolve: Callable[[], object]) -> str:
    """A resolved setting, or "" in live mode when it is missing: definitions must load without secrets; the
    run then fails with the settings' own message naming the variable."""
    try:
        return str(resolve())
    except ConfigError:
        return ""


def build_resources(settings: Settings | None = None) -> dict[str, Any]:
    s = settings or get_settings()
    handles: dict[str, Any] = {
        "ledger": LedgerResource(url=s.resolved_ledger_url()),
        "freshbooks": FreshBooksResource(
            api_url=_value(s, s.resolved_freshbooks_api_url), auth_url=_value(s, s.resolved_freshbooks_auth_url),
            client_id=_value(s, s.resolved_freshbooks_client_id), client_secret=_secret("FRESHBOOKS_CLIENT_SECRET"),
            requests_per_second=s.freshbooks_requests_per_second, data_dir=str(s.data_dir),
            secret_key=_secret("FRESHCLEO_SECRET_KEY")),
        "cleo": CleoResource(api_url=_value(s, s.resolved_cleo_api_url), username=_value(s, s.resolved_cleo_username),
                             password=_secret("CLEO_PASSWORD")),
        "partners": PartnerDirectoryResource(path=_value(s, s.resolved_partners_file)),
    }
    return {**handles, "pipeline": PipelineResource(**handles)}


@dg.definitions
def resources() -> dg.Definitions:
    return dg.Definitions(resources=build_resources())

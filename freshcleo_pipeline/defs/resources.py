"""Dagster resources: small configurable handles on the plain-Python objects the pipeline uses.

The heavy lifting stays in plain classes (``Ledger``, ``FreshBooksClient``, ``CleoClient``,
``PartnerDirectory``, the ``sync`` stages) so the CLI and the tests use the same code without Dagster.
Configuration comes from the settings; secrets are ``EnvVar`` references when set in the environment (the UI
shows the variable's name, never its value) and otherwise fall back to the settings, which supply the sandbox's
published credentials in sandbox mode and refuse to run without them in live mode.

``PipelineResource.open`` is where every stage starts, so it is also where what cannot recover is told apart
from what can: a dead FreshBooks grant, refused Cleo credentials, secrets the configured key cannot decrypt and
bad configuration fail the step at once with ``dg.Failure(allow_retries=False)`` and the one-line fix, and the
run is tagged so that run-level retries (``run_retries`` in dagster.yaml) do not re-run it either. Everything
else (network, 5xx, a busy database) keeps the step's retry policy.
"""

# No ``from __future__ import annotations`` here: Dagster reads the resource fields' annotations as classes to let
# ``PipelineResource.ledger`` take the partial ``LedgerResource`` (see ``build_resources``); strings hide them.

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import dagster as dg
from pydantic import PrivateAttr

from freshcleo_pipeline.cleo.auth import CleoLoginRefusedError
from freshcleo_pipeline.cleo.client import CleoClient
from freshcleo_pipeline.errors import AuthError, ConfigError
from freshcleo_pipeline.freshbooks.client import FreshBooksClient
from freshcleo_pipeline.freshbooks.oauth import vault_for
from freshcleo_pipeline.ledger import Ledger, open_ledger
from freshcleo_pipeline.ledger.cooldowns import cleo_login_guard
from freshcleo_pipeline.ledger.tokens import NeedsReauthorizationError, RefreshTimeoutError, UndecryptableSecretError
from freshcleo_pipeline.partners import PartnerDirectory, load_partners
from freshcleo_pipeline.settings import Settings, get_settings, load_settings
from freshcleo_pipeline.sync.context import SyncContext


class LedgerResource(dg.ConfigurableResource):
    """The ledger database, one engine per run: every asset and check of the run gets the same ``Ledger``.

    It is opened (and migrated) on first use inside a step, not when the resource initializes, so a database that
    is briefly unreachable fails the step under its retry policy, as any other transient error does. Dagster
    tears the resource down once when the run's process ends (once per sensor evaluation for a sensor), and the
    engine is disposed then; callers never dispose of it themselves.
    """

    url: str
    _ledger: Ledger | None = PrivateAttr(default=None)

    def get_ledger(self) -> Ledger:
        if self._ledger is None:
            self._ledger = open_ledger(self.url)
        return self._ledger

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        if self._ledger is not None:
            self._ledger.dispose()
            self._ledger = None


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

    def settings(self) -> Settings:
        overrides: dict[str, Any] = {"cleo_api_url": self.api_url, "cleo_username": self.username}
        if self.password:
            overrides["cleo_password"] = self.password
        return load_settings(**overrides)

    def client(self, ledger: Ledger | None = None) -> CleoClient:
        """A client; with ``ledger``, refused logins are shared with every process through its cool-down."""
        settings = self.settings()
        guard = None
        if ledger is not None:
            guard = cleo_login_guard(ledger, settings.resolved_cleo_api_url(), settings.resolved_cleo_username(),
                                     settings.cleo_login_cooldown_seconds)
        return CleoClient.from_settings(settings, guard=guard)


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
        cleo_clients: list[CleoClient] = []

        def cleo() -> CleoClient:
            client = self.cleo.client(ledger)
            cleo_clients.append(client)
            try:
                # Log in now: a refused login then fails the stage once, instead of failing each file in turn.
                client.authenticate()
            except BaseException:
                client.close()
                raise
            return client

        try:
            yield SyncContext(
                settings=self.freshbooks.settings(),
                ledger=ledger,
                partners=self.partners.load(),
                freshbooks=lambda: self.freshbooks.client(ledger),
                cleo=cleo,
                run_id=context.run.run_id,
                log=context.log,
            )
        except Exception as exc:
            failure = unrecoverable(exc, [c.auth.refusal for c in cleo_clients])
            if failure is None:
                raise
            _no_run_retry(context)
            raise failure from exc

    def account_id(self, ctx: SyncContext) -> str:
        return self.freshbooks.account_id(ctx.ledger)


#: Run tag read by Dagster's run-retry daemon (``dagster._core.storage.tags``); "false" = a step failure of this
#: run is not worth a new run.
RETRY_ON_STEP_FAILURE_TAG = "dagster/retry_on_asset_or_op_failure"
FRESHBOOKS_REAUTH_FIX = "run `freshcleo connect freshbooks`"
UNDECRYPTABLE = ("stored secrets ({what}) cannot be decrypted with FRESHCLEO_SECRET_KEY: restore the key used "
                 "when they were stored, or reconnect (`freshcleo connect freshbooks`)")


def unrecoverable(exc: BaseException, refusals: list[CleoLoginRefusedError | None] | None = None,
                  ) -> dg.Failure | None:
    """A non-retryable ``dg.Failure`` with the one-line fix when ``exc`` (or what it was raised from) cannot
    recover by waiting, or when a Cleo login was refused during the step; ``None`` for everything else.

    The messages are built from the typed errors, which never carry a secret.
    """
    message: str | None = None
    for error in _causes(exc):
        if isinstance(error, CleoLoginRefusedError):
            message = str(error)
        elif isinstance(error, NeedsReauthorizationError):
            message = (f"FreshBooks needs re-authorization (connection {error.connection!r}: "
                       f"{_why(error.detail)}): {FRESHBOOKS_REAUTH_FIX}")
        elif isinstance(error, UndecryptableSecretError):
            message = UNDECRYPTABLE.format(what=f"the FreshBooks {error.what}")
        elif isinstance(error, RefreshTimeoutError):
            return None  # another process is refreshing: waiting is exactly what helps
        elif isinstance(error, AuthError):
            message = f"{error}: credentials or permissions were refused; fix them, then `freshcleo ping`"
        elif isinstance(error, ConfigError):
            message = f"configuration: {error}; fix it, then `freshcleo ping`"
        if message is not None:
            break
    if message is None:
        refused = next((r for r in refusals or [] if r is not None), None)
        if refused is None:
            return None
        message = str(refused)
    return dg.Failure(description=message, allow_retries=False,
                      metadata={"fix": dg.MetadataValue.text(message), "retryable": False})


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and the errors it was explicitly raised from (``raise … from``), innermost last."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__


def _why(detail: str) -> str:
    """"needs re-authorization (why): run …" → "why"."""
    start, end = detail.find("("), detail.rfind(")")
    return detail[start + 1:end] if 0 <= start < end else detail


def _no_run_retry(context: dg.AssetExecutionContext) -> None:
    """Tell the run-retry daemon that this run's failure will not go away by running it again.

    Dagster decides whether to retry a failed run when the failure is recorded, from the run's tags then; a step
    failure with this tag "false" is not retried, whatever ``run_retries`` and ``dagster/max_retries`` say.
    """
    try:
        context.instance.add_run_tags(context.run.run_id, {RETRY_ON_STEP_FAILURE_TAG: "false"})
    except Exception:  # noqa: BLE001 - the step's own failure matters more than this hint
        context.log.warning("could not tag the run as not worth a run retry")


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
        # A partial resource (every field given, nothing left for launch time): Dagster resolves a nested partial
        # resource to the top-level key holding the same object, so ``pipeline.ledger`` is the run's one
        # ``ledger`` and every asset and check shares its engine. A fully configured nested resource would be
        # initialized apart, with an engine of its own.
        "ledger": LedgerResource.configure_at_launch(url=s.resolved_ledger_url()),
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

"""Clients of the Cleo emulator: the product's ``CleoClient`` built from settings, with a quick retry policy."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from freshcleo_pipeline.cleo.client import CleoClient
from freshcleo_pipeline.http import RetryPolicy
from freshcleo_pipeline.sandbox.cleo import CleoEmulator
from freshcleo_pipeline.settings import Settings, load_settings

#: The house policy's shape with tiny delays, so retry tests take milliseconds.
QUICK = RetryPolicy(max_attempts=4, base_delay=0.01, max_delay=0.05, max_total_wait=5.0)

ClientFactory = Callable[..., CleoClient]


def emulator_settings(emulator: CleoEmulator, **overrides: object) -> Settings:
    return load_settings(mode="sandbox", cleo_api_url=emulator.url, **overrides)


@pytest.fixture
def cleo_client_factory() -> Iterator[ClientFactory]:
    clients: list[CleoClient] = []

    def make(emulator: CleoEmulator, **overrides: object) -> CleoClient:
        client = CleoClient.from_settings(emulator_settings(emulator, **overrides), policy=QUICK)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


@pytest.fixture
def cleo_client(cleo_emulator: CleoEmulator, cleo_client_factory: ClientFactory) -> CleoClient:
    return cleo_client_factory(cleo_emulator)

"""The Cleo emulator's request log and stats (reference cleo-api §9.6), over HTTP with plain ``requests``."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from freshcleo_pipeline.sandbox.cleo import CleoEmulator
from freshcleo_pipeline.sandbox.httpserver import FaultRule
from freshcleo_pipeline.settings import SANDBOX_CLEO_USERNAME
from freshcleo_pipeline_tests.cleo.interchanges import acme_810
from freshcleo_pipeline_tests.fixtures.cleo import CleoFactory
from freshcleo_pipeline_tests.sandbox.test_cleo_emulator import Api, login

FOLDERS = "/api/folders"
OUTBOUND = "acme-retail/outbound"


def test_the_request_log_records_route_status_and_account(cleo_emulator: CleoEmulator) -> None:
    api = Api(cleo_emulator)
    api.call("GET", FOLDERS)
    requests.get(f"{cleo_emulator.url}{FOLDERS}", headers={"Authorization": "Bearer forged"}, timeout=5)
    cleo_emulator.faults.add(FaultRule("reset", route=FOLDERS, remaining=1))
    with pytest.raises(requests.ConnectionError):
        api.call("GET", FOLDERS)
    requests.get(f"{cleo_emulator.url}/_sandbox/stats", timeout=5)  # control calls are not logged

    body = requests.get(f"{cleo_emulator.url}/_sandbox/requests", timeout=5).json()["requests"]
    rows = [(r["method"], r["route"], r["status"], r["account"], r["fault"]) for r in body]
    assert rows == [("POST", "/api/authentication", 200, SANDBOX_CLEO_USERNAME, ""),
                    ("GET", FOLDERS, 200, SANDBOX_CLEO_USERNAME, ""),
                    ("GET", FOLDERS, 401, "", ""),
                    ("GET", FOLDERS, 0, SANDBOX_CLEO_USERNAME, "reset")]
    assert all(r["at"].endswith("Z") and r["path"] == r["route"] for r in body)
    last = requests.get(f"{cleo_emulator.url}/_sandbox/requests", params={"limit": 1}, timeout=5).json()
    assert [r["status"] for r in last["requests"]] == [0]
    assert requests.get(f"{cleo_emulator.url}/_sandbox/requests", params={"limit": "x"},
                        timeout=5).status_code == 400


def test_the_log_is_bounded(cleo_emulator_factory: CleoFactory) -> None:
    emulator = cleo_emulator_factory()
    emulator.log = type(emulator.log)(size=3)
    for _ in range(5):
        requests.get(f"{emulator.url}{FOLDERS}", timeout=5)
    assert len(emulator.request_log()) == 3


def test_stats_count_logins_uploads_and_receipts(cleo_emulator: CleoEmulator) -> None:
    for _ in range(2):
        assert login(cleo_emulator, password="wrong").status_code == 401
    api = Api(cleo_emulator)
    content = acme_810(control=31)
    assert api.upload(OUTBOUND, "one.x12", content).status_code == 201
    assert api.upload(OUTBOUND, "one.x12", content).status_code == 409
    cleo_emulator.expire_tokens()
    assert api.call("GET", FOLDERS).status_code == 401

    stats = requests.get(f"{cleo_emulator.url}/_sandbox/stats", timeout=5).json()
    assert set(stats) >= {"requests", "auth", "uploads", "interchanges", "acks", "faults", "peak_concurrency"}
    assert stats["requests"]["POST /api/authentication 401"] == 2
    assert stats["requests"]["POST /api/folders/{folder_id}/files 409"] == 1
    assert stats["auth"] == {"issued": 1, "refused": 2, "locked": 0, "expired_token_401": 1}
    assert {k: stats["uploads"][k] for k in ("files", "bytes", "refused_409", "same_name_twice",
                                             "same_digest_twice")} == {"files": 1, "bytes": len(content),
                                                                       "refused_409": 1, "same_name_twice": 0,
                                                                       "same_digest_twice": 0}
    assert stats["interchanges"]["received"] == 1 and stats["acks"]["A"] == 1

    assert requests.delete(f"{cleo_emulator.url}/_sandbox/counters", timeout=5).status_code == 204
    cleared = cleo_emulator.stats()
    assert cleared["requests"] == {} and cleared["auth"]["issued"] == 0 and cleared["uploads"]["files"] == 0
    assert cleared["interchanges"]["received"] == 1  # the partner side keeps its records
    assert cleo_emulator.request_log() == []


def test_the_same_file_delivered_twice_after_pickup_is_flagged(cleo_emulator_factory: CleoFactory) -> None:
    emulator = cleo_emulator_factory(pickup_delay=0)
    api = Api(emulator)
    content = acme_810(control=44)
    assert api.upload(OUTBOUND, "twice.x12", content).status_code == 201
    assert api.upload(OUTBOUND, "twice.x12", content).status_code == 201  # the first was picked up
    stats = emulator.stats()
    assert (stats["uploads"]["same_name_twice"], stats["uploads"]["same_digest_twice"]) == (1, 1)
    assert stats["interchanges"]["duplicate_isa13"] == 1


def test_peak_concurrency(cleo_emulator: CleoEmulator) -> None:
    api = Api(cleo_emulator)
    cleo_emulator.faults.add(FaultRule("slow", route=FOLDERS, delay=0.3))
    with ThreadPoolExecutor(4) as pool:
        statuses = list(pool.map(lambda _: api.call("GET", FOLDERS).status_code, range(4)))
    assert statuses == [200] * 4
    stats = cleo_emulator.stats()
    assert stats["peak_concurrency"] == 4 and stats["faults"] == {"slow": 4}

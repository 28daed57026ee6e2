"""Fault injection of the emulators (reference cleo-api §9.4), over HTTP with plain ``requests``."""

from __future__ import annotations

import time

import pytest
import requests

from freshcleo_pipeline.sandbox.cleo import CleoEmulator
from freshcleo_pipeline.sandbox.faults import FaultPlan, FaultRule
from freshcleo_pipeline.sandbox.freshbooks import FreshBooksEmulator
from freshcleo_pipeline_tests.cleo.interchanges import acme_810
from freshcleo_pipeline_tests.sandbox.test_cleo_emulator import Api, login

INBOUND = "acme-retail/inbound"
FOLDERS = "/api/folders"


def fired(plan: FaultPlan, n: int, path: str = "/api/x") -> list[int]:
    """The positions (1-based) of the requests among ``n`` at which a rule fired."""
    return [i for i in range(1, n + 1) if plan.pick("GET", path, "GET /api/x") is not None]


def test_nth_every_remaining_and_a_seeded_rate() -> None:
    plan = FaultPlan()
    plan.add(FaultRule("status", nth=3))
    assert fired(plan, 6) == [3]
    plan = FaultPlan()
    plan.add(FaultRule("status", every=2, remaining=2))
    assert fired(plan, 8) == [2, 4]
    plan = FaultPlan()
    plan.add(FaultRule("status", remaining=2))
    assert fired(plan, 4) == [1, 2]
    runs = []
    for _ in range(2):
        plan = FaultPlan()
        plan.add(FaultRule("status", rate=0.3, seed=11))
        runs.append(fired(plan, 40))
    assert runs[0] == runs[1] and 0 < len(runs[0]) < 40
    plan = FaultPlan()
    plan.add(FaultRule("status", status=502, route="/api/x", method="get"))
    plan.add(FaultRule("reset", route="/api/y"))
    assert fired(plan, 2) == [1, 2] and dict(plan.fired) == {"status_502": 2}


def test_rules_are_checked_when_made() -> None:
    for bad in ({"kind": "explode"}, {"kind": "status", "nth": 0}, {"kind": "status", "rate": 2},
                {"kind": "status", "colour": "red"}, {"action": "status", "nth": [1, 2]}):
        with pytest.raises((ValueError, TypeError)):
            FaultRule.from_json(bad)
    rule = FaultRule.from_json({"match": {"method": "POST", "route": "/api/folders/{folder_id}/files"},
                                "nth": [3], "action": "drop_after_commit"})
    assert (rule.kind, rule.method, rule.route, rule.nth) == ("drop_after_commit", "POST",
                                                              "/api/folders/{folder_id}/files", 3)
    rule = FaultRule.from_json({"match": {"route": "/api/files/{file_id}/content"}, "probability": 0.1, "seed": 1,
                                "action": "status", "status": 503, "retry_after_s": 2})
    assert (rule.rate, rule.retry_after) == (0.1, 2)


def test_trickle_sends_the_whole_body_slowly(cleo_emulator: CleoEmulator) -> None:
    cleo_emulator.put_file(INBOUND, "slow.x12", b"x" * 100)
    api = Api(cleo_emulator)
    (resource,) = api.files(INBOUND)
    cleo_emulator.faults.add(FaultRule("trickle", route="/api/files/{file_id}/content", chunk=25, delay=0.05))
    started = time.monotonic()
    response = api.call("GET", resource["_links"]["content"]["href"])
    assert response.content == b"x" * 100
    assert time.monotonic() - started >= 0.2  # four chunks, a pause before each


def test_truncate_stops_short_of_the_content_length(cleo_emulator: CleoEmulator) -> None:
    cleo_emulator.put_file(INBOUND, "cut.x12", b"y" * 1000)
    api = Api(cleo_emulator)
    (resource,) = api.files(INBOUND)
    requests.post(f"{cleo_emulator.url}/_sandbox/faults", timeout=5,
                  json={"action": "truncate", "match": {"route": "/api/files/{file_id}/content"}, "keep": 300,
                        "remaining": 1}).raise_for_status()
    response = requests.get(f"{cleo_emulator.url}{resource['_links']['content']['href']}", stream=True, timeout=5,
                            headers={"Authorization": f"Bearer {api.token}"})
    assert response.headers["Content-Length"] == "1000"
    received = bytearray()
    with pytest.raises(requests.RequestException):
        for chunk in response.iter_content(64):
            received.extend(chunk)
    assert 0 < len(received) <= 300  # the last partial piece may be lost with the error
    assert content_len(api, resource) == 1000  # the rule is used up: the next download is whole
    assert cleo_emulator.faults.fired["truncate"] == 1


def content_len(api: Api, resource: dict[str, object]) -> int:
    links = resource["_links"]
    assert isinstance(links, dict)
    return len(api.call("GET", links["content"]["href"]).content)


def test_rate_limit_answers_429_with_retry_after_per_account(cleo_emulator: CleoEmulator) -> None:
    api = Api(cleo_emulator)
    cleo_emulator.faults.add(FaultRule("rate_limit", per_second=1, burst=2, path_prefix="/api/"))
    statuses = [api.call("GET", FOLDERS).status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
    limited = api.call("GET", FOLDERS)
    assert limited.status_code == 429 and limited.headers["Retry-After"] == "1"
    assert limited.json() == {"message": "too many requests"}
    time.sleep(1.05)
    assert api.call("GET", FOLDERS).status_code == 200
    assert cleo_emulator.requests_to(FOLDERS, "GET", 429) == 2
    accounts = {e.account for e in cleo_emulator.request_log() if e.fault == "rate_limit"}
    assert accounts == {cleo_emulator.tokens.username}


def test_expire_tokens_at_the_nth_request_over_http(cleo_emulator: CleoEmulator) -> None:
    api = Api(cleo_emulator)
    answer = requests.post(f"{cleo_emulator.url}/_sandbox/faults", timeout=5,
                           json={"action": "expire_tokens", "match": {"route": "*"}, "at_request": 3})
    assert answer.status_code == 201
    assert [api.call("GET", FOLDERS).status_code for _ in range(3)] == [200, 200, 401]
    assert api.call("GET", FOLDERS).status_code == 401  # the token is dead, not just that request
    fresh = Api(cleo_emulator)
    assert fresh.call("GET", FOLDERS).status_code == 200  # fires once: new tokens live on
    stats = requests.get(f"{cleo_emulator.url}/_sandbox/stats", timeout=5).json()
    assert stats["faults"] == {"expire_tokens": 1}
    assert stats["auth"]["expired_token_401"] == 2


def test_login_fail_refuses_only_logins(cleo_emulator: CleoEmulator) -> None:
    api = Api(cleo_emulator)
    requests.post(f"{cleo_emulator.url}/_sandbox/faults", timeout=5,
                  json={"action": "login_fail", "match": {"route": "*"}, "remaining": 1}).raise_for_status()
    assert api.call("GET", FOLDERS).status_code == 200  # not a login: the rule does not even count it
    refused = login(cleo_emulator)
    assert refused.status_code == 401 and refused.json() == {"message": "invalid username or password"}
    assert login(cleo_emulator).status_code == 200
    assert cleo_emulator.stats()["auth"] == {"issued": 2, "refused": 1, "locked": 0, "expired_token_401": 0}


def test_drop_after_commit_stores_the_upload_and_answers_nothing(cleo_emulator: CleoEmulator) -> None:
    api = Api(cleo_emulator)
    cleo_emulator.faults.add(FaultRule("drop_after_commit", method="POST", route="/api/folders/{folder_id}/files"))
    with pytest.raises(requests.ConnectionError):
        api.upload("acme-retail/outbound", "lost.x12", acme_810(control=5))
    assert list(cleo_emulator.files_in("acme-retail/outbound")) == ["lost.x12"]
    assert cleo_emulator.requests_to("/api/folders/{folder_id}/files", "POST", 201) == 1
    assert cleo_emulator.stats()["faults"] == {"drop_after_commit": 1}


def test_the_cleo_only_kinds_are_refused_elsewhere(freshbooks_emulator: FreshBooksEmulator,
                                                   cleo_emulator: CleoEmulator) -> None:
    for kind in ("expire_tokens", "login_fail"):
        answer = requests.post(f"{freshbooks_emulator.url}/_sandbox/faults", json={"kind": kind}, timeout=5)
        assert answer.status_code == 422 and kind in answer.json()["message"]
    assert requests.post(f"{cleo_emulator.url}/_sandbox/faults", json={"kind": "status", "nth": -1},
                         timeout=5).status_code == 422
    # The original shape still works, and DELETE clears the rules.
    assert requests.post(f"{cleo_emulator.url}/_sandbox/faults", timeout=5,
                         json={"kind": "status", "status": 503, "path_prefix": FOLDERS, "remaining": 1}
                         ).status_code == 201
    assert requests.delete(f"{cleo_emulator.url}/_sandbox/faults", timeout=5).status_code == 204
    assert Api(cleo_emulator).call("GET", FOLDERS).status_code == 200

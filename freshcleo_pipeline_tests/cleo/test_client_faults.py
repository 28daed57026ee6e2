"""CleoClient under the emulator's faults (reference cleo-api §9.4) and the figures it leaves (§9.6)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import requests

from freshcleo_pipeline.cleo.client import DOWNLOAD_ATTEMPTS, CleoClient, FileConflictError, TransferError
from freshcleo_pipeline.errors import AuthError
from freshcleo_pipeline.sandbox.cleo import CleoEmulator
from freshcleo_pipeline.sandbox.httpserver import FaultRule
from freshcleo_pipeline_tests.cleo.conftest import QUICK, ClientFactory, emulator_settings
from freshcleo_pipeline_tests.cleo.interchanges import acme_810

LOGIN = "/api/authentication"
UPLOAD = "/api/folders/{folder_id}/files"
CONTENT = "/api/files/{file_id}/content"
OUTBOUND, INBOUND, ARCHIVE = "acme-retail/outbound", "acme-retail/inbound", "acme-retail/archive"


@pytest.fixture
def slow_reader(cleo_emulator: CleoEmulator) -> Iterator[CleoClient]:
    """A client that gives up on a body after 0.2 s without a byte."""
    client = CleoClient.from_settings(emulator_settings(cleo_emulator), policy=QUICK, read_timeout=0.2)
    yield client
    client.close()


def test_a_truncated_download_is_fetched_again_and_verified(cleo_emulator: CleoEmulator,
                                                            cleo_client: CleoClient) -> None:
    cleo_emulator.put_file(INBOUND, "997.x12", b"z" * 4000)
    (file,) = cleo_client.list_files(INBOUND)
    cleo_emulator.faults.add(FaultRule("truncate", route=CONTENT, remaining=1))
    assert cleo_client.download(file) == b"z" * 4000
    assert cleo_emulator.requests_to(CONTENT, "GET", 200) == 2


def test_a_download_always_truncated_ends_in_a_transfer_error(cleo_emulator: CleoEmulator,
                                                              cleo_client: CleoClient) -> None:
    cleo_emulator.put_file(INBOUND, "997.x12", b"z" * 4000)
    (file,) = cleo_client.list_files(INBOUND)
    cleo_emulator.faults.add(FaultRule("truncate", route=CONTENT, keep=1000))
    with pytest.raises(TransferError, match="interrupted"):
        cleo_client.download(file)
    assert cleo_emulator.requests_to(CONTENT, "GET") == DOWNLOAD_ATTEMPTS
    assert cleo_emulator.stats()["faults"] == {"truncate": DOWNLOAD_ATTEMPTS}


def test_a_trickle_within_the_read_timeout_arrives_whole(cleo_emulator: CleoEmulator,
                                                         slow_reader: CleoClient) -> None:
    cleo_emulator.put_file(INBOUND, "997.x12", b"t" * 300)
    (file,) = slow_reader.list_files(INBOUND)
    cleo_emulator.faults.add(FaultRule("trickle", route=CONTENT, chunk=100, delay=0.05))
    assert slow_reader.download(file) == b"t" * 300


def test_a_trickle_beyond_the_read_timeout_fails_cleanly(cleo_emulator: CleoEmulator,
                                                         slow_reader: CleoClient) -> None:
    cleo_emulator.put_file(INBOUND, "997.x12", b"t" * 300)
    (file,) = slow_reader.list_files(INBOUND)
    cleo_emulator.faults.add(FaultRule("trickle", route=CONTENT, chunk=100, delay=1.0))
    started = time.monotonic()
    with pytest.raises(TransferError, match="interrupted"):
        slow_reader.download(file)
    assert time.monotonic() - started < 5  # each attempt ends at the read timeout, not at the trickle's pace
    assert cleo_emulator.requests_to(CONTENT, "GET") == DOWNLOAD_ATTEMPTS


def test_tokens_expiring_mid_batch_cost_one_login_and_one_replay(cleo_emulator: CleoEmulator,
                                                                 cleo_client: CleoClient) -> None:
    cleo_emulator.faults.add(FaultRule("expire_tokens", route="*", nth=5))
    for n in range(6):
        cleo_client.upload(OUTBOUND, f"batch-{n}.x12", acme_810(control=60 + n))
    assert len(cleo_emulator.files_in(OUTBOUND)) == 6
    assert cleo_emulator.requests_to(LOGIN, "POST", 200) == 2
    assert cleo_emulator.requests_to(UPLOAD, "POST", 401) == 1
    assert cleo_emulator.requests_to(UPLOAD, "POST", 201) == 6
    stats = cleo_emulator.stats()
    assert stats["auth"]["expired_token_401"] == 1 and stats["faults"] == {"expire_tokens": 1}
    assert stats["uploads"]["same_name_twice"] == 0  # the replay was not a second upload


def test_a_failing_login_is_tried_once_and_never_looped(cleo_emulator: CleoEmulator,
                                                        cleo_client: CleoClient) -> None:
    cleo_emulator.faults.add(FaultRule("login_fail", route="*"))
    with pytest.raises(AuthError):
        cleo_client.upload(OUTBOUND, "x.x12", b"x")
    with pytest.raises(AuthError):
        cleo_client.list_files(INBOUND)
    assert cleo_emulator.requests_to(LOGIN, "POST") == 1
    assert cleo_emulator.total_requests() == 1
    assert cleo_emulator.stats()["auth"]["refused"] == 1


def test_sustained_throttling_is_waited_out_and_the_batch_completes(cleo_emulator: CleoEmulator,
                                                                    cleo_client: CleoClient) -> None:
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        time.sleep(seconds)

    cleo_client.http.sleep = sleep
    cleo_emulator.faults.add(FaultRule("rate_limit", path_prefix="/api/folders", per_second=5, burst=2))
    for n in range(4):
        cleo_client.upload(OUTBOUND, f"r-{n}.x12", acme_810(control=80 + n))
    assert len(cleo_emulator.files_in(OUTBOUND)) == 4
    throttled = cleo_emulator.requests_to(UPLOAD, "POST", 429) + cleo_emulator.requests_to("/api/folders",
                                                                                            "GET", 429)
    assert throttled >= 1 and waits and all(w == 1.0 for w in waits)  # Retry-After, not the quick backoff
    assert cleo_emulator.requests_to(UPLOAD, "POST", 201) == 4
    assert cleo_emulator.stats()["faults"]["rate_limit"] == throttled == len(waits)


def test_stats_after_a_small_session(cleo_emulator: CleoEmulator, cleo_client: CleoClient,
                                     cleo_client_factory: ClientFactory) -> None:
    first, second = acme_810(control=91), acme_810(control=92)
    cleo_client.upload(OUTBOUND, "a.x12", first)
    cleo_client.upload(OUTBOUND, "b.x12", second)
    with pytest.raises(FileConflictError):
        cleo_client.upload(OUTBOUND, "a.x12", second)
    acks = cleo_client.list_files(INBOUND)
    for ack in acks:
        cleo_client.download(ack)
        cleo_client.archive(ack, ARCHIVE)

    stats = requests.get(f"{cleo_emulator.url}/_sandbox/stats", timeout=5).json()
    assert stats["requests"]["POST /api/authentication 200"] == 1
    assert stats["requests"]["POST /api/folders/{folder_id}/files 201"] == 2
    assert stats["requests"]["POST /api/folders/{folder_id}/files 409"] == 1
    assert stats["requests"]["GET /api/files/{file_id}/content 200"] == 3  # two acks, one read-back of a.x12
    assert stats["requests"]["POST /api/files/{file_id}/move 200"] == 2
    assert stats["auth"] == {"issued": 1, "refused": 0, "locked": 0, "expired_token_401": 0}
    uploads = stats["uploads"]
    assert (uploads["files"], uploads["bytes"]) == (2, len(first) + len(second))
    assert (uploads["refused_409"], uploads["same_name_twice"], uploads["same_digest_twice"]) == (1, 0, 0)
    assert uploads["by_folder"] == {OUTBOUND: {"files": 2, "bytes": len(first) + len(second)}}
    assert stats["downloads"]["files"] == 3 and stats["moves"] == 2
    interchanges = stats["interchanges"]
    assert {k: interchanges[k] for k in ("received", "duplicate_isa13", "unparseable", "misrouted",
                                         "usage_mismatch")} == {"received": 2, "duplicate_isa13": 0,
                                                                 "unparseable": 0, "misrouted": 0,
                                                                 "usage_mismatch": 0}
    assert stats["acks"]["A"] == 2 and stats["acks"]["R"] == stats["acks"]["dropped"] == 0
    assert stats["faults"] == {} and stats["peak_concurrency"] == 1
    assert len(acks) == 2
    log = cleo_emulator.request_log()
    assert [e.route for e in log if e.method == "POST" and e.route == LOGIN] == [LOGIN]  # one login per run
    refused = [i for i, e in enumerate(log) if e.status == 409]
    assert len(refused) == 1 and all(e.route != UPLOAD or e.method != "POST" for e in log[refused[0] + 1:])

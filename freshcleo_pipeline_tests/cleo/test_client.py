"""CleoClient against the emulator over HTTP: delivery exactly once, inbound files, archive, tokens."""

from __future__ import annotations

import dataclasses

import pytest

from freshcleo_pipeline.cleo.auth import CleoAuth
from freshcleo_pipeline.cleo.client import (
    CleoClient,
    CleoFolderError,
    FileConflictError,
    OverSizeError,
    TransferError,
    UploadInDoubtError,
    UploadUncertainError,
    archive_names,
    outbound_file_name,
    sha256,
)
from freshcleo_pipeline.errors import AuthError, FreshcleoError
from freshcleo_pipeline.sandbox.cleo import CleoEmulator
from freshcleo_pipeline.sandbox.httpserver import FaultRule
from freshcleo_pipeline.settings import SANDBOX_CLEO_PASSWORD, SANDBOX_CLEO_USERNAME
from freshcleo_pipeline_tests.cleo.conftest import ClientFactory
from freshcleo_pipeline_tests.cleo.interchanges import acme_810, segments
from freshcleo_pipeline_tests.fixtures.cleo import CleoFactory

UPLOAD = "/api/folders/{folder_id}/files"
LOGIN = "/api/authentication"
OUTBOUND, INBOUND, ARCHIVE = "acme-retail/outbound", "acme-retail/inbound", "acme-retail/archive"


def test_upload_list_download_archive_round_trip(cleo_emulator: CleoEmulator, cleo_client: CleoClient) -> None:
    content = acme_810(control=17)
    name = outbound_file_name("acme-retail", "810", 17, "INV-1001")
    receipt = cleo_client.upload(OUTBOUND, name, content)
    assert receipt.outcome == "created" and receipt.file.size == len(content) and receipt.folder == OUTBOUND
    assert cleo_emulator.files_in(OUTBOUND) == {name: content}
    assert [f.name for f in cleo_client.list_files(OUTBOUND)] == [name]
    assert cleo_client.download(receipt.file) == content

    (ack,) = cleo_client.list_files(INBOUND)
    assert ack.created is not None and ack.size > 0
    assert ["AK5", "A"] in segments(cleo_client.download(ack))
    assert cleo_client.archive(ack, ARCHIVE) == "moved"
    assert cleo_client.list_files(INBOUND) == []
    assert [f.name for f in cleo_client.list_files(ARCHIVE)] == [ack.name]


def test_outbound_names_are_deterministic_and_safe() -> None:
    assert outbound_file_name("acme-retail", "810", 17, "INV 10/01") == "acme-retail_810_000000017_INV-10-01.x12"
    assert outbound_file_name("bolt-fasteners", "850", 5) == "bolt-fasteners_850_000000005.x12"


def test_same_name_with_other_content_is_a_conflict_naming_the_file(cleo_emulator: CleoEmulator,
                                                                   cleo_client: CleoClient) -> None:
    cleo_client.upload("bolt/outbound", "po.x12", b"ISA first version")
    with pytest.raises(FileConflictError, match=r"po\.x12") as caught:
        cleo_client.upload("bolt/outbound", "po.x12", b"ISA other version")  # same size, other digest
    assert "bolt/outbound" in str(caught.value)
    with pytest.raises(FileConflictError, match="bytes"):
        cleo_client.upload("bolt/outbound", "po.x12", b"longer content entirely")
    assert cleo_emulator.files_in("bolt/outbound") == {"po.x12": b"ISA first version"}


def test_same_name_with_same_content_is_already_present(cleo_emulator: CleoEmulator,
                                                         cleo_client: CleoClient) -> None:
    first = cleo_client.upload("bolt/outbound", "po.x12", b"content")
    again = cleo_client.upload("bolt/outbound", "po.x12", b"content")
    assert (first.outcome, again.outcome) == ("created", "already_present")
    assert again.file.id == first.file.id
    assert cleo_emulator.requests_to(UPLOAD, "POST", 409) == 1


def test_lost_upload_response_then_retry_leaves_exactly_one_file(cleo_emulator: CleoEmulator,
                                                                  cleo_client: CleoClient) -> None:
    content = acme_810(control=40)
    cleo_emulator.faults.add(FaultRule(kind="lost_response", path_prefix="/api/folders/", method="POST",
                                       remaining=1))
    receipt = cleo_client.upload(OUTBOUND, "lost.x12", content)
    assert receipt.outcome == "already_present"
    assert cleo_emulator.files_in(OUTBOUND) == {"lost.x12": content}
    assert cleo_emulator.requests_to(UPLOAD, "POST") == 1  # looked before sending again: no second POST
    assert cleo_emulator.requests_to("/api/files/{file_id}/content", "GET", 200) == 1  # digest compared
    assert len(cleo_emulator.files_in(INBOUND)) == 1  # and the partner saw one interchange


@pytest.mark.parametrize("fault", [FaultRule(kind="reset", path_prefix="/api/folders/", method="POST", remaining=1),
                                   FaultRule(kind="status", status=503, path_prefix="/api/folders/", method="POST",
                                             remaining=1)], ids=["reset", "503"])
def test_an_upload_of_unknown_outcome_with_no_file_left_is_in_doubt_not_sent_again(
        cleo_emulator: CleoEmulator, cleo_client: CleoClient, fault: FaultRule) -> None:
    cleo_emulator.faults.add(fault)
    with pytest.raises(UploadInDoubtError, match=r"again\.x12.*in doubt") as caught:
        cleo_client.upload("bolt/outbound", "again.x12", b"payload")
    assert caught.value.folder == "bolt/outbound" and caught.value.name == "again.x12"
    assert cleo_emulator.requests_to(UPLOAD, "POST") == 1  # the answer is unknown: one request, never a second
    assert cleo_emulator.files_in("bolt/outbound") == {}
    assert cleo_emulator.requests_to(UPLOAD, "GET", 200) == 1  # it looked for the file before giving up


def test_a_refused_upload_is_a_plain_error_and_nothing_is_stored(cleo_emulator: CleoEmulator,
                                                                cleo_client: CleoClient) -> None:
    with pytest.raises(FreshcleoError) as caught:
        cleo_client.upload("bolt/outbound", "bad/name.x12", b"payload")
    assert not isinstance(caught.value, (UploadInDoubtError, UploadUncertainError))
    assert "400" in str(caught.value)


def test_token_expiry_in_the_middle_of_a_batch_is_invisible(cleo_emulator: CleoEmulator,
                                                             cleo_client: CleoClient) -> None:
    for n in range(3):
        cleo_client.upload(OUTBOUND, f"batch-{n}.x12", acme_810(control=50 + n))
    cleo_emulator.expire_tokens()
    for n in range(3, 6):
        cleo_client.upload(OUTBOUND, f"batch-{n}.x12", acme_810(control=50 + n))
    assert len(cleo_emulator.files_in(OUTBOUND)) == 6
    assert cleo_emulator.requests_to(LOGIN, "POST", 200) == 2
    assert cleo_emulator.requests_to(UPLOAD, "POST", 401) + cleo_emulator.requests_to(
        "/api/folders", "GET", 401) + cleo_emulator.requests_to("/api/folders/{folder_id}/files", "GET", 401) == 1


def test_token_is_renewed_before_its_known_expiry(cleo_emulator_factory: CleoFactory,
                                                  cleo_client_factory: ClientFactory) -> None:
    emulator = cleo_emulator_factory(token_lifetime=120)
    http = cleo_client_factory(emulator).http
    now = [1000.0]  # the client's clock, moved together with the emulator's
    client = CleoClient(http, CleoAuth(http, SANDBOX_CLEO_USERNAME, SANDBOX_CLEO_PASSWORD, clock=lambda: now[0]))
    client.upload("bolt/outbound", "1.x12", b"1")
    now[0] += 100
    emulator.advance(100)
    client.upload("bolt/outbound", "2.x12", b"2")
    assert emulator.requests_to(LOGIN, "POST", 200) == 2
    assert sum(n for (_m, _t, status), n in emulator.counters.items() if status == 401) == 0


def test_bad_credentials_fail_fast_with_one_login_attempt(cleo_emulator_factory: CleoFactory,
                                                          cleo_client_factory: ClientFactory) -> None:
    emulator = cleo_emulator_factory(lockout=True)
    client = cleo_client_factory(emulator, cleo_password="not-the-password")
    with pytest.raises(AuthError) as first:
        client.upload("bolt/outbound", "x.x12", b"x")
    with pytest.raises(AuthError):
        client.list_files("bolt/inbound")
    assert emulator.requests_to(LOGIN, "POST") == 1
    assert emulator.requests_to(LOGIN, "POST", 401) == 1
    assert emulator.total_requests() == 1
    for text in (str(first.value), repr(client.auth), repr(client)):
        assert "not-the-password" not in text
    assert "CLEO_PASSWORD" in str(first.value)


def test_997s_for_good_and_broken_interchanges_are_retrieved_and_archived(
        cleo_emulator: CleoEmulator, cleo_client: CleoClient) -> None:
    cleo_client.upload(OUTBOUND, outbound_file_name("acme-retail", "810", 60), acme_810(control=60))
    cleo_client.upload(OUTBOUND, outbound_file_name("acme-retail", "810", 61), acme_810(control=61, se_count=9))
    acks = cleo_client.list_files(INBOUND, prefix="997")
    assert len(acks) == 2
    by_group = {}
    for ack in acks:
        segs = segments(cleo_client.download(ack))
        ak1 = next(s for s in segs if s[0] == "AK1")
        by_group[ak1[2]] = [s for s in segs if s[0] in ("AK2", "AK3", "AK4", "AK5", "AK9")]
    assert by_group["60"] == [["AK2", "810", "0001"], ["AK5", "A"], ["AK9", "A", "1", "1", "1"]]
    assert by_group["61"] == [["AK2", "810", "0001"], ["AK5", "R", "4"], ["AK9", "R", "1", "1", "0"]]
    for ack in acks:
        assert cleo_client.archive(ack, ARCHIVE) == "moved"
    assert cleo_client.list_files(INBOUND) == []
    assert len(cleo_client.list_files(ARCHIVE)) == 2


def test_archive_without_archive_folder_deletes(cleo_emulator: CleoEmulator, cleo_client: CleoClient) -> None:
    name = cleo_emulator.drop_partner_document("bolt-fasteners", "810")
    (file,) = cleo_client.list_files("bolt/inbound")
    assert file.name == name
    assert cleo_client.archive(file, "") == "deleted"
    assert cleo_emulator.files_in("bolt/inbound") == {}
    cleo_client.delete(file)  # already gone: still fine (a retry after a lost answer)


def test_move_whose_answer_is_lost_is_not_repeated(cleo_emulator: CleoEmulator, cleo_client: CleoClient) -> None:
    cleo_emulator.drop_partner_document("acme-retail", "850")
    (file,) = cleo_client.list_files(INBOUND)
    cleo_emulator.faults.add(FaultRule(kind="lost_response", path_prefix="/api/files/", method="POST", remaining=1))
    assert cleo_client.archive(file, ARCHIVE) == "moved"
    assert list(cleo_emulator.files_in(ARCHIVE)) == [file.name]
    assert cleo_emulator.requests_to("/api/files/{file_id}/move", "POST") == 1


def test_archive_that_holds_the_name_keeps_both_or_drops_an_identical_copy(
        cleo_emulator: CleoEmulator, cleo_client: CleoClient) -> None:
    cleo_emulator.put_file(ARCHIVE, "997.x12", b"older 997")
    cleo_emulator.put_file(INBOUND, "997.x12", b"newer 997")
    (file,) = cleo_client.list_files(INBOUND)
    assert cleo_client.archive(file, ARCHIVE, sha256=sha256(b"newer 997")) == "renamed"
    renamed = archive_names("997.x12", sha256(b"newer 997"))[1]
    assert renamed == f"997.{sha256(b'newer 997')[:12]}.x12"
    assert cleo_emulator.files_in(ARCHIVE) == {"997.x12": b"older 997", renamed: b"newer 997"}

    for content in (b"older 997", b"newer 997"):  # the partner sends each again under the same name
        cleo_emulator.put_file(INBOUND, "997.x12", content)
        (again,) = cleo_client.list_files(INBOUND)
        assert cleo_client.archive(again, ARCHIVE, sha256=sha256(content)) == "already_archived"
        assert cleo_emulator.files_in(INBOUND) == {}
    assert len(cleo_emulator.files_in(ARCHIVE)) == 2


def test_archive_gives_up_with_a_conflict_when_every_name_is_taken(cleo_emulator: CleoEmulator,
                                                                     cleo_client: CleoClient) -> None:
    digest = sha256(b"mine")
    for n, name in enumerate(archive_names("a.x12", digest)):
        cleo_emulator.put_file(ARCHIVE, name, f"other {n}".encode())
    cleo_emulator.put_file(INBOUND, "a.x12", b"mine")
    (file,) = cleo_client.list_files(INBOUND)
    with pytest.raises(FileConflictError, match=r"a\.x12"):
        cleo_client.archive(file, ARCHIVE, sha256=digest)
    assert cleo_emulator.files_in(INBOUND) == {"a.x12": b"mine"}


def test_download_stops_at_the_size_cap(cleo_emulator: CleoEmulator, cleo_client: CleoClient) -> None:
    cleo_emulator.put_file(INBOUND, "big.x12", b"x" * 5000)
    (file,) = cleo_client.list_files(INBOUND)
    with pytest.raises(OverSizeError, match="5000 bytes; expected at most 4096"):
        cleo_client.download(file, max_bytes=4096)
    assert cleo_emulator.requests_to("/api/files/{file_id}/content", "GET") == 0  # never asked for
    # Metadata that understates the size does not get past the cap either.
    with pytest.raises(OverSizeError, match="at most 4096"):
        cleo_client.download(dataclasses.replace(file, size=10), max_bytes=4096)
    assert cleo_client.download(file, max_bytes=5000) == b"x" * 5000


def test_download_checks_the_byte_count(cleo_emulator: CleoEmulator, cleo_client: CleoClient) -> None:
    cleo_emulator.put_file(INBOUND, "short.x12", b"12345")
    (file,) = cleo_client.list_files(INBOUND)
    with pytest.raises(TransferError, match="downloaded 5 bytes; expected 6"):
        cleo_client.download(dataclasses.replace(file, size=6))


def test_listing_follows_pages_and_survives_429(cleo_emulator: CleoEmulator, cleo_client: CleoClient) -> None:
    for n in range(105):
        cleo_emulator.put_file("coastal/inbound", f"f{n:03d}.x12", b"x")
    sleeps: list[float] = []
    cleo_client.http.sleep = sleeps.append
    cleo_client.folders()
    cleo_emulator.faults.add(FaultRule(kind="status", status=429, retry_after=3, path_prefix="/api/folders/",
                                       method="GET", remaining=1))
    names = [f.name for f in cleo_client.list_files("coastal/inbound")]
    assert names == [f"f{n:03d}.x12" for n in range(105)]
    assert sleeps == [3.0]
    assert cleo_emulator.requests_to("/api/folders/{folder_id}/files", "GET", 200) == 2


def test_unknown_folder_names_the_folder(cleo_client: CleoClient) -> None:
    with pytest.raises(CleoFolderError, match="no-such/outbound"):
        cleo_client.upload("no-such/outbound", "x.x12", b"x")


def test_uploads_into_folders_without_upload_permission_are_refused_before_sending(
        cleo_emulator: CleoEmulator, cleo_client: CleoClient) -> None:
    with pytest.raises(CleoFolderError, match="upload"):
        cleo_client.upload(INBOUND, "x.x12", b"x")
    assert cleo_emulator.requests_to(UPLOAD, "POST") == 0


def test_login_sends_exactly_the_confirmed_form(cleo_emulator: CleoEmulator, cleo_client: CleoClient) -> None:
    seen: list[tuple[str, bytes]] = []
    original = cleo_emulator.handle

    def spy(request):  # type: ignore[no-untyped-def]
        if request.path == LOGIN:
            seen.append((request.headers.get("content-type", ""), request.body))
        return original(request)

    cleo_emulator.handle = spy  # type: ignore[method-assign]
    cleo_client.authenticate()
    ((content_type, body),) = seen
    assert content_type.startswith("application/x-www-form-urlencoded")
    fields = dict(pair.split("=", 1) for pair in body.decode().split("&"))
    assert sorted(fields) == ["grant_type", "password", "username"] and fields["grant_type"] == "password"


@pytest.mark.parametrize("failures, logged_in", [(1, True), (2, False)])
def test_a_login_that_failed_on_its_way_is_tried_once_more_after_five_seconds(
        cleo_emulator: CleoEmulator, cleo_client: CleoClient, failures: int, logged_in: bool) -> None:
    waits: list[float] = []
    cleo_client.http.sleep = waits.append
    cleo_emulator.faults.add(FaultRule(kind="status", status=503, path_prefix=LOGIN, remaining=failures))
    if logged_in:
        cleo_client.authenticate()
    else:
        with pytest.raises(FreshcleoError, match="503"):
            cleo_client.authenticate()
    assert cleo_emulator.requests_to(LOGIN, "POST") == 2  # never a third: the lockout counts attempts
    assert waits == [5.0]


def test_tokens_rejected_as_soon_as_issued_stop_the_logins_instead_of_looping(cleo_emulator: CleoEmulator,
                                                                            cleo_client: CleoClient) -> None:
    cleo_emulator.faults.add(FaultRule(kind="status", status=401, path_prefix="/api/folders", rate=1.0))
    for _ in range(6):
        with pytest.raises(AuthError):
            cleo_client.list_files(INBOUND)
    assert cleo_emulator.requests_to(LOGIN, "POST", 200) == 3

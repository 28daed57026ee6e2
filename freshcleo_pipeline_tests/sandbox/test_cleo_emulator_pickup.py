"""The Cleo emulator's pick-up of uploads (CIC routes uploaded files on) and the partners' received side."""

from __future__ import annotations

import time

import requests

from freshcleo_pipeline.sandbox.cleo import CleoEmulator
from freshcleo_pipeline_tests.cleo.interchanges import acme_810, segments
from freshcleo_pipeline_tests.fixtures.cleo import CleoFactory
from freshcleo_pipeline_tests.sandbox.test_cleo_emulator import Api, content_of

OUT, IN = "acme-retail/outbound", "acme-retail/inbound"


def acks_in(api: Api, folder: str = IN) -> list[str]:
    return [f["name"] for f in api.files(folder)]


def our_997(control: int) -> bytes:
    """A 997 we send to Acme (answering one of its purchase orders), in the sample's envelope."""
    isa = acme_810(control=control).decode("ascii")[:106]
    body = (f"GS*FA*HARBORSUPPLY*ACMERETAIL*20240311*1602*{control}*X*004010~ST*997*0001~AK1*PO*9~"
            f"AK9*A*1*1*1~SE*4*0001~GE*1*{control}~IEA*1*{control:09d}~")
    return (isa + body).encode("ascii")


def test_delay_zero_consumes_the_upload_at_once_after_answering_201(cleo_emulator_factory: CleoFactory) -> None:
    emulator = cleo_emulator_factory(pickup_delay=0)
    api = Api(emulator)
    content = acme_810(control=17)
    created = api.upload(OUT, "FRESHCLEO_acme_810_000000017.x12", content)
    assert created.status_code == 201 and created.json()["size"] == len(content)
    assert api.files(OUT) == []
    assert api.call("GET", created.json()["_links"]["self"]["href"]).status_code == 404
    (received,) = emulator.partner_received("acme-retail")
    assert received.file_name == "FRESHCLEO_acme_810_000000017.x12" and received.content == content
    assert received.isa13 == "000000017" and not received.duplicate_isa13 and len(received.sha256) == 64
    assert emulator.pickup.counts.consumed == 1 and emulator.pickup.counts.received == 1
    (ack,) = api.files(IN)  # the partner acknowledged what it received
    assert ["AK1", "IN", "17"] in segments(content_of(api, ack))


def test_a_delayed_pickup_waits_for_the_emulator_clock_and_the_ack_follows_receipt(
        cleo_emulator_factory: CleoFactory) -> None:
    emulator = cleo_emulator_factory(pickup_delay=30)
    api = Api(emulator)
    assert api.upload(OUT, "later.x12", acme_810(control=18)).status_code == 201
    assert [f["name"] for f in api.files(OUT)] == ["later.x12"]
    assert emulator.partner_received() == [] and acks_in(api) == []  # not received, so not acknowledged
    emulator.advance(29)
    assert [f["name"] for f in api.files(OUT)] == ["later.x12"] and acks_in(api) == []
    emulator.advance(1)
    assert emulator.files_in(OUT) == {}
    assert [r.file_name for r in emulator.partner_received()] == ["later.x12"]
    assert len(acks_in(api)) == 1
    assert emulator.pickup_due() == 0  # idempotent: a file is taken once


def test_the_next_api_request_sees_the_pickup_without_any_explicit_call(cleo_emulator_factory: CleoFactory) -> None:
    emulator = cleo_emulator_factory(pickup_delay=60)
    api = Api(emulator)
    api.upload(OUT, "lazy.x12", acme_810(control=19))
    emulator.clock.advance(60)  # the clock alone: no pick-up has run yet
    assert api.files(OUT) == []  # the listing request itself picked the file up first
    assert len(emulator.partner_received()) == 1


def test_without_pickup_files_stay_and_the_partner_receives_at_upload(cleo_emulator: CleoEmulator) -> None:
    api = Api(cleo_emulator)
    api.upload(OUT, "stays.x12", acme_810(control=20))
    assert [r.file_name for r in cleo_emulator.partner_received()] == ["stays.x12"]
    assert len(acks_in(api)) == 1
    cleo_emulator.advance(10**6)
    assert cleo_emulator.pickup_due() == 0
    api = Api(cleo_emulator)  # the first token expired meanwhile
    assert [f["name"] for f in api.files(OUT)] == ["stays.x12"]
    assert cleo_emulator.pickup.counts.consumed == 0 and len(cleo_emulator.partner_received()) == 1


def test_the_same_interchange_again_after_consumption_is_a_duplicate_isa13(cleo_emulator_factory: CleoFactory) -> None:
    emulator = cleo_emulator_factory(pickup_delay=0)
    api = Api(emulator)
    content = acme_810(control=21)
    assert api.upload(OUT, "x_000000021.x12", content).status_code == 201
    # The file is gone, so the same name is free again: exactly the resend a client must not do blindly.
    assert api.upload(OUT, "x_000000021.x12", content).status_code == 201
    api.upload(OUT, "x_000000022.x12", acme_810(control=22))
    assert [(r.isa13, r.duplicate_isa13) for r in emulator.partner_received("acme-retail")] == [
        ("000000021", False), ("000000021", True), ("000000022", False)]
    assert emulator.pickup.counts.duplicate_isa13 == 1 and emulator.pickup.counts.received == 3
    assert emulator.partner_received("bolt-fasteners") == []


def test_duplicates_are_counted_per_partner_when_files_stay(cleo_emulator: CleoEmulator) -> None:
    api = Api(cleo_emulator)
    api.upload(OUT, "a.x12", acme_810(control=23))
    assert api.upload(OUT, "a.x12", acme_810(control=23)).status_code == 409  # never received twice
    api.upload(OUT, "b.x12", acme_810(control=23))  # same ISA13 under another name
    assert [r.duplicate_isa13 for r in cleo_emulator.partner_received()] == [False, True]


def test_a_file_deleted_or_moved_before_pickup_is_never_received(cleo_emulator_factory: CleoFactory) -> None:
    emulator = cleo_emulator_factory(pickup_delay=30)
    api = Api(emulator)
    deleted = api.upload(OUT, "deleted.x12", acme_810(control=24)).json()
    moved = api.upload(OUT, "moved.x12", acme_810(control=25)).json()
    assert api.call("DELETE", deleted["_links"]["self"]["href"]).status_code == 204
    archive = api.folder("acme-retail/archive")["_links"]["self"]["href"]
    assert api.call("POST", moved["_links"]["move"]["href"], json={"folder": {"href": archive}}).status_code == 200
    emulator.advance(31)
    assert emulator.partner_received() == [] and acks_in(api) == []
    assert emulator.files_in("acme-retail/archive") == {"moved.x12": acme_810(control=25)}
    assert emulator.pickup.counts.consumed == 0


def test_our_acknowledgments_are_taken_at_receipt_and_never_answered(cleo_emulator_factory: CleoFactory) -> None:
    emulator = cleo_emulator_factory(pickup_delay=30)
    api = Api(emulator)
    api.upload(OUT, "997_ours.x12", our_997(26))
    assert emulator.acknowledgments_received == []
    emulator.advance(30)
    (taken,) = emulator.acknowledgments_received
    assert taken.file_name == "997_ours.x12" and taken.kind == "997"
    assert acks_in(api) == [] and emulator.ack_records == []
    assert [r.isa13 for r in emulator.partner_received()] == ["000000026"]


def test_misrouted_usage_mismatched_and_unreadable_files_are_counted(cleo_emulator: CleoEmulator) -> None:
    api = Api(cleo_emulator)
    api.upload("bolt/outbound", "to-acme.x12", acme_810(control=27))  # ISA08 is Acme's, not Bolt's
    assert acks_in(api, "bolt/inbound") == []  # a partner does not acknowledge someone else's interchange
    production = acme_810(control=28).replace(b"*0*T*>~", b"*0*P*>~")
    assert production != acme_810(control=28)
    api.upload(OUT, "prod.x12", production)
    assert len(acks_in(api)) == 1  # counted, not refused
    api.upload(OUT, "junk.x12", b"hello")
    counts = cleo_emulator.pickup.counts
    assert (counts.misrouted, counts.usage_mismatch, counts.unparseable, counts.received) == (1, 1, 1, 3)
    assert [r.isa13 for r in cleo_emulator.partner_received()] == ["000000027", "000000028", ""]


def test_control_endpoints_list_receipts_and_run_the_pickup(cleo_emulator_factory: CleoFactory) -> None:
    emulator = cleo_emulator_factory(pickup_delay=30)
    emulator.pickup.stop()  # no background ticker: this test decides when pick-up runs
    api = Api(emulator)
    api.upload(OUT, "c.x12", acme_810(control=29))
    assert requests.post(f"{emulator.url}/_sandbox/pickup", timeout=5).json() == {"picked_up": 0}
    emulator.clock.advance(30)
    assert requests.post(f"{emulator.url}/_sandbox/pickup", timeout=5).json() == {"picked_up": 1}
    assert requests.post(f"{emulator.url}/_sandbox/pickup", timeout=5).json() == {"picked_up": 0}
    body = requests.get(f"{emulator.url}/_sandbox/received", timeout=5).json()
    (entry,) = body["interchanges"]
    assert entry["file_name"] == "c.x12" and entry["isa13"] == "000000029" and entry["at"].endswith("Z")
    assert entry["size"] == len(acme_810(control=29)) and "content" not in entry
    assert body["counts"]["received"] == 1 and body["counts"]["consumed"] == 1
    assert body["counts"]["duplicate_isa13"] == 0


def test_uploads_are_consumed_in_the_background_when_nobody_calls(cleo_emulator_factory: CleoFactory) -> None:
    emulator = cleo_emulator_factory(pickup_delay=0.2)
    api = Api(emulator)
    api.upload(OUT, "idle.x12", acme_810(control=30))
    deadline = time.monotonic() + 5
    while emulator.files_in(OUT) and time.monotonic() < deadline:  # in-process reads trigger no pick-up
        time.sleep(0.05)
    assert emulator.files_in(OUT) == {} and len(emulator.partner_received()) == 1


def test_a_negative_delay_is_refused() -> None:
    try:
        CleoEmulator(pickup_delay=-1)
    except ValueError as exc:
        assert "pickup_delay" in str(exc)
    else:
        raise AssertionError("a negative pickup_delay was accepted")

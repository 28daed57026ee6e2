"""Quarantine ledger rules: one entry per input version, dismissed stays dismissed, retries and resolutions."""

from __future__ import annotations

import pytest

from freshcleo_pipeline.ledger import Ledger, quarantine


def _put(ledger: Ledger, digest: str = "d1", reason: str = "field updated = 'yesterday'", **extra: object) -> int:
    with ledger.begin() as conn:
        return quarantine.put(conn, stage="extract", item_key="freshbooks:invoice:42", digest=digest,
                              kind="invoice", reason_code="bad_field", reason=reason, reference="42",
                              field="updated", value="yesterday", raw=b'{"id": 42}', **extra).id  # type: ignore[arg-type]


def test_the_same_bad_input_seen_again_is_one_entry_counted_twice(ledger: Ledger) -> None:
    first = _put(ledger)
    again = _put(ledger, reason="field updated = 'yesterday' (seen again)")
    with ledger.begin() as conn:
        entry = quarantine.get(conn, first)
        assert quarantine.raw_of(conn, first) == b'{"id": 42}'
    assert again == first
    assert entry is not None and entry.occurrences == 2 and entry.state == "open"
    assert entry.reason.endswith("(seen again)") and entry.field == "updated" and entry.value == "yesterday"


def test_a_dismissed_input_stays_dismissed_but_a_new_version_opens_a_new_entry(ledger: Ledger) -> None:
    first = _put(ledger)
    with ledger.begin() as conn:
        quarantine.dismiss(conn, first, "test record, deleted in FreshBooks next month")
    assert _put(ledger) == first
    second = _put(ledger, digest="d2")
    with ledger.begin() as conn:
        old, new = quarantine.get(conn, first), quarantine.get(conn, second)
        waiting = quarantine.entries(conn)
    assert old is not None and old.state == "dismissed" and old.occurrences == 2
    assert new is not None and new.state == "open" and [e.id for e in waiting] == [second]


def test_a_later_good_version_resolves_every_pending_entry_of_the_item(ledger: Ledger) -> None:
    first, second = _put(ledger), _put(ledger, digest="d2")
    with ledger.begin() as conn:
        quarantine.request_retry(conn, first)
        assert quarantine.resolve(conn, ["freshbooks:invoice:42"], "processed: version abc") == 2
        assert quarantine.counts(conn) == {}
        entry = quarantine.get(conn, second)
    assert entry is not None and entry.state == "resolved" and entry.resolution == "processed: version abc"


def test_a_retry_that_fails_again_opens_the_entry_again(ledger: Ledger) -> None:
    first = _put(ledger)
    with ledger.begin() as conn:
        assert quarantine.request_retry(conn, first).state == "retrying"
        assert [e.id for e in quarantine.retrying(conn, "extract")] == [first]
    _put(ledger)
    with ledger.begin() as conn:
        entry = quarantine.get(conn, first)
    assert entry is not None and entry.state == "open" and entry.occurrences == 2


def test_oversized_raw_input_keeps_its_size_not_its_bytes(ledger: Ledger) -> None:
    big = b"x" * (quarantine.MAX_RAW_BYTES + 1)
    with ledger.begin() as conn:
        entry = quarantine.put(conn, stage="inbound", item_key="cleo:/in/big.x12", digest="size:1", kind="file",
                               reason_code="over_size_cap", reason="over the cap", raw=big)
        assert quarantine.raw_of(conn, entry.id) is None
    assert entry.raw_size == len(big)


def test_person_decisions_name_what_is_wrong(ledger: Ledger) -> None:
    first = _put(ledger)
    with ledger.begin() as conn, pytest.raises(ValueError, match="reason"):
        quarantine.dismiss(conn, first, "  ")
    with ledger.begin() as conn, pytest.raises(ValueError, match="no such entry"):
        quarantine.request_retry(conn, 999)
    with ledger.begin() as conn:
        quarantine.resolve(conn, ["freshbooks:invoice:42"], "processed")
    with ledger.begin() as conn, pytest.raises(ValueError, match="already resolved"):
        quarantine.request_retry(conn, first)

"""What a partner's folder holds after a delivered payment changes or is deleted, under each ``payment_changes``
policy: ``reverse_and_resend`` sends a reversal (BPR03 D, negative RMR04, its own trace, REF*TN naming the first
trace) and, for a change, the new version under a trace of its own; ``flag`` sends nothing and opens a review
entry with the diff; ``ignore`` sends nothing. In every case the signed 820s of one payment add up to what
FreshBooks says now and no trace number is used twice."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections import defaultdict
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import dagster as dg
import yaml
from sqlalchemy import select

from freshcleo_pipeline.ledger import quarantine
from freshcleo_pipeline.ledger.schema import outbox
from freshcleo_pipeline.partners import load_partners
from freshcleo_pipeline.sync.trace import trace
from freshcleo_pipeline.x12.tokens import tokenize
from freshcleo_pipeline_tests.fixtures.pipeline import SandboxEnv


def _with_policies(env: SandboxEnv, folder: Path, policies: dict[str, dict[str, Any]]) -> SandboxEnv:
    """The same sandbox with partners.yaml changed for these partners."""
    raw = yaml.safe_load(env.settings.resolved_partners_file().read_text(encoding="utf-8"))
    for partner in raw["partners"]:
        partner.update(policies.get(partner["id"], {}))
    path = folder / "partners.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    settings = env.settings.model_copy(update={"partners_file": path})
    return dataclasses.replace(env, settings=settings, partners=load_partners(path))


@dataclasses.dataclass(frozen=True)
class Read820:
    trace: str  # TRN02
    corrects: str  # REF*TN, "" on a first 820
    amount: Decimal  # BPR02 signed by BPR03 (D negative)
    items: tuple[Decimal, ...]  # RMR04


def _read_820s(env: SandboxEnv, partner_id: str) -> list[Read820]:
    folder = env.partners.get(partner_id).cleo.outbound
    out: list[Read820] = []
    for name, content in sorted(env.cleo.files_in(folder).items()):
        if "820" not in name:
            continue
        current: dict[str, Any] = {}
        for segment in tokenize(content.decode()).segments:
            e = segment.elements
            if segment.tag == "ST":
                current = {"trace": "", "corrects": "", "amount": Decimal(0), "items": []}
            elif segment.tag == "BPR":
                current["amount"] = Decimal(e[1]) * (-1 if e[2] == "D" else 1)
            elif segment.tag == "TRN":
                current["trace"] = e[1]
            elif segment.tag == "REF" and e[0] == "TN":
                current["corrects"] = e[1]
            elif segment.tag == "RMR":
                current["items"].append(Decimal(e[3]))
            elif segment.tag == "SE":
                out.append(Read820(current["trace"], current["corrects"], current["amount"],
                                   tuple(current["items"])))
    return out


def _as_payments(sets: list[Read820]) -> dict[str, Decimal]:
    """What a receiver that follows REF*TN concludes: payment (first trace) → amount, summed over its 820s."""
    net: dict[str, Decimal] = defaultdict(Decimal)
    for s in sets:
        net[s.corrects or s.trace] += s.amount
    return dict(net)


def _delivered_payments(env: SandboxEnv, partner: str, count: int) -> list[tuple[str, str, Decimal]]:
    """(FreshBooks id, trace, amount) of payments delivered to the partner, each one paying one invoice once."""
    with env.ledger.begin() as conn:
        rows = conn.execute(select(outbox.c.source_id, outbox.c.reference, outbox.c.total).where(
            outbox.c.partner_id == partner, outbox.c.kind == "payment", outbox.c.state == "delivered",
            outbox.c.purpose == "original").order_by(outbox.c.id)).all()
    assert len(rows) >= count, f"the sandbox delivered only {len(rows)} payments to {partner}"
    return [(str(r.source_id), str(r.reference), Decimal(r.total)) for r in rows[:count]]


def _sync_sandbox(sandbox_env: Callable[..., SandboxEnv], tmp_path: Path, instance: dg.DagsterInstance,
                  policies: dict[str, dict[str, Any]]) -> tuple[SandboxEnv, dt.date]:
    env = _with_policies(sandbox_env(freshbooks={"seed": 8, "invoices": 80, "days": 4}), tmp_path, policies)
    today = env.freshbooks.now().date()
    result = env.sync(today - dt.timedelta(days=4), today, instance)
    assert result.success
    return env, today


def test_reverse_and_resend_reads_as_one_payment_per_freshbooks_payment(
    sandbox_env: Callable[..., SandboxEnv], dagster_instance: dg.DagsterInstance, tmp_path: Path
) -> None:
    env, today = _sync_sandbox(sandbox_env, tmp_path, dagster_instance,
                               {"acme-retail": {"payment_changes": "reverse_and_resend"}})
    before = _read_820s(env, "acme-retail")
    (changed, changed_trace, old_amount), (deleted, deleted_trace, deleted_amount) = _delivered_payments(
        env, "acme-retail", 2)
    assert _as_payments(before)[changed_trace] == old_amount
    new_amount = old_amount + Decimal("1.00")
    env.freshbooks.update_payment(int(changed), amount={"amount": str(new_amount)})
    env.freshbooks.delete_payment(int(deleted))

    assert env.sync(today, today, dagster_instance).success
    after = _read_820s(env, "acme-retail")
    added = [s for s in after if s not in before]
    assert sorted((s.trace, s.corrects, s.amount, s.items) for s in added) == sorted([
        (f"{changed_trace}R1", changed_trace, -old_amount, (-old_amount,)),  # reversal of what was delivered
        (f"{changed_trace}C1", changed_trace, new_amount, (new_amount,)),  # the new version, its own trace
        (f"{deleted_trace}R1", deleted_trace, -deleted_amount, (-deleted_amount,)),  # reversal only
    ])
    # The reversal comes before the resend (same file, lower ST02 or an earlier file).
    order = [s.trace for s in after]
    assert order.index(f"{changed_trace}R1") < order.index(f"{changed_trace}C1")
    # What the partner reads: the changed payment once at its new amount, the deleted one at zero, and no
    # trace number twice (a receiver that drops duplicate traces loses nothing).
    payments = _as_payments(after)
    assert payments[changed_trace] == new_amount and payments[deleted_trace] == 0
    assert len({s.trace for s in after}) == len(after)
    for s in after:  # each 820 is internally consistent: BPR02 (signed by BPR03) = Σ RMR04
        assert not s.items or s.amount == sum(s.items)

    # A second change of the same payment reverses the resend, then sends again; a rerun adds nothing.
    third_amount = old_amount + Decimal("2.00")
    env.freshbooks.update_payment(int(changed), amount={"amount": str(third_amount)})
    assert env.sync(today, today, dagster_instance).success
    again = [s for s in _read_820s(env, "acme-retail") if s not in after]
    assert sorted((s.trace, s.amount) for s in again) == sorted([
        (f"{changed_trace}R2", -new_amount), (f"{changed_trace}C2", third_amount)])
    assert _as_payments(_read_820s(env, "acme-retail"))[changed_trace] == third_amount
    files = env.outbound_files()
    assert env.sync(today, today, dagster_instance).success
    assert env.outbound_files() == files


def test_flag_sends_nothing_and_asks_a_person_and_ignore_only_records(
    sandbox_env: Callable[..., SandboxEnv], dagster_instance: dg.DagsterInstance, tmp_path: Path
) -> None:
    # northwind-grocers keeps the default policy (flag); acme-retail ignores payment changes.
    env, today = _sync_sandbox(sandbox_env, tmp_path, dagster_instance,
                               {"acme-retail": {"payment_changes": "ignore"}})
    assert env.partners.get("northwind-grocers").payment_changes.value == "flag"
    [(flagged, flagged_trace, amount), (flag_deleted, _, _)] = _delivered_payments(env, "northwind-grocers", 2)
    [(ignored, _, ignored_amount), (ignore_deleted, _, _)] = _delivered_payments(env, "acme-retail", 2)
    files = {p: _read_820s(env, p) for p in ("acme-retail", "northwind-grocers")}
    env.freshbooks.update_payment(int(flagged), amount={"amount": str(amount + 1)})
    env.freshbooks.delete_payment(int(flag_deleted))
    env.freshbooks.update_payment(int(ignored), amount={"amount": str(ignored_amount + 1)})
    env.freshbooks.delete_payment(int(ignore_deleted))

    assert env.sync(today, today, dagster_instance).success
    assert {p: _read_820s(env, p) for p in files} == files  # not one 820 more

    with env.ledger.begin() as conn:
        review = quarantine.entries(conn, stage="review")
    by_item = {e.item_key: e for e in review}
    entry = by_item[f"outbound:northwind-grocers:payment:{flagged}"]
    assert entry.state == quarantine.OPEN and entry.reason_code == "payment_changed"
    assert entry.reference == flagged_trace and entry.partner_id == "northwind-grocers"
    assert [Decimal(str(v)) for v in entry.detail["diff"]["amount"]] == [amount, amount + 1]
    assert by_item[f"outbound:northwind-grocers:payment:{flag_deleted}"].reason_code == "payment_deleted"
    assert not any(key.startswith("outbound:acme-retail:") for key in by_item)  # ignore asks nobody
    # The payment's own life shows the change waiting for a person.
    life = "\n".join(trace(env.ledger, "payment", env.freshbooks.account_id, flagged).lines())
    assert f"set aside in quarantine #{entry.id} (review): payment changed" in life and "; open" in life

    reasons = [e["detail"]["reason"] for e in trace(env.ledger, "payment", env.freshbooks.account_id,
                                                    ignored).events if e["event"] == "not_sent"]
    assert len(reasons) == 1 and "policy 'ignore'" in str(reasons[0])
    # The next run finds the same change already decided: no second review entry, nothing sent.
    assert env.sync(today, today, dagster_instance).success
    with env.ledger.begin() as conn:
        assert len(quarantine.entries(conn, stage="review")) == len(review)
    assert {p: _read_820s(env, p) for p in files} == files

    # A person approves both (quarantine retry): the next run sends the corrections, once.
    with env.ledger.begin() as conn:
        for e in review:
            quarantine.request_retry(conn, e.id)
    assert env.sync(today, today, dagster_instance).success
    northwind = _read_820s(env, "northwind-grocers")
    added = [s for s in northwind if s not in files["northwind-grocers"]]
    deleted_trace = next(t for s, t, _ in _delivered_payments(env, "northwind-grocers", 2) if s == flag_deleted)
    assert sorted((s.trace, s.amount) for s in added) == sorted([
        (f"{flagged_trace}R1", -amount), (f"{flagged_trace}C1", amount + 1), (f"{deleted_trace}R1", -_sent(
            env, flag_deleted))])
    payments = _as_payments(northwind)
    assert payments[flagged_trace] == amount + 1 and payments[deleted_trace] == 0
    with env.ledger.begin() as conn:
        assert quarantine.entries(conn, stage="review") == []
    files_now = env.outbound_files()
    assert env.sync(today, today, dagster_instance).success
    assert env.outbound_files() == files_now


def _sent(env: SandboxEnv, source_id: str) -> Decimal:
    with env.ledger.begin() as conn:
        return Decimal(conn.execute(select(outbox.c.total).where(
            outbox.c.source_id == source_id, outbox.c.kind == "payment", outbox.c.purpose == "original")
        ).scalar_one())


def test_bill_payment_paid_three_days_ago_and_its_edit_go_out_with_todays_sync(
    sandbox_env: Callable[..., SandboxEnv], dagster_instance: dg.DagsterInstance, tmp_path: Path
) -> None:
    # Bill payments have no update time: today's poll lists them by paid date over the look-back window and files
    # each version it has not seen under today. bolt-fasteners corrects delivered payments (reverse_and_resend).
    env, today = _sync_sandbox(sandbox_env, tmp_path, dagster_instance, {})
    with env.ledger.begin() as conn:
        row = conn.execute(select(outbox.c.source_id, outbox.c.reference, outbox.c.total).where(
            outbox.c.partner_id == "bolt-fasteners", outbox.c.kind == "bill_payment",
            outbox.c.state == "delivered").order_by(outbox.c.id).limit(1)).one()
    paid = env.freshbooks.get("bill_payments", int(row.source_id))
    assert paid is not None
    three_days_ago = today - dt.timedelta(days=3)
    before = _read_820s(env, "bolt-fasteners")
    # The payment is moved to three days ago and its amount corrected, as a bookkeeper fixes a typo.
    new_amount = Decimal(row.total) - Decimal("1.00")
    env.freshbooks.update_bill_payment(int(row.source_id), paid_date=three_days_ago.isoformat(),
                                       amount={"amount": str(new_amount)})

    assert env.sync(today, today, dagster_instance).success  # today's partition only
    added = [s for s in _read_820s(env, "bolt-fasteners") if s not in before]
    assert sorted((s.trace, s.amount) for s in added) == sorted([
        (f"{row.reference}R1", -Decimal(row.total)), (f"{row.reference}C1", new_amount)])
    # A rerun, and a backfill over the days it was paid in, send nothing more.
    files = env.outbound_files()
    assert env.sync(three_days_ago, today, dagster_instance).success
    assert env.outbound_files() == files


def test_a_backfill_of_past_days_sends_the_bill_payments_paid_in_them(
    sandbox_env: Callable[..., SandboxEnv], dagster_instance: dg.DagsterInstance
) -> None:
    # A first installation backfills history: bill payments paid in those days (most older than any look-back of
    # a daily poll) are filed under their paid date and sent, each once.
    env = sandbox_env(freshbooks={"seed": 5, "invoices": 60, "days": 6})
    today = env.freshbooks.now().date()
    first, last = today - dt.timedelta(days=6), today - dt.timedelta(days=2)
    assert env.sync(first, last, dagster_instance).success
    with env.ledger.begin() as conn:
        sent = conn.execute(select(outbox.c.source_id, outbox.c.partition_date).where(
            outbox.c.kind == "bill_payment", outbox.c.state == "delivered")).all()
    assert sent and all(first <= r.partition_date <= last for r in sent)
    for r in sent:
        paid = env.freshbooks.get("bill_payments", int(r.source_id))
        assert paid is not None and paid["paid_date"] == r.partition_date.isoformat()
    files = env.outbound_files()
    assert env.sync(first, today, dagster_instance).success  # today's poll finds those versions already held
    assert {n: c for n, c in env.outbound_files().items() if n in files} == files
    with env.ledger.begin() as conn:
        again = conn.execute(select(outbox.c.source_id).where(outbox.c.kind == "bill_payment")).scalars().all()
    assert len(again) == len(set(again))

"""Each interchange is validated once, when it is rendered: the blocking check and the reconciliation read its
stored verdict, but only for the very content it was found in; anything else is validated and read again."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import dagster as dg
from sqlalchemy import delete, update

from freshcleo_pipeline.defs.edi import interchange_problems
from freshcleo_pipeline.ledger import outbox
from freshcleo_pipeline.ledger.schema import interchange_verdicts, interchanges
from freshcleo_pipeline.sync.reconcile import reconcile, set_amounts
from freshcleo_pipeline.x12.tokens import tokenize
from freshcleo_pipeline_tests.fixtures.pipeline import SandboxEnv


def _evaluation(result: dg.ExecuteJobResult, name: str) -> dg.AssetCheckEvaluation:
    [found] = [e for e in result.get_asset_check_evaluations() if e.check_name == name]
    return found


def test_the_check_reads_the_verdict_and_validates_again_content_that_no_longer_matches_it(
    sandbox_env: Callable[..., SandboxEnv], dagster_instance: dg.DagsterInstance
) -> None:
    env = sandbox_env(freshbooks={"seed": 8, "invoices": 30, "days": 1})
    today = env.freshbooks.now().date()
    result = env.sync(today - dt.timedelta(days=1), today, dagster_instance)
    assert result.success
    check = _evaluation(result, "edi_interchanges_are_valid")
    assert check.passed
    assert check.metadata["validated_again"].value == 0
    assert check.metadata["interchanges_checked"].value >= 2

    run_id = result.run_id
    with env.ledger.begin() as conn:
        files = outbox.interchanges_of_run(conn, run_id)
        verdicts = outbox.verdicts_of_run(conn, run_id)
    assert set(verdicts) == {f.file_name for f in files}
    for file in files:
        # What render recorded is what reading the text again gives.
        assert verdicts[file.file_name].set_amounts == {k: str(v) for k, v in set_amounts(file.content).items()}
        assert verdicts[file.file_name].first_error is None

    # The stored text changed behind the verdict's back (its sha256 column left as it was): SE01 no longer counts
    # the set's segments. The check must not trust the verdict, validates the text again, and fails.
    tampered, untouched = files[0], files[1]
    delimiters = tokenize(tampered.content).delimiters
    trailer = f"{delimiters.segment}SE{delimiters.element}"
    assert trailer in tampered.content
    with env.ledger.begin() as conn:
        conn.execute(update(interchanges).where(interchanges.c.file_name == tampered.file_name)
                     .values(content=tampered.content.replace(trailer, f"{trailer}9", 1)))
        # A file stored without a verdict (before verdicts were kept) is validated as it always was.
        conn.execute(delete(interchange_verdicts).where(interchange_verdicts.c.interchange_id.in_(
            [i for (i,) in conn.execute(interchanges.select().with_only_columns(interchanges.c.id)
                                        .where(interchanges.c.file_name == untouched.file_name))])))

    found = interchange_problems(env.ledger, run_id, env.partners)
    assert found.checked == len(files)
    assert found.validated_again == 2
    assert len(found.problems) == 1 and found.problems[0].startswith(f"{tampered.file_name}: ")
    assert "SE" in found.problems[0]


def test_reconciliation_reads_the_amounts_stored_at_render_and_reads_the_text_when_they_do_not_match(
    sandbox_env: Callable[..., SandboxEnv], dagster_instance: dg.DagsterInstance
) -> None:
    env = sandbox_env(freshbooks={"seed": 8, "invoices": 30, "days": 1})
    today = env.freshbooks.now().date()
    days = [today - dt.timedelta(days=1), today]
    result = env.sync(days[0], days[1], dagster_instance)
    assert result.success and _evaluation(result, "deliveries_reconcile_with_freshbooks").passed
    account_id = env.freshbooks.account_id
    before = reconcile(env.ledger, days, account_id)
    assert before.passed and before.delivered > 0

    # A verdict whose digest is not the file's is not read: the amounts come from the text, and still agree.
    with env.ledger.begin() as conn:
        conn.execute(update(interchange_verdicts).values(sha256="0" * 64, set_amounts='{"0001":"1"}'))
    after = reconcile(env.ledger, days, account_id)
    assert after.passed and after.totals == before.totals

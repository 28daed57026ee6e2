"""The validator's quick acceptance never hides a finding: whenever it accepts, the detailed walk finds nothing.

Mutations of valid interchanges (golden files, and renders of generated documents under every delimiter set,
character set and version) are the inputs: a changed, deleted or inserted character, a dropped, doubled or
moved segment. Valid inputs must also be accepted quickly, or the quick path is not doing its job.
"""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from freshcleo_pipeline.documents import Line, Tax
from freshcleo_pipeline.x12 import Charset, Delimiters, render_interchange, validate_interchange
from freshcleo_pipeline.x12.tokens import read_delimiters
from freshcleo_pipeline.x12.validator import detailed_findings, quickly_clean
from freshcleo_pipeline_tests.x12.samples import DATE, TIME, envelope, invoice, purchase_order, remittance

GOLDEN = Path(__file__).parent / "golden"
DELIMITER_SETS = [Delimiters(), Delimiters("|", ":", "^", "\n"), Delimiters("!", "\\", "{", "'"),
                  Delimiters("^", "<", "}", "~")]


def rendered(delimiters: Delimiters, charset: Charset, version: str, lines: int) -> str:
    items = tuple(Line(line_number=n, name=f"Widget {n} blue", description="10 cm, boxed", quantity=Decimal(3),
                       unit_price=Decimal("12.50"), amount=Decimal("37.50"), sku=f"WA-{n}",
                       taxes=(Tax(name="Sales tax", percent=Decimal(8), amount=Decimal("3.00")),))
                  for n in range(1, lines + 1))
    doc = invoice(lines=items, tax_total=Decimal("3.00") * lines, total=Decimal("40.50") * lines,
                  discount_amount=Decimal(0), discount_percent=Decimal(0))
    env = envelope(delimiters=delimiters, charset=charset, version=version)
    return render_interchange([doc, doc], env, interchange_control_number=7, group_control_number=3,
                              set_control_numbers=[1, 2], date=DATE, time=TIME).text


def valid_samples() -> list[tuple[str, Charset]]:
    out = [(path.read_text().replace("\n", ""), charset)
           for path in sorted(GOLDEN.glob("*.edi")) for charset in Charset]
    for delimiters in DELIMITER_SETS:
        for charset in Charset:
            for version in ("004010", "005010"):
                out.append((rendered(delimiters, charset, version, 3), charset))
    for doc in (purchase_order(), remittance()):
        out.append((render_interchange([doc], envelope(), interchange_control_number=9, group_control_number=9,
                                       set_control_numbers=[5], date=dt.date(2024, 2, 29), time=TIME).text,
                    Charset.BASIC))
    return out


SAMPLES = valid_samples()
ALPHABET = "*~>^|:!\\{}'<\n\r -.0123456789AZaz\u00e9"


def mutate(text: str, term: str, rng: random.Random) -> str:
    segments = text.split(term)
    kind = rng.randrange(6)
    if kind == 0:  # change one character
        i = rng.randrange(len(text))
        return text[:i] + rng.choice(ALPHABET) + text[i + 1:]
    if kind == 1:  # delete one
        i = rng.randrange(len(text))
        return text[:i] + text[i + 1:]
    if kind == 2:  # insert one
        i = rng.randrange(len(text) + 1)
        return text[:i] + rng.choice(ALPHABET) + text[i:]
    i = rng.randrange(1, max(2, len(segments) - 1))
    if kind == 3:  # drop a segment
        return term.join(segments[:i] + segments[i + 1:])
    if kind == 4:  # double a segment
        return term.join(segments[:i + 1] + segments[i:])
    j = rng.randrange(1, max(2, len(segments) - 1))  # move a segment
    moved = segments[:i] + segments[i + 1:]
    return term.join([*moved[:j], segments[i], *moved[j:]])


@pytest.mark.parametrize(("text", "charset"), SAMPLES, ids=[f"sample{i}" for i in range(len(SAMPLES))])
def test_valid_interchanges_are_accepted_quickly(text: str, charset: Charset) -> None:
    if detailed_findings(text, charset):
        pytest.skip("not valid under this character set")
    assert quickly_clean(text, charset)


def test_every_quick_acceptance_of_a_mutation_is_confirmed_by_the_detailed_walk() -> None:
    rng = random.Random(16)
    accepted = rejected = 0
    for _ in range(6000):
        text, charset = rng.choice(SAMPLES)
        term = read_delimiters(text)[0].segment
        mutated = mutate(text, term, rng)
        for _ in range(rng.randrange(2)):
            mutated = mutate(mutated, term, rng)
        detailed = detailed_findings(mutated, charset)
        if quickly_clean(mutated, charset):
            accepted += 1
            assert detailed == [], (mutated, detailed)
        else:
            rejected += 1
        assert validate_interchange(mutated, charset=charset) == detailed
    assert accepted and rejected  # both paths were exercised


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(SAMPLES), st.integers(0, 10**6), st.text(alphabet=ALPHABET, min_size=1, max_size=3))
def test_inserted_text_anywhere_never_slips_through(sample: tuple[str, Charset], where: int, extra: str) -> None:
    text, charset = sample
    i = where % (len(text) + 1)
    mutated = text[:i] + extra + text[i:]
    if quickly_clean(mutated, charset):
        assert detailed_findings(mutated, charset) == []

"""``freshcleo edi validate`` and ``freshcleo edi render`` through click's runner."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from freshcleo_pipeline.commands.edi import edi
from freshcleo_pipeline.x12 import validate_interchange

GOLDEN = Path(__file__).parent / "golden"
ROOT = Path(__file__).parents[2]


def test_validate_valid_and_broken_files(tmp_path: Path) -> None:
    good = GOLDEN / "810_invoice_0000412.edi"
    bad = tmp_path / "bad.edi"
    bad.write_text(good.read_text().replace("SE*16*0001", "SE*15*0001"))
    runner = CliRunner()
    ok = runner.invoke(edi, ["validate", str(good)])
    assert ok.exit_code == 0 and "valid" in ok.output
    result = runner.invoke(edi, ["validate", str(good), str(bad)])
    assert result.exit_code == 1
    assert "count_mismatch" in result.output and "SE01 says 15" in result.output


def test_render_invoice_from_freshbooks_json(monkeypatch: pytest.MonkeyPatch) -> None:
    from freshcleo_pipeline.settings import get_settings

    monkeypatch.setenv("FRESHCLEO_PARTNERS_FILE", str(ROOT / "freshcleo_pipeline/sandbox/data/partners.yaml"))
    if hasattr(get_settings, "cache_clear"):
        get_settings.cache_clear()
    source = ROOT / "freshcleo_pipeline_tests/freshbooks/data/invoice_31008.json"
    result = CliRunner().invoke(edi, ["render", "--kind", "invoice", "--input", str(source),
                                      "--partner", "acme-retail", "--control-number", "42"])
    assert result.exit_code == 0, result.output
    text = next(line for line in result.output.splitlines() if line.startswith("ISA"))
    assert validate_interchange(text, charset="basic") == []
    assert "*000000042*" in text and "ST*810*0042~" in text and "TDS*13950~" in text

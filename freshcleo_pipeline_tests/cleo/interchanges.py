"""Hand-made 4010 interchanges for the Cleo tests (the product's X12 writer is not used on purpose).

``data/acme_810.x12`` is one 810 from Harbor Supply Co. to Acme Retail Stores, one segment per line for
reading; its ISA is 106 characters with every field at its fixed width (checked in ``test_interchanges``).
"""

from __future__ import annotations

from pathlib import Path

DATA = Path(__file__).parent / "data" / "acme_810.x12"


def acme_810(*, control: int = 17, se_count: int | None = None, iea02: str | None = None) -> bytes:
    """The sample with ISA13/IEA02 and GS06/GE02 set to ``control``; optionally a wrong SE01 or IEA02."""
    text = "".join(DATA.read_text(encoding="ascii").splitlines())
    text = text.replace("*000000017*", f"*{control:09d}*").replace("IEA*1*000000017~", f"IEA*1*{control:09d}~")
    text = text.replace("*1602*17*X*", f"*1602*{control}*X*").replace("GE*1*17~", f"GE*1*{control}~")
    if se_count is not None:
        text = text.replace("SE*7*0001~", f"SE*{se_count}*0001~")
    if iea02 is not None:
        text = text.replace(f"IEA*1*{control:09d}~", f"IEA*1*{iea02}~")
    return text.encode("ascii")


def segments(content: bytes) -> list[list[str]]:
    """Split an interchange by the delimiters its ISA declares (a reader for assertions, not a validator)."""
    text = content.decode("ascii")
    element, terminator = text[3], text[105]
    return [s.strip().split(element) for s in text.split(terminator) if s.strip()]

"""The result of one connectivity check, shared by ``freshcleo ping`` and the services' health views."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Check:
    """One line of ``freshcleo ping``: what was checked, whether it passed, why not and how to fix it."""

    name: str
    ok: bool
    detail: str = ""
    fix: str = ""

    def line(self) -> str:
        mark = "ok  " if self.ok else "FAIL"
        text = f"{mark} {self.name}"
        if self.detail:
            text += f": {self.detail}"
        if not self.ok and self.fix:
            text += f" (fix: {self.fix})"
        return text

"""What the Cleo emulator needs to know of partners.yaml, read with its own small parser.

Owns the emulator's view of the trading partners: each partner's id, role, EDI identity, delimiters, the
acknowledgment its translator answers with (997, or 999 for 5010 partners), the ISA15 usage it expects, its
outbound / inbound / archive folder names and the FreshBooks names it goes by (``match.organizations``), plus
the company's own EDI identity. Deliberately does not use the product's ``freshcleo_pipeline.partners``: the
emulator plays the partners' side and must not share the client's reading of the file.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml


@dataclass(frozen=True)
class Identity:
    """How a party appears in an envelope: ISA qualifier and id, GS application code."""

    qualifier: str
    isa_id: str
    gs_id: str


@dataclass(frozen=True)
class SandboxPartner:
    id: str
    role: str  # customer | supplier
    identity: Identity
    version: str  # GS08, e.g. 004010
    element: str
    component: str
    repetition: str
    segment: str
    outbound: str
    inbound: str
    archive: str
    acknowledgment: str = "997"  # what this partner answers our groups with: 997 | 999
    usage: str = ""  # the ISA15 it expects (T | P); "" = either
    name: str = ""
    organizations: tuple[str, ...] = ()  # the FreshBooks organization / vendor names that are this partner


@dataclass(frozen=True)
class SandboxConfig:
    company: Identity
    partners: tuple[SandboxPartner, ...]

    def partner(self, partner_id: str) -> SandboxPartner:
        for partner in self.partners:
            if partner.id == partner_id:
                return partner
        raise KeyError(f"partner id: got {partner_id!r}; expected one of {[p.id for p in self.partners]}")


def _identity(raw: Any, where: str) -> Identity:
    if not isinstance(raw, dict) or not raw.get("isa_id"):
        raise ValueError(f"{where}.edi: got {raw!r}; expected a mapping with isa_id")
    isa_id = str(raw["isa_id"])
    return Identity(str(raw.get("isa_qualifier", "ZZ")), isa_id, str(raw.get("gs_id") or isa_id.strip()))


def _acknowledgment(entry: dict[str, Any], where: str) -> str:
    """The acknowledgment this partner's translator writes: ``acknowledgment`` when it names one, else the usual
    one of its version (999 in 5010, 997 before)."""
    named = str(entry.get("acknowledgment", "")).strip()
    if named in ("997", "999"):
        return named
    if named not in ("", "none"):
        raise ValueError(f"{where}.acknowledgment: got {named!r}; expected 997, 999 or none")
    return "999" if str(entry.get("x12_version", "004010")).startswith("005") else "997"


def _organizations(entry: dict[str, Any]) -> tuple[str, ...]:
    match = entry.get("match")
    named = match.get("organizations") if isinstance(match, dict) else None
    if isinstance(named, list) and named:
        return tuple(str(n) for n in named)
    return (str(entry["name"]),) if entry.get("name") else ()


def load_config(path: Path) -> SandboxConfig:
    """Read partners.yaml; a malformed file raises ``ValueError`` naming the entry and the field."""
    raw = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    if not isinstance(raw, dict):
        raise ValueError(f"{path}: got {type(raw).__name__}; expected a mapping with company and partners")
    company = _identity((raw.get("company") or {}).get("edi"), "company")
    partners: list[SandboxPartner] = []
    for index, entry in enumerate(raw.get("partners") or []):
        where = f"partners[{entry.get('id', index) if isinstance(entry, dict) else index}]"
        if not isinstance(entry, dict) or not entry.get("id"):
            raise ValueError(f"{where}: got {entry!r}; expected a mapping with an id")
        folders = entry.get("cleo")
        if not isinstance(folders, dict) or not folders.get("outbound") or not folders.get("inbound"):
            raise ValueError(f"{where}.cleo: got {folders!r}; expected outbound and inbound folder names")
        delimiters = entry.get("delimiters") or {}
        partners.append(SandboxPartner(
            id=str(entry["id"]),
            role=str(entry.get("role", "customer")),
            identity=_identity(entry.get("edi"), where),
            version=str(entry.get("x12_version", "004010")),
            element=str(delimiters.get("element", "*")),
            component=str(delimiters.get("component", ">")),
            repetition=str(delimiters.get("repetition", "^")),
            segment=str(delimiters.get("segment", "~")),
            outbound=str(folders["outbound"]).strip("/"),
            inbound=str(folders["inbound"]).strip("/"),
            archive=str(folders.get("archive") or "").strip("/"),
            acknowledgment=_acknowledgment(entry, where),
            usage=str(entry.get("usage", "")).strip().upper(),
            name=str(entry.get("name") or entry["id"]),
            organizations=_organizations(entry),
        ))
    return SandboxConfig(company, tuple(partners))

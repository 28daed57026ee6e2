"""Trading partners: the model of partners.yaml, its loading and validation, and routing rules.

Owns who each partner is (EDI identities, version, delimiters, character set), which FreshBooks clients or
vendors belong to it, its Cleo folders and its policies. Does no network I/O; reads one YAML file.

A customer partner receives our invoices (810) and remittances for its payments (820); a supplier partner
receives our bills as purchase orders (850) and remittances for our bill payments (820).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from freshcleo_pipeline.documents import DocumentKind
from freshcleo_pipeline.errors import PartnerConfigError

_ISA_ID = re.compile(r"^[A-Z0-9 ]{1,15}$")
_PARTNER_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,39}$")


class Role(StrEnum):
    CUSTOMER = "customer"
    SUPPLIER = "supplier"


class ChangePolicy(StrEnum):
    """What to do when a document already delivered changes in FreshBooks."""

    IGNORE = "ignore"  # record the change, send nothing
    REPLACE = "replace"  # send the new version as a replacement (BIG08 / BEG01 = 05)
    CANCEL = "cancel"  # like replace, and send a cancellation (01) when the document is deleted


class PaymentChangePolicy(StrEnum):
    """What to do when a payment (820) already delivered changes or is deleted in FreshBooks.

    Payments have a policy of their own: an 820 has no purpose code, so a second one for the same payment reads
    as a second payment. ``reverse_and_resend`` sends a reversal of what was delivered (BPR03 ``D``, negative
    RMR04, a new trace number and a REF to the reversed one) and, for a change, the new version under its own
    trace number; ``flag`` sends nothing and puts the change in front of a person; ``ignore`` records it.
    """

    REVERSE_AND_RESEND = "reverse_and_resend"
    FLAG = "flag"
    IGNORE = "ignore"


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Delimiters(_Model):
    element: str = "*"
    component: str = ">"
    repetition: str = "^"
    segment: str = "~"

    @model_validator(mode="after")
    def _distinct(self) -> Delimiters:
        chars = [self.element, self.component, self.repetition, self.segment]
        if any(len(c) != 1 for c in chars):
            raise ValueError(f"each delimiter must be exactly one character, got {chars!r}")
        if len(set(chars)) != 4:
            raise ValueError(f"delimiters must be four different characters, got {chars!r}")
        if any(c.isalnum() or c == " " for c in chars):
            raise ValueError(f"delimiters cannot be letters, digits or space, got {chars!r}")
        return self


class EdiIdentity(_Model):
    """How a party is known in the envelope: ISA05/06 (or 07/08) and GS02 (or GS03)."""

    isa_qualifier: str = "ZZ"
    isa_id: str
    gs_id: str = ""

    @field_validator("isa_qualifier")
    @classmethod
    def _qualifier(cls, value: str) -> str:
        if not re.fullmatch(r"[0-9A-Z]{2}", value):
            raise ValueError(f"ISA qualifier must be two characters such as ZZ, 01, 12; got {value!r}")
        return value

    @field_validator("isa_id")
    @classmethod
    def _isa_id(cls, value: str) -> str:
        if not _ISA_ID.match(value):
            raise ValueError(f"ISA id must be 1-15 upper-case letters, digits or spaces; got {value!r}")
        return value

    @property
    def group_id(self) -> str:
        return self.gs_id or self.isa_id.strip()


class Match(_Model):
    """Which FreshBooks clients (for a customer) or vendors (for a supplier) belong to the partner."""

    freshbooks_ids: tuple[str, ...] = ()
    organizations: tuple[str, ...] = ()
    emails: tuple[str, ...] = ()

    @field_validator("freshbooks_ids", mode="before")
    @classmethod
    def _ids(cls, value: Any) -> Any:
        if isinstance(value, list | tuple):
            return tuple(str(v) for v in value)
        return value


class Tolerance(_Model):
    """How far a partner's figures may stray from ours and still match (money per figure: unit price, line
    amount, tax, total; quantity per line). Zero means exact."""

    amount: Decimal = Field(Decimal("0.01"), ge=0)
    quantity: Decimal = Field(Decimal("0"), ge=0)


class CleoFolders(_Model):
    outbound: str
    inbound: str
    archive: str = ""


class Company(_Model):
    """Ourselves: the sender on every interchange."""

    name: str
    edi: EdiIdentity
    street: str = ""
    city: str = ""
    province: str = ""
    postal_code: str = ""
    country: str = "US"
    email: str = ""


class PartnerGuide(_Model):
    """What the partner's implementation guide asks beyond the X12 standard (all optional; none = the standard).

    ``party_ids``: FreshBooks client or vendor id, or organization name → the id the partner knows that party by
    (N104 on the counterparty's N1: BT in the 810, SE in the 850, PR/PE in the 820), qualified by
    ``party_id_qualifier`` (N103). ``ship_to``: the same keys → the partner's store or DC number (N1*ST with N104;
    the ship-to address is the client's shipping address when FreshBooks has one). ``product_ids``: FreshBooks item
    SKU, item name or line description → the partner's product id, else the FreshBooks item SKU, qualified by
    ``product_id_qualifier`` (IT106/PO106). ``requires``: elements the guide makes mandatory, as
    ``<set>:<tag>[*<qualifier>]:<element>`` (``810:N1*ST:N104``); a document without one is not sent and is set
    before a person with the element named.
    """

    credit_memo: Literal["cr_positive", "di_negative"] = "cr_positive"
    party_id_qualifier: Literal["1", "9", "91", "92", "UL", "ZZ"] = "ZZ"
    party_ids: dict[str, str] = Field(default_factory=dict)
    ship_to: dict[str, str] = Field(default_factory=dict)
    product_id_qualifier: Literal["UP", "VN", "BP", "SK", "VP"] = "VP"
    product_ids: dict[str, str] = Field(default_factory=dict)
    requires: tuple[str, ...] = ()

    @field_validator("party_ids", "ship_to", "product_ids", mode="before")
    @classmethod
    def _keys_as_text(cls, value: Any) -> Any:
        # YAML reads a FreshBooks id key (12345) as a number; the keys are text either way.
        if isinstance(value, dict):
            return {str(k): str(v) for k, v in value.items()}
        return value

    @field_validator("requires")
    @classmethod
    def _requirements(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for text in value:
            if not re.fullmatch(r"\d{3}:[A-Z][A-Z0-9]{1,2}(\*[A-Z0-9]{1,3})?:[A-Z][A-Z0-9]{1,2}\d{2}", text):
                raise ValueError(f"guide requirement {text!r}: expected <set>:<tag>[*<qualifier>]:<element>, "
                                 "e.g. 810:N1*ST:N104 or 850:PO1:PO107")
        return value


class TradingPartner(_Model):
    id: str
    name: str
    role: Role
    edi: EdiIdentity
    x12_version: Literal["004010", "005010"] = "004010"
    usage: Literal["T", "P"] = "T"  # ISA15: test or production data
    charset: Literal["basic", "extended"] = "basic"
    delimiters: Delimiters = Delimiters()
    documents: tuple[DocumentKind, ...] = ()
    match: Match = Match()
    cleo: CleoFolders
    on_change: ChangePolicy = ChangePolicy.REPLACE  # invoices (810) and bills (850)
    payment_changes: PaymentChangePolicy = PaymentChangePolicy.FLAG  # payments and bill payments (820)
    guide: PartnerGuide = PartnerGuide()
    ack_window_hours: int = Field(24, ge=1, le=24 * 14)
    # What we answer to the partner's business documents: a 997, a 999, or nothing; unset = 997 for 4010, 999 for
    # 5010 (the usual answer in each version).
    acknowledgment: Literal["997", "999", "none"] | None = None
    enabled: bool = True
    # Inbound: how their documents are matched, and the only writes to FreshBooks, each opt-in (and refused
    # while FreshBooks is read-only, the default): a supplier's unmatched 810 becomes a bill; a customer's
    # unanswered 850 becomes an estimate or a draft invoice; a missing bill vendor or client is created.
    tolerance: Tolerance = Tolerance()
    create_bills: bool = False
    orders_become: Literal["none", "estimate", "draft_invoice"] = "none"
    create_reference_data: bool = False

    @field_validator("acknowledgment", mode="before")
    @classmethod
    def _acknowledgment(cls, value: Any) -> Any:
        # YAML reads an unquoted 997 as a number; the setting means the transaction set either way.
        text = str(value) if isinstance(value, int) and not isinstance(value, bool) else value
        if text is not None and text not in ("997", "999", "none"):
            raise ValueError(f"acknowledgment: got {value!r}; expected 997, 999 or none")
        return text

    @property
    def acknowledgment_kind(self) -> Literal["997", "999", "none"]:
        """The acknowledgment this partner gets for each functional group of business documents it sends."""
        if self.acknowledgment is not None:
            return self.acknowledgment
        return "999" if self.x12_version == "005010" else "997"

    @field_validator("id")
    @classmethod
    def _id(cls, value: str) -> str:
        if not _PARTNER_ID.match(value):
            raise ValueError(f"partner id must be lower-case letters, digits and dashes (max 40); got {value!r}")
        return value

    @model_validator(mode="after")
    def _documents_fit_role(self) -> TradingPartner:
        allowed = ALLOWED_DOCUMENTS[self.role]
        wrong = [d.value for d in self.documents if d not in allowed]
        if wrong:
            raise ValueError(f"a {self.role.value} partner cannot receive {wrong}; allowed: "
                             f"{sorted(d.value for d in allowed)}")
        if self.create_bills and self.role is not Role.SUPPLIER:
            raise ValueError(f"create_bills: got true for {self.role.value} {self.id!r}; only a supplier's "
                             "invoices become bills")
        if self.orders_become != "none" and self.role is not Role.CUSTOMER:
            raise ValueError(f"orders_become: got {self.orders_become!r} for {self.role.value} {self.id!r}; only "
                             "a customer's orders become estimates or draft invoices")
        return self

    @property
    def sends(self) -> frozenset[DocumentKind]:
        return frozenset(self.documents or ALLOWED_DOCUMENTS[self.role])


ALLOWED_DOCUMENTS: dict[Role, frozenset[DocumentKind]] = {
    Role.CUSTOMER: frozenset({DocumentKind.INVOICE, DocumentKind.PAYMENT}),
    Role.SUPPLIER: frozenset({DocumentKind.BILL, DocumentKind.BILL_PAYMENT}),
}


class PartnerDirectory(_Model):
    company: Company
    partners: tuple[TradingPartner, ...]

    @model_validator(mode="after")
    def _unique(self) -> PartnerDirectory:
        seen: dict[str, str] = {}
        for partner in self.partners:
            if partner.id in seen:
                raise ValueError(f"partner id {partner.id!r} appears twice")
            seen[partner.id] = partner.id
            key = f"{partner.edi.isa_qualifier}:{partner.edi.isa_id}"
            if key == f"{self.company.edi.isa_qualifier}:{self.company.edi.isa_id}":
                raise ValueError(f"partner {partner.id!r} has our own ISA id {partner.edi.isa_id!r}")
        folders: dict[str, str] = {}
        for partner in self.partners:
            for folder in (partner.cleo.outbound, partner.cleo.inbound):
                if folder in folders and folders[folder] != partner.id:
                    raise ValueError(f"Cleo folder {folder!r} is used by both {folders[folder]!r} and "
                                     f"{partner.id!r}")
                folders[folder] = partner.id
        return self

    def get(self, partner_id: str) -> TradingPartner:
        for partner in self.partners:
            if partner.id == partner_id:
                return partner
        raise PartnerConfigError("partner", partner_id, f"one of {[p.id for p in self.partners]}")

    def route(
        self,
        kind: DocumentKind,
        *,
        source_id: str,
        organization: str = "",
        email: str = "",
    ) -> TradingPartner | None:
        """The enabled partner that receives this kind of document for this FreshBooks client or vendor."""
        org = _norm(organization)
        mail = email.strip().lower()
        for partner in self.partners:
            if not partner.enabled or kind not in partner.sends:
                continue
            m = partner.match
            if (source_id and source_id in m.freshbooks_ids) or (org and org in {_norm(o) for o in
                                                                                   m.organizations}) or (
                mail and mail in {e.lower() for e in m.emails}
            ):
                return partner
        return None

    def by_folder(self, folder: str) -> TradingPartner | None:
        for partner in self.partners:
            if folder in (partner.cleo.inbound, partner.cleo.outbound):
                return partner
        return None

    def by_isa(self, qualifier: str, isa_id: str) -> TradingPartner | None:
        for partner in self.partners:
            if partner.edi.isa_qualifier == qualifier and partner.edi.isa_id.strip() == isa_id.strip():
                return partner
        return None


def _norm(text: str) -> str:
    return " ".join(text.lower().split())


def load_partners(path: Path) -> PartnerDirectory:
    """Load and validate partners.yaml; errors name the file, the partner and the field."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise PartnerConfigError("partners file", str(path), f"a readable YAML file ({exc.strerror})") from None
    except yaml.YAMLError as exc:
        raise PartnerConfigError(f"{path}", "<unparseable>", f"valid YAML ({exc})") from None
    return parse_partners(raw, source=str(path))


def parse_partners(raw: Any, source: str = "partners.yaml") -> PartnerDirectory:
    if not isinstance(raw, dict):
        raise PartnerConfigError(source, type(raw).__name__, "a mapping with 'company' and 'partners'")
    try:
        return PartnerDirectory.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = list(err["loc"])
        where = _describe_location(raw, loc)
        raise PartnerConfigError(f"{source}: {where}", err.get("input"), err["msg"]) from None


def _describe_location(raw: dict[str, Any], loc: Iterable[Any]) -> str:
    parts: list[str] = []
    node: Any = raw
    for key in loc:
        if isinstance(key, int) and isinstance(node, list) and key < len(node):
            node = node[key]
            label = node.get("id") if isinstance(node, dict) else None
            parts.append(f"[{label}]" if label else f"[{key}]")
        else:
            node = node.get(key) if isinstance(node, dict) else None
            parts.append(f".{key}" if parts else str(key))
    return "".join(parts) or "root"

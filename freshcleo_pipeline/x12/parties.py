"""The N1 loop for a party (N1, N3, N4), shared by the 810, 850 and 820 mappings.

Owns how a ``Party`` becomes name, identification and address segments, including the translation of
FreshBooks' free-text province and country into the ID codes N402/N404 require (reference §5: never a full
name in an ID element; unknown values are omitted and reported). Must not decide the entity code (BT, RE,
BY, PR…): the caller does.
"""

from __future__ import annotations

import re
from functools import lru_cache

from freshcleo_pipeline.documents import Party
from freshcleo_pipeline.x12.context import MappingContext
from freshcleo_pipeline.x12.hygiene import Reason
from freshcleo_pipeline.x12.segments import Segment, seg

#: N103 when the partner knows the party by an id and its guide names no scheme: "mutually defined", the only
#: qualifier that fits every partner-assigned id (DUNS, GLN, store number…). A guide may say 1, 9, 91, 92, UL.
PARTY_ID_QUALIFIER = "ZZ"

_COUNTRIES = {
    "UNITED STATES": "US", "UNITED STATES OF AMERICA": "US", "USA": "US", "U.S.": "US", "U.S.A.": "US",
    "CANADA": "CA", "MEXICO": "MX", "UNITED KINGDOM": "GB", "UK": "GB", "GREAT BRITAIN": "GB",
    "AUSTRALIA": "AU", "GERMANY": "DE", "FRANCE": "FR", "IRELAND": "IE", "NEW ZEALAND": "NZ",
}
_REGIONS = {
    "ALABAMA": "AL", "ALASKA": "AK", "ARIZONA": "AZ", "ARKANSAS": "AR", "CALIFORNIA": "CA", "COLORADO": "CO",
    "CONNECTICUT": "CT", "DELAWARE": "DE", "DISTRICT OF COLUMBIA": "DC", "FLORIDA": "FL", "GEORGIA": "GA",
    "HAWAII": "HI", "IDAHO": "ID", "ILLINOIS": "IL", "INDIANA": "IN", "IOWA": "IA", "KANSAS": "KS",
    "KENTUCKY": "KY", "LOUISIANA": "LA", "MAINE": "ME", "MARYLAND": "MD", "MASSACHUSETTS": "MA",
    "MICHIGAN": "MI", "MINNESOTA": "MN", "MISSISSIPPI": "MS", "MISSOURI": "MO", "MONTANA": "MT",
    "NEBRASKA": "NE", "NEVADA": "NV", "NEW HAMPSHIRE": "NH", "NEW JERSEY": "NJ", "NEW MEXICO": "NM",
    "NEW YORK": "NY", "NORTH CAROLINA": "NC", "NORTH DAKOTA": "ND", "OHIO": "OH", "OKLAHOMA": "OK",
    "OREGON": "OR", "PENNSYLVANIA": "PA", "RHODE ISLAND": "RI", "SOUTH CAROLINA": "SC", "SOUTH DAKOTA": "SD",
    "TENNESSEE": "TN", "TEXAS": "TX", "UTAH": "UT", "VERMONT": "VT", "VIRGINIA": "VA", "WASHINGTON": "WA",
    "WEST VIRGINIA": "WV", "WISCONSIN": "WI", "WYOMING": "WY", "PUERTO RICO": "PR",
    "ALBERTA": "AB", "BRITISH COLUMBIA": "BC", "MANITOBA": "MB", "NEW BRUNSWICK": "NB",
    "NEWFOUNDLAND AND LABRADOR": "NL", "NOVA SCOTIA": "NS", "NORTHWEST TERRITORIES": "NT", "NUNAVUT": "NU",
    "ONTARIO": "ON", "PRINCE EDWARD ISLAND": "PE", "QUEBEC": "QC", "SASKATCHEWAN": "SK", "YUKON": "YT",
}
_POSTAL = re.compile(r"^[A-Z0-9][A-Z0-9 -]{1,13}[A-Z0-9]$")


def _lookup(ctx: MappingContext, value: str, table: dict[str, str], ref: str, field: str) -> str:
    key = _normalized(value)
    if not key:
        return ""
    if key in table:
        code = table[key]
        ctx.record(ref, field, value, code, (Reason.CODED,))
        return code
    return ctx.code(value, ref, field)


def _postal(ctx: MappingContext, value: str, field: str) -> str:
    candidate = _normalized(value)
    if not candidate:
        return ""
    if _postal_fits(candidate, ctx.allowed):
        if candidate != value:
            ctx.record("N403", field, value, candidate, (Reason.WHITESPACE,))
        return candidate
    ctx.record("N403", field, value, "", (Reason.OMITTED,))
    return ""


# Every invoice to a customer carries the same address: the pure steps below are remembered per value.
@lru_cache(maxsize=4096)
def _normalized(value: str) -> str:
    return " ".join(value.upper().split())


@lru_cache(maxsize=4096)
def _postal_fits(candidate: str, allowed: frozenset[str]) -> bool:
    return bool(_POSTAL.match(candidate)) and allowed.issuperset(candidate)


def party_loop(ctx: MappingContext, entity: str, party: Party, field: str, *,
               with_address: bool = True) -> list[Segment]:
    """N1 (+ N3, N4) for ``party`` as ``entity``; raises when neither a name nor an id can be sent."""
    # The same parties (ourselves, each customer) come back on every document: remembered by their values.
    address = party.address
    key = ("N1", entity, field, party.name, party.edi_id, ctx.guide.party_id_qualifier, with_address,
           address.street, address.street2, address.city, address.province, address.postal_code, address.country)
    return list(ctx.remembered(key, _party_loop, ctx, entity, party, field, with_address))


def _party_loop(ctx: MappingContext, entity: str, party: Party, field: str, with_address: bool) -> list[Segment]:
    name = ctx.text(party.name, "N102", field, ".name")
    party_id = ctx.ident(party.edi_id, "N104", field, ".edi_id") if party.edi_id.strip() else ""
    if not name and not party_id:
        raise ctx.fail(f"{field}.name", party.name,
                       "a name with at least one character the partner's character set can carry, "
                       "or an edi_id for the party (N1 needs N102 or N103/N104)")
    # Without an id, N103/N104 are trailing empty elements, which rendering omits anyway.
    out = [seg("N1", entity, name, ctx.guide.party_id_qualifier, party_id) if party_id else seg("N1", entity, name)]
    if not with_address:
        return out
    address = party.address
    street = ctx.text(address.street, "N301", field, ".address.street")
    street2 = ctx.text(address.street2, "N302", field, ".address.street2")
    if street and street2:
        out.append(seg("N3", street, street2))
    elif street or street2:  # one line: N302 would be a trailing empty element, which rendering omits
        out.append(seg("N3", street or street2))
    city = ctx.text(address.city, "N401", field, ".address.city")
    region = _lookup(ctx, address.province, _REGIONS, "N402", f"{field}.address.province")
    postal = _postal(ctx, address.postal_code, f"{field}.address.postal_code")
    country = _lookup(ctx, address.country, _COUNTRIES, "N404", f"{field}.address.country")
    if city or region or postal or country:
        out.append(seg("N4", city, region, postal, country))
    return out

"""The one adapter that knows Cleo Integration Cloud's paths and JSON shapes.

Owns every URL path, query parameter, form field and JSON key the client uses, and turns API objects into
``RemoteFolder`` / ``RemoteFile``. Navigation starts at one discovery point (``DISCOVERY_PATH``) and follows
the ``_links`` the API hands out, so when a real tenant's paths or field names differ from the proposed shape
(see the Cleo reference sheet), this module is the only one to change. Sends nothing itself: no I/O here.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from freshcleo_pipeline.errors import FreshcleoError

AUTHENTICATION_PATH = "/api/authentication"
DISCOVERY_PATH = "/api/folders"
PAGE_SIZE = 100
UPLOAD_CONTENT_TYPE = "application/edi-x12"


class UnexpectedResponseError(FreshcleoError):
    """Cleo answered 2xx with a body whose shape the adapter does not know."""

    def __init__(self, field: str, value: object, expected: str) -> None:
        super().__init__(f"Cleo response field {field}: got {str(value)[:120]!r}; expected {expected}")
        self.field = field


@dataclass(frozen=True)
class RemoteFolder:
    id: str
    name: str
    path: str  # without leading or trailing slash, comparable with partners.yaml folder names
    permissions: frozenset[str]
    href: str
    files_href: str
    allowed_patterns: tuple[str, ...] = ()  # name patterns the mailbox accepts; empty = not reported
    overwrite: bool = False

    @property
    def can_upload(self) -> bool:
        return "upload" in self.permissions

    @property
    def can_download(self) -> bool:
        return "download" in self.permissions


@dataclass(frozen=True)
class RemoteFile:
    id: str
    name: str
    path: str
    size: int
    created: dt.datetime | None
    href: str
    content_href: str
    move_href: str
    sha256: str | None = None  # only when the API reports a digest


def folder_key(path: str) -> str:
    """How partners.yaml folder names and API folder paths are compared."""
    return path.strip().strip("/")


def login_form(username: str, password: str) -> dict[str, str]:
    return {"grant_type": "password", "username": username, "password": password}


def token_from(body: Any) -> tuple[str, float | None]:
    """(access token, lifetime in seconds if the answer gives one) from the authentication answer."""
    token = body.get("access_token") if isinstance(body, Mapping) else None
    if not isinstance(token, str) or not token:
        raise UnexpectedResponseError("access_token", "<missing>", "a bearer token string")
    lifetime = body.get("expires_in")
    try:
        return token, float(lifetime) if lifetime not in (None, "") else None
    except (TypeError, ValueError):
        return token, None


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def page_query(start: int, count: int = PAGE_SIZE, *, name: str | None = None,
               prefix: str | None = None) -> dict[str, str | int]:
    query: dict[str, str | int] = {"startIndex": start, "count": count}
    if name is not None:
        query["filter"] = f'name eq "{_quote(name)}"'
    elif prefix is not None:
        query["filter"] = f'name sw "{_quote(prefix)}"'
    return query


def parse_page(body: Any) -> tuple[list[Mapping[str, Any]], int]:
    """(resources on this page, total across pages) from a collection answer."""
    if not isinstance(body, Mapping) or not isinstance(body.get("resources"), list):
        raise UnexpectedResponseError("resources", body, "a collection with a resources list")
    total = body.get("totalResults", len(body["resources"]))
    return [r for r in body["resources"] if isinstance(r, Mapping)], int(total)


def parse_folder(resource: Mapping[str, Any]) -> RemoteFolder:
    href = _link(resource, "self")
    return RemoteFolder(
        id=str(_required(resource, "id")),
        name=str(resource.get("name", "")),
        path=folder_key(str(resource.get("path") or resource.get("name") or "")),
        permissions=frozenset(str(p).lower() for p in resource.get("permissions") or ()),
        href=href,
        files_href=_link(resource, "files", default=f"{href}/files"),
        allowed_patterns=tuple(str(p) for p in resource.get("allowedFilePatterns") or () if str(p)),
        overwrite=flag(resource.get("overwrite")),
    )


def name_allowed(name: str, patterns: tuple[str, ...]) -> bool:
    """Whether a mailbox folder's allowed file patterns take ``name``: wildcards, or a regular expression in
    square brackets (CIC's Partner Mailbox rule); no patterns reported means nothing to check here."""
    if not patterns:
        return True
    for pattern in patterns:
        if len(pattern) > 2 and pattern.startswith("[") and pattern.endswith("]"):
            try:
                if re.fullmatch(pattern[1:-1], name):
                    return True
            except re.error:
                return True  # a pattern we cannot read is the server's to apply, not ours to refuse
        elif fnmatch.fnmatchcase(name, pattern):
            return True
    return False


def flag(value: Any) -> bool:
    """A Cleo true/false property: some are JSON booleans, others the strings "true"/"false" (any case)."""
    if isinstance(value, bool):
        return value
    return isinstance(value, str) and value.strip().lower() == "true"


def parse_file(resource: Mapping[str, Any]) -> RemoteFile:
    href = _link(resource, "self")
    size = _required(resource, "size")
    try:
        size_int = int(size)  # some /api booleans and numbers come back as strings
    except (TypeError, ValueError):
        raise UnexpectedResponseError("size", size, "a byte count") from None
    meta = resource.get("meta") if isinstance(resource.get("meta"), Mapping) else {}
    digest = resource.get("sha256")
    return RemoteFile(
        id=str(_required(resource, "id")),
        name=str(_required(resource, "name")),
        path=str(resource.get("path", "")),
        size=size_int,
        created=_timestamp(meta.get("created")) if isinstance(meta, Mapping) else None,
        href=href,
        content_href=_link(resource, "content", default=f"{href}/content"),
        move_href=_link(resource, "move", default=f"{href}/move"),
        sha256=str(digest).lower() if digest else None,
    )


def upload_request(name: str, content: bytes) -> dict[str, Any]:
    """``requests`` keyword arguments for an upload into a folder's ``files_href``."""
    return {"files": {"file": (name, content, UPLOAD_CONTENT_TYPE)}}


def move_request(target: RemoteFolder, name: str | None = None) -> dict[str, Any]:
    """``requests`` keyword arguments for moving a file into ``target`` via the file's ``move_href``, under
    ``name`` when given (the move renames it), else under its own name."""
    body: dict[str, Any] = {"folder": {"href": target.href}}
    if name is not None:
        body["name"] = name
    return {"json": body}


def _quote(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')


def _required(resource: Mapping[str, Any], key: str) -> Any:
    value = resource.get(key)
    if value is None or value == "":
        raise UnexpectedResponseError(key, resource, f"an object with {key!r}")
    return value


def _link(resource: Mapping[str, Any], rel: str, default: str | None = None) -> str:
    links = resource.get("_links")
    link = links.get(rel) if isinstance(links, Mapping) else None
    if isinstance(link, list):  # HAL allows an array of links for one relation: the first one serves
        link = next((item for item in link if isinstance(item, Mapping)), None)
    href = link.get("href") if isinstance(link, Mapping) else None
    if isinstance(href, str) and href:
        return href
    if default is not None:
        return default
    raise UnexpectedResponseError(f"_links.{rel}.href", links, "a link")


def _timestamp(value: Any) -> dt.datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)

"""The emulated tenant's folders and files, in memory, and their JSON shapes.

Owns folder/file identity, the folder tree (a folder's ancestors exist as folders without permissions, so every
folder but the top-level ones has a ``parent``), the never-overwrite rule for names, moves, and the object
envelopes (``id``, ``meta``, HAL-style ``_links``) of the proposed CIC shape. Knows nothing of HTTP status codes,
tokens or X12.
"""

from __future__ import annotations

import datetime as dt
import itertools
import threading
from dataclasses import dataclass, field
from typing import Any

UPLOAD = "upload"
DOWNLOAD = "download"


class StoreError(Exception):
    """A request the store refuses; ``kind`` is missing | conflict | forbidden."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


def _stamp(when: dt.datetime) -> str:
    return when.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


@dataclass
class Folder:
    id: str
    path: str
    permissions: tuple[str, ...]
    created: dt.datetime
    partner_id: str = ""
    role: str = ""  # outbound | inbound | archive; "" for a folder that only holds folders
    patterns: tuple[str, ...] = ("*",)  # names an upload may carry (fnmatch wildcards)
    parent: Folder | None = None

    @property
    def name(self) -> str:
        return self.path.rsplit("/", 1)[-1]

    @property
    def href(self) -> str:
        return f"/api/folders/{self.id}"

    def resource(self) -> dict[str, Any]:
        links: dict[str, Any] = {"self": {"href": self.href}, "files": {"href": f"{self.href}/files"},
                                 "folders": {"href": f"{self.href}/folders"}}
        if self.parent is not None:
            links["parent"] = {"href": self.parent.href}
        return {
            "id": self.id,
            "name": self.name,
            "path": self.path,
            "permissions": list(self.permissions),
            "allowedFilePatterns": list(self.patterns),
            # A string on purpose: CIC models some flags as strings (reference §4.7); clients must parse leniently.
            "overwrite": "false",
            "meta": {"resourceType": "folder", "created": _stamp(self.created),
                     "lastModified": _stamp(self.created)},
            "_links": links,
        }


@dataclass
class StoredFile:
    id: str
    name: str
    folder: Folder
    content: bytes
    created: dt.datetime
    modified: dt.datetime

    @property
    def href(self) -> str:
        return f"/api/files/{self.id}"

    def resource(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "path": f"{self.folder.path}/{self.name}",
            "size": len(self.content),
            "folder": {"href": self.folder.href},
            "meta": {"resourceType": "file", "created": _stamp(self.created),
                     "lastModified": _stamp(self.modified)},
            "_links": {"self": {"href": self.href}, "content": {"href": f"{self.href}/content"},
                       "move": {"href": f"{self.href}/move"}, "folder": {"href": self.folder.href}},
        }


@dataclass
class Store:
    folders: dict[str, Folder] = field(default_factory=dict)
    files: dict[str, StoredFile] = field(default_factory=dict)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    lock: threading.RLock = field(default_factory=threading.RLock)

    def add_folder(self, path: str, permissions: tuple[str, ...], created: dt.datetime, *, partner_id: str = "",
                   role: str = "", patterns: tuple[str, ...] = ("*",)) -> Folder:
        """The folder at ``path``, created with its missing ancestors (those without permissions)."""
        with self.lock:
            for folder in self.folders.values():
                if folder.path == path:
                    return folder
            parent_path = path.rpartition("/")[0]
            parent = self.add_folder(parent_path, (), created) if parent_path else None
            folder = Folder(f"fld{len(self.folders) + 1:04d}", path, permissions, created, partner_id, role,
                            patterns, parent)
            self.folders[folder.id] = folder
            return folder

    def children(self, folder: Folder) -> list[Folder]:
        with self.lock:
            return [f for f in self.folders.values() if f.parent is folder]

    def folder(self, folder_id: str) -> Folder:
        folder = self.folders.get(folder_id)
        if folder is None:
            raise StoreError("missing", f"no folder with id {folder_id!r}")
        return folder

    def folder_by_path(self, path: str) -> Folder:
        for folder in self.folders.values():
            if folder.path == path.strip("/"):
                return folder
        raise StoreError("missing", f"no folder with path {path!r}")

    def file(self, file_id: str) -> StoredFile:
        stored = self.files.get(file_id)
        if stored is None:
            raise StoreError("missing", f"no file with id {file_id!r}")
        return stored

    def files_in(self, folder: Folder) -> list[StoredFile]:
        with self.lock:
            return sorted((f for f in self.files.values() if f.folder is folder), key=lambda f: f.id)

    def put(self, folder: Folder, name: str, content: bytes, when: dt.datetime) -> StoredFile:
        """Store a new file; an existing name in the folder is a conflict, never an overwrite."""
        with self.lock:
            self._free(folder, name)
            stored = StoredFile(f"{next(self._ids):012d}", name, folder, content, when, when)
            self.files[stored.id] = stored
            return stored

    def move(self, stored: StoredFile, target: Folder, when: dt.datetime, name: str | None = None) -> StoredFile:
        """Move (and, with ``name``, rename) a file; a name another file holds in the target is a conflict."""
        new_name = name or stored.name
        with self.lock:
            if stored.folder is target and stored.name == new_name:
                return stored
            self._free(target, new_name)
            stored.folder = target
            stored.name = new_name
            stored.modified = when
            return stored

    def delete(self, stored: StoredFile) -> None:
        with self.lock:
            self.files.pop(stored.id, None)

    def _free(self, folder: Folder, name: str) -> None:
        if any(f.folder is folder and f.name == name for f in self.files.values()):
            raise StoreError("conflict", f"a file named {name!r} already exists in folder {folder.path!r}")

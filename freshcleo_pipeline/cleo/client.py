"""The Cleo Integration Cloud client: folders and files, on the shared HTTP layer.

Owns what the pipeline does with Cleo: upload an interchange into a partner's outbound folder under a
deterministic name, exactly once even when a response is lost; list, download (byte count verified) and
archive files in inbound folders. Retries, timeouts and the 401 → renew rule come from
``freshcleo_pipeline.http`` (the same policy as the FreshBooks client); paths and JSON shapes come from
``paths`` only. Knows nothing of X12 or the ledger.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from typing import Literal

from freshcleo_pipeline.cleo import paths
from freshcleo_pipeline.cleo.auth import CleoAuth
from freshcleo_pipeline.cleo.paths import RemoteFile, RemoteFolder
from freshcleo_pipeline.errors import ConfigError, FreshcleoError
from freshcleo_pipeline.http import HttpClient, OutcomeUnknownError, RetryPolicy
from freshcleo_pipeline.settings import Settings

log = logging.getLogger(__name__)

SERVICE = "cleo"
#: How many times an upload whose outcome is unknown is checked and, when absent, sent again.
UPLOAD_ROUNDS = 3


class CleoFolderError(ConfigError):
    """A folder named in partners.yaml does not exist in Cleo (or lacks the needed permission)."""


class FileConflictError(FreshcleoError):
    """A different file with the same name is already in the folder; nothing was overwritten."""

    def __init__(self, folder: str, name: str, detail: str) -> None:
        super().__init__(f"Cleo folder {folder!r} already holds a different file named {name!r} ({detail}); "
                         "it was not overwritten")
        self.folder = folder
        self.name = name


class TransferError(FreshcleoError):
    """A download did not deliver the byte count the file's metadata announced."""


@dataclass(frozen=True)
class UploadReceipt:
    """Proof of delivery: the file as Cleo holds it, our digest of the content, and what happened."""

    file: RemoteFile
    folder: str
    sha256: str
    outcome: Literal["created", "already_present"]


def sha256(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def outbound_file_name(partner_id: str, transaction_set: str, isa13: int, reference: str = "") -> str:
    """The deterministic name of an outbound interchange: the same document version always gets it."""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "-", reference).strip("-.")[:60]
    stem = f"{partner_id}_{transaction_set}_{isa13:09d}"
    return f"{stem}_{safe}.x12" if safe else f"{stem}.x12"


class CleoClient:
    """Folders and files of one Cleo Integration Cloud tenant."""

    def __init__(self, http: HttpClient, auth: CleoAuth) -> None:
        self.http = http
        self.auth = auth
        self._folders: dict[str, RemoteFolder] | None = None

    @classmethod
    def from_settings(cls, settings: Settings, *, policy: RetryPolicy | None = None,
                      read_timeout: float | None = None) -> CleoClient:
        """A client for the configured tenant (the sandbox emulator by default)."""
        http = HttpClient(SERVICE, settings.resolved_cleo_api_url(), policy=policy or RetryPolicy())
        if read_timeout is not None:
            http.read_timeout = read_timeout
        auth = CleoAuth(http, settings.resolved_cleo_username(), settings.resolved_cleo_password())
        return cls(http, auth)

    def __repr__(self) -> str:
        return f"CleoClient({self.http.base_url!r})"

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> CleoClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- folders ----

    def authenticate(self) -> None:
        """Log in now (raises ``AuthError`` when refused); other calls log in on demand."""
        self.auth.headers()

    def folders(self, *, refresh: bool = False) -> dict[str, RemoteFolder]:
        """Folders visible to the user, by path, discovered from the adapter's discovery point."""
        if self._folders is None or refresh:
            resources = self._collect(paths.DISCOVERY_PATH, None, None)
            found = [paths.parse_folder(r) for r in resources]
            self._folders = {f.path: f for f in found}
        return dict(self._folders)

    def folder(self, path: str) -> RemoteFolder:
        key = paths.folder_key(path)
        folder = self.folders().get(key) or self.folders(refresh=True).get(key)
        if folder is None:
            raise CleoFolderError("Cleo folder", path, f"one of the folders visible to the Cleo user "
                                  f"({sorted(self.folders())[:20]})")
        return folder

    # ---- files ----

    def list_files(self, folder_path: str, *, prefix: str | None = None) -> list[RemoteFile]:
        """Every file in the folder (all pages), optionally only names starting with ``prefix``."""
        folder = self.folder(folder_path)
        return [paths.parse_file(r) for r in self._collect(folder.files_href, None, prefix)]

    def find_file(self, folder_path: str, name: str) -> RemoteFile | None:
        folder = self.folder(folder_path)
        matches = [paths.parse_file(r) for r in self._collect(folder.files_href, name, None)]
        return next((f for f in matches if f.name == name), None)

    def count_files(self, folder_path: str) -> int:
        """How many files the folder holds (one small request; also proves the folder can be listed)."""
        folder = self.folder(folder_path)
        response = self.http.request("GET", folder.files_href, auth=self.auth, params=paths.page_query(0, 1))
        return paths.parse_page(response.json())[1]

    def upload(self, folder_path: str, name: str, content: bytes) -> UploadReceipt:
        """Put ``content`` into the folder as ``name``, exactly once.

        When the outcome of the upload is unknown (lost response, reset, 5xx) or the name is taken (409), the
        folder is looked at: the same size and SHA-256 mean the file is already there (``already_present``);
        a different file raises ``FileConflictError``; no file means the upload is sent again.
        """
        folder = self.folder(folder_path)
        if not folder.can_upload:
            raise CleoFolderError("Cleo folder", folder_path, "a folder the Cleo user may upload into")
        digest = sha256(content)
        unknown: OutcomeUnknownError | None = None
        for _ in range(UPLOAD_ROUNDS):
            try:
                response = self.http.request("POST", folder.files_href, auth=self.auth, idempotent=False,
                                             ok_statuses=frozenset({409}), **paths.upload_request(name, content))
            except OutcomeUnknownError as exc:
                log.warning("Cleo upload of %s into %s: outcome unknown (%s); checking the folder", name,
                            folder.path, exc.detail)
                unknown = exc
            else:
                if response.status_code != 409:
                    created = paths.parse_file(response.json())
                    log.info("Cleo: uploaded %s into %s (%d bytes)", name, folder.path, len(content))
                    return UploadReceipt(created, folder.path, digest, "created")
            existing = self.find_file(folder.path, name)
            if existing is not None:
                self._same_content(folder, existing, content, digest)
                log.info("Cleo: %s already in %s with the same content", name, folder.path)
                return UploadReceipt(existing, folder.path, digest, "already_present")
        if unknown is not None:
            raise unknown
        raise FreshcleoError(f"Cleo folder {folder.path!r}: the upload of {name!r} was refused as a duplicate "
                             f"(409) {UPLOAD_ROUNDS} times, yet no file of that name is listed")

    def download(self, file: RemoteFile) -> bytes:
        """The file's bytes; raises ``TransferError`` when the byte count differs from the metadata."""
        response = self.http.request("GET", file.content_href, auth=self.auth)
        content = response.content
        if len(content) != file.size:
            raise TransferError(f"Cleo file {file.path or file.name!r}: downloaded {len(content)} bytes; "
                                f"expected {file.size} as its metadata says")
        if file.sha256 is not None and sha256(content) != file.sha256:
            raise TransferError(f"Cleo file {file.path or file.name!r}: SHA-256 {sha256(content)} differs from "
                                f"the {file.sha256} its metadata reports")
        return content

    def archive(self, file: RemoteFile, archive_folder: str) -> Literal["moved", "deleted"]:
        """Move the file into ``archive_folder``, or delete it when the partner has no archive folder ("")."""
        if not archive_folder:
            self.delete(file)
            return "deleted"
        target = self.folder(archive_folder)
        for _ in range(UPLOAD_ROUNDS):
            try:
                self.http.request("POST", file.move_href, auth=self.auth, idempotent=False,
                                  **paths.move_request(target))
            except OutcomeUnknownError as exc:
                if self.find_file(target.path, file.name) is not None:
                    break
                log.warning("Cleo move of %s: outcome unknown (%s); trying again", file.name, exc.detail)
                continue
            break
        else:
            raise FreshcleoError(f"Cleo file {file.name!r}: could not be moved into {target.path!r} after "
                                 f"{UPLOAD_ROUNDS} attempts with unknown outcome")
        log.info("Cleo: archived %s into %s", file.name, target.path)
        return "moved"

    def delete(self, file: RemoteFile) -> None:
        """Delete the file; one already gone (a retry after a lost answer) counts as deleted."""
        self.http.request("DELETE", file.href, auth=self.auth, ok_statuses=frozenset({404}))

    # ---- helpers ----

    def _collect(self, href: str, name: str | None, prefix: str | None) -> list[dict[str, object]]:
        resources: list[dict[str, object]] = []
        start = 0
        while True:
            query = paths.page_query(start, name=name, prefix=prefix)
            response = self.http.request("GET", href, auth=self.auth, params=query)
            page, total = paths.parse_page(response.json())
            resources.extend(dict(r) for r in page)
            start += len(page)
            if not page or start >= total:
                return resources

    def _same_content(self, folder: RemoteFolder, existing: RemoteFile, content: bytes, digest: str) -> None:
        if existing.size != len(content):
            raise FileConflictError(folder.path, existing.name,
                                    f"{existing.size} bytes there, {len(content)} bytes to send")
        remote = existing.sha256 or sha256(self.download(existing))
        if remote != digest:
            raise FileConflictError(folder.path, existing.name,
                                    f"same size, SHA-256 {remote[:12]}… there, {digest[:12]}… to send")

"""The Cleo Integration Cloud client: folders and files, on the shared HTTP layer.

Owns what the pipeline does with Cleo: upload an interchange into a partner's outbound folder under a
deterministic name with one request, and after a lost response look for it instead of sending it again (Cleo
consumes uploaded files, so an absent file is "in doubt", never "not sent": the caller decides with the
partner's acknowledgment); list, download (streamed, stopped at a size cap,
byte count verified) and archive files in inbound folders, where an archive that already holds the name never
blocks: the same content there means the copy is deleted, other content means the file moves under a name that
keeps both. Retries, timeouts and the 401 → renew rule come from
``freshcleo_pipeline.http`` (the same policy as the FreshBooks client); paths and JSON shapes come from
``paths`` only. Knows nothing of X12 or the ledger.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

import requests

from freshcleo_pipeline.cleo import paths
from freshcleo_pipeline.cleo.auth import CleoAuth, CleoLoginRefusedError, LoginGuard
from freshcleo_pipeline.cleo.paths import RemoteFile, RemoteFolder
from freshcleo_pipeline.errors import ConfigError, FreshcleoError
from freshcleo_pipeline.http import HttpClient, OutcomeUnknownError, RetryPolicy
from freshcleo_pipeline.settings import Settings

log = logging.getLogger(__name__)

SERVICE = "cleo"
#: Attempts at a move whose outcome stayed unknown (a move is checked at its target before it is tried again).
MOVE_ROUNDS = 3
#: Attempts at a download whose bytes did not arrive whole (the HTTP layer already retries failed requests).
DOWNLOAD_ATTEMPTS = 3
#: Names tried when archiving a file whose name the archive already holds: its own, then ones that keep both.
ARCHIVE_NAMES = 4
_CHUNK = 1024 * 1024

ArchiveOutcome = Literal["moved", "renamed", "deleted", "already_archived"]


class CleoFolderError(ConfigError):
    """A folder named in partners.yaml does not exist in Cleo (or lacks the needed permission)."""


class FileConflictError(FreshcleoError):
    """A different file with the same name is already in the folder; nothing was overwritten."""

    def __init__(self, folder: str, name: str, detail: str) -> None:
        super().__init__(f"Cleo folder {folder!r} already holds a different file named {name!r} ({detail}); "
                         "it was not overwritten")
        self.folder = folder
        self.name = name


class UploadInDoubtError(FreshcleoError):
    """An upload may have reached Cleo, but its file is not in the folder: Cleo may have picked it up and routed
    it to the partner already, so sending it again could make a second file. Only an acknowledgment from the
    partner, or its absence past the partner's window, decides."""

    def __init__(self, folder: str, name: str, reason: str) -> None:
        super().__init__(f"Cleo folder {folder!r}: the upload of {name!r} is in doubt: {reason}, and no file of "
                         "that name is in the folder (Cleo may already have picked it up)")
        self.folder = folder
        self.name = name
        self.reason = reason


class UploadUncertainError(FreshcleoError):
    """An upload's outcome is unknown and the folder could not be looked at: look again later, never re-send."""

    def __init__(self, folder: str, name: str, reason: str) -> None:
        super().__init__(f"Cleo folder {folder!r}: the outcome of the upload of {name!r} is unknown: {reason}")
        self.folder = folder
        self.name = name


class TransferError(FreshcleoError):
    """A download did not deliver the byte count the file's metadata announced."""


class OverSizeError(FreshcleoError):
    """A file is bigger than the caller takes; it was not downloaded, or the download stopped at the cap."""

    def __init__(self, path: str, size: int, limit: int, *, announced: bool = True) -> None:
        how = f"is {size} bytes" if announced else f"sent more than {limit} bytes (stopped after {size})"
        super().__init__(f"Cleo file {path!r} {how}; expected at most {limit} bytes "
                         "(FRESHCLEO_INBOUND_MAX_FILE_BYTES)")
        self.path = path
        self.size = size
        self.limit = limit


@dataclass(frozen=True)
class UploadReceipt:
    """Proof of delivery: the file as Cleo holds it, our digest of the content, and what happened."""

    file: RemoteFile
    folder: str
    sha256: str
    outcome: Literal["created", "already_present"]


def sha256(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def archive_names(name: str, token: str, count: int = ARCHIVE_NAMES) -> list[str]:
    """Names under which a file may be archived, in order: its own, then names that keep the one already there.

    ``token`` (the file's SHA-256, else its id) makes the alternative deterministic, so the same content
    archived twice meets itself under the same name and is recognized as already archived.
    """
    stem, dot, ext = name.rpartition(".")
    if not dot or not stem:
        stem, ext = name, ""
    else:
        ext = f".{ext}"
    tag = re.sub(r"[^A-Za-z0-9]+", "", token)[:12] or "copy"
    return [name, f"{stem}.{tag}{ext}", *(f"{stem}.{tag}-{n}{ext}" for n in range(2, count))][:count]


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
                      read_timeout: float | None = None, guard: LoginGuard | None = None) -> CleoClient:
        """A client for the configured tenant (the sandbox emulator by default); ``guard`` shares refused
        logins with other processes (the ledger's cool-down)."""
        http = HttpClient(SERVICE, settings.resolved_cleo_api_url(), policy=policy or RetryPolicy())
        if read_timeout is not None:
            http.read_timeout = read_timeout
        auth = CleoAuth(http, settings.resolved_cleo_username(), settings.resolved_cleo_password(), guard=guard)
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
        """Put ``content`` into the folder as ``name``: one request, never sent again blindly.

        A 201 whose stored size differs from the bytes sent raises ``FileConflictError`` (Cleo holds a damaged
        file under our name). When the outcome is unknown (lost response, reset, 5xx) or the name is taken
        (409), the folder is looked at (``look_for``): our file there is ``already_present``; another file
        under the name raises ``FileConflictError``; no file raises ``UploadInDoubtError``, because Cleo picks
        uploaded files up and routes them, so an absent file may well have reached the partner.
        """
        folder = self._upload_folder(folder_path)
        self.check_name(folder, name)
        try:
            response = self.http.request("POST", folder.files_href, auth=self.auth, idempotent=False,
                                         ok_statuses=frozenset({409}), **paths.upload_request(name, content))
        except OutcomeUnknownError as exc:
            log.warning("Cleo upload of %s into %s: outcome unknown (%s); looking for the file", name, folder.path,
                        exc.detail)
            return self._look(folder, name, content, f"outcome unknown ({exc.detail})")
        if response.status_code == 409:
            return self._look(folder, name, content, "the name was taken (409)")
        created = paths.parse_file(response.json())
        if created.size != len(content):
            raise FileConflictError(folder.path, name, f"Cleo stored {created.size} bytes of the {len(content)} "
                                    "sent")
        log.info("Cleo: uploaded %s into %s (%d bytes)", name, folder.path, len(content))
        return UploadReceipt(created, folder.path, sha256(content), "created")

    def look_for(self, folder_path: str, name: str, content: bytes, reason: str) -> UploadReceipt:
        """After an upload whose outcome is unknown (``reason``, e.g. a crash during it): the receipt when the
        file is in the folder; ``FileConflictError`` when another file has the name; ``UploadInDoubtError``
        when there is none."""
        return self._look(self._upload_folder(folder_path), name, content, reason)

    def _upload_folder(self, folder_path: str) -> RemoteFolder:
        folder = self.folder(folder_path)
        if not folder.can_upload:
            raise CleoFolderError("Cleo folder", folder_path, "a folder the Cleo user may upload into")
        return folder

    def check_name(self, folder: RemoteFolder, name: str) -> None:
        """Refuse, before sending, a name the mailbox's allowed file patterns would refuse."""
        if not paths.name_allowed(name, folder.allowed_patterns):
            raise CleoFolderError("file name", name, f"a name Cleo folder {folder.path!r} accepts "
                                  f"({', '.join(folder.allowed_patterns)}): set the partner's file extension")

    def _look(self, folder: RemoteFolder, name: str, content: bytes, reason: str) -> UploadReceipt:
        digest = sha256(content)
        try:
            existing = self.find_file(folder.path, name)
        except CleoLoginRefusedError:
            raise
        except FreshcleoError as exc:
            raise UploadUncertainError(folder.path, name, f"{reason}; the folder could not be listed: {exc}") \
                from exc
        if existing is None:
            raise UploadInDoubtError(folder.path, name, reason)
        self._same_content(folder, existing, content, digest)
        log.info("Cleo: %s already in %s with the same content", name, folder.path)
        return UploadReceipt(existing, folder.path, digest, "already_present")

    def download(self, file: RemoteFile, *, max_bytes: int | None = None) -> bytes:
        """The file's bytes, streamed; raises ``TransferError`` when the byte count or digest differs from the
        metadata after ``DOWNLOAD_ATTEMPTS`` tries, and ``OverSizeError`` (before reading, or as soon as the
        stream passes the cap) when the file is bigger than ``max_bytes``."""
        if max_bytes is not None and file.size > max_bytes:
            raise OverSizeError(file.path or file.name, file.size, max_bytes)
        attempt = 0
        while True:
            attempt += 1
            try:
                return self._fetch(file, max_bytes)
            except TransferError as exc:
                if attempt >= DOWNLOAD_ATTEMPTS:
                    raise
                delay = self.http.policy.backoff(attempt, self.http.rng)
                log.warning("Cleo download of %s: %s; attempt %d in %.1fs", file.name, exc, attempt + 1, delay)
                self.http.sleep(delay)

    def digest_of(self, file: RemoteFile) -> str:
        """SHA-256 of a file's content as Cleo serves it, streamed (nothing kept in memory)."""
        if file.sha256 is not None:
            return file.sha256
        hasher = hashlib.sha256()
        for chunk in self._chunks(file, file.size):
            hasher.update(chunk)
        return hasher.hexdigest()

    def archive(self, file: RemoteFile, archive_folder: str, *, sha256: str | None = None) -> ArchiveOutcome:
        """Take the file out of its folder: move it into ``archive_folder``, or delete it when the partner has
        no archive folder (``""``).

        When the archive already holds the name (409), the file there is compared with this one (size, then
        ``sha256``): the same content means the archive has it, and this copy is deleted (``already_archived``);
        other content means this file moves under the next of ``archive_names`` (``renamed``).
        """
        if not archive_folder:
            self.delete(file)
            return "deleted"
        target = self.folder(archive_folder)
        names = archive_names(file.name, sha256 or file.id)
        for name in names:
            if self._move(file, target, name):
                log.info("Cleo: archived %s into %s%s", file.name, target.path,
                         "" if name == file.name else f" as {name}")
                return "moved" if name == file.name else "renamed"
            existing = self.find_file(target.path, name)
            if existing is not None and sha256 is not None and self._holds(existing, file.size, sha256):
                self.delete(file)
                log.info("Cleo: %s is already archived in %s as %s; deleted the copy", file.name, target.path,
                         name)
                return "already_archived"
        raise FileConflictError(target.path, file.name, f"the archive names {names} are all taken by other files")

    def delete(self, file: RemoteFile) -> None:
        """Delete the file; one already gone (a retry after a lost answer) counts as deleted."""
        self.http.request("DELETE", file.href, auth=self.auth, ok_statuses=frozenset({404}))

    # ---- helpers ----

    def _move(self, file: RemoteFile, target: RemoteFolder, name: str) -> bool:
        """Move the file into ``target`` as ``name``: True when it is there, False when the name is taken."""
        rename = None if name == file.name else name
        for _ in range(MOVE_ROUNDS):
            try:
                response = self.http.request("POST", file.move_href, auth=self.auth, idempotent=False,
                                             ok_statuses=frozenset({404, 409}),
                                             **paths.move_request(target, rename))
            except OutcomeUnknownError as exc:
                if self._arrived(file, target, name):
                    return True
                log.warning("Cleo move of %s: outcome unknown (%s); trying again", file.name, exc.detail)
                continue
            if response.status_code == 409:
                # Our own earlier move whose answer was lost also shows as a taken name.
                return self._arrived(file, target, name, same_id_only=True)
            if response.status_code == 404:
                if self._arrived(file, target, name):
                    return True
                raise FreshcleoError(f"Cleo file {file.name!r}: gone from its folder and not in {target.path!r} "
                                     f"as {name!r}; someone else moved or deleted it")
            return True
        raise FreshcleoError(f"Cleo file {file.name!r}: could not be moved into {target.path!r} after "
                             f"{MOVE_ROUNDS} attempts with unknown outcome")

    def _arrived(self, file: RemoteFile, target: RemoteFolder, name: str, *, same_id_only: bool = False) -> bool:
        """Whether the file is in ``target`` as ``name``. A moved file keeps its id in the proposed shape; after a
        lost answer a file of the same size under that name counts too, in case a tenant re-issues ids (a wrong
        guess there costs one more poll: the next move answers 409 plainly and the content is compared)."""
        found = self.find_file(target.path, name)
        if found is None:
            return False
        return found.id == file.id or (not same_id_only and found.size == file.size)

    def _holds(self, existing: RemoteFile, size: int, digest: str) -> bool:
        if existing.size != size:
            return False
        try:
            return self.digest_of(existing) == digest
        except FreshcleoError as exc:
            # An archived file we cannot read back proves nothing; keeping both is the safe side.
            log.warning("Cleo: could not compare %s with the archived copy (%s); keeping both", existing.name, exc)
            return False

    def _fetch(self, file: RemoteFile, max_bytes: int | None) -> bytes:
        hasher = hashlib.sha256()
        chunks: list[bytes] = []
        received = 0
        for chunk in self._chunks(file, max_bytes):
            received += len(chunk)
            if received > file.size:
                raise TransferError(f"Cleo file {file.path or file.name!r}: sent more than the {file.size} bytes "
                                    "its metadata announces")
            hasher.update(chunk)
            chunks.append(chunk)
        if received != file.size:
            raise TransferError(f"Cleo file {file.path or file.name!r}: downloaded {received} bytes; "
                                f"expected {file.size} as its metadata says")
        digest = hasher.hexdigest()
        if file.sha256 is not None and digest != file.sha256:
            raise TransferError(f"Cleo file {file.path or file.name!r}: SHA-256 {digest} differs from "
                                f"the {file.sha256} its metadata reports")
        return b"".join(chunks)

    def _chunks(self, file: RemoteFile, max_bytes: int | None) -> Iterator[bytes]:
        """The content in pieces, stopped with ``OverSizeError`` once more than ``max_bytes`` arrived."""
        response = self.http.request("GET", file.content_href, auth=self.auth, stream=True)
        received = 0
        try:
            announced = response.headers.get("Content-Length", "")
            if max_bytes is not None and announced.isdigit() and int(announced) > max_bytes:
                raise OverSizeError(file.path or file.name, int(announced), max_bytes)
            for chunk in response.iter_content(_CHUNK):
                received += len(chunk)
                if max_bytes is not None and received > max_bytes:
                    raise OverSizeError(file.path or file.name, received, max_bytes, announced=False)
                yield chunk
        except requests.RequestException as exc:
            raise TransferError(f"Cleo file {file.path or file.name!r}: download interrupted after {received} "
                                f"bytes ({type(exc).__name__})") from exc
        finally:
            response.close()

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
        """Raise ``FileConflictError`` unless ``existing`` is our content: the same size, and the same SHA-256
        when Cleo reports one or the folder lets us read the file back (an upload-only folder gives size only)."""
        if existing.size != len(content):
            raise FileConflictError(folder.path, existing.name,
                                    f"{existing.size} bytes there, {len(content)} bytes to send")
        if existing.sha256 is None and not folder.can_download:
            return
        remote = existing.sha256 or sha256(self.download(existing))
        if remote != digest:
            raise FileConflictError(folder.path, existing.name,
                                    f"same size, SHA-256 {remote[:12]}… there, {digest[:12]}… to send")

"""The Cleo Integration Cloud emulator: the ``/api`` routes of the proposed folder/file shape over HTTP.

Owns the HTTP face of the emulated tenant: the password grant (form body only), the bearer check on every
``/api`` call, the collection and object envelopes, paging (``count`` 20 by default, capped at ``max_page``) and
the SCIM-like name filter, folders and their child folders, upload / metadata / content / delete / move
(optionally renaming: body ``{"folder": {"href": …}, "name": …}``; a name another file holds in the target
answers 409, as uploads do), status codes (201, 200, 204, 400, 401, 403, 404, 409, 413) and ``{"message": …}``
errors, always. Content is served from the stored bytes themselves, so a large file is never copied to be served.
Folders come from partners.yaml: per partner an outbound folder (we upload, and may list and read back), an
inbound folder (partners' files and acknowledgments; we read) and an archive (we move into it and read).
Routing, counters and fault injection come from the shared ``Emulator`` base; CIC's pick-up of uploads and the
partner's received side live in ``routing``; the partner's answers in ``acks`` and ``partner_documents``; a
supplier's 810 answering our 850 (with ``supplier_answers``) in ``partner_play``; the partners' documents seeded
about the FreshBooks books (``seed_partner_traffic``, called by the launcher) in ``partner_traffic``.

Readings of what the reference leaves open (each the one hardest on the client): an uploaded file is consumed
(vanishes) when ``pickup_delay`` is set [inferred; visibility after pick-up unconfirmed]; the lockout is on
[CIC's policy unconfirmed]; a name outside the allowed patterns answers 400 and an upload above the maximum size
413 [both unconfirmed]; ``count`` above the maximum is capped, not refused [maximum unconfirmed].

Test controls live under ``/_sandbox/`` (``httpserver.CONTROL_PREFIX``, shared with the FreshBooks emulator; the
reference's sketch calls it ``/_emulator/``): outside ``/api``, so never mistaken for Cleo's API, and never
called by the client. ``POST /_sandbox/files?folder=…&name=…`` puts any bytes (the request body) into any
folder, for tests and demos in other processes; ``POST /_sandbox/partner-send`` has a partner send its own
850/810/820 (``partner_documents``: ``reference``, ``answers``, ``lines``, ``remittance``, ``total``, ``ta1``,
``broken``), which also records, and never answers, the acknowledgments we upload; ``GET /_sandbox/answers``
lists the suppliers' answers to our 850s (variant, PO, invoice number, file) and the documents seeded at start;
``GET /_sandbox/received`` lists what the partners received (without content) with the counters;
``POST /_sandbox/pickup`` runs the pick-up now; ``POST /_sandbox/tokens/expire`` (or ``expire-tokens``) revokes
every live token.

Faults (reference §9.4): the shared kinds (``httpserver``) plus ``expire_tokens`` (every live token stops working
when the rule fires, and the request goes on, so a bearer call meets its 401 at once; ``nth`` = "from the n-th
matching request") and ``login_fail`` (the login answers 401 as for wrong credentials, whatever the rule's route:
it only ever matches the login; the lockout does not count it). ``rate_limit`` buckets are per account: the
configured user for any token issued here, the form's username at the login. ``GET /_sandbox/stats`` answers the
§9.6 shape: ``requests``, ``auth``, ``uploads``, ``downloads``, ``deletes``, ``moves``, ``interchanges``, ``acks``,
``faults``, ``peak_concurrency`` (see ``stats``, ``tokens``, ``routing``), plus ``supplier_answers`` and
``partner_documents_seeded`` (what the partners sent of their own, for tests that must know what was seeded).
``DELETE /_sandbox/counters`` clears the request, login and transfer figures, never the partner side's records
(interchanges, answers, seeded documents).
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import json
import re
import urllib.parse
from collections.abc import Mapping, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any, ClassVar

from freshcleo_pipeline.sandbox.cleo.acks import AckDesk, AckRecord
from freshcleo_pipeline.sandbox.cleo.clock import SandboxClock
from freshcleo_pipeline.sandbox.cleo.config import SandboxConfig, SandboxPartner, load_config
from freshcleo_pipeline.sandbox.cleo.partner_documents import (
    AcknowledgmentReceived,
    DocumentLine,
    PartnerDesk,
    RemittanceItem,
)
from freshcleo_pipeline.sandbox.cleo.partner_play import DEFAULT_ANSWER_MIX, SupplierAnswer, SupplierDesk
from freshcleo_pipeline.sandbox.cleo.partner_traffic import PartnerInvoice, SeededDocument, seed_partner_traffic
from freshcleo_pipeline.sandbox.cleo.routing import Pickup, ReceivedInterchange
from freshcleo_pipeline.sandbox.cleo.stats import TransferTally, ack_summary
from freshcleo_pipeline.sandbox.cleo.store import DOWNLOAD, UPLOAD, Folder, Store, StoredFile, StoreError
from freshcleo_pipeline.sandbox.cleo.tokens import LoginRefused, TokenDesk
from freshcleo_pipeline.sandbox.faults import GENERIC_KINDS
from freshcleo_pipeline.sandbox.httpserver import CONTROL_PREFIX, Emulator, Firing, Handler, Request, Response
from freshcleo_pipeline.settings import SANDBOX_CLEO_PASSWORD, SANDBOX_CLEO_USERNAME

DEFAULT_PARTNERS_FILE = Path(__file__).resolve().parent.parent / "data" / "partners.yaml"
DEFAULT_PAGE = 20
MAX_PAGE = 100
MAX_UPLOAD_BYTES = 10 * 1024 * 1024
SERVER_HEADER = "freshcleo-sandbox-cleo"
_FILTER = re.compile(r'^\s*(name|path)\s+(eq|sw)\s+"((?:[^"\\]|\\.)*)"\s*$')
_FOLDER_HREF = re.compile(r"^/api/folders/([^/]+)/?$")
_STATUS = {"missing": 404, "conflict": 409, "forbidden": 403}
LOGIN_ROUTE = "POST /api/authentication"


class CleoEmulator(Emulator):
    """An emulated CIC tenant for the trading partners of one partners.yaml.

    Options: ``username``/``password`` (the sandbox's published ones by default), ``token_lifetime``
    (seconds, default 3600), ``lockout`` (on by default: 5 failed logins within 60 s lock the account for 15
    minutes, during which even the right password gets 401), ``token_details`` (False: the login answers only
    ``access_token``, without ``token_type`` and ``expires_in``), ``acks`` (play the partners: answer each
    interchange they receive), ``ack_delay`` (seconds before the answer appears; 0 = at once), ``reject_rate`` /
    ``silence_rate`` (share of valid interchanges rejected / never answered, drawn from ``seed``),
    ``pickup_delay`` (None: uploads stay in the outbound folder; 0: consumed at once; > 0: consumed that many
    seconds after upload; see ``routing``), ``allowed_file_patterns`` (names uploads may carry, fnmatch
    wildcards), ``max_upload_bytes`` (None = no limit), ``max_page`` (the cap on ``count``), ``server_header``
    (the ``Server`` header; clients must not read it), ``supplier_answers`` (off by default: suppliers answer
    each 850 they receive with an 810 in their inbound folder, see ``partner_play``), ``answer_mix`` (the shares
    of the answer variants ``match`` / ``price`` / ``short`` / ``none``; ``partner_play.DEFAULT_ANSWER_MIX``).
    """

    name = "cleo"
    fault_kinds: ClassVar[frozenset[str]] = GENERIC_KINDS | {"expire_tokens", "login_fail"}
    fault_scopes: ClassVar[dict[str, str]] = {"login_fail": LOGIN_ROUTE}

    def __init__(
        self,
        partners_file: Path | str = DEFAULT_PARTNERS_FILE,
        *,
        username: str = SANDBOX_CLEO_USERNAME,
        password: str = SANDBOX_CLEO_PASSWORD,
        token_lifetime: float = 3600.0,
        lockout: bool = True,
        token_details: bool = True,
        acks: bool = True,
        ack_delay: float = 0.0,
        reject_rate: float = 0.0,
        silence_rate: float = 0.0,
        seed: int = 0,
        pickup_delay: float | None = None,
        allowed_file_patterns: tuple[str, ...] = ("*",),
        max_upload_bytes: int | None = MAX_UPLOAD_BYTES,
        max_page: int = MAX_PAGE,
        server_header: str = SERVER_HEADER,
        supplier_answers: bool = False,
        answer_mix: Mapping[str, float] | None = None,
    ) -> None:
        super().__init__(seed=seed)
        if not allowed_file_patterns:
            raise ValueError("allowed_file_patterns: got none; expected at least one pattern (\"*\" for all)")
        if max_page < 1:
            raise ValueError(f"max_page: got {max_page!r}; expected at least 1")
        self.clock = SandboxClock()
        self.config: SandboxConfig = load_config(Path(partners_file))
        self.store = Store()
        self.transfers = TransferTally()
        self.tokens = TokenDesk(username, password, self.clock, token_lifetime, lockout)
        self.token_details = token_details
        self.max_upload_bytes = max_upload_bytes
        self.max_page = max_page
        self.server_header = server_header
        self.acks = AckDesk(self.config, self.store, self.clock, acks, ack_delay, reject_rate, silence_rate, seed)
        self.partner_desk = PartnerDesk(self.config, self.store)
        self.suppliers = SupplierDesk(self.partner_desk, self.clock, supplier_answers, seed,
                                      dict(DEFAULT_ANSWER_MIX if answer_mix is None else answer_mix))
        self.seeded_partner_documents: list[SeededDocument] = []
        self.pickup = Pickup(self.config, self.store, self.clock, pickup_delay, self._partner_reacts)
        created = self.clock.now()
        patterns = tuple(allowed_file_patterns)
        for partner in self.config.partners:
            self.store.add_folder(partner.outbound, (UPLOAD, DOWNLOAD), created, partner_id=partner.id,
                                  role="outbound", patterns=patterns)
            self.store.add_folder(partner.inbound, (DOWNLOAD,), created, partner_id=partner.id, role="inbound")
            if partner.archive:
                # Upload permission: a move target needs it (reference §5.4), and archiving is a move.
                self.store.add_folder(partner.archive, (UPLOAD, DOWNLOAD), created, partner_id=partner.id,
                                      role="archive", patterns=patterns)

        self.route("POST", "/api/authentication", self._authenticate)
        for method, template, handler in (
            ("GET", "/api/folders", self._list_folders),
            ("GET", "/api/folders/{folder_id}", self._get_folder),
            ("GET", "/api/folders/{folder_id}/folders", self._list_child_folders),
            ("GET", "/api/folders/{folder_id}/files", self._list_files),
            ("POST", "/api/folders/{folder_id}/files", self._upload),
            ("GET", "/api/files/{file_id}", self._get_file),
            ("GET", "/api/files/{file_id}/content", self._get_content),
            ("DELETE", "/api/files/{file_id}", self._delete_file),
            ("POST", "/api/files/{file_id}/move", self._move_file),
        ):
            self.route(method, template, self._bearer(handler))
        self.route("POST", CONTROL_PREFIX + "expire-tokens", self._control_expire)
        self.route("POST", CONTROL_PREFIX + "tokens/expire", self._control_expire)
        self.route("POST", CONTROL_PREFIX + "deliver-acks", self._control_deliver)
        self.route("POST", CONTROL_PREFIX + "partner-documents", self._control_drop)
        self.route("GET", CONTROL_PREFIX + "acks", self._control_acks)
        self.route("POST", CONTROL_PREFIX + "files", self._control_put)
        self.route("POST", CONTROL_PREFIX + "partner-send", self._control_send)
        self.route("GET", CONTROL_PREFIX + "acknowledgments-received", self._control_received)
        self.route("GET", CONTROL_PREFIX + "received", self._control_partner_received)
        self.route("POST", CONTROL_PREFIX + "pickup", self._control_pickup)
        self.route("GET", CONTROL_PREFIX + "answers", self._control_answers)

    # ---- in-process helpers for tests and the CLI ----

    def expire_tokens(self) -> None:
        """Every bearer token issued so far stops working (a token expiring in the middle of a run)."""
        self.tokens.expire_all()

    def advance(self, seconds: float) -> int:
        """Move the emulator's clock forward, pick up the uploads now due and deliver the answers now due;
        returns how many answers were delivered."""
        before = self._answers_delivered()
        self.clock.advance(seconds)
        self.pickup.pickup_due()
        self.acks.deliver_due()
        return self._answers_delivered() - before

    def pickup_due(self) -> int:
        """Consume every uploaded file whose pick-up time has come; returns how many this call took."""
        return self.pickup.pickup_due()

    def partner_received(self, partner_id: str | None = None) -> list[ReceivedInterchange]:
        """Every file the partners received (one entry per receipt), oldest first; one partner's with an id."""
        return self.pickup.received(partner_id)

    def deliver_due_acks(self) -> int:
        return self.acks.deliver_due()

    def drop_partner_document(self, partner_id: str, kind: str) -> str:
        """An 850 from a customer or an 810 from a supplier appears in its inbound folder; returns its name."""
        return self.acks.drop_partner_document(self.config.partner(partner_id), kind)

    def send_partner_document(self, partner_id: str, kind: str, *, reference: str = "", answers: str = "",
                              ta1: bool = False, broken: bool = False,
                              lines: Sequence[DocumentLine | tuple[object, ...]] | None = None,
                              remittance: Sequence[RemittanceItem | tuple[object, ...]] | None = None,
                              total: Decimal | str | int | None = None, when: dt.datetime | None = None) -> str:
        """A partner's business document (850, 810, 820) in its inbound folder (see ``PartnerDesk.send``);
        ``when`` dates it (the emulator's now by default)."""
        return self.partner_desk.send(self.config.partner(partner_id), kind, when or self.clock.now(),
                                      reference=reference, answers=answers, ta1=ta1, broken=broken, lines=lines,
                                      remittance=remittance, total=total)

    def answer_variant_for(self, po_number: str) -> str:
        """How a supplier answers the 850 with this PO number under this emulator's seed and answer mix: pure."""
        return self.suppliers.variant_for(po_number)

    def supplier_answers_made(self) -> list[SupplierAnswer]:
        """Every purchase order the suppliers answered (``none`` included), oldest first."""
        return self.suppliers.made()

    def seed_partner_traffic(self, invoices: Mapping[str, Sequence[PartnerInvoice]], *, seed: int,
                             when: dt.datetime) -> list[SeededDocument]:
        """The partners' own documents about our books (``partner_traffic``), dated ``when``; recorded in
        ``seeded_partner_documents`` and returned."""
        seeded = seed_partner_traffic(self.partner_desk, self.config, invoices, seed=seed, when=when)
        self.seeded_partner_documents.extend(seeded)
        return seeded

    @property
    def acknowledgments_received(self) -> list[AcknowledgmentReceived]:
        """The 997s, 999s and TA1s we uploaded to partners, as they read them."""
        return list(self.partner_desk.received)

    @property
    def ack_records(self) -> list[AckRecord]:
        return list(self.acks.records)

    def put_file(self, folder_path: str, name: str, content: bytes) -> str:
        """Place a file as a partner would (no permission check); returns its id."""
        return self.store.put(self.store.folder_by_path(folder_path), name, content, self.clock.now()).id

    def files_in(self, folder_path: str) -> dict[str, bytes]:
        """Name → content of the files in a folder."""
        return {f.name: f.content for f in self.store.files_in(self.store.folder_by_path(folder_path))}

    def start(self, host: str = "127.0.0.1", port: int = 0) -> CleoEmulator:
        super().start(host, port)
        self.pickup.start()
        return self

    def stop(self) -> None:
        self.pickup.stop()
        self.acks.stop()
        super().stop()

    def handle(self, request: Request) -> Response:
        # Lazy pick-up: whatever CIC would have consumed by now is gone before the client looks.
        if request.path.startswith("/api/"):
            self.pickup.pickup_due()
        return super().handle(request)

    def dispatch(self, request: Request) -> tuple[str, Response]:
        try:
            return super().dispatch(request)
        except json.JSONDecodeError as exc:
            return f"{request.method} <error>", _error(400, f"body: not JSON ({exc})")
        except Exception as exc:  # noqa: BLE001 - every answer, even a bug's, is JSON {"message"}
            return f"{request.method} <error>", _error(500, f"emulator error: {type(exc).__name__}: {exc}")

    # ---- faults, log and stats ----

    def apply_fault(self, firing: Firing, request: Request) -> Response | None:
        if firing.rule.kind == "expire_tokens":
            self.expire_tokens()
            return None
        if firing.rule.kind == "login_fail":
            self.tokens.refuse()
            return _error(401, "invalid username or password")
        return super().apply_fault(firing, request)

    def account_of(self, request: Request) -> str:
        if request.method == "POST" and request.path.rstrip("/") == "/api/authentication":
            if request.content_type != "application/x-www-form-urlencoded":
                return ""
            try:
                return request.form().get("username", "")
            except UnicodeDecodeError:
                return ""
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        known = scheme.lower() == "bearer" and self.tokens.known(token.strip())
        return self.tokens.username if known else ""

    def now(self) -> dt.datetime:
        return self.clock.now()

    def stats(self) -> dict[str, Any]:
        """The §9.6 figures: requests, faults and peak concurrency (shared server), ``auth`` (``tokens``),
        ``uploads``/``downloads``/``deletes``/``moves`` (``stats``), ``interchanges`` (what the partners received,
        ``routing``; plus ``consumed`` by pick-up), ``acks`` (the partners' answers, ``stats.ack_summary``),
        ``supplier_answers`` (the 810s suppliers wrote for our 850s, ``partner_play``) and
        ``partner_documents_seeded`` (the partners' documents placed at the sandbox's start, ``partner_traffic``)."""
        figures = super().stats()
        figures["auth"] = vars(self.tokens.counts).copy()
        figures.update(self.transfers.summary())
        figures["interchanges"] = vars(self.pickup.counts).copy()
        figures["acks"] = ack_summary(self.acks.records)
        figures["supplier_answers"] = [a.summary() for a in self.supplier_answers_made()]
        figures["partner_documents_seeded"] = [d.summary() for d in self.seeded_partner_documents]
        return figures

    def reset_counts(self) -> None:
        super().reset_counts()
        self.tokens.reset_counts()
        self.transfers.clear()

    def _answers_delivered(self) -> int:
        return sum(1 for r in self.acks.records if r.delivered)

    def _partner_reacts(self, partner: SandboxPartner, name: str, content: bytes) -> None:
        """The partner has received a file: an acknowledgment of ours is recorded, anything else answered (a
        supplier also invoices the orders in it, unless it refused the interchange)."""
        if self.partner_desk.took_acknowledgment(partner, name, content):
            return
        self.acks.received(partner, name, content)
        if self.suppliers.enabled and partner.role == "supplier":
            self.suppliers.received(partner, name, content, refused=self._refused(partner, name))

    def _refused(self, partner: SandboxPartner, name: str) -> bool:
        decided = [r for r in self.acks.records if r.partner_id == partner.id and r.file_name == name]
        return bool(decided) and decided[-1].outcome in ("rejected", "ta1", "unreadable")

    # ---- authentication ----

    def _authenticate(self, request: Request) -> Response:
        if request.content_type != "application/x-www-form-urlencoded":
            return _error(400, f"Content-Type: got {request.content_type or 'none'!r}; expected "
                               "'application/x-www-form-urlencoded' (grant_type, username, password)")
        try:
            form = request.form()
        except UnicodeDecodeError:
            return _error(400, "body: not UTF-8; expected an urlencoded form")
        if form.get("grant_type") != "password":
            return _error(400, f"grant_type: got {form.get('grant_type')!r}; expected 'password'")
        try:
            token, lifetime = self.tokens.login(form.get("username", ""), form.get("password", ""))
        except LoginRefused as exc:
            return _error(401, str(exc))
        answer: dict[str, Any] = {"access_token": token}
        if self.token_details:
            answer.update({"token_type": "bearer", "expires_in": lifetime})
        return Response.json(200, answer)

    def _bearer(self, handler: Handler) -> Handler:
        def guarded(request: Request) -> Response:
            scheme, _, token = request.headers.get("authorization", "").partition(" ")
            if scheme.lower() != "bearer" or not token:
                return _error(401, "missing bearer token")
            state = self.tokens.state(token.strip())
            if state != "valid":
                if state == "expired":
                    self.tokens.rejected_expired()
                return _error(401, "invalid or expired token")
            try:
                return handler(request)
            except StoreError as exc:
                return _error(_STATUS[exc.kind], exc.message)
            except _BadRequest as exc:
                return _error(400, str(exc))

        return guarded

    # ---- folders and files ----

    def _list_folders(self, request: Request) -> Response:
        with self.store.lock:
            folders = list(self.store.folders.values())
        return _collection(request, "/api/folders", [f.resource() for f in folders], self.max_page)

    def _get_folder(self, request: Request) -> Response:
        return Response.json(200, self.store.folder(request.params["folder_id"]).resource())

    def _list_child_folders(self, request: Request) -> Response:
        folder = self.store.folder(request.params["folder_id"])
        return _collection(request, f"{folder.href}/folders", [f.resource() for f in self.store.children(folder)],
                           self.max_page)

    def _list_files(self, request: Request) -> Response:
        folder = self.store.folder(request.params["folder_id"])
        resources = [f.resource() for f in self.store.files_in(folder)]
        return _collection(request, f"{folder.href}/files", resources, self.max_page)

    def _upload(self, request: Request) -> Response:
        folder = self.store.folder(request.params["folder_id"])
        if UPLOAD not in folder.permissions:
            raise StoreError("forbidden", f"folder {folder.path!r} does not allow uploads")
        name = request.arg("filename")
        if request.content_type.startswith("multipart/"):
            parts = request.multipart()
            if "file" not in parts:
                raise _BadRequest(f"multipart parts: got {sorted(parts)}; expected a part named 'file'")
            part_name, content = parts["file"]
            name = name or part_name
        else:
            content = request.body
        name = _checked_name(name)
        if not any(fnmatch.fnmatchcase(name, pattern) for pattern in folder.patterns):
            raise _BadRequest(f"filename: {name!r} is not among the file types folder {folder.path!r} allows: "
                              f"{', '.join(folder.patterns)}")
        if self.max_upload_bytes is not None and len(content) > self.max_upload_bytes:
            return _error(413, f"{name!r} is {len(content)} bytes; folder {folder.path!r} takes at most "
                               f"{self.max_upload_bytes}")
        try:
            stored = self.store.put(folder, name, content, self.clock.now())
        except StoreError as exc:
            if exc.kind == "conflict":
                self.transfers.refused()
            raise
        self.transfers.uploaded(folder.path, name, content)
        answer = Response.json(201, stored.resource(), {"Location": stored.href})  # before pick-up may take it
        if folder.role == "outbound":
            self.pickup.arrived(stored)
        return answer

    def _get_file(self, request: Request) -> Response:
        return Response.json(200, self.store.file(request.params["file_id"]).resource())

    def _get_content(self, request: Request) -> Response:
        stored = self.store.file(request.params["file_id"])
        if DOWNLOAD not in stored.folder.permissions:
            raise StoreError("forbidden", f"folder {stored.folder.path!r} does not allow downloads")
        disposition = f"attachment; filename=\"{stored.name}\""
        self.transfers.downloaded(stored.folder.path, stored.name, len(stored.content))
        return Response(200, stored.content, {"Content-Type": "application/octet-stream",
                                              "Content-Disposition": disposition})

    def _delete_file(self, request: Request) -> Response:
        stored = self.store.file(request.params["file_id"])
        _require(stored.folder, DOWNLOAD, "taking files out")
        self.store.delete(stored)
        self.transfers.deleted()
        return Response(204)

    def _move_file(self, request: Request) -> Response:
        stored = self.store.file(request.params["file_id"])
        _require(stored.folder, DOWNLOAD, "taking files out")
        target = self._target_folder(request)
        _require(target, UPLOAD, "moving files in")
        body = request.json()
        name = body.get("name") if isinstance(body, dict) else None
        if name is not None and not isinstance(name, str):
            raise _BadRequest(f"name: got {name!r}; expected a file name")
        moved: StoredFile = self.store.move(stored, target, self.clock.now(),
                                            _checked_name(name) if name is not None else None)
        self.transfers.moved()
        return Response.json(200, moved.resource())

    def _target_folder(self, request: Request) -> Folder:
        try:
            body = request.json()
        except ValueError:
            body = None
        href = body.get("folder", {}).get("href") if isinstance(body, dict) and isinstance(
            body.get("folder"), dict) else None
        match = _FOLDER_HREF.match(urllib.parse.urlsplit(str(href or "")).path)
        if match is None:
            raise _BadRequest(f"folder.href: got {href!r}; expected /api/folders/{{id}}")
        return self.store.folder(match.group(1))

    # ---- control endpoints (``freshcleo sandbox`` and tests in other processes) ----

    def _control_expire(self, _request: Request) -> Response:
        self.expire_tokens()
        return Response(204)

    def _control_deliver(self, _request: Request) -> Response:
        return Response.json(200, {"delivered": self.deliver_due_acks()})

    def _control_drop(self, request: Request) -> Response:
        data = request.json() or {}
        try:
            name = self.drop_partner_document(str(data.get("partner", "")), str(data.get("kind", "")))
        except (KeyError, ValueError) as exc:
            return _error(422, str(exc).strip('"'))
        return Response.json(201, {"name": name})

    def _control_put(self, request: Request) -> Response:
        """Any bytes into any folder, as a partner's translator would leave them (the body is the content;
        ``folder`` and ``name`` in the query)."""
        try:
            name = _checked_name(request.arg("name"))
            stored_id = self.put_file(request.arg("folder") or "", name, request.body)
        except _BadRequest as exc:
            return _error(400, str(exc))
        except StoreError as exc:
            return _error(_STATUS[exc.kind], exc.message)
        return Response.json(201, {"id": stored_id, "name": name, "size": len(request.body)})

    def _control_send(self, request: Request) -> Response:
        """Body ``{"partner", "kind", "reference"?, "answers"?, "ta1"?, "broken"?, "lines"?, "remittance"?,
        "total"?}``: ``lines`` as ``[quantity, unit, unit_price, product_id, description]`` lists (or objects with
        those keys), ``remittance`` as ``[invoice_number, amount_paid, invoice_total]`` lists (or objects), money
        as strings; answers the file name."""
        data = request.json() or {}
        try:
            lines = _rows(data.get("lines"), DocumentLine._fields, "lines")
            remittance = _rows(data.get("remittance"), RemittanceItem._fields, "remittance")
            total = data.get("total")
            name = self.send_partner_document(str(data.get("partner", "")), str(data.get("kind", "")),
                                              reference=str(data.get("reference", "")),
                                              answers=str(data.get("answers", "")), ta1=data.get("ta1") is True,
                                              broken=data.get("broken") is True, lines=lines, remittance=remittance,
                                              total=None if total is None else str(total))
        except (KeyError, ValueError) as exc:
            return _error(422, str(exc).strip('"'))
        return Response.json(201, {"name": name})

    def _control_received(self, _request: Request) -> Response:
        return Response.json(200, {"acknowledgments": [vars(r) for r in self.acknowledgments_received]})

    def _control_acks(self, _request: Request) -> Response:
        return Response.json(200, {"acks": [vars(r) for r in self.ack_records]})

    def _control_partner_received(self, _request: Request) -> Response:
        self.pickup.pickup_due()
        return Response.json(200, {"interchanges": [r.summary() for r in self.partner_received()],
                                   "counts": vars(self.pickup.counts).copy()})

    def _control_pickup(self, _request: Request) -> Response:
        return Response.json(200, {"picked_up": self.pickup_due()})

    def _control_answers(self, _request: Request) -> Response:
        """What the partners sent of their own: suppliers' answers to our 850s and the documents seeded at start."""
        self.pickup.pickup_due()
        return Response.json(200, {"supplier_answers": [a.summary() for a in self.supplier_answers_made()],
                                   "seeded": [d.summary() for d in self.seeded_partner_documents]})


class _BadRequest(Exception):
    pass


def _error(status: int, message: str) -> Response:
    return Response.json(status, {"message": message})


def _require(folder: Folder, permission: str, doing: str) -> None:
    if permission not in folder.permissions:
        raise StoreError("forbidden", f"folder {folder.path!r} lacks {permission} permission, needed for {doing}")


def _checked_name(name: str | None) -> str:
    if not name or "/" in name or "\\" in name or name in (".", "..") or len(name) > 255:
        raise _BadRequest(f"filename: got {name!r}; expected a plain file name (1-255 characters, no '/')")
    return name


def _rows(raw: object, fields: tuple[str, ...], name: str) -> list[tuple[object, ...]] | None:
    """JSON rows (lists, or objects keyed by ``fields``) as tuples; None when absent."""
    if raw is None:
        return None
    if not isinstance(raw, list):
        raise ValueError(f"{name}: got {raw!r}; expected a list of rows")
    rows: list[tuple[object, ...]] = []
    for index, row in enumerate(raw):
        if isinstance(row, dict):
            missing = [f for f in fields if f not in row]
            if missing:
                raise ValueError(f"{name}[{index}]: missing {missing}; expected keys {list(fields)}")
            row = [row[f] for f in fields]
        if not isinstance(row, list) or len(row) != len(fields):
            raise ValueError(f"{name}[{index}]: got {row!r}; expected {list(fields)}")
        rows.append(tuple(str(v) if isinstance(v, int | float) and not isinstance(v, bool) else v for v in row))
    return rows


def _int_arg(request: Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.arg(name)
    if raw is None or raw == "":
        return default
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise _BadRequest(f"{name}: got {raw!r}; expected an integer from {low} to {high}")
    return int(raw)


def _matches(resource: dict[str, Any], expression: str | None) -> bool:
    if not expression:
        return True
    match = _FILTER.match(expression)
    if match is None:
        raise _BadRequest(f'filter: got {expression!r}; expected name eq "…", name sw "…" (or path)')
    attribute, operator, value = match.group(1), match.group(2), re.sub(r"\\(.)", r"\1", match.group(3))
    actual = str(resource.get(attribute, ""))
    return actual == value if operator == "eq" else actual.startswith(value)


def _collection(request: Request, href: str, resources: list[dict[str, Any]], max_page: int) -> Response:
    """One page; a ``count`` above ``max_page`` is capped, not refused (the client pages by what it got)."""
    start = _int_arg(request, "startIndex", 0, 0, 10**9)
    count = min(_int_arg(request, "count", DEFAULT_PAGE, 0, 10**9), max_page)
    expression = request.arg("filter")
    selected = [r for r in resources if _matches(r, expression)]
    page = selected[start:start + count]
    links: dict[str, Any] = {"self": {"href": href}}
    if page and start + len(page) < len(selected):
        query = {"startIndex": start + len(page), "count": count, **({"filter": expression} if expression else {})}
        links["next"] = {"href": f"{href}?{urllib.parse.urlencode(query)}"}
    return Response.json(200, {"totalResults": len(selected), "startIndex": start, "count": len(page),
                               "resources": page, "_links": links})

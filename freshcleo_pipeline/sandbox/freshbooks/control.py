"""The sandbox control API under ``/_sandbox/freshbooks/`` — a prefix the real FreshBooks never uses.

Owns the HTTP mirror of the emulator's in-process controls, for demos and for tests in another process:

| Method and path                                   | Effect                                                  |
|---------------------------------------------------|---------------------------------------------------------|
| ``POST /_sandbox/freshbooks/{kind}``              | create (body: the fields, optionally wrapped in the     |
|                                                   | singular key); fires ``<object>.create``                |
| ``PUT /_sandbox/freshbooks/{kind}/{id}``          | update with PUT semantics; fires ``<object>.update``    |
| ``DELETE /_sandbox/freshbooks/{kind}/{id}``       | delete (vis_state 1); fires ``<object>.delete``         |
| ``GET /_sandbox/freshbooks/{kind}/{id}``          | the document with lines, no token needed                |
| ``PUT /_sandbox/freshbooks/{kind}/{id}/corrupt``  | fault: serve it with ``{"fields": {path: value}}`` set, |
|                                                   | or ``{"replace": value}`` in its place (no validation)  |
| ``DELETE /_sandbox/freshbooks/{kind}/{id}/corrupt`` | serve it as it really is again                        |
| ``GET``/``POST /_sandbox/freshbooks/clock``       | read / advance (``{"advance": seconds}``) the clock     |
| ``POST /_sandbox/freshbooks/tokens/revoke``       | every token stops working                               |
| ``POST /_sandbox/freshbooks/tokens/expire``       | every access token is expired (refresh still works)     |
| ``GET /_sandbox/freshbooks/oauth``                | ``{"refresh_count": n}``                                |
| ``GET /_sandbox/freshbooks/webhooks``             | callbacks (without verifiers) and deliveries            |
| ``GET /_sandbox/freshbooks/info``                 | account ids, document counts                            |

Counters (``/_sandbox/counters``) and faults (``/_sandbox/faults``) are the shared machinery's; ``/_sandbox/stats``
adds ``api_writes``, the writes received on the accounting API per kind (never the writes made here). Control
requests need no token and are not counted. Nothing here bypasses the store's validation except ``corrupt``,
which is fault injection: it changes what is served, never the books.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from freshcleo_pipeline.sandbox.freshbooks import times
from freshcleo_pipeline.sandbox.freshbooks.writes import FieldError
from freshcleo_pipeline.sandbox.httpserver import CONTROL_PREFIX, Request, Response

if TYPE_CHECKING:
    from freshcleo_pipeline.sandbox.freshbooks.emulator import FreshBooksEmulator

PREFIX = CONTROL_PREFIX + "freshbooks"


def register(emulator: FreshBooksEmulator) -> None:
    def fields(request: Request, kind: str) -> dict[str, Any]:
        data = request.json() or {}
        if not isinstance(data, dict):
            raise FieldError(1005, "body", "Expected a JSON object.", None, status=400)
        singular = emulator.kind(kind).singular
        inner = data.get(singular)
        return dict(inner) if isinstance(inner, dict) else data

    def guarded(action: Any) -> Any:
        def handle(request: Request) -> Response:
            try:
                return action(request)
            except FieldError as exc:
                return Response.json(exc.status, exc.body())
            except ValueError as exc:
                return Response.json(400, {"message": str(exc)})
        return handle

    def ident(request: Request) -> int:
        raw = request.params["id"]
        if not raw.isdigit():
            raise ValueError(f"id: got {raw!r}; expected an integer")
        return int(raw)

    def create(request: Request) -> Response:
        kind = request.params["kind"]
        return Response.json(201, {"document": emulator.create(kind, fields(request, kind))})

    def update(request: Request) -> Response:
        kind = request.params["kind"]
        return Response.json(200, {"document": emulator.update(kind, ident(request), fields(request, kind))})

    def delete(request: Request) -> Response:
        return Response.json(200, {"document": emulator.delete(request.params["kind"], ident(request))})

    def get(request: Request) -> Response:
        doc = emulator.get(request.params["kind"], ident(request))
        return Response.json(404, {"message": "not found"}) if doc is None else Response.json(200, {"document": doc})

    def corrupt(request: Request) -> Response:
        data = request.json() or {}
        if not isinstance(data, dict) or not ("fields" in data or "replace" in data):
            raise ValueError('body: expected {"fields": {path: value}} or {"replace": value}')
        fields_ = data.get("fields") or {}
        if not isinstance(fields_, dict):
            raise ValueError("fields: expected an object of path → value")
        emulator.corrupt(request.params["kind"], ident(request), fields_, replace=data.get("replace"),
                         replaced="replace" in data)
        return Response(204)

    def uncorrupt(request: Request) -> Response:
        found = emulator.uncorrupt(request.params["kind"], ident(request))
        return Response(204) if found else Response.json(404, {"message": "not corrupted"})

    def clock(request: Request) -> Response:
        if request.method == "POST":
            advance = (request.json() or {}).get("advance", 0)
            emulator.advance_clock(float(advance))
        now = emulator.now()
        return Response.json(200, {"now": times.iso_utc(times.to_us(now)), "epoch": now.timestamp()})

    def revoke(_request: Request) -> Response:
        emulator.revoke_tokens()
        return Response(204)

    def expire(_request: Request) -> Response:
        emulator.expire_access_tokens()
        return Response(204)

    def oauth(_request: Request) -> Response:
        return Response.json(200, {"refresh_count": emulator.refresh_count})

    def webhooks(_request: Request) -> Response:
        hooks = emulator.webhooks
        return Response.json(200, {
            "callbacks": [c.public() for c in hooks.search(None, None)],
            "deliveries": [{"callbackid": d.callbackid, "uri": d.uri, "name": dict(d.fields).get("name"),
                            "object_id": dict(d.fields).get("object_id"), "signed": d.signed,
                            "status": d.status, "error": d.error, "attempts": d.attempts}
                           for d in list(hooks.deliveries)],
        })

    def info(_request: Request) -> Response:
        counts = {name: len(coll) for name, coll in emulator.store.collections.items()}
        return Response.json(200, {"account_id": emulator.account_id, "business_id": emulator.business_id,
                                   "business_uuid": emulator.business_uuid, "documents": counts})

    emulator.route("GET", PREFIX + "/clock", guarded(clock))
    emulator.route("POST", PREFIX + "/clock", guarded(clock))
    emulator.route("POST", PREFIX + "/tokens/revoke", revoke)
    emulator.route("POST", PREFIX + "/tokens/expire", expire)
    emulator.route("GET", PREFIX + "/oauth", oauth)
    emulator.route("GET", PREFIX + "/webhooks", webhooks)
    emulator.route("GET", PREFIX + "/info", info)
    emulator.route("PUT", PREFIX + "/{kind}/{id}/corrupt", guarded(corrupt))
    emulator.route("DELETE", PREFIX + "/{kind}/{id}/corrupt", guarded(uncorrupt))
    emulator.route("POST", PREFIX + "/{kind}", guarded(create))
    emulator.route("GET", PREFIX + "/{kind}/{id}", guarded(get))
    emulator.route("PUT", PREFIX + "/{kind}/{id}", guarded(update))
    emulator.route("DELETE", PREFIX + "/{kind}/{id}", guarded(delete))

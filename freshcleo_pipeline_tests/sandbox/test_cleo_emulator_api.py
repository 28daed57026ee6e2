"""The Cleo emulator against the reference's checklist (§9.1/§9.2): login, paging, folders, upload limits."""

from __future__ import annotations

import requests

from freshcleo_pipeline.sandbox.cleo import CleoEmulator
from freshcleo_pipeline.sandbox.cleo.emulator import SERVER_HEADER
from freshcleo_pipeline.settings import SANDBOX_CLEO_PASSWORD, SANDBOX_CLEO_USERNAME
from freshcleo_pipeline_tests.fixtures.cleo import CleoFactory
from freshcleo_pipeline_tests.sandbox.test_cleo_emulator import Api, login

CREDENTIALS = {"grant_type": "password", "username": SANDBOX_CLEO_USERNAME, "password": SANDBOX_CLEO_PASSWORD}


def test_lockout_is_on_by_default(cleo_emulator: CleoEmulator) -> None:
    for _ in range(5):
        assert login(cleo_emulator, password="wrong").status_code == 401
    locked = login(cleo_emulator)
    assert locked.status_code == 401 and "locked" in locked.json()["message"]
    cleo_emulator.advance(15 * 60 + 1)
    assert login(cleo_emulator).status_code == 200


def test_login_takes_only_a_form_body(cleo_emulator: CleoEmulator) -> None:
    url = f"{cleo_emulator.url}/api/authentication"
    as_json = requests.post(url, json=CREDENTIALS, timeout=5)
    assert as_json.status_code == 400 and "x-www-form-urlencoded" in as_json.json()["message"]
    as_multipart = requests.post(url, files={k: (None, v) for k, v in CREDENTIALS.items()}, timeout=5)
    assert as_multipart.status_code == 400
    wrong_grant = requests.post(url, data={**CREDENTIALS, "grant_type": "client_credentials"}, timeout=5)
    assert wrong_grant.status_code == 400 and "grant_type" in wrong_grant.json()["message"]
    assert requests.post(url, data=CREDENTIALS, timeout=5).status_code == 200


def test_login_answer_with_and_without_token_details(cleo_emulator_factory: CleoFactory) -> None:
    full = login(cleo_emulator_factory()).json()
    assert full["token_type"] == "bearer" and full["expires_in"] == 3600
    bare = login(cleo_emulator_factory(token_details=False)).json()
    assert set(bare) == {"access_token"}


def test_count_defaults_to_20_is_capped_and_past_the_end_is_empty(cleo_emulator_factory: CleoFactory) -> None:
    emulator = cleo_emulator_factory()
    for n in range(130):
        emulator.put_file("coastal/inbound", f"f{n:03d}.x12", b"x")
    api = Api(emulator)
    href = api.folder("coastal/inbound")["_links"]["files"]["href"]
    default = api.call("GET", href).json()
    assert default["count"] == 20 and len(default["resources"]) == 20 and default["totalResults"] == 130
    capped = api.call("GET", href, params={"count": 1000})
    assert capped.status_code == 200
    assert capped.json()["count"] == 100 and len(capped.json()["resources"]) == 100
    tail = api.call("GET", href, params={"startIndex": 100, "count": 100}).json()
    assert tail["count"] == 30 and "next" not in tail["_links"]
    past = api.call("GET", href, params={"startIndex": 500})
    assert past.status_code == 200 and past.json()["resources"] == [] and past.json()["count"] == 0
    assert api.call("GET", href, params={"count": "-1"}).status_code == 400

    small = cleo_emulator_factory(max_page=7)
    assert Api(small).call("GET", "/api/folders", params={"count": 50}).json()["count"] == 7


def test_folder_objects_and_child_folders(cleo_emulator: CleoEmulator) -> None:
    api = Api(cleo_emulator)
    outbound = api.folder("acme-retail/outbound")
    assert outbound["allowedFilePatterns"] == ["*"] and outbound["overwrite"] == "false"
    assert outbound["meta"]["resourceType"] == "folder" and outbound["meta"]["created"].endswith("Z")
    links = outbound["_links"]
    assert set(links) == {"self", "files", "folders", "parent"}
    parent = api.call("GET", links["parent"]["href"]).json()
    assert parent["path"] == "acme-retail" and "parent" not in parent["_links"] and parent["permissions"] == []
    children = api.call("GET", parent["_links"]["folders"]["href"]).json()
    assert sorted(c["path"] for c in children["resources"]) == ["acme-retail/archive", "acme-retail/inbound",
                                                                "acme-retail/outbound"]
    assert children["totalResults"] == 3
    leaf = api.call("GET", links["folders"]["href"]).json()
    assert leaf["totalResults"] == 0 and leaf["resources"] == []
    assert api.call("GET", "/api/folders/nope/folders").status_code == 404
    assert api.upload("acme-retail", "x.x12", b"x").status_code == 403  # a folder of folders takes no files


def test_allowed_file_patterns_are_enforced_on_upload(cleo_emulator_factory: CleoFactory) -> None:
    emulator = cleo_emulator_factory(allowed_file_patterns=("*.x12", "*.edi"))
    api = Api(emulator)
    assert api.folder("bolt/outbound")["allowedFilePatterns"] == ["*.x12", "*.edi"]
    refused = api.upload("bolt/outbound", "invoice.txt", b"x")
    assert refused.status_code == 400
    assert "invoice.txt" in refused.json()["message"] and "*.x12, *.edi" in refused.json()["message"]
    assert api.upload("bolt/outbound", "invoice.x12", b"x").status_code == 201
    assert api.upload("bolt/outbound", "invoice.X12", b"x").status_code == 400  # patterns are case-sensitive
    assert emulator.files_in("bolt/outbound") == {"invoice.x12": b"x"}


def test_an_upload_above_the_maximum_size_is_413(cleo_emulator_factory: CleoFactory) -> None:
    emulator = cleo_emulator_factory(max_upload_bytes=10)
    api = Api(emulator)
    too_big = api.upload("bolt/outbound", "big.x12", b"x" * 11)
    assert too_big.status_code == 413 and "big.x12" in too_big.json()["message"]
    assert api.upload("bolt/outbound", "fits.x12", b"x" * 10).status_code == 201
    assert emulator.files_in("bolt/outbound") == {"fits.x12": b"x" * 10}


def test_moves_need_upload_permission_on_the_target(cleo_emulator: CleoEmulator) -> None:
    api = Api(cleo_emulator)
    cleo_emulator.put_file("bolt/inbound", "997.x12", b"ack")
    (file,) = api.files("bolt/inbound")
    download_only = api.folder("acme-retail/inbound")["_links"]["self"]["href"]
    refused = api.call("POST", file["_links"]["move"]["href"], json={"folder": {"href": download_only}})
    assert refused.status_code == 403 and "upload" in refused.json()["message"]
    assert cleo_emulator.files_in("bolt/inbound") == {"997.x12": b"ack"}


def test_server_header_is_configurable(cleo_emulator_factory: CleoFactory) -> None:
    default = cleo_emulator_factory()
    assert requests.get(f"{default.url}/api/folders", timeout=5).headers["Server"] == SERVER_HEADER
    custom = cleo_emulator_factory(server_header="Cleo/5.8")
    assert requests.get(f"{custom.url}/api/folders", timeout=5).headers["Server"] == "Cleo/5.8"


def test_every_error_is_json_with_a_message(cleo_emulator: CleoEmulator) -> None:
    api = Api(cleo_emulator)
    answers = [
        requests.get(f"{cleo_emulator.url}/api/folders", timeout=5),  # 401
        api.call("GET", "/api/nowhere"),  # 404
        api.call("PUT", "/api/folders"),  # 405
        api.call("GET", "/api/folders", params={"filter": "name co x"}),  # 400
        api.call("POST", "/api/files/nope/move", data=b"{", headers={"Content-Type": "application/json"}),  # 404
        requests.post(f"{cleo_emulator.url}/_sandbox/partner-send", data=b"{", timeout=5),  # 400, not JSON
    ]
    assert [a.status_code for a in answers] == [401, 404, 405, 400, 404, 400]
    for answer in answers:
        assert answer.headers["Content-Type"] == "application/json" and answer.json()["message"]

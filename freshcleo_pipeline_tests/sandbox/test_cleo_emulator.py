"""The Cleo emulator's own behaviour, over HTTP with plain ``requests`` (not the product's client)."""

from __future__ import annotations

import time
from typing import Any

import pytest
import requests

from freshcleo_pipeline.sandbox.cleo import CleoEmulator
from freshcleo_pipeline.sandbox.httpserver import FaultRule
from freshcleo_pipeline.settings import SANDBOX_CLEO_PASSWORD, SANDBOX_CLEO_USERNAME
from freshcleo_pipeline_tests.cleo.interchanges import acme_810, segments
from freshcleo_pipeline_tests.fixtures.cleo import CleoFactory

UPLOAD = "/api/folders/{folder_id}/files"


def login(emulator: CleoEmulator, password: str = SANDBOX_CLEO_PASSWORD) -> requests.Response:
    return requests.post(f"{emulator.url}/api/authentication", timeout=5,
                         data={"grant_type": "password", "username": SANDBOX_CLEO_USERNAME, "password": password})


class Api:
    """A bearer-authenticated session on the emulator."""

    def __init__(self, emulator: CleoEmulator) -> None:
        self.url = emulator.url
        response = login(emulator)
        assert response.status_code == 200, response.text
        self.token = response.json()["access_token"]

    def call(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        headers = {"Authorization": f"Bearer {self.token}", **kwargs.pop("headers", {})}
        return requests.request(method, f"{self.url}{path}", headers=headers, timeout=5, **kwargs)

    def folder(self, path: str) -> dict[str, Any]:
        body = self.call("GET", "/api/folders", params={"filter": f'path eq "{path}"'}).json()
        assert body["totalResults"] == 1, body
        folder: dict[str, Any] = body["resources"][0]
        return folder

    def upload(self, folder_path: str, name: str, content: bytes) -> requests.Response:
        href = self.folder(folder_path)["_links"]["files"]["href"]
        return self.call("POST", href, files={"file": (name, content)})

    def files(self, folder_path: str) -> list[dict[str, Any]]:
        href = self.folder(folder_path)["_links"]["files"]["href"]
        resources: list[dict[str, Any]] = self.call("GET", href, params={"count": 1000}).json()["resources"]
        return resources


def content_of(api: Api, resource: dict[str, Any]) -> bytes:
    response = api.call("GET", resource["_links"]["content"]["href"])
    assert response.status_code == 200
    return response.content


# ---- authentication ----

def test_password_grant_issues_a_bearer_token_and_refuses_bad_credentials(cleo_emulator: CleoEmulator) -> None:
    good = login(cleo_emulator)
    assert good.status_code == 200
    assert good.json()["expires_in"] == 3600 and good.json()["access_token"]
    bad = login(cleo_emulator, password="wrong")
    assert bad.status_code == 401 and bad.json()["message"]
    assert requests.get(f"{cleo_emulator.url}/api/folders", timeout=5).status_code == 401
    unknown = requests.get(f"{cleo_emulator.url}/api/folders", headers={"Authorization": "Bearer nope"}, timeout=5)
    assert unknown.status_code == 401 and "message" in unknown.json()


def test_tokens_expire_after_their_lifetime_and_on_demand(cleo_emulator_factory: CleoFactory) -> None:
    emulator = cleo_emulator_factory(token_lifetime=120)
    api = Api(emulator)
    assert api.call("GET", "/api/folders").status_code == 200
    emulator.advance(121)
    assert api.call("GET", "/api/folders").status_code == 401
    api = Api(emulator)
    emulator.expire_tokens()
    assert api.call("GET", "/api/folders").status_code == 401


def test_lockout_after_five_failures_in_a_minute_lasts_fifteen_minutes(cleo_emulator_factory: CleoFactory) -> None:
    emulator = cleo_emulator_factory(lockout=True)
    for _ in range(5):
        assert login(emulator, password="wrong").status_code == 401
    locked = login(emulator)
    assert locked.status_code == 401 and "locked" in locked.json()["message"]
    emulator.advance(15 * 60 + 1)
    assert login(emulator).status_code == 200


def test_failures_spread_over_more_than_a_minute_do_not_lock(cleo_emulator_factory: CleoFactory) -> None:
    emulator = cleo_emulator_factory(lockout=True)
    for _ in range(8):
        assert login(emulator, password="wrong").status_code == 401
        emulator.advance(20)
    assert login(emulator).status_code == 200


# ---- folders and files ----

def test_folders_per_partner_with_paging_filter_and_links(cleo_emulator: CleoEmulator) -> None:
    api = Api(cleo_emulator)
    first = api.call("GET", "/api/folders", params={"startIndex": 0, "count": 5}).json()
    # 4 partners x (outbound, inbound, archive), and each partner's parent folder
    assert first["totalResults"] == 16 and first["startIndex"] == 0 and first["count"] == 5
    rest = api.call("GET", "/api/folders", params={"startIndex": 5, "count": 20}).json()
    paths = {f["path"] for f in first["resources"] + rest["resources"]}
    assert {"acme-retail", "acme-retail/outbound", "acme-retail/inbound", "acme-retail/archive",
            "coastal/archive"} <= paths
    assert len(paths) == 16
    outbound = api.folder("acme-retail/outbound")
    assert outbound["meta"]["resourceType"] == "folder" and "upload" in outbound["permissions"]
    assert outbound["_links"]["files"]["href"].startswith(outbound["_links"]["self"]["href"])
    assert "upload" not in api.folder("acme-retail/inbound")["permissions"]
    inbound = api.call("GET", "/api/folders", params={"filter": 'name sw "in"'}).json()
    assert inbound["totalResults"] == 4
    assert api.call("GET", "/api/folders", params={"filter": "name like x"}).status_code == 400
    assert api.call("GET", "/api/folders/nope").status_code == 404


def test_upload_metadata_content_move_delete(cleo_emulator: CleoEmulator) -> None:
    api = Api(cleo_emulator)
    created = api.upload("bolt/outbound", "a.x12", b"first")
    assert created.status_code == 201
    file = created.json()
    assert file["name"] == "a.x12" and file["size"] == 5 and file["path"] == "bolt/outbound/a.x12"
    assert file["meta"]["resourceType"] == "file" and file["meta"]["created"].endswith("Z")
    assert created.headers["Location"] == file["_links"]["self"]["href"]
    assert api.call("GET", file["_links"]["self"]["href"]).json()["size"] == 5
    assert content_of(api, file) == b"first"

    href = api.folder("bolt/outbound")["_links"]["files"]["href"]
    raw = api.call("POST", href, params={"filename": "b.x12"}, data=b"second",
                   headers={"Content-Type": "application/octet-stream"})
    assert raw.status_code == 201 and raw.json()["size"] == 6

    archive = api.folder("bolt/archive")
    target = {"folder": {"href": archive["_links"]["self"]["href"]}}
    moved = api.call("POST", file["_links"]["move"]["href"], json=target)
    assert moved.status_code == 200 and moved.json()["path"] == "bolt/archive/a.x12"
    assert [f["name"] for f in api.files("bolt/outbound")] == ["b.x12"]
    assert api.call("DELETE", raw.json()["_links"]["self"]["href"]).status_code == 204
    assert api.call("GET", raw.json()["_links"]["self"]["href"]).status_code == 404
    assert api.files("bolt/outbound") == []


def test_duplicate_name_is_409_and_never_overwrites(cleo_emulator: CleoEmulator) -> None:
    api = Api(cleo_emulator)
    assert api.upload("bolt/outbound", "same.x12", b"original").status_code == 201
    again = api.upload("bolt/outbound", "same.x12", b"replacement")
    assert again.status_code == 409 and "same.x12" in again.json()["message"]
    assert cleo_emulator.files_in("bolt/outbound") == {"same.x12": b"original"}


def test_move_into_a_taken_name_is_409_and_a_move_may_rename(cleo_emulator: CleoEmulator) -> None:
    api = Api(cleo_emulator)
    cleo_emulator.put_file("bolt/archive", "997.x12", b"archived before")
    cleo_emulator.put_file("bolt/inbound", "997.x12", b"sent again")
    (file,) = api.files("bolt/inbound")
    archive = {"href": api.folder("bolt/archive")["_links"]["self"]["href"]}
    taken = api.call("POST", file["_links"]["move"]["href"], json={"folder": archive})
    assert taken.status_code == 409 and "997.x12" in taken.json()["message"]
    assert cleo_emulator.files_in("bolt/inbound") == {"997.x12": b"sent again"}
    bad = api.call("POST", file["_links"]["move"]["href"], json={"folder": archive, "name": "../x"})
    assert bad.status_code == 400
    renamed = api.call("POST", file["_links"]["move"]["href"], json={"folder": archive, "name": "997.2.x12"})
    assert renamed.status_code == 200 and renamed.json()["path"] == "bolt/archive/997.2.x12"
    assert renamed.json()["id"] == file["id"]  # a moved file keeps its id
    assert cleo_emulator.files_in("bolt/archive") == {"997.x12": b"archived before", "997.2.x12": b"sent again"}
    assert cleo_emulator.files_in("bolt/inbound") == {}


def test_any_bytes_can_be_put_into_a_folder_through_the_control_api(cleo_emulator: CleoEmulator) -> None:
    api = Api(cleo_emulator)
    content = b"\xef\xbb\xbfISA*\xff" + bytes(range(256)) * 4096  # about 1 MB, every byte value
    put = requests.post(f"{cleo_emulator.url}/_sandbox/files", params={"folder": "bolt/inbound", "name": "raw.x12"},
                        data=content, timeout=30)
    assert put.status_code == 201 and put.json()["size"] == len(content)
    (file,) = api.files("bolt/inbound")
    assert file["size"] == len(content) and content_of(api, file) == content
    again = requests.post(f"{cleo_emulator.url}/_sandbox/files", params={"folder": "bolt/inbound",
                                                                          "name": "raw.x12"}, data=b"x", timeout=5)
    assert again.status_code == 409
    nowhere = requests.post(f"{cleo_emulator.url}/_sandbox/files", params={"folder": "no/such", "name": "a"},
                            data=b"x", timeout=5)
    assert nowhere.status_code == 404
    unnamed = requests.post(f"{cleo_emulator.url}/_sandbox/files", params={"folder": "bolt/inbound"}, data=b"x",
                            timeout=5)
    assert unnamed.status_code == 400


def test_uploads_into_inbound_folders_are_forbidden(cleo_emulator: CleoEmulator) -> None:
    api = Api(cleo_emulator)
    assert api.upload("bolt/inbound", "x.x12", b"x").status_code == 403
    href = api.folder("bolt/outbound")["_links"]["files"]["href"]
    assert api.call("POST", href, data=b"no name").status_code == 400


def test_list_files_pages_and_filters_by_name(cleo_emulator: CleoEmulator) -> None:
    for n in range(25):
        cleo_emulator.put_file("coastal/inbound", f"{'INV' if n % 2 else 'PO'}{n:03d}.x12", b"x" * n)
    api = Api(cleo_emulator)
    href = api.folder("coastal/inbound")["_links"]["files"]["href"]
    default = api.call("GET", href).json()
    assert default["totalResults"] == 25 and default["count"] == 20 and "next" in default["_links"]
    last = api.call("GET", default["_links"]["next"]["href"]).json()
    assert last["startIndex"] == 20 and last["count"] == 5 and "next" not in last["_links"]
    inv = api.call("GET", href, params={"filter": 'name sw "INV"', "count": 100}).json()
    assert inv["totalResults"] == 12 and all(f["name"].startswith("INV") for f in inv["resources"])
    one = api.call("GET", href, params={"filter": 'name eq "PO004.x12"'}).json()
    assert [f["size"] for f in one["resources"]] == [4]


# ---- the partner's acknowledgments ----

def only_file(api: Api, folder: str) -> bytes:
    files = api.files(folder)
    assert len(files) == 1, [f["name"] for f in files]
    return content_of(api, files[0])


def test_well_formed_interchange_gets_an_accepting_997_from_the_partner(cleo_emulator: CleoEmulator) -> None:
    api = Api(cleo_emulator)
    assert api.upload("acme-retail/outbound", "good.x12", acme_810(control=17)).status_code == 201
    ack = only_file(api, "acme-retail/inbound")
    assert len(ack.decode().split("~")[0]) + 1 == 106
    segs = segments(ack)
    isa, gs = segs[0], segs[1]
    assert (isa[5], isa[6], isa[7], isa[8]) == ("ZZ", "ACMERETAIL     ", "ZZ", "HARBORSUPPLY   ")
    assert isa[12] == "00401" and isa[15] == "T"
    assert gs[1:4] == ["FA", "ACMERETAIL", "HARBORSUPPLY"] and gs[8] == "004010"
    body = [s for s in segs if s[0] not in ("ISA", "GS", "GE", "IEA")]
    assert body == [["ST", "997", "0001"], ["AK1", "IN", "17"], ["AK2", "810", "0001"], ["AK5", "A"],
                    ["AK9", "A", "1", "1", "1"], ["SE", "6", "0001"]]
    assert segs[-2] == ["GE", "1", gs[6]] and segs[-1] == ["IEA", "1", isa[13]]
    assert isa[13] != "000000017"  # the partner's own control numbers
    assert [r.outcome for r in cleo_emulator.ack_records] == ["accepted"]


def test_bad_segment_count_is_rejected_with_ak5_code_4(cleo_emulator: CleoEmulator) -> None:
    api = Api(cleo_emulator)
    api.upload("acme-retail/outbound", "bad.x12", acme_810(control=18, se_count=6))
    segs = segments(only_file(api, "acme-retail/inbound"))
    assert ["AK5", "R", "4"] in segs
    assert ["AK9", "R", "1", "1", "0"] in segs
    assert ["AK1", "IN", "18"] in segs


def test_envelope_errors_get_the_matching_codes(cleo_emulator: CleoEmulator) -> None:
    api = Api(cleo_emulator)
    mismatched_st = acme_810(control=19).replace(b"SE*7*0001~", b"SE*7*0002~")
    api.upload("acme-retail/outbound", "st.x12", mismatched_st)
    assert ["AK5", "R", "3"] in segments(only_file(api, "acme-retail/inbound"))
    for f in api.files("acme-retail/inbound"):
        api.call("DELETE", f["_links"]["self"]["href"])

    group = acme_810(control=20).replace(b"GE*1*20~", b"GE*2*21~")
    api.upload("acme-retail/outbound", "ge.x12", group)
    assert ["AK9", "R", "2", "1", "0", "4", "5"] in segments(only_file(api, "acme-retail/inbound"))


def test_interchange_level_errors_get_a_ta1(cleo_emulator: CleoEmulator) -> None:
    api = Api(cleo_emulator)
    api.upload("acme-retail/outbound", "iea.x12", acme_810(control=21, iea02="000000099"))
    ta1 = segments(only_file(api, "acme-retail/inbound"))
    assert [s[0] for s in ta1] == ["ISA", "TA1", "IEA"]
    assert ta1[1][1] == "000000021" and ta1[1][4:] == ["R", "001"]
    for f in api.files("acme-retail/inbound"):
        api.call("DELETE", f["_links"]["self"]["href"])

    narrow = acme_810(control=22).replace(b"ZZ*ACMERETAIL     *", b"ZZ*ACMERETAIL*", 1)
    api.upload("acme-retail/outbound", "isa.x12", narrow)
    assert segments(only_file(api, "acme-retail/inbound"))[1][4:] == ["R", "008"]


def test_acks_wait_for_their_delay(cleo_emulator_factory: CleoFactory) -> None:
    emulator = cleo_emulator_factory(ack_delay=300)
    api = Api(emulator)
    api.upload("acme-retail/outbound", "later.x12", acme_810(control=23))
    assert api.files("acme-retail/inbound") == []
    assert emulator.advance(299) == 0
    assert emulator.advance(1) == 1
    assert len(api.files("acme-retail/inbound")) == 1


def test_rejected_and_silent_shares_are_deterministic_per_seed(cleo_emulator_factory: CleoFactory) -> None:
    outcomes = []
    for _ in range(2):
        emulator = cleo_emulator_factory(reject_rate=0.3, silence_rate=0.3, seed=7)
        api = Api(emulator)
        for n in range(12):
            api.upload("acme-retail/outbound", f"{n}.x12", acme_810(control=100 + n))
        outcomes.append([r.outcome for r in emulator.ack_records])
        answers = len(api.files("acme-retail/inbound"))
        assert answers == 12 - outcomes[-1].count("silent")
    assert outcomes[0] == outcomes[1]
    assert {"accepted", "rejected", "silent"} <= set(outcomes[0])


def test_forced_rejection_names_the_refused_element(cleo_emulator_factory: CleoFactory) -> None:
    emulator = cleo_emulator_factory(reject_rate=1.0)
    api = Api(emulator)
    api.upload("acme-retail/outbound", "r.x12", acme_810(control=30))
    segs = segments(only_file(api, "acme-retail/inbound"))
    assert ["AK3", "BIG", "2", "", "8"] in segs and ["AK4", "1", "", "8", "20240311"] in segs
    assert ["AK5", "R", "5"] in segs and ["AK9", "R", "1", "1", "0"] in segs


def test_acks_can_be_switched_off(cleo_emulator_factory: CleoFactory) -> None:
    emulator = cleo_emulator_factory(acks=False)
    api = Api(emulator)
    api.upload("acme-retail/outbound", "x.x12", acme_810())
    assert api.files("acme-retail/inbound") == []


def test_partner_documents_use_the_partners_own_envelope(cleo_emulator: CleoEmulator) -> None:
    name = cleo_emulator.drop_partner_document("northwind-grocers", "850")
    content = cleo_emulator.files_in("northwind/inbound")[name]
    segs = segments(content)
    assert len(content.decode().split("~")[0]) + 1 == 106
    assert segs[0][1] == "00" and segs[0][6].strip() == "123456789" and segs[0][12] == "00501"
    assert segs[0][11] == "^" and content.decode()[3] == "|"
    assert [s[0] for s in segs] == ["ISA", "GS", "ST", "BEG", "PO1", "CTT", "SE", "GE", "IEA"]
    assert segs[1][1] == "PO" and segs[6][1] == "5"

    dropped = cleo_emulator.drop_partner_document("bolt-fasteners", "810")
    supplier = cleo_emulator.files_in("bolt/inbound")[dropped]
    assert [s[0] for s in segments(supplier)][2:8] == ["ST", "BIG", "IT1", "TDS", "CTT", "SE"]
    with pytest.raises(ValueError, match="850"):
        cleo_emulator.drop_partner_document("acme-retail", "810")


def test_a_lost_upload_response_still_stores_the_file(cleo_emulator: CleoEmulator) -> None:
    api = Api(cleo_emulator)
    cleo_emulator.faults.add(FaultRule(kind="lost_response", path_prefix="/api/folders/", method="POST", remaining=1))
    with pytest.raises(requests.ConnectionError):
        api.upload("bolt/outbound", "lost.x12", b"abc")
    assert cleo_emulator.files_in("bolt/outbound") == {"lost.x12": b"abc"}
    assert cleo_emulator.requests_to(UPLOAD, "POST", 201) == 1


def test_acks_arrive_on_their_own_after_a_real_delay(cleo_emulator_factory: CleoFactory) -> None:
    emulator = cleo_emulator_factory(ack_delay=0.2)
    api = Api(emulator)
    api.upload("acme-retail/outbound", "timer.x12", acme_810(control=31))
    deadline = time.monotonic() + 5
    while not emulator.files_in("acme-retail/inbound") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(emulator.files_in("acme-retail/inbound")) == 1


def test_control_endpoints_for_other_processes(cleo_emulator: CleoEmulator) -> None:
    api = Api(cleo_emulator)
    dropped = requests.post(f"{cleo_emulator.url}/_sandbox/partner-documents", timeout=5,
                            json={"partner": "coastal-packaging", "kind": "810"})
    assert dropped.status_code == 201 and dropped.json()["name"] in cleo_emulator.files_in("coastal/inbound")
    wrong = requests.post(f"{cleo_emulator.url}/_sandbox/partner-documents", timeout=5,
                          json={"partner": "nobody", "kind": "810"})
    assert wrong.status_code == 422 and "nobody" in wrong.json()["message"]
    api.upload("acme-retail/outbound", "c.x12", acme_810(control=32))
    acks = requests.get(f"{cleo_emulator.url}/_sandbox/acks", timeout=5).json()["acks"]
    assert [(a["file_name"], a["outcome"], a["delivered"]) for a in acks] == [("c.x12", "accepted", True)]
    assert requests.post(f"{cleo_emulator.url}/_sandbox/expire-tokens", timeout=5).status_code == 204
    assert api.call("GET", "/api/folders").status_code == 401


# ---- acknowledgments as partners' translators write them ----

def northwind_810(control: int) -> bytes:
    """The acme sample addressed to northwind-grocers, a 005010 partner."""
    text = acme_810(control=control).decode("ascii")
    text = text.replace("ZZ*ACMERETAIL     ", "01*123456789      ").replace("*U*00401*", "*^*00501*")
    text = text.replace("*HARBORSUPPLY*ACMERETAIL*", "*HARBORSUPPLY*123456789*").replace("*X*004010~", "*X*005010~")
    return text.encode("ascii")


def test_a_5010_partner_answers_with_a_999(cleo_emulator_factory: CleoFactory) -> None:
    emulator = cleo_emulator_factory(reject_rate=1.0)
    api = Api(emulator)
    assert api.upload("northwind/outbound", "nw.x12", northwind_810(40)).status_code == 201
    (reply,) = api.files("northwind/inbound")
    assert reply["name"].startswith("999_northwind-grocers_")
    segs = segments(content_of(api, reply))
    assert segs[0][12] == "00501" and segs[1][1] == "FA" and segs[1][8] == "005010"
    body = [s for s in segs if s[0] not in ("ISA", "GS", "GE", "IEA", "SE")]
    assert body[:3] == [["ST", "999", "0001", "005010X231A1"], ["AK1", "IN", "40", "005010"], ["AK2", "810", "0001"]]
    assert ["IK3", "BIG", "2", "", "8"] in body and ["IK5", "R", "5"] in body and ["AK9", "R", "1", "1", "0"] in body
    assert not [s for s in body if s[0] in ("AK3", "AK4", "AK5")]


def test_dialects_ta1_with_997_ak103_in_4010_ak904_disagreeing_and_short_dates(
        cleo_emulator_factory: CleoFactory) -> None:
    emulator = cleo_emulator_factory(reject_rate=1.0)
    emulator.acks.speak("ta1_with_997", "ak103_in_4010", "ak904_disagrees", "short_gs_dates")
    api = Api(emulator)
    api.upload("acme-retail/outbound", "d.x12", acme_810(control=41))
    (reply,) = api.files("acme-retail/inbound")
    segs = segments(content_of(api, reply))
    assert [s[0] for s in segs[:3]] == ["ISA", "TA1", "GS"] and segs[1][1] == "000000041" and segs[1][4:] == ["A",
                                                                                                            "000"]
    assert len(segs[2][4]) == 6 and segs[2][8] == "004010"
    assert ["AK1", "IN", "41", "004010"] in segs and ["AK5", "R", "5"] in segs
    assert ["AK9", "R", "1", "1", "1"] in segs  # AK904 claims the rejected set as accepted
    assert segs[-1] == ["IEA", "1", segs[0][13]]


def test_a_003060_997_and_unknown_dialects_are_refused(cleo_emulator_factory: CleoFactory) -> None:
    emulator = cleo_emulator_factory()
    emulator.acks.speak("version_003060")
    api = Api(emulator)
    api.upload("acme-retail/outbound", "o.x12", acme_810(control=42))
    segs = segments(only_file(api, "acme-retail/inbound"))
    assert segs[0][12] == "00306" and segs[1][8] == "003060" and ["AK5", "A"] in segs
    with pytest.raises(ValueError, match="dialect"):
        emulator.acks.speak("klingon")

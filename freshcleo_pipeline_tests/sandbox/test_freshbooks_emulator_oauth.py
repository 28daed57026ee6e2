"""The FreshBooks emulator's OAuth and identity, checked over HTTP against the reference's rules."""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Callable
from typing import Any

import pytest
import requests

from freshcleo_pipeline.sandbox.freshbooks import FreshBooksEmulator
from freshcleo_pipeline.settings import SANDBOX_FRESHBOOKS_CLIENT_ID, SANDBOX_FRESHBOOKS_CLIENT_SECRET

Tokens = Callable[..., dict[str, Any]]
CLIENT = {"client_id": SANDBOX_FRESHBOOKS_CLIENT_ID, "client_secret": SANDBOX_FRESHBOOKS_CLIENT_SECRET}


def consent(emulator: FreshBooksEmulator, redirect_uri: str, **extra: str) -> requests.Response:
    params = {"client_id": SANDBOX_FRESHBOOKS_CLIENT_ID, "response_type": "code", "redirect_uri": redirect_uri,
              **extra}
    return requests.get(f"{emulator.url}/oauth/authorize/", params=params, allow_redirects=False, timeout=10)


def redirect_query(response: requests.Response) -> dict[str, str]:
    return dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(response.headers["Location"]).query))


def token(emulator: FreshBooksEmulator, **fields: str) -> requests.Response:
    return requests.post(f"{emulator.url}/auth/oauth/token", data={**CLIENT, **fields}, timeout=10)


def me(emulator: FreshBooksEmulator, access_token: str) -> requests.Response:
    return requests.get(f"{emulator.url}/auth/api/v1/users/me", timeout=10,
                        headers={"Authorization": f"Bearer {access_token}"})


def test_code_flow_redirects_with_code_and_state_and_tokens_work(freshbooks_emulator: FreshBooksEmulator,
                                                                  freshbooks_redirect_uri: str) -> None:
    answer = consent(freshbooks_emulator, freshbooks_redirect_uri, state="st/ate 1",
                     scope="user:profile:read user:invoices:read")
    assert answer.status_code == 302
    assert answer.headers["Location"].startswith(freshbooks_redirect_uri + "?")
    query = redirect_query(answer)
    assert query["state"] == "st/ate 1"
    issued = token(freshbooks_emulator, grant_type="authorization_code", code=query["code"],
                   redirect_uri=freshbooks_redirect_uri)
    assert issued.status_code == 200
    body = issued.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 43_200
    assert body["scope"] == "user:profile:read user:invoices:read"
    assert abs(body["created_at"] - freshbooks_emulator.now().timestamp()) < 5
    assert me(freshbooks_emulator, body["access_token"]).status_code == 200


def test_code_is_single_use(freshbooks_emulator: FreshBooksEmulator, freshbooks_redirect_uri: str) -> None:
    code = redirect_query(consent(freshbooks_emulator, freshbooks_redirect_uri))["code"]
    first = token(freshbooks_emulator, grant_type="authorization_code", code=code,
                  redirect_uri=freshbooks_redirect_uri)
    second = token(freshbooks_emulator, grant_type="authorization_code", code=code,
                   redirect_uri=freshbooks_redirect_uri)
    assert first.status_code == 200
    assert second.status_code == 400
    assert second.json()["error"] == "invalid_grant"
    assert "error_description" in second.json()


@pytest.mark.parametrize(("wait", "accepted"), [(299, True), (301, False)])
def test_code_expires_after_five_minutes(freshbooks_emulator: FreshBooksEmulator, freshbooks_redirect_uri: str,
                                         wait: int, accepted: bool) -> None:
    code = redirect_query(consent(freshbooks_emulator, freshbooks_redirect_uri))["code"]
    freshbooks_emulator.advance_clock(wait)
    answer = token(freshbooks_emulator, grant_type="authorization_code", code=code,
                   redirect_uri=freshbooks_redirect_uri)
    assert (answer.status_code == 200) is accepted
    if not accepted:
        assert answer.json()["error"] == "invalid_grant"


def test_code_exchange_needs_the_same_redirect_uri(freshbooks_emulator_factory: Callable[..., FreshBooksEmulator]
                                                   ) -> None:
    uris = ["https://app.example.com/cb", "https://app.example.com/other"]
    emulator = freshbooks_emulator_factory(redirect_uris=uris)
    code = redirect_query(consent(emulator, uris[0]))["code"]
    answer = token(emulator, grant_type="authorization_code", code=code, redirect_uri=uris[1])
    assert answer.status_code == 400
    assert answer.json()["error"] == "invalid_grant"


def test_authorize_refuses_unregistered_redirect_without_redirecting(freshbooks_emulator: FreshBooksEmulator,
                                                                     freshbooks_redirect_uri: str) -> None:
    for uri in (freshbooks_redirect_uri + "/", freshbooks_redirect_uri + "?x=1", "https://evil.example/cb"):
        answer = consent(freshbooks_emulator, uri)
        assert answer.status_code == 400, uri
        assert "Location" not in answer.headers
        assert answer.json()["error"] == "invalid_request"
    wrong_client = requests.get(f"{freshbooks_emulator.url}/oauth/authorize", allow_redirects=False, timeout=10,
                                params={"client_id": "nope", "response_type": "code",
                                        "redirect_uri": freshbooks_redirect_uri})
    assert wrong_client.status_code == 400
    assert wrong_client.json()["error"] == "invalid_client"


def test_authorize_reports_unknown_scope_and_bad_response_type_by_redirect(
        freshbooks_emulator: FreshBooksEmulator, freshbooks_redirect_uri: str) -> None:
    bad_scope = redirect_query(consent(freshbooks_emulator, freshbooks_redirect_uri, scope="user:nothing:read",
                                       state="s1"))
    assert bad_scope["error"] == "invalid_scope"
    assert bad_scope["state"] == "s1"
    assert "code" not in bad_scope
    answer = requests.get(f"{freshbooks_emulator.url}/oauth/authorize", allow_redirects=False, timeout=10,
                          params={"client_id": SANDBOX_FRESHBOOKS_CLIENT_ID, "response_type": "token",
                                  "redirect_uri": freshbooks_redirect_uri})
    assert redirect_query(answer)["error"] == "unsupported_response_type"


def test_legacy_authorize_path_is_served(freshbooks_emulator: FreshBooksEmulator,
                                         freshbooks_redirect_uri: str) -> None:
    answer = requests.get(f"{freshbooks_emulator.url}/service/auth/oauth/authorize", allow_redirects=False,
                          timeout=10, params={"client_id": SANDBOX_FRESHBOOKS_CLIENT_ID, "response_type": "code",
                                              "redirect_uri": freshbooks_redirect_uri})
    assert answer.status_code == 302
    assert "code" in redirect_query(answer)


@pytest.mark.parametrize("encoding", ["form", "json", "multipart"])
def test_token_endpoint_accepts_form_json_and_multipart(freshbooks_emulator: FreshBooksEmulator,
                                                        freshbooks_redirect_uri: str, encoding: str) -> None:
    code = freshbooks_emulator.authorize(freshbooks_redirect_uri)
    fields = {**CLIENT, "grant_type": "authorization_code", "code": code, "redirect_uri": freshbooks_redirect_uri}
    url = f"{freshbooks_emulator.url}/auth/oauth/token"
    if encoding == "form":
        answer = requests.post(url, data=fields, timeout=10)
    elif encoding == "json":
        answer = requests.post(url, data=json.dumps(fields), headers={"Content-Type": "application/json"},
                               timeout=10)
    else:  # as the docs' curl -F example: values wrapped in literal double quotes
        answer = requests.post(url, files={k: (None, f'"{v}"') for k, v in fields.items()}, timeout=10)
    assert answer.status_code == 200, answer.text
    assert answer.json()["access_token"]


def test_token_endpoint_rejects_wrong_secret_and_grant_type(freshbooks_emulator: FreshBooksEmulator) -> None:
    wrong = requests.post(f"{freshbooks_emulator.url}/auth/oauth/token", timeout=10,
                          data={"client_id": SANDBOX_FRESHBOOKS_CLIENT_ID, "client_secret": "wrong",
                                "grant_type": "refresh_token", "refresh_token": "x"})
    assert wrong.status_code == 401
    assert wrong.json()["error"] == "invalid_client"
    assert SANDBOX_FRESHBOOKS_CLIENT_SECRET not in wrong.text
    odd = token(freshbooks_emulator, grant_type="password")
    assert odd.status_code == 400
    assert odd.json()["error"] == "unsupported_grant_type"


def test_refresh_rotates_and_a_used_refresh_token_is_rejected(freshbooks_emulator: FreshBooksEmulator,
                                                              freshbooks_tokens: Tokens) -> None:
    first = freshbooks_tokens(freshbooks_emulator)
    rotated = token(freshbooks_emulator, grant_type="refresh_token", refresh_token=first["refresh_token"])
    assert rotated.status_code == 200
    second = rotated.json()
    assert second["refresh_token"] != first["refresh_token"]
    assert second["access_token"] != first["access_token"]
    assert freshbooks_emulator.refresh_count == 1
    reused = token(freshbooks_emulator, grant_type="refresh_token", refresh_token=first["refresh_token"])
    assert reused.status_code == 400
    assert reused.json()["error"] == "invalid_grant"
    assert freshbooks_emulator.refresh_count == 1
    # The grant lives on through the newest pair; the superseded access token is dead.
    assert me(freshbooks_emulator, second["access_token"]).status_code == 200
    assert me(freshbooks_emulator, first["access_token"]).status_code == 401
    again = token(freshbooks_emulator, grant_type="refresh_token", refresh_token=second["refresh_token"])
    assert again.status_code == 200
    assert freshbooks_emulator.refresh_count == 2


def test_access_token_expires_after_its_lifetime(freshbooks_emulator_factory: Callable[..., FreshBooksEmulator],
                                                 freshbooks_tokens: Tokens) -> None:
    emulator = freshbooks_emulator_factory(access_token_lifetime=600)
    issued = freshbooks_tokens(emulator)
    assert issued["expires_in"] == 600
    emulator.advance_clock(599)
    assert me(emulator, issued["access_token"]).status_code == 200
    emulator.advance_clock(2)
    expired = me(emulator, issued["access_token"])
    assert expired.status_code == 401
    assert expired.json() == {"error": "unauthenticated",
                              "error_description": "This action requires authentication to continue."}
    refreshed = token(emulator, grant_type="refresh_token", refresh_token=issued["refresh_token"])
    assert me(emulator, refreshed.json()["access_token"]).status_code == 200


def test_expire_and_revoke_controls(freshbooks_emulator: FreshBooksEmulator, freshbooks_tokens: Tokens) -> None:
    issued = freshbooks_tokens(freshbooks_emulator)
    assert requests.post(f"{freshbooks_emulator.url}/_sandbox/freshbooks/tokens/expire", timeout=10
                         ).status_code == 204
    assert me(freshbooks_emulator, issued["access_token"]).status_code == 401
    refreshed = token(freshbooks_emulator, grant_type="refresh_token", refresh_token=issued["refresh_token"]).json()
    assert me(freshbooks_emulator, refreshed["access_token"]).status_code == 200
    assert requests.post(f"{freshbooks_emulator.url}/_sandbox/freshbooks/tokens/revoke", timeout=10
                         ).status_code == 204
    assert me(freshbooks_emulator, refreshed["access_token"]).status_code == 401
    dead = token(freshbooks_emulator, grant_type="refresh_token", refresh_token=refreshed["refresh_token"])
    assert dead.json()["error"] == "invalid_grant"
    counted = requests.get(f"{freshbooks_emulator.url}/_sandbox/freshbooks/oauth", timeout=10).json()
    assert counted == {"refresh_count": 1}


def test_unknown_or_missing_token_is_401_and_missing_scope_is_403(freshbooks_emulator: FreshBooksEmulator,
                                                                  freshbooks_tokens: Tokens) -> None:
    path = f"/accounting/account/{freshbooks_emulator.account_id}/invoices/invoices"
    assert requests.get(freshbooks_emulator.url + path, timeout=10).status_code == 401
    bogus = requests.get(freshbooks_emulator.url + path, headers={"Authorization": "Bearer nope"}, timeout=10)
    assert bogus.status_code == 401
    assert bogus.json()["error"] == "unauthenticated"
    narrow = freshbooks_tokens(freshbooks_emulator, scope="user:profile:read user:bills:read")
    denied = requests.get(freshbooks_emulator.url + path, timeout=10,
                          headers={"Authorization": f"Bearer {narrow['access_token']}"})
    assert denied.status_code == 403
    assert "user:invoices:read" in denied.json()["error_description"]
    assert freshbooks_emulator.requests_to("/accounting/account/{account_id}/invoices/invoices", status=403) == 1


def test_users_me_carries_the_three_business_ids(freshbooks_emulator_factory: Callable[..., FreshBooksEmulator],
                                                 freshbooks_tokens: Tokens) -> None:
    emulator = freshbooks_emulator_factory(account_id="xK9pQ", business_id=77001)
    answer = me(emulator, freshbooks_tokens(emulator)["access_token"])
    body = answer.json()
    assert "result" not in body["response"]
    membership = body["response"]["business_memberships"][0]
    business = membership["business"]
    assert business["account_id"] == "xK9pQ"
    assert business["id"] == 77001
    assert business["business_uuid"] == emulator.business_uuid
    assert business["name"] == "Harbor Supply Co."
    assert membership["id"] != business["id"]


@pytest.mark.parametrize("uri", ["http://app.example.com/cb", "https://app.example.com/cb?next=1",
                                 "http://localhost:8713/cb"])
def test_redirect_uris_must_be_https_or_the_loopback_override(uri: str) -> None:
    with pytest.raises(ValueError, match="redirect_uris"):
        FreshBooksEmulator(invoices=1, redirect_uris=[uri])

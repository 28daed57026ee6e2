"""The adapter's contract with Cleo Integration Cloud, pinned to the reference sheet's shapes.

These are the tests to edit, with ``cleo/paths.py``, when a real tenant is at hand: each one restates a shape the
sheet marks confirmed (login form, collection envelope, ``_links``, string booleans) or proposed (the folder and
file objects of the upload shape). Pure: no HTTP.
"""

from __future__ import annotations

import datetime as dt

import pytest

from freshcleo_pipeline.cleo import paths

FOLDER = {  # the proposed folder object, with a string-typed flag as Cleo writes some of them
    "id": "Hk2mQ9vXRr6cZ0pLw1yT4g", "name": "ACME", "path": "/outbound/ACME",
    "permissions": ["upload"], "allowedFilePatterns": ["*.x12", "*.edi"], "overwrite": "false",
    "meta": {"resourceType": "folder", "created": "2026-03-02T09:15:00Z", "lastModified": "2026-03-02T09:15:00Z"},
    "_links": {"self": {"href": "/api/folders/Hk2mQ9vXRr6cZ0pLw1yT4g"},
               "files": {"href": "/api/folders/Hk2mQ9vXRr6cZ0pLw1yT4g/files"},
               "folders": {"href": "/api/folders/Hk2mQ9vXRr6cZ0pLw1yT4g/folders"},
               "parent": {"href": "/api/folders/Pw7cN1sGQe2lYb8kD4hR0v"}},
}
FILE = {  # the answer to an upload
    "id": "V8sLr2NqQ1eXk5mB0tYc7w", "name": "FRESHCLEO_ACME_810_000000417.x12",
    "path": "/outbound/ACME/FRESHCLEO_ACME_810_000000417.x12", "size": 2318,
    "meta": {"resourceType": "file", "created": "2026-03-02T14:03:11Z", "lastModified": "2026-03-02T14:03:11Z"},
    "_links": {"self": {"href": "/api/files/V8sLr2NqQ1eXk5mB0tYc7w"},
               "content": {"href": "/api/files/V8sLr2NqQ1eXk5mB0tYc7w/content"},
               "folder": {"href": "/api/folders/Hk2mQ9vXRr6cZ0pLw1yT4g"},
               "move": {"href": "/api/files/V8sLr2NqQ1eXk5mB0tYc7w/move"}},
}


def test_login_is_the_password_grant_form_with_three_fields_and_no_client_credentials() -> None:
    assert paths.AUTHENTICATION_PATH == "/api/authentication"
    assert paths.login_form("fc-mailbox-01", "Xy!7kq@Lm2") == {
        "grant_type": "password", "username": "fc-mailbox-01", "password": "Xy!7kq@Lm2"}


@pytest.mark.parametrize("answer, lifetime", [
    ({"access_token": "b3f1", "token_type": "bearer", "expires_in": 3600}, 3600.0),
    ({"access_token": "b3f1"}, None),  # only access_token is certain: the lifetime is then assumed
    ({"access_token": "b3f1", "expires_in": "720"}, 720.0),
])
def test_only_the_access_token_is_required_in_the_login_answer(answer: dict[str, object],
                                                               lifetime: float | None) -> None:
    assert paths.token_from(answer) == ("b3f1", lifetime)
    with pytest.raises(paths.UnexpectedResponseError, match="access_token"):
        paths.token_from({"token": "b3f1"})


def test_collections_page_by_zero_based_start_index_and_count_and_stop_at_total_results() -> None:
    assert paths.page_query(0) == {"startIndex": 0, "count": 100}
    assert paths.page_query(100, name='997 "A"') == {"startIndex": 100, "count": 100,
                                                     "filter": 'name eq "997 \\"A\\""'}
    assert paths.page_query(0, prefix="997_")["filter"] == 'name sw "997_"'
    page, total = paths.parse_page({"totalResults": 24, "startIndex": 0, "count": 20,
                                    "resources": [FILE] * 20})
    assert (len(page), total) == (20, 24)


def test_the_folder_object_gives_path_permissions_patterns_and_links() -> None:
    folder = paths.parse_folder(FOLDER)
    assert (folder.path, folder.can_upload, folder.can_download) == ("outbound/ACME", True, False)
    assert folder.files_href == "/api/folders/Hk2mQ9vXRr6cZ0pLw1yT4g/files"
    assert folder.allowed_patterns == ("*.x12", "*.edi") and folder.overwrite is False


def test_the_file_object_gives_size_timestamps_and_the_links_to_follow() -> None:
    file = paths.parse_file(FILE)
    assert (file.size, file.name) == (2318, "FRESHCLEO_ACME_810_000000417.x12")
    assert file.created == dt.datetime(2026, 3, 2, 14, 3, 11, tzinfo=dt.UTC)
    assert (file.content_href, file.move_href) == ("/api/files/V8sLr2NqQ1eXk5mB0tYc7w/content",
                                                   "/api/files/V8sLr2NqQ1eXk5mB0tYc7w/move")
    assert paths.parse_file({**FILE, "size": "2318"}).size == 2318  # numbers may come as strings


def test_links_may_be_arrays_and_hrefs_are_followed_as_given() -> None:
    linked = {**FILE, "_links": {**FILE["_links"], "content": [{"href": "/files/V8s/content"}]}}  # type: ignore[dict-item]
    assert paths.parse_file(linked).content_href == "/files/V8s/content"


@pytest.mark.parametrize("value, expected", [(True, True), ("true", True), ("TRUE", True), (False, False),
                                             ("false", False), (None, False), ("yes", False)])
def test_true_false_properties_are_read_leniently(value: object, expected: bool) -> None:
    assert paths.flag(value) is expected


@pytest.mark.parametrize("name, patterns, allowed", [
    ("acme_810_000000017.x12", ("*.x12", "*.edi"), True),
    ("acme_810_000000017.txt", ("*.x12", "*.edi"), False),
    ("acme_810_000000017.x12", ("[^acme_.*\\.x12$]",), True),
    ("other.x12", ("[acme_.*]",), False),
    ("anything", (), True),
])
def test_names_are_checked_against_the_mailbox_allowed_patterns(name: str, patterns: tuple[str, ...],
                                                                allowed: bool) -> None:
    assert paths.name_allowed(name, patterns) is allowed


def test_uploads_are_one_multipart_part_named_file_and_moves_name_the_target_by_href() -> None:
    request = paths.upload_request("a.x12", b"ISA")
    assert list(request) == ["files"] and request["files"]["file"][0] == "a.x12"
    target = paths.parse_folder(FOLDER)
    assert paths.move_request(target) == {"json": {"folder": {"href": "/api/folders/Hk2mQ9vXRr6cZ0pLw1yT4g"}}}
    assert paths.move_request(target, "b.x12")["json"]["name"] == "b.x12"

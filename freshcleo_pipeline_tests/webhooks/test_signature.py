"""The webhook signature reproduces the reference's test vectors and the form parser fails closed."""

from __future__ import annotations

import pytest

from freshcleo_pipeline.freshbooks.webhooks import (
    WebhookFormError,
    compute_signature,
    parse_event,
    parse_form,
    signature_matches,
    signed_message,
)

VERIFIER = "scADVVi5QuKuj5qTjVkbJNYQe7V7USpGd"
VECTOR_1 = b"name=invoice.create&object_id=1234567&account_id=6BApk&business_id=6543&identity_id=1234&user_id=1"

VECTORS = [
    (VECTOR_1, "/S03vyYmI7CekM4YXBHUhs9o5rnMtqGLrW3aA8S9gPc="),
    (b"account_id=6BApk&name=invoice.create&object_id=1234567&business_id=6543&identity_id=1234&user_id=1",
     "A6b7yZaQFoVDU3houO1Jmm9KdE8iVBR3/h5e8DV+lbY="),
    (b"name=payment.create&object_id=7720&account_id=xK9pQ&business_id=77001&identity_id=2001&user_id=1",
     "CHANAb1PC0MWd20iPrH9lCDlUqnxUJRBJ1+z/KI18BE="),
    (b"name=client.update&object_id=5001&account_id=xK9pQ&system=https%3A%2F%2Fnorthwind.freshbooks.com"
     b"&note=Caf%C3%A9+%22A%22&user_id=1", "wUvGXNFrP+lZ0cdWgHxhqjpdtNS/NUnucl9axeYwT8U="),
]


@pytest.mark.parametrize(("body", "expected"), VECTORS)
def test_reference_vectors_reproduce_and_verify(body: bytes, expected: str) -> None:
    assert compute_signature(VERIFIER, body) == expected
    assert signature_matches(VERIFIER, parse_form(body), expected)


def test_signed_text_is_python_json_with_spaces_and_ascii_escapes() -> None:
    fields = parse_form(VECTORS[3][0])
    assert signed_message(fields) == ('{"name": "client.update", "object_id": "5001", "account_id": "xK9pQ", '
                                      '"system": "https://northwind.freshbooks.com", "note": "Caf\\u00e9 \\"A\\"", '
                                      '"user_id": "1"}')


def test_compact_json_signature_does_not_verify() -> None:
    assert not signature_matches(VERIFIER, parse_form(VECTOR_1), "ENwe/8MKygI95fsgnoIq4e1NnxOVl/8jdAncDoXm2/k=")


def test_other_verifier_hex_digest_or_empty_header_do_not_verify() -> None:
    fields = parse_form(VECTOR_1)
    assert not signature_matches("another-verifier", fields, VECTORS[0][1])
    hex_digest = "fd2d37bf262623b09e90ce185c11d486cf68e6b9ccb6a18bad6dda03c4bd80f7"
    assert not signature_matches(VERIFIER, fields, hex_digest)
    assert not signature_matches(VERIFIER, fields, "")
    assert not signature_matches(VERIFIER, fields, None)


def test_event_fields_are_read_in_arrival_order() -> None:
    event = parse_event(VECTORS[1][0])
    assert (event.name, event.object_id, event.account_id) == ("invoice.create", "1234567", "6BApk")
    assert list(event.fields) == ["account_id", "name", "object_id", "business_id", "identity_id", "user_id"]


@pytest.mark.parametrize(("body", "problem"), [
    (b"", "empty"),
    (b"\xff\xfe", "not UTF-8"),
    (b"name=invoice.update&object_id", "key=value"),
    (b"name=invoice.update&name=invoice.delete&object_id=1&account_id=A", "repeated"),
    (b"name=invoice.update&account_id=A", "'object_id'"),
    (b"name=invoice.update&object_id=1%20OR%201&account_id=A", "'object_id'"),
    (b"name=callback.verify&object_id=1&account_id=A", "'verifier'"),
    (b"name=invoice.update&object_id=1&account_id=A&note=%ff", "not UTF-8"),
])
def test_malformed_forms_are_refused_naming_the_problem(body: bytes, problem: str) -> None:
    with pytest.raises(WebhookFormError, match=problem):
        parse_event(body)


def test_verification_form_keeps_its_verifier_out_of_repr() -> None:
    event = parse_event(b"user_id=1&name=callback.verify&verifier=Q7mZr2Kp9wXa4Lc8VbN3tY6uE1sH5gJd"
                        b"&object_id=2001&account_id=xK9pQ&system=https%3A%2F%2Fnorthwind.freshbooks.com")
    assert event.is_verification and event.verifier == "Q7mZr2Kp9wXa4Lc8VbN3tY6uE1sH5gJd"
    assert event.object_id == "2001"
    assert "Q7mZr2" not in repr(event)

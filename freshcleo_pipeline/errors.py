"""Typed errors shared by every layer.

Each error names the field, the value (redacted when secret) and what was expected, because operators read
these messages in the Dagster UI and in the CLI, not in a debugger.
"""

from __future__ import annotations


class FreshcleoError(Exception):
    """Base of every error the product raises on purpose."""


class ConfigError(FreshcleoError):
    """A setting or configuration file holds a missing or bad value."""

    def __init__(self, field: str, value: object, expected: str, *, secret: bool = False) -> None:
        shown = "<redacted>" if secret else repr(value)
        super().__init__(f"{field}: got {shown}; expected {expected}")
        self.field = field
        self.expected = expected


class PartnerConfigError(ConfigError):
    """partners.yaml is missing, malformed, or inconsistent."""


class DataError(FreshcleoError):
    """A source document cannot be turned into a business document (the field and value are named)."""

    def __init__(self, document: str, field: str, value: object, expected: str) -> None:
        super().__init__(f"{document}: field {field} = {value!r}; expected {expected}")
        self.document = document
        self.field = field
        self.value = value
        self.expected = expected


class ApiError(FreshcleoError):
    """An outside API answered with an error that retrying will not fix."""

    def __init__(self, service: str, method: str, path: str, status: int | None, detail: str) -> None:
        code = f"HTTP {status}" if status is not None else "no response"
        super().__init__(f"{service} {method} {path}: {code}: {detail}")
        self.service = service
        self.method = method
        self.path = path
        self.status = status
        self.detail = detail


class AuthError(ApiError):
    """Credentials or tokens were refused; a person has to act (re-authorize, fix a password)."""


class LedgerError(FreshcleoError):
    """The ledger database is unreachable, outdated, or refused an operation."""


class WritesRefusedError(FreshcleoError):
    """A write to FreshBooks was refused before anything changed: by our own setting (read-only, the default)
    or by FreshBooks for want of a write scope. A person has to act; retrying cannot help."""

    def __init__(self, kind: str, reason: str, *, scope: str | None = None) -> None:
        super().__init__(f"FreshBooks {kind} not written: {reason}")
        self.kind = kind
        self.reason = reason
        self.scope = scope


class WriteRejectedError(ApiError):
    """FreshBooks refused the content of a write (HTTP 400/413/422): names FreshBooks' field and message.
    Nothing was created; sending the same body again would be refused again."""

    def __init__(self, method: str, path: str, status: int, *, field: str, message: str,
                 errno: int | None = None, value: object = None) -> None:
        shown = "" if value is None else f" (value {value!r})"
        super().__init__("freshbooks", method, path, status, f"field {field}: {message}{shown}")
        self.field = field
        self.message = message
        self.errno = errno
        self.value = value


class WriteOutcomeUnknownError(ApiError):
    """A write may or may not have been applied (the request left; no answer, a reset, a 5xx, or an answer
    without the created id): look for the object before sending the write again."""

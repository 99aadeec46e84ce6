"""Validation of plain request fields, with messages that name the field and the value."""

from __future__ import annotations

import re

from ipam.domain.errors import InvalidArgument

_NAME = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9._-]{0,61}[A-Za-z0-9])?$")
_MAC = re.compile(r"^[0-9a-f]{2}(:[0-9a-f]{2}){5}$")
MAX_TEXT = 253
# Any string field of any request, whatever it means: longer is a mistake or an attack.
MAX_FIELD = 4096
# Label sets (host and endpoint labels, lease attributes): a List page of 1000 stays far below
# the 4 MiB gRPC message limit.
MAX_LABELS = 64
MAX_LABEL_BYTES = 4096
# How much of a bad value a message quotes.
SHOWN = 64


def shown(value: str) -> str:
    """`value` quoted for an error message: at most its first SHOWN characters."""
    if len(value) <= SHOWN:
        return repr(value)
    return f"{value[:SHOWN]!r}... ({len(value)} characters)"


def request_string(field: str, value: str, max_length: int = MAX_FIELD) -> str:
    """Any string a request carries, before anything looks at it: PostgreSQL text cannot hold
    NUL, and no field needs more than `max_length` characters."""
    if "\x00" in value:
        raise InvalidArgument(f"{field}: {shown(value)} contains a NUL byte")
    if len(value) > max_length:
        raise InvalidArgument(f"{field}: {len(value)} characters, more than the limit of {max_length}")
    return value


def name(field: str, value: str) -> str:
    """A resource name: 1-63 letters, digits, '.', '_' or '-', starting and ending alphanumeric."""
    if not value:
        raise InvalidArgument(f"{field}: must not be empty")
    if not _NAME.fullmatch(value):
        raise InvalidArgument(
            f"{field}: {shown(value)} is not a valid name (1-63 letters, digits, '.', '_' or '-', "
            "starting and ending with a letter or digit)"
        )
    return value


def text(field: str, value: str, *, required: bool = False, max_length: int = MAX_TEXT) -> str:
    """Free text such as an owner id or an interface name."""
    if required and not value:
        raise InvalidArgument(f"{field}: must not be empty")
    if len(value) > max_length:
        raise InvalidArgument(f"{field}: longer than {max_length} characters")
    if any(ord(c) < 32 for c in value):
        raise InvalidArgument(f"{field}: {shown(value)} contains control characters")
    return value


def integer_range(field: str, value: int, low: int, high: int) -> int:
    if value < low or value > high:
        raise InvalidArgument(f"{field}: {value} is out of range ({low}..{high})")
    return value


def non_negative(field: str, value: int, high: int = 2**31 - 1) -> int:
    if value < 0:
        raise InvalidArgument(f"{field}: {value} must not be negative")
    return integer_range(field, value, 0, high)


def labels(field: str, values: dict[str, str]) -> dict[str, str]:
    """A label set (or lease attributes): bounded in count and total size, so every record fits a
    List page."""
    if len(values) > MAX_LABELS:
        raise InvalidArgument(f"{field}: {len(values)} labels, more than the limit of {MAX_LABELS}")
    size = sum(len(key.encode()) + len(value.encode()) for key, value in values.items())
    if size > MAX_LABEL_BYTES:
        raise InvalidArgument(f"{field}: {size} bytes of keys and values, more than the limit of {MAX_LABEL_BYTES}")
    for key, value in values.items():
        if not key:
            raise InvalidArgument(f"{field}: label keys must not be empty")
        text(f"{field}[{shown(key)}]", key, max_length=MAX_TEXT)
        text(f"{field}[{shown(key)}]", value, max_length=MAX_TEXT)
    return dict(values)


def mac(field: str, value: str) -> str:
    """A MAC address as six hex bytes separated by ':' or '-' (normalized to lower case and ':');
    "" stays "" (none given)."""
    normalized = value.strip().lower().replace("-", ":")
    if normalized and not _MAC.match(normalized):
        raise InvalidArgument(f"{field}: {shown(value)} is not a MAC address (six hex bytes, e.g. 02:42:ac:11:00:02)")
    return normalized

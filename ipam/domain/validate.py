"""Validation of plain request fields, with messages that name the field and the value."""

from __future__ import annotations

import re

from ipam.domain.errors import InvalidArgument

_NAME = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9._-]{0,61}[A-Za-z0-9])?$")
MAX_TEXT = 253


def name(field: str, value: str) -> str:
    """A resource name: 1-63 letters, digits, '.', '_' or '-', starting and ending alphanumeric."""
    if not value:
        raise InvalidArgument(f"{field}: must not be empty")
    if not _NAME.fullmatch(value):
        raise InvalidArgument(
            f"{field}: {value!r} is not a valid name (1-63 letters, digits, '.', '_' or '-', "
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
        raise InvalidArgument(f"{field}: {value!r} contains control characters")
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
    for key, value in values.items():
        if not key:
            raise InvalidArgument(f"{field}: label keys must not be empty")
        text(f"{field}[{key!r}]", key, max_length=MAX_TEXT)
        text(f"{field}[{key!r}]", value, max_length=MAX_TEXT)
    return dict(values)

"""Page sizes and opaque page tokens for every List call (keyset pagination)."""

from __future__ import annotations

import base64
import binascii
import dataclasses
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeGuard, TypeVar

from ipam.domain import validate
from ipam.domain.errors import InvalidArgument
from ipam.domain.records import Page

T = TypeVar("T")

DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000
# Our tokens are under 200 characters; a longer one was not made by us (and nests no deeper than
# JSON's recursion limit allows).
MAX_TOKEN_LENGTH = 512
MIN_KEY, MAX_KEY = -(2**63), 2**63 - 1  # ids are PostgreSQL bigints
# A page holds at most about this many bytes of items, so with protobuf's framing it always fits
# the 4 MiB gRPC message limit, even with records written before the label limits existed.
PAGE_BYTES = 2 * 1024 * 1024


@dataclass(frozen=True)
class PageRequest:
    size: int
    after: str | int | None  # the sort key of the last item of the previous page


def page_request(page_size: int, page_token: str, *, kind: str, key_type: type = str) -> PageRequest:
    """The page a List call asks for; `key_type` is the type of the list's sort key (name or id)."""
    if page_size < 0:
        raise InvalidArgument(f"page_size: {page_size} must not be negative")
    size = min(page_size or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)
    if not page_token:
        return PageRequest(size, None)
    shown = validate.shown(page_token)
    wrong = InvalidArgument(f"page_token: {shown} is not a page token returned by a List{kind} call")
    if len(page_token) > MAX_TOKEN_LENGTH:
        raise wrong
    try:
        decoded = json.loads(base64.urlsafe_b64decode(page_token.encode()))
        after, made_by = decoded["a"], decoded["k"]
    except (ValueError, KeyError, TypeError, IndexError, binascii.Error, RecursionError):
        raise wrong from None
    if made_by != kind or type(after) is not key_type or not _valid_key(after):
        raise wrong
    return PageRequest(size, after)


def _valid_key(key: object) -> TypeGuard[str | int]:
    if isinstance(key, int):
        return MIN_KEY <= key <= MAX_KEY
    return isinstance(key, str) and len(key) <= validate.MAX_TEXT and "\x00" not in key


def next_token(kind: str, last_key: str | int | None) -> str:
    if last_key is None:
        return ""
    return base64.urlsafe_b64encode(json.dumps({"k": kind, "a": last_key}).encode()).decode()


def page_of(rows: list[T], page: PageRequest, kind: str, key: Callable[[T], str | int]) -> Page[T]:
    """Cut the `size + 1` rows a store query returned into a page and the next token; a page
    ends early (but never empty) where its items would pass PAGE_BYTES."""
    more = len(rows) > page.size
    items = rows[: page.size]
    total = 0
    for count, item in enumerate(items):
        total += approx_size(item)
        if total > PAGE_BYTES and count > 0:
            items, more = items[:count], True
            break
    return Page(items, next_token(kind, key(items[-1]) if more else None))


def approx_size(value: object) -> int:
    """Roughly the bytes `value` (a record, its fields and labels) takes in a message."""
    if isinstance(value, str):
        return 8 + len(value.encode())
    if isinstance(value, dict):
        return sum(8 + approx_size(k) + approx_size(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return sum(approx_size(v) for v in value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return sum(approx_size(getattr(value, f.name)) for f in dataclasses.fields(value))
    return 12

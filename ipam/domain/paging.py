"""Page sizes and opaque page tokens for every List call (keyset pagination)."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from ipam.domain.errors import InvalidArgument
from ipam.domain.records import Page

T = TypeVar("T")

DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000


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
    try:
        decoded = json.loads(base64.urlsafe_b64decode(page_token.encode()))
        after = decoded["a"]
        if decoded["k"] != kind or type(after) is not key_type or not isinstance(after, str | int):
            raise ValueError
        return PageRequest(size, after)
    except (ValueError, KeyError, TypeError):
        raise InvalidArgument(f"page_token: {page_token!r} is not a page token returned by a List{kind} call") from None


def next_token(kind: str, last_key: str | int | None) -> str:
    if last_key is None:
        return ""
    return base64.urlsafe_b64encode(json.dumps({"k": kind, "a": last_key}).encode()).decode()


def page_of(rows: list[T], page: PageRequest, kind: str, key: Callable[[T], str | int]) -> Page[T]:
    """Cut the `size + 1` rows a store query returned into a page and the next token."""
    more = len(rows) > page.size
    items = rows[: page.size]
    return Page(items, next_token(kind, key(items[-1]) if more else None))

"""Parsing CIDRs and addresses, page sizes and page tokens, plain field validation (no database)."""

from __future__ import annotations

import base64
import ipaddress
import json
import re

import pytest

from ipam.domain import validate
from ipam.domain.errors import InvalidArgument
from ipam.domain.network import parse_address, parse_cidr
from ipam.domain.paging import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, PageRequest, next_token, page_of, page_request

# ---- parse_cidr -------------------------------------------------------------------------------

CIDRS = [
    # text, canonical form, family
    ("10.0.0.0/8", "10.0.0.0/8", 4),
    ("10.1.0.0/16", "10.1.0.0/16", 4),
    ("192.168.1.7/32", "192.168.1.7/32", 4),
    ("0.0.0.0/0", "0.0.0.0/0", 4),
    ("fd00::/48", "fd00::/48", 6),
    ("FD00:0:0:0::/64", "fd00::/64", 6),
    ("fd00:0000:0000:0003::/64", "fd00:0:0:3::/64", 6),
    ("::/0", "::/0", 6),
    ("fd00::1/128", "fd00::1/128", 6),
]


@pytest.mark.parametrize(("text", "canonical", "family"), CIDRS)
def test_parse_cidr(text: str, canonical: str, family: int) -> None:
    network = parse_cidr("cidr", text)
    assert str(network) == canonical
    assert network.version == family


BAD_CIDRS = [
    # text, message (a substring)
    ("", "cidr: must not be empty"),
    ("10.0.0.0", "cidr: '10.0.0.0' is not a CIDR (expected address/prefix-length)"),
    ("fd00::", "cidr: 'fd00::' is not a CIDR"),
    ("10.0.0.1/24", "cidr: '10.0.0.1/24' has host bits set; did you mean '10.0.0.0/24'?"),
    ("10.1.2.3/16", "cidr: '10.1.2.3/16' has host bits set; did you mean '10.1.0.0/16'?"),
    ("fd00::1/64", "cidr: 'fd00::1/64' has host bits set; did you mean 'fd00::/64'?"),
    ("fd00:0:0:3:1::/48", "did you mean 'fd00::/48'?"),
    ("10.0.0.0/33", "cidr: '10.0.0.0/33' is not a valid CIDR"),
    ("fd00::/129", "cidr: 'fd00::/129' is not a valid CIDR"),
    ("10.0.0.0/", "cidr: '10.0.0.0/' is not a valid CIDR"),
    ("10.0.0.0/-1", "cidr: '10.0.0.0/-1' is not a valid CIDR"),
    ("10.0.0/24", "cidr: '10.0.0/24' is not a valid CIDR"),
    ("300.0.0.0/8", "cidr: '300.0.0.0/8' is not a valid CIDR"),
    ("garbage/8", "cidr: 'garbage/8' is not a valid CIDR"),
    (" 10.0.0.0/24", "cidr: ' 10.0.0.0/24' is not a valid CIDR"),
    ("10.0.0.0/24/8", "cidr: '10.0.0.0/24/8' is not a valid CIDR"),
    # A zone index means nothing in a pool and PostgreSQL's cidr type cannot store it.
    ("fe80::%eth0/64", "cidr: 'fe80::%eth0/64'"),
]


@pytest.mark.parametrize(("text", "message"), BAD_CIDRS)
def test_parse_cidr_rejects(text: str, message: str) -> None:
    with pytest.raises(InvalidArgument, match=re.escape(message)):
        parse_cidr("cidr", text)


def test_parse_cidr_names_the_field() -> None:
    with pytest.raises(InvalidArgument, match=r"^reserved_cidrs\[3\]: "):
        parse_cidr("reserved_cidrs[3]", "10.0.0.1/24")


# ---- parse_address ----------------------------------------------------------------------------

ADDRESSES = [
    # text, canonical form, family
    ("10.0.0.1", "10.0.0.1", 4),
    ("0.0.0.0", "0.0.0.0", 4),
    ("255.255.255.255", "255.255.255.255", 4),
    ("fd00::1", "fd00::1", 6),
    ("FD00:0000::0001", "fd00::1", 6),
    ("::", "::", 6),
    ("::ffff:10.0.0.1", "::ffff:a00:1", 6),
]


@pytest.mark.parametrize(("text", "canonical", "family"), ADDRESSES)
def test_parse_address(text: str, canonical: str, family: int) -> None:
    address = parse_address("address", text)
    assert str(address) == canonical
    assert address.version == family


BAD_ADDRESSES = [
    # text, message (a substring)
    ("", "address: must not be empty"),
    ("10.0.0.0/24", "address: '10.0.0.0/24' is not a valid IP address"),
    ("10.0.0.256", "address: '10.0.0.256' is not a valid IP address"),
    ("010.0.0.1", "address: '010.0.0.1' is not a valid IP address"),
    ("10.0.0.1 ", "address: '10.0.0.1 ' is not a valid IP address"),
    ("fd00:::1", "address: 'fd00:::1' is not a valid IP address"),
    ("host.example", "address: 'host.example' is not a valid IP address"),
    # A zone index is no part of an address an IPAM hands out; PostgreSQL's inet cannot store it.
    ("fe80::1%eth0", "address: 'fe80::1%eth0'"),
]


@pytest.mark.parametrize(("text", "message"), BAD_ADDRESSES)
def test_parse_address_rejects(text: str, message: str) -> None:
    with pytest.raises(InvalidArgument, match=re.escape(message)):
        parse_address("address", text)


# ---- paging -----------------------------------------------------------------------------------

SIZES = [
    # page_size asked, page size used
    (0, DEFAULT_PAGE_SIZE),
    (1, 1),
    (50, 50),
    (MAX_PAGE_SIZE, MAX_PAGE_SIZE),
    (MAX_PAGE_SIZE + 1, MAX_PAGE_SIZE),
    (2**31 - 1, MAX_PAGE_SIZE),
]


@pytest.mark.parametrize(("asked", "size"), SIZES)
def test_page_size(asked: int, size: int) -> None:
    assert page_request(asked, "", kind="Pools") == PageRequest(size, None)


def test_default_and_max_page_size() -> None:
    assert DEFAULT_PAGE_SIZE == 100
    assert MAX_PAGE_SIZE == 1000


@pytest.mark.parametrize("asked", [-1, -1000])
def test_negative_page_size(asked: int) -> None:
    with pytest.raises(InvalidArgument, match=re.escape(f"page_size: {asked} must not be negative")):
        page_request(asked, "", kind="Pools")


@pytest.mark.parametrize("key", ["prod-v4", "", "ünïcode/名前", 0, 1, 2**63 - 1, -5])
def test_token_round_trip(key: str | int) -> None:
    token = next_token("Pools", key)
    assert token
    assert re.fullmatch(r"[A-Za-z0-9_=-]+", token)  # safe in a URL or a shell
    assert page_request(10, token, kind="Pools", key_type=type(key)) == PageRequest(10, key)


def test_no_token_after_the_last_page() -> None:
    assert next_token("Pools", None) == ""


def encoded(value: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode()


BAD_TOKENS = [
    pytest.param(next_token("Hosts", "node-1"), id="another-kind"),
    pytest.param(next_token("pools", "prod-v4"), id="kind-case"),
    pytest.param("garbage", id="garbage"),
    pytest.param("!!!!", id="not-base64"),
    pytest.param("Zm9v", id="not-json"),  # base64 of "foo"
    pytest.param(base64.urlsafe_b64encode(b"\xff\xfe{").decode(), id="not-utf8"),
    pytest.param(next_token("Pools", "prod-v4")[:-4], id="truncated"),
    pytest.param(encoded(["Pools", "prod-v4"]), id="json-list"),
    pytest.param(encoded("Pools"), id="json-string"),
    pytest.param(encoded(7), id="json-number"),
    pytest.param(encoded(None), id="json-null"),
    pytest.param(encoded({"k": "Pools"}), id="no-key"),
    pytest.param(encoded({"a": "prod-v4"}), id="no-kind"),
    pytest.param(encoded({"k": "Pools", "a": None}), id="key-null"),
    pytest.param(encoded({"k": "Pools", "a": 1.5}), id="key-float"),
    pytest.param(encoded({"k": "Pools", "a": ["x"]}), id="key-list"),
    pytest.param(encoded({"k": "Pools", "a": {"x": 1}}), id="key-object"),
    # bool is an int subclass in Python, but next_token never makes one: no sort key is a bool.
    pytest.param(encoded({"k": "Pools", "a": True}), id="key-bool"),
    pytest.param(encoded({"k": "Pools", "a": 5}), id="key-id-for-a-list-sorted-by-name"),
]


@pytest.mark.parametrize("token", BAD_TOKENS)
def test_bad_token(token: str) -> None:
    message = f"page_token: {token!r} is not a page token returned by a ListPools call"
    with pytest.raises(InvalidArgument, match=re.escape(message)):
        page_request(10, token, kind="Pools")


PAGES = [
    # rows the store returned (it asks for size + 1), page size, items, next token's key
    ([], 3, [], None),
    ([1], 3, [1], None),
    ([1, 2, 3], 3, [1, 2, 3], None),  # exactly a page: no more rows, no token
    ([1, 2, 3, 4], 3, [1, 2, 3], 3),  # one more row than the page: a token after the last item
    ([1, 2], 1, [1], 1),
]


@pytest.mark.parametrize(("rows", "size", "items", "after"), PAGES)
def test_page_of(rows: list[int], size: int, items: list[int], after: int | None) -> None:
    page = page_of(rows, PageRequest(size, None), "Leases", key=lambda row: row * 10)
    assert page.items == items
    if after is None:
        assert page.next_token == ""
    else:
        assert page_request(size, page.next_token, kind="Leases", key_type=int) == PageRequest(size, after * 10)


# ---- plain field validation -------------------------------------------------------------------

GOOD_NAMES = ["a", "9", "prod-v4", "Prod.V4_x", "a" * 63, "a-b", "0.0"]


@pytest.mark.parametrize("value", GOOD_NAMES)
def test_good_name(value: str) -> None:
    assert validate.name("name", value) == value


BAD_NAMES = [
    # value, message (a substring)
    ("", "name: must not be empty"),
    ("a" * 64, "is not a valid name"),
    ("-prod", "name: '-prod' is not a valid name"),
    ("prod-", "name: 'prod-' is not a valid name"),
    ("prod v4", "name: 'prod v4' is not a valid name"),
    ("prod/v4", "name: 'prod/v4' is not a valid name"),
    ("prödv4", "name: 'prödv4' is not a valid name"),
    ("prod\n", "name: 'prod\\n' is not a valid name"),  # `$` also matches before a final newline
    ("\nprod", "name: '\\nprod' is not a valid name"),
]


@pytest.mark.parametrize(("value", "message"), BAD_NAMES)
def test_bad_name(value: str, message: str) -> None:
    with pytest.raises(InvalidArgument, match=re.escape(message)):
        validate.name("name", value)


TEXTS = [
    # value, required, max length, message (a substring) or None when valid
    ("", False, 253, None),
    ("", True, 253, "owner: must not be empty"),
    ("eth0", True, 253, None),
    ("x" * 253, False, 253, None),
    ("x" * 254, False, 253, "owner: longer than 253 characters"),
    ("abcd", False, 3, "owner: longer than 3 characters"),
    ("a\tb", False, 253, "owner: 'a\\tb' contains control characters"),
    ("ab\n", False, 253, "owner: 'ab\\n' contains control characters"),
    ("a\x00", False, 253, "contains control characters"),
    ("ünïcode", False, 253, None),
]


@pytest.mark.parametrize(("value", "required", "max_length", "message"), TEXTS)
def test_text(value: str, required: bool, max_length: int, message: str | None) -> None:
    if message is None:
        assert validate.text("owner", value, required=required, max_length=max_length) == value
    else:
        with pytest.raises(InvalidArgument, match=re.escape(message)):
            validate.text("owner", value, required=required, max_length=max_length)


RANGES = [
    # value, low, high, message (a substring) or None when valid
    (0, 0, 10, None),
    (10, 0, 10, None),
    (11, 0, 10, "count: 11 is out of range (0..10)"),
    (-1, 0, 10, "count: -1 is out of range (0..10)"),
]


@pytest.mark.parametrize(("value", "low", "high", "message"), RANGES)
def test_integer_range(value: int, low: int, high: int, message: str | None) -> None:
    if message is None:
        assert validate.integer_range("count", value, low, high) == value
    else:
        with pytest.raises(InvalidArgument, match=re.escape(message)):
            validate.integer_range("count", value, low, high)


def test_non_negative() -> None:
    assert validate.non_negative("cooldown_seconds", 0) == 0
    assert validate.non_negative("cooldown_seconds", 2**31 - 1) == 2**31 - 1
    with pytest.raises(InvalidArgument, match=re.escape("cooldown_seconds: -1 must not be negative")):
        validate.non_negative("cooldown_seconds", -1)
    with pytest.raises(InvalidArgument, match=re.escape("cooldown_seconds: 2147483648 is out of range")):
        validate.non_negative("cooldown_seconds", 2**31)


LABELS = [
    # labels, message (a substring) or None when valid
    ({}, None),
    ({"zone": "a", "gpu": ""}, None),
    ({"": "a"}, "labels: label keys must not be empty"),
    ({"zone": "a\nb"}, "labels['zone']: 'a\\nb' contains control characters"),
    ({"zo\tne": "a"}, "contains control characters"),
    ({"zone": "x" * 254}, "labels['zone']: longer than 253 characters"),
]


@pytest.mark.parametrize(("values", "message"), LABELS)
def test_labels(values: dict[str, str], message: str | None) -> None:
    if message is None:
        assert validate.labels("labels", values) == values
    else:
        with pytest.raises(InvalidArgument, match=re.escape(message)):
            validate.labels("labels", values)


def test_ipaddress_module_is_strict_about_leading_zeros() -> None:
    # parse_address relies on it: "010.0.0.1" is octal in some libcs and decimal in others.
    with pytest.raises(ValueError):
        ipaddress.ip_address("010.0.0.1")

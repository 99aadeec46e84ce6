"""Host label selectors: parsing, matching and the errors for malformed ones (no database)."""

from __future__ import annotations

import re

import pytest

from ipam.domain.errors import InvalidArgument
from ipam.domain.selector import Requirement, Selector, parse_selector

FIELD = "host_selector"

PARSE = [
    # selector text, requirements
    ("", ()),
    ("   ", ()),
    ("zone=a", (Requirement("zone", "=", "a"),)),
    ("zone==a", (Requirement("zone", "=", "a"),)),
    ("zone!=a", (Requirement("zone", "!=", "a"),)),
    ("gpu", (Requirement("gpu", "exists"),)),
    ("!gpu", (Requirement("gpu", "!exists"),)),
    ("zone=", (Requirement("zone", "=", ""),)),
    ("example.com/zone=eu-1.b_2", (Requirement("example.com/zone", "=", "eu-1.b_2"),)),
    (
        " zone = a , env != dev , gpu , ! spot ",
        (
            Requirement("zone", "=", "a"),
            Requirement("env", "!=", "dev"),
            Requirement("gpu", "exists"),
            Requirement("spot", "!exists"),
        ),
    ),
]


@pytest.mark.parametrize(("text", "requirements"), PARSE)
def test_parse(text: str, requirements: tuple[Requirement, ...]) -> None:
    assert parse_selector(FIELD, text) == Selector(requirements)


MATCH = [
    # selector text, labels, matches
    ("", {}, True),
    ("", {"zone": "a"}, True),
    ("zone=a", {"zone": "a"}, True),
    ("zone=a", {"zone": "b"}, False),
    ("zone=a", {}, False),
    ("zone=a", {"Zone": "a"}, False),  # keys are case-sensitive
    ("zone=a", {"zone": "A"}, False),  # and so are values
    ("zone==a", {"zone": "a"}, True),
    ("zone==a", {"zone": "b"}, False),
    ("zone!=a", {"zone": "a"}, False),
    ("zone!=a", {"zone": "b"}, True),
    ("zone!=a", {}, True),  # a missing key is "not equal", as in Kubernetes
    ("zone=", {"zone": ""}, True),
    ("zone=", {}, False),
    ("gpu", {"gpu": ""}, True),
    ("gpu", {"gpu": "0"}, True),
    ("gpu", {"zone": "a"}, False),
    ("!gpu", {}, True),
    ("!gpu", {"gpu": "1"}, False),
    ("zone=a,env!=dev,gpu,!spot", {"zone": "a", "env": "prod", "gpu": "1"}, True),
    ("zone=a,env!=dev,gpu,!spot", {"zone": "a", "gpu": "1"}, True),
    ("zone=a,env!=dev,gpu,!spot", {"zone": "a", "env": "dev", "gpu": "1"}, False),
    ("zone=a,env!=dev,gpu,!spot", {"zone": "a", "env": "prod"}, False),
    ("zone=a,env!=dev,gpu,!spot", {"zone": "a", "env": "prod", "gpu": "1", "spot": ""}, False),
    ("zone=a,zone=b", {"zone": "a"}, False),  # every term must hold
]


@pytest.mark.parametrize(("text", "labels", "matches"), MATCH)
def test_matches(text: str, labels: dict[str, str], matches: bool) -> None:
    assert parse_selector(FIELD, text).matches(labels) is matches


MALFORMED = [
    # selector text, message (a substring)
    ("zone=a,,gpu", "host_selector: empty term in selector 'zone=a,,gpu'"),
    ("zone=a,", "host_selector: empty term in selector 'zone=a,'"),
    (",zone=a", "host_selector: empty term in selector ',zone=a'"),
    ("zone=a, ,gpu", "host_selector: empty term"),
    ("=a", "host_selector: bad label key '' in selector term '=a'"),
    ("!=a", "host_selector: bad label key '' in selector term '!=a'"),
    ("!", "host_selector: bad label key '' in selector term '!'"),
    ("!!gpu", "host_selector: bad label key '!gpu' in selector term '!!gpu'"),
    ("!a=b", "host_selector: bad label key '!a' in selector term '!a=b'"),
    ("-zone", "host_selector: bad label key '-zone' in selector term '-zone'"),
    ("zone-", "host_selector: bad label key 'zone-'"),
    ("zo ne=a", "host_selector: bad label key 'zo ne' in selector term 'zo ne=a'"),
    ("a!b", "host_selector: bad label key 'a!b'"),
    ("zone in (a,b)", "host_selector: bad label key 'zone in (a'"),
    ("zone=a=b", "host_selector: bad label value 'a=b' in selector term 'zone=a=b'"),
    ("zone=-a", "host_selector: bad label value '-a' in selector term 'zone=-a'"),
    ("zone=a b", "host_selector: bad label value 'a b'"),
    ("zone!=a/b", "host_selector: bad label value 'a/b' in selector term 'zone!=a/b'"),
    ("gpu,zone=a;b", "host_selector: bad label value 'a;b' in selector term 'zone=a;b'"),
]


@pytest.mark.parametrize(("text", "message"), MALFORMED)
def test_malformed(text: str, message: str) -> None:
    with pytest.raises(InvalidArgument, match=re.escape(message)):
        parse_selector(FIELD, text)


def test_error_names_the_field_given() -> None:
    with pytest.raises(InvalidArgument, match=r"^pools\[2\]\.host_selector: "):
        parse_selector("pools[2].host_selector", "zone=a,,b")


def test_plan_groups_terms_by_operator() -> None:
    plan = parse_selector(FIELD, "zone=a,env!=dev,env!=test,gpu,!spot,zone=a").plan()
    assert (plan.equal, plan.not_equal, plan.present, plan.absent) == (
        {"zone": "a"},
        {"env": ["dev", "test"]},
        ["gpu"],
        ["spot"],
    )
    assert not plan.impossible
    assert parse_selector(FIELD, "zone=a,zone=b").plan().impossible


def test_limits() -> None:
    assert len(parse_selector(FIELD, ",".join(["a"] * 100)).requirements) == 100
    assert parse_selector(FIELD, "k=" + "v" * 8190).requirements == (Requirement("k", "=", "v" * 8190),)
    with pytest.raises(InvalidArgument, match="host_selector: 101 terms; a selector has at most 100"):
        parse_selector(FIELD, ",".join(["a"] * 101))
    with pytest.raises(InvalidArgument, match="host_selector: 8193 characters, more than the limit of 8192"):
        parse_selector(FIELD, "k=" + "v" * 8191)

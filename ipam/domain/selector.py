"""Host label selectors in the Kubernetes equality style: "zone=a,env!=dev,gpu"."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ipam.domain import validate
from ipam.domain.errors import InvalidArgument

_KEY = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9._/-]*[A-Za-z0-9])?$")
_VALUE = re.compile(r"^([A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?)?$")
# A selector is checked against every endpoint or host it filters: bound its cost.
MAX_TERMS = 100
MAX_LENGTH = 8192  # characters


@dataclass(frozen=True)
class Requirement:
    key: str
    operator: str  # "=", "!=", "exists", "!exists"
    value: str = ""

    def matches(self, labels: dict[str, str]) -> bool:
        if self.operator == "exists":
            return self.key in labels
        if self.operator == "!exists":
            return self.key not in labels
        if self.operator == "=":
            return labels.get(self.key) == self.value
        return labels.get(self.key) != self.value


@dataclass(frozen=True)
class Selector:
    requirements: tuple[Requirement, ...]

    def matches(self, labels: dict[str, str]) -> bool:
        return all(r.matches(labels) for r in self.requirements)

    def plan(self) -> Plan:
        """The terms grouped by operator, so that a database checks each group in one step."""
        plan = Plan()
        for r in self.requirements:
            if r.operator == "=":
                if plan.equal.setdefault(r.key, r.value) != r.value:
                    plan.impossible = True  # one key, two values
            elif r.operator == "!=":
                plan.not_equal.setdefault(r.key, []).append(r.value)
            else:
                (plan.present if r.operator == "exists" else plan.absent).append(r.key)
        return plan


@dataclass
class Plan:
    """A selector as four checks: labels contain `equal`, have every `present` key and no
    `absent` key, and no label's value is one of `not_equal[key]`. Each is one jsonb operator
    (or one pass over the labels) on parameters built once per query, where a sub-query per
    endpoint unnested and evaluated every term: the terms' cost per endpoint is a few binary
    searches each, and MAX_TERMS bounds it."""

    equal: dict[str, str] = field(default_factory=dict)
    present: list[str] = field(default_factory=list)
    absent: list[str] = field(default_factory=list)
    not_equal: dict[str, list[str]] = field(default_factory=dict)
    impossible: bool = False  # "k=a,k=b": nothing matches


def parse_selector(field: str, text: str) -> Selector:
    """Parse "k=v,k2!=v2,k3,!k4" ("" selects everything); errors name the bad term."""
    validate.request_string(field, text, MAX_LENGTH)
    terms = text.count(",") + 1
    if terms > MAX_TERMS:
        raise InvalidArgument(f"{field}: {terms} terms; a selector has at most {MAX_TERMS}")
    requirements = []
    for raw in text.split(","):
        term = raw.strip()
        if not term:
            if text.strip():
                raise InvalidArgument(f"{field}: empty term in selector {text!r}")
            continue
        requirements.append(_parse_term(field, term))
    return Selector(tuple(requirements))


def _parse_term(field: str, term: str) -> Requirement:
    for op in ("!=", "==", "="):
        if op in term:
            key, _, value = term.partition(op)
            key, value = key.strip(), value.strip()
            _check(field, term, key, value)
            return Requirement(key, "!=" if op == "!=" else "=", value)
    if term.startswith("!"):
        key = term[1:].strip()
        _check(field, term, key, "")
        return Requirement(key, "!exists")
    _check(field, term, term, "")
    return Requirement(term, "exists")


def _check(field: str, term: str, key: str, value: str) -> None:
    if not _KEY.match(key):
        raise InvalidArgument(f"{field}: bad label key {key!r} in selector term {term!r}")
    if not _VALUE.match(value):
        raise InvalidArgument(f"{field}: bad label value {value!r} in selector term {term!r}")

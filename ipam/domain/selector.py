"""Host label selectors in the Kubernetes equality style: "zone=a,env!=dev,gpu"."""

from __future__ import annotations

import re
from dataclasses import dataclass

from ipam.domain.errors import InvalidArgument

_KEY = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9._/-]*[A-Za-z0-9])?$")
_VALUE = re.compile(r"^([A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?)?$")


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


def parse_selector(field: str, text: str) -> Selector:
    """Parse "k=v,k2!=v2,k3,!k4" ("" selects everything); errors name the bad term."""
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

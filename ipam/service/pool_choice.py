"""Which pool serves a request: the named one, or the first enabled pool matching the host."""

from __future__ import annotations

from sqlalchemy import Connection

from ipam.domain.errors import FailedPrecondition, InvalidArgument
from ipam.domain.records import PoolRecord
from ipam.domain.selector import parse_selector
from ipam.store import hosts as host_store
from ipam.store import pools as pool_store
from ipam.store import spaces as space_store


def choose_pool(
    conn: Connection, *, pool: str, space: str, family: int, host: str, labels: dict[str, str]
) -> PoolRecord:
    if pool:
        chosen = pool_store.get_pool(conn, pool)
        if space and space != chosen.space:
            raise InvalidArgument(f'space: pool "{pool}" is in address space "{chosen.space}", not "{space}"')
        if family and family != chosen.family:
            raise InvalidArgument(f'family: pool "{pool}" is IPv{chosen.family}, not IPv{family}')
        if chosen.disabled:
            raise FailedPrecondition(f'pool "{pool}" is disabled')
        if not parse_selector("host_selector", chosen.host_selector).matches(labels):
            raise FailedPrecondition(
                f'pool "{pool}" does not serve host "{host}": its host selector '
                f"{chosen.host_selector!r} does not match the host's labels {_show(labels)}"
            )
        return chosen
    space_id = space_store.space_id(conn, space)
    for candidate in pool_store.enabled_pools(conn, space_id, family or None):
        if parse_selector("host_selector", candidate.host_selector).matches(labels):
            return candidate
    which = f"IPv{family} pool" if family else "pool"
    raise FailedPrecondition(
        f'no enabled {which} in address space "{space or space_store.DEFAULT_SPACE}" serves host "{host}" '
        f"(labels {_show(labels)})"
    )


def require_known(conn: Connection, *, pool: str = "", host: str = "", space: str = "") -> None:
    """A list filter that names a pool, host or space that does not exist is NOT_FOUND, not empty."""
    if pool:
        pool_store.get_pool(conn, pool)
    if host:
        host_store.host_id_and_labels(conn, host, allow_drained=True)
    if space:
        space_store.space_id(conn, space)


def _show(labels: dict[str, str]) -> str:
    return "{" + ", ".join(f"{k}={v}" for k, v in sorted(labels.items())) + "}"

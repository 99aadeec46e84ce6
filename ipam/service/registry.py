"""Use cases of the endpoint registry: register, label, get, list, look up by address, and
where a watch starts. Leases feed the registry by themselves: the triggers of migration 0006,
and for a dead host's whole subnet the backlog of migration 0008 (ipam.service.registry_backlog)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Connection, Engine

from ipam.domain import validate
from ipam.domain.errors import AlreadyExists, InvalidArgument, NotFound, OutOfRange
from ipam.domain.network import parse_address
from ipam.domain.paging import page_of, page_request
from ipam.domain.records import AddressHolder, EndpointRecord, Page
from ipam.domain.selector import parse_selector
from ipam.service.pool_choice import require_known
from ipam.service.revision_state import Matcher, states_at
from ipam.store import endpoints as endpoint_store
from ipam.store import events as event_store
from ipam.store import hosts as host_store
from ipam.store import spaces as space_store
from ipam.store import tx
from ipam.store.spaces import DEFAULT_SPACE

STATES = ("active", "deleted")
# How many batches of events a list numbers at most before it lists (see list_endpoints).
_SEQUENCE_ROUNDS = 10
# Clocks of clients and servers differ a little; "now" from a client is not "the future".
_CLOCK_SKEW = timedelta(seconds=5)


@dataclass(frozen=True)
class EndpointSpec:
    host: str
    owner_id: str
    interface: str
    network: str = ""
    mac: str = ""
    labels: dict[str, str] | None = None


def register_endpoint(engine: Engine, spec: EndpointSpec) -> EndpointRecord:
    """Create the live endpoint of an owner key, or merge network, MAC and labels into it."""
    validate.name("host", spec.host)
    _owner_key(spec.owner_id, spec.interface)
    validate.text("network", spec.network)
    labels = validate.labels("labels", spec.labels or {})
    fields = {"network": spec.network, "mac": validate.mac("mac", spec.mac), "labels": labels}

    def work(conn: Connection) -> EndpointRecord:
        host_id, _ = host_store.host_id_and_labels(conn, spec.host)
        row = endpoint_store.register(conn, host_id, spec.owner_id, spec.interface, fields)
        if row is not None:
            endpoint_store.record_event(conn, row.id, "added" if row.inserted else "updated")
            return _merged(conn, row.id)
        found = endpoint_store.live(conn, spec.owner_id, spec.interface)
        assert found is not None, "the upsert returns no row only when a live endpoint exists"
        if found.host != spec.host:
            raise AlreadyExists(
                f'endpoint {spec.owner_id}/{spec.interface} is registered on host "{found.host}", not "{spec.host}"'
            )
        return _get(conn, found.id)  # nothing changed

    return tx.run(engine, work, retry_on_constraints=("endpoint_one_live",))


def update_labels(
    engine: Engine, owner_id: str, interface: str, labels: dict[str, str], remove: list[str], replace: bool
) -> EndpointRecord:
    _owner_key(owner_id, interface)
    validate.labels("labels", labels)
    for key in remove:
        validate.text("remove_labels", key, required=True)
    if replace and remove:
        raise InvalidArgument("remove_labels: not allowed with replace = true (replace sets all labels)")

    def work(conn: Connection) -> EndpointRecord:
        endpoint_id = endpoint_store.set_labels(conn, owner_id, interface, labels, remove, replace)
        if endpoint_id is None:
            raise NotFound(f"no live endpoint {owner_id}/{interface}")
        endpoint_store.record_event(conn, endpoint_id, "updated")
        return _merged(conn, endpoint_id)

    return tx.run(engine, work)


def get_endpoint(engine: Engine, owner_id: str, interface: str, endpoint_id: int) -> EndpointRecord:
    """By id (also a deleted endpoint), or the live endpoint of an owner key."""
    if endpoint_id:
        if owner_id or interface:
            raise InvalidArgument("id: give either an id or an owner key (owner_id and interface), not both")
        validate.non_negative("id", endpoint_id, 2**63 - 1)
        found = tx.run(engine, lambda conn: endpoint_store.get(conn, endpoint_id))
        if found is None:
            raise NotFound(f"no endpoint with id {endpoint_id}")
        return found
    _owner_key(owner_id, interface)

    def work(conn: Connection) -> EndpointRecord:
        row = endpoint_store.live(conn, owner_id, interface)
        if row is None:
            raise NotFound(f"no live endpoint {owner_id}/{interface}")
        return _get(conn, row.id)

    return tx.run(engine, work)


@dataclass(frozen=True)
class EndpointFilters:
    host: str = ""
    network: str = ""
    pool: str = ""
    label_selector: str = ""
    state: str = ""


def list_endpoints(
    engine: Engine, filters: EndpointFilters, page_size: int, page_token: str
) -> tuple[Page[EndpointRecord], int]:
    """A page of endpoints as they were at the revision it returns: every change up to it and
    none after it (see `list_at_head`), every change committed before the call included."""
    page, revision, pending = list_at_head(engine, filters, page_size, page_token)
    if not pending:
        return page, revision
    # Number them now (as the event hubs do right after a commit), and list again: a list then
    # shows every change committed before it was asked for, a caller's own included.
    for _ in range(_SEQUENCE_ROUNDS):
        if tx.run(engine, event_store.sequence)[1] < event_store.SEQUENCE_BATCH:
            break
    page, revision, _ = list_at_head(engine, filters, page_size, page_token)
    return page, revision


def list_at_head(
    engine: Engine, filters: EndpointFilters, page_size: int, page_token: str
) -> tuple[Page[EndpointRecord], int, bool]:
    """A page of endpoints as they were at the newest revision, that revision, and whether
    changes were committed but not numbered yet (then not shown: they get later revisions, and a
    watch from this one delivers them; an endpoint they changed is shown as it was at the
    revision, see ipam.service.revision_state, which also tells the one exception)."""
    if filters.state and filters.state not in STATES:
        raise InvalidArgument(f"state: {filters.state!r} is not one of {', '.join(STATES)}")
    selector = parse_selector("label_selector", filters.label_selector)
    page = page_request(page_size, page_token, kind="Endpoints", key_type=int)
    wanted = {
        "host": filters.host or None,
        "network": filters.network or None,
        "pool": filters.pool or None,
        "state": filters.state or None,
    }
    matcher = Matcher(filters.host, filters.network, filters.pool, selector, filters.state)
    after = int(page.after or 0)  # ids start at 1

    def work(conn: Connection) -> tuple[list[tuple[int, EndpointRecord]], int, bool]:
        event_store.snapshot(conn)  # the endpoints and the log as of one moment
        require_known(conn, pool=filters.pool, host=filters.host)
        pruned, revision = event_store.bounds(conn)
        pending = event_store.touched_after(conn, revision)
        states = states_at(conn, pending, pruned, revision)
        rows = endpoint_store.list_endpoints(conn, wanted, selector, page, exclude=list(states))
        then = [
            (endpoint_id, state)
            for endpoint_id, state in states.items()
            if state is not None and matcher.matches(state) and endpoint_id > after
        ]
        return sorted(rows + then, key=lambda row: row[0])[: page.size + 1], revision, bool(pending)

    rows, revision, pending = tx.run(engine, work)
    found = page_of(rows, page, "Endpoints", lambda r: r[0])
    return Page([r[1] for r in found.items], found.next_token), revision, pending


def lookup_address(
    engine: Engine, address: str, space: str, at: datetime | None, retention: timedelta
) -> AddressHolder:
    """The endpoint that held `address` at `at` (default: now)."""
    ip = str(parse_address("address", address))
    space = space or DEFAULT_SPACE
    now = datetime.now(UTC)
    when = at or now
    if when > now + _CLOCK_SKEW:
        raise InvalidArgument(f"at: {_show(when)} is in the future (the server's time is {_show(now)})")
    if when < now - retention:
        raise OutOfRange(
            f"at: {_show(when)} is before the kept history (the server keeps {_span(retention)}, "
            f"from {_show(now - retention)})"
        )

    def work(conn: Connection) -> AddressHolder | None:
        found = endpoint_store.holder_at(conn, space, ip, when)
        if found is None:
            space_store.space_id(conn, space)  # NOT_FOUND for an unknown space
        return found

    holder = tx.run(engine, work)
    what = "now" if at is None else f"at {_show(when)}"
    if holder is None:
        raise NotFound(f'no endpoint held {ip} {what} (address space "{space}")')
    if holder.held_until is not None and holder.held_until <= when:
        last = holder.endpoint
        raise NotFound(
            f'no endpoint held {ip} {what} (address space "{space}"); the last before was '
            f'{last.owner_id}/{last.interface} on host "{last.host}" until {_show(holder.held_until)}'
        )
    return holder


def watch_cursor(engine: Engine, since: int | None) -> int:
    """The revision a watch starts after: `since`, or the newest one when None."""
    pruned, newest = tx.run(engine, event_store.bounds)
    if since is None:
        return newest
    check_since(since, pruned, newest)
    return since


def check_since(since: int, pruned: int, newest: int) -> None:
    """OUT_OF_RANGE unless every change after `since` is in the log (see `watch_cursor`)."""
    if since < 0:
        raise InvalidArgument(f"since_revision: {since} must not be negative")
    if since > newest:
        raise OutOfRange(f"since_revision: {since} is ahead of the newest revision, {newest}")
    if since < pruned:
        raise OutOfRange(
            f"since_revision: changes after revision {since} were pruned (the log now starts after revision "
            f"{pruned}); list the endpoints again and watch from the revision the list returns"
        )


def _merged(conn: Connection, endpoint_id: int) -> EndpointRecord:
    """The endpoint after labels were merged into it: the merged set must keep the limits too."""
    record = _get(conn, endpoint_id)
    validate.labels("labels (merged with the endpoint's)", record.labels)
    return record


def _get(conn: Connection, endpoint_id: int) -> EndpointRecord:
    found = endpoint_store.get(conn, endpoint_id)
    assert found is not None
    return found


def _owner_key(owner_id: str, interface: str) -> None:
    validate.text("owner_id", owner_id, required=True)
    validate.text("interface", interface, required=True, max_length=64)


def _show(when: datetime) -> str:
    return when.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _span(length: timedelta) -> str:
    """`30 days`, `12 h`, `90 min`, `45 s`: the largest unit that divides it."""
    seconds = int(length.total_seconds())
    for unit, size in (("days", 86400), ("h", 3600), ("min", 60)):
        if seconds % size == 0:
            return f"{seconds // size} {unit}"
    return f"{seconds} s"

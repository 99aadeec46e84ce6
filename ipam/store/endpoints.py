"""SQL for endpoints and address history. Endpoints are read from the view `endpoint_doc`, the
same document the event log stores, so a listed endpoint and a watched one look alike.

Lease changes reach these tables through the triggers of migration 0006; this module writes
only what runtimes tell the registry directly (registration, labels).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from psycopg.types.json import Jsonb
from sqlalchemy import Connection

from ipam.domain.paging import PageRequest
from ipam.domain.records import AddressHolder, EndpointAddress, EndpointRecord
from ipam.domain.selector import Selector
from ipam.store.sql import Sql, run

_REGISTER = Sql(
    "INSERT INTO endpoint AS e (host_id, owner_id, interface, network, mac, labels, state) "
    "VALUES (:host_id, :owner_id, :interface, :network, :mac, :labels, 'active') "
    "ON CONFLICT (owner_id, interface) WHERE state = 'active' DO UPDATE SET "
    "network = CASE WHEN EXCLUDED.network <> '' THEN EXCLUDED.network ELSE e.network END, "
    "mac = CASE WHEN EXCLUDED.mac <> '' THEN EXCLUDED.mac ELSE e.mac END, "
    "labels = e.labels || EXCLUDED.labels, updated_at = now() "
    # Only a real change on the same host: otherwise no row, and the caller finds out which.
    "WHERE e.host_id = EXCLUDED.host_id AND (e.labels || EXCLUDED.labels, "
    " CASE WHEN EXCLUDED.network <> '' THEN EXCLUDED.network ELSE e.network END, "
    " CASE WHEN EXCLUDED.mac <> '' THEN EXCLUDED.mac ELSE e.mac END) IS DISTINCT FROM (e.labels, e.network, e.mac) "
    "RETURNING e.id, (e.xmax = 0) AS inserted"
)
_LIVE = Sql(
    "SELECT e.id, h.name AS host FROM endpoint e JOIN host h ON h.id = e.host_id "
    "WHERE e.owner_id = :owner_id AND e.interface = :interface AND e.state = 'active'"
)
_SET_LABELS = Sql(
    "UPDATE endpoint SET labels = CASE WHEN :replace THEN CAST(:labels AS jsonb) "
    "ELSE (labels - CAST(:remove AS text[])) || CAST(:labels AS jsonb) END, updated_at = now() "
    "WHERE owner_id = :owner_id AND interface = :interface AND state = 'active' RETURNING id"
)
_RECORD_EVENTS = Sql("SELECT ipam_record_events(CAST(:ids AS bigint[]), CAST(:kinds AS text[]))")
_DOC = Sql("SELECT doc FROM endpoint_doc WHERE id = :id")
# The selector's plan (see Selector.plan): a few lookups per endpoint, not one per term.
_MATCHING = (
    "WHERE (CAST(:host AS text) IS NULL OR h.name = :host) "
    "AND (CAST(:network AS text) IS NULL OR e.network = :network) "
    "AND (CAST(:state AS text) IS NULL OR e.state = :state) "
    "AND (CAST(:pool AS text) IS NULL OR EXISTS (SELECT 1 FROM address_history a JOIN pool p ON p.id = a.pool_id "
    " WHERE a.endpoint_id = e.id AND p.name = :pool "
    " AND CASE WHEN e.state = 'active' THEN a.held_until IS NULL ELSE a.held_until = e.deleted_at END)) "
    "AND NOT :impossible AND e.labels @> CAST(:equal AS jsonb) AND e.labels ?& CAST(:present AS text[]) "
    "AND NOT e.labels ?| CAST(:absent AS text[]) AND NOT EXISTS (SELECT 1 FROM jsonb_each_text(e.labels) l "
    " WHERE (CAST(:not_equal AS jsonb) -> l.key) ? l.value) "
)
_LIST = Sql(
    "SELECT e.id, d.doc FROM endpoint e JOIN host h ON h.id = e.host_id JOIN endpoint_doc d ON d.id = e.id "
    + _MATCHING
    + "AND (CAST(:after AS bigint) IS NULL OR e.id > :after) AND e.id <> ALL (CAST(:exclude AS bigint[])) "
    "ORDER BY e.id LIMIT :limit"
)
_MATCHING_IDS = Sql("SELECT e.id FROM endpoint e JOIN host h ON h.id = e.host_id " + _MATCHING)
# The latest holding that started at or before :at; the caller checks it had not ended.
_HOLDER_AT = Sql(
    "SELECT d.doc, a.held_from, a.held_until FROM (SELECT endpoint_id, held_from, held_until "
    "FROM address_history WHERE space_id = (SELECT id FROM address_space WHERE name = :space) "
    "AND address = CAST(:address AS inet) AND held_from <= :at ORDER BY held_from DESC LIMIT 1) a "
    "JOIN endpoint_doc d ON d.id = a.endpoint_id"
)


def register(conn: Connection, host_id: int, owner_id: str, interface: str, fields: dict[str, Any]) -> Any | None:
    """Insert or change the live endpoint of the owner key: (id, inserted), or None when nothing
    changed or it lives on another host (see `live`)."""
    params = {**fields, "labels": Jsonb(fields["labels"])}
    return run(conn, _REGISTER, {"host_id": host_id, "owner_id": owner_id, "interface": interface, **params}).first()


def live(conn: Connection, owner_id: str, interface: str) -> Any | None:
    """(id, host) of the live endpoint of an owner key."""
    return run(conn, _LIVE, {"owner_id": owner_id, "interface": interface}).first()


def set_labels(
    conn: Connection, owner_id: str, interface: str, labels: dict[str, str], remove: list[str], replace: bool
) -> int | None:
    params = {"owner_id": owner_id, "interface": interface, "labels": Jsonb(labels), "remove": remove}
    return run(conn, _SET_LABELS, {**params, "replace": replace}).scalar()


def record_event(conn: Connection, endpoint_id: int, kind: str) -> None:
    run(conn, _RECORD_EVENTS, {"ids": [endpoint_id], "kinds": [kind]})


def get(conn: Connection, endpoint_id: int) -> EndpointRecord | None:
    doc = run(conn, _DOC, {"id": endpoint_id}).scalar()
    return None if doc is None else endpoint_of(doc)


def list_endpoints(
    conn: Connection,
    filters: dict[str, str | None],
    selector: Selector,
    page: PageRequest,
    exclude: list[int] | None = None,
) -> list[tuple[int, EndpointRecord]]:
    """A page (one row more than its size, when there is more) of the matching endpoints, but
    those of `exclude`."""
    params = {**_filter_params(filters, selector), "after": page.after, "limit": page.size + 1}
    params["exclude"] = exclude or []
    return [(row.id, endpoint_of(row.doc)) for row in run(conn, _LIST, params)]


def matching_ids(conn: Connection, filters: dict[str, str | None], selector: Selector) -> set[int]:
    """The ids of every endpoint `list_endpoints` would list with these filters (all pages)."""
    return {int(row.id) for row in run(conn, _MATCHING_IDS, _filter_params(filters, selector))}


def _filter_params(filters: dict[str, str | None], selector: Selector) -> dict[str, Any]:
    plan = selector.plan()  # the selector's plan (see Selector.plan): a few lookups per endpoint
    return {
        **filters,
        "impossible": plan.impossible,
        "equal": Jsonb(plan.equal),
        "present": plan.present,
        "absent": plan.absent,
        "not_equal": Jsonb(plan.not_equal),
    }


def holder_at(conn: Connection, space: str, address: str, at: datetime) -> AddressHolder | None:
    row = run(conn, _HOLDER_AT, {"space": space, "address": address, "at": at}).first()
    return None if row is None else AddressHolder(endpoint_of(row.doc), row.held_from, row.held_until)


def endpoint_of(doc: dict[str, Any]) -> EndpointRecord:
    """The record of an `endpoint_doc` document (also the payload of every event)."""
    return EndpointRecord(
        id=int(doc["id"]),
        host=doc["host"],
        owner_id=doc["owner_id"],
        interface=doc["interface"],
        network=doc["network"],
        mac=doc["mac"],
        labels={str(k): str(v) for k, v in doc["labels"].items()},
        addresses=[EndpointAddress(a["address"], a["pool"], a["space"]) for a in doc["addresses"]],
        state=doc["state"],
        created_at=_time(doc["created_at"]),
        updated_at=_time(doc["updated_at"]),
        deleted_at=None if doc["deleted_at"] is None else _time(doc["deleted_at"]),
    )


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text)

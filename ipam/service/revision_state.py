"""Endpoints as they were at a revision, and the list filters as a test on one endpoint.

The endpoint table holds each endpoint as it is now; the event log holds, for each change, the
endpoint as the change left it (a removed one's document is read when needed: a deleted endpoint
no longer changes). So an endpoint was, at revision R, what its last event at or before R says,
and an endpoint whose first event after R is ADDED did not exist at R. That last event is looked
for backwards from R in growing windows of revisions, down to the start of the kept log, so an
endpoint changed shortly before R costs one small read. An endpoint whose last change before R is
no longer in the log (older than the retention period, or never logged: it predates the log)
cannot be told.

Every function here runs inside one snapshot (`ipam.store.events.snapshot`): the endpoint table
then shows the state after every numbered event (revisions up to the head) and after the events
committed but not numbered yet, which get revisions above the head.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection

from ipam.domain.records import EndpointRecord
from ipam.domain.selector import Selector
from ipam.store import events as event_store
from ipam.store.endpoints import endpoint_of

# The first window of revisions searched backwards for an endpoint's last event; each further
# one is WINDOW_GROWTH times larger, up to MAX_WINDOW.
FIRST_WINDOW = 1000
WINDOW_GROWTH = 8
MAX_WINDOW = 1_000_000


@dataclass(frozen=True)
class Matcher:
    """List filters as a test on one endpoint: what the list's SQL selects (all given must hold;
    a deleted endpoint's addresses are those it held at the end)."""

    host: str
    network: str
    pool: str
    selector: Selector
    state: str = ""  # "": any

    def matches(self, endpoint: EndpointRecord) -> bool:
        return (
            (not self.state or endpoint.state == self.state)
            and (not self.host or endpoint.host == self.host)
            and (not self.network or endpoint.network == self.network)
            and (not self.pool or any(a.pool == self.pool for a in endpoint.addresses))
            and self.selector.matches(endpoint.labels)
        )


def states_at(
    conn: Connection, touched: dict[int, str], pruned: int, revision: int
) -> dict[int, EndpointRecord | None]:
    """The endpoints of `touched` (id -> kind of its first event after `revision`) as they were
    at `revision`: None for one that did not exist then. An endpoint that cannot be told (see
    above) is left out."""
    states: dict[int, EndpointRecord | None] = {i: None for i, kind in touched.items() if kind == "added"}
    wanted = sorted(i for i in touched if i not in states)
    upper, window = revision, FIRST_WINDOW
    while wanted and upper > pruned:
        lower = max(pruned, upper - window)
        found = event_store.last_in(conn, wanted, lower, upper)
        states.update({i: None if doc is None else endpoint_of(doc) for i, doc in found.items()})
        wanted = [i for i in wanted if i not in found]
        upper, window = lower, min(window * WINDOW_GROWTH, MAX_WINDOW)
    return states

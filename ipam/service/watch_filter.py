"""What one filtered watch stream sees: the changes of the endpoints its filters select, told
the way a list with the same filters would change.

A client lists with filters F (state active) and gets revision R, then watches with F from R.
The stream must then turn the log's events after R into the changes of that list: an endpoint
that matched F at R and still matches after an event is UPDATED; one that stops matching (its
labels, network, host or pool addresses changed, or it was deleted) is REMOVED, once; one that
did not match at R and starts to is ADDED; one that never matches is never shown. Any field F
looks at can change: labels (RegisterEndpoint, UpdateEndpointLabels, lease attributes), network
(the same), the pools of its addresses (allocation, release), the host (a lease of the owner key
taken on another host), the state (its last address released).

So a stream needs the set of endpoints that matched F AT R, not now. `open_view` computes it in
one snapshot of the database (ipam.service.revision_state):

- an endpoint with no event after R, numbered or not yet, is the same now as at R: it matched at
  R when it matches now (the list's own query, for the ids);
- any other one matched at R when its state at R (from the log) matches;
- one whose state at R cannot be told (its last change before R is older than the kept log) is
  taken as matching at R: its next change is then UPDATED when it matches (a client that did not
  list it stores it all the same) and REMOVED when it does not (at worst the removal of an
  endpoint the client never had). Nothing is missed either way.

Then `WatchView.translate` follows each event, with the set of ids that match now. ListEndpoints
shows the endpoints as of the revision it returns (the same way), so a list and a watch from its
revision repeat nothing.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Hashable, Sequence, Set

from sqlalchemy import Connection, Engine

from ipam.domain.records import EndpointEvent
from ipam.domain.selector import parse_selector
from ipam.service.pool_choice import require_known
from ipam.service.registry import EndpointFilters, check_since
from ipam.service.revision_state import Matcher, states_at
from ipam.store import endpoints as endpoint_store
from ipam.store import events as event_store
from ipam.store import tx


class WatchView:
    """What one filtered watch stream sees. Holds the ids of the endpoints that match now (as
    of the last event translated)."""

    def __init__(self, matcher: Matcher, matching: set[int], key: Hashable = None) -> None:
        self.matcher = matcher
        self.matching = matching
        self.key = key  # the same for every stream with the same filters

    def unchanged_by(self, endpoint_ids: Set[int], any_match: bool) -> bool:
        """Whether a batch of events of `endpoint_ids`, none of which matches the filters unless
        `any_match`, shows nothing here: then the stream need not look at its events one by one
        (thousands of quiet streams cost one set test each per batch)."""
        return not any_match and self.matching.isdisjoint(endpoint_ids)

    def translate(self, event: EndpointEvent) -> EndpointEvent | None:
        """The event as this stream sees it, or None when it is not for this stream."""
        endpoint_id = event.endpoint.id
        was = endpoint_id in self.matching
        if self.matcher.matches(event.endpoint):
            if was:
                return event
            self.matching.add(endpoint_id)
            return event if event.kind == "added" else dataclasses.replace(event, kind="added")
        if not was:
            return None
        self.matching.discard(endpoint_id)
        return event if event.kind == "removed" else dataclasses.replace(event, kind="removed")


def has_filters(filters: EndpointFilters) -> bool:
    return bool(filters.host or filters.network or filters.pool or filters.label_selector)


def open_view(engine: Engine, filters: EndpointFilters, cursor: int) -> WatchView | None:
    """The view of a stream that starts after revision `cursor`, or None without filters.

    INVALID_ARGUMENT for a bad selector (as ListEndpoints), NOT_FOUND for an unknown host or pool,
    OUT_OF_RANGE when changes after `cursor` were pruned meanwhile."""
    if not has_filters(filters):
        return None
    selector = parse_selector("label_selector", filters.label_selector)
    matcher = Matcher(filters.host, filters.network, filters.pool, selector, state="active")
    wanted: dict[str, str | None] = {
        "host": filters.host or None,
        "network": filters.network or None,
        "pool": filters.pool or None,
        "state": "active",
    }

    def work(conn: Connection) -> set[int]:
        event_store.snapshot(conn)
        require_known(conn, pool=filters.pool, host=filters.host)
        pruned, newest = event_store.bounds(conn)
        check_since(cursor, pruned, newest)
        matching = endpoint_store.matching_ids(conn, wanted, selector)
        touched = event_store.touched_after(conn, cursor)
        matching -= touched.keys()
        states = states_at(conn, touched, pruned, cursor)
        matching |= touched.keys() - states.keys()  # cannot be told: taken as matching (see above)
        return matching | {i for i, state in states.items() if state is not None and matcher.matches(state)}

    key = (filters.host, filters.network, filters.pool, filters.label_selector)
    return WatchView(matcher, tx.run(engine, work), key)


class BatchMatches:
    """Whether any event of a batch matches a view's filters, worked out once per batch and set
    of filters, for every stream that has them."""

    def __init__(self, keep: int = 4096) -> None:
        self._keep = keep
        self._found: dict[tuple[Hashable, int, int], bool] = {}

    def any_match(self, view: WatchView, events: Sequence[EndpointEvent]) -> bool:
        key = (view.key, events[0].revision, events[-1].revision)
        found = self._found.get(key)
        if found is None:
            found = any(view.matcher.matches(event.endpoint) for event in events)
            self._found[key] = found
            if len(self._found) > self._keep:
                del self._found[next(iter(self._found))]
        return found

"""gRPC servicer of the endpoint registry: request -> use case -> response, and the watch stream."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import grpc
from sqlalchemy import Engine

from ipam.domain.errors import Unavailable
from ipam.domain.records import EndpointEvent
from ipam.server import registry_convert as convert
from ipam.server.principal import bound_host, require_host
from ipam.service import registry, watch_filter
from ipam.service.event_hub import EventHub
from ipam_client._pb.ipam.v1 import registry_pb2 as rpb
from ipam_client._pb.ipam.v1 import registry_pb2_grpc as rrpc

Ctx = grpc.ServicerContext
# A quiet stream still checks now and then whether its client has gone.
IDLE_CHECK_SECONDS = 1.0
RENDERED_EVENTS = 20000


class EndpointServicer(rrpc.EndpointServiceServicer):
    def __init__(self, engine: Engine, hub: EventHub) -> None:
        self.engine = engine
        self.hub = hub
        # Every stream sends the same recent events: convert each once (by revision and type, as a
        # filtered stream may show an update as an addition or a removal; the newest kept).
        self._messages: dict[tuple[int, str], rpb.EndpointEvent] = {}
        self._messages_lock = threading.Lock()

    def RegisterEndpoint(self, request: rpb.RegisterEndpointRequest, context: Ctx) -> rpb.Endpoint:
        require_host(request.host, f'register an endpoint of host "{request.host}"')
        spec = registry.EndpointSpec(
            host=request.host,
            owner_id=request.owner_id,
            interface=request.interface,
            network=request.network,
            mac=request.mac,
            labels=dict(request.labels),
        )
        return convert.endpoint(registry.register_endpoint(self.engine, spec))

    def UpdateEndpointLabels(self, request: rpb.UpdateEndpointLabelsRequest, context: Ctx) -> rpb.Endpoint:
        if bound_host() is not None:  # an agent: only its own host's endpoints
            current = registry.get_endpoint(self.engine, request.owner_id, request.interface, 0)
            require_host(current.host, f'change labels of an endpoint of host "{current.host}"')
        record = registry.update_labels(
            self.engine,
            request.owner_id,
            request.interface,
            dict(request.labels),
            list(request.remove_labels),
            request.replace,
        )
        return convert.endpoint(record)

    def GetEndpoint(self, request: rpb.GetEndpointRequest, context: Ctx) -> rpb.Endpoint:
        return convert.endpoint(registry.get_endpoint(self.engine, request.owner_id, request.interface, request.id))

    def ListEndpoints(self, request: rpb.ListEndpointsRequest, context: Ctx) -> rpb.ListEndpointsResponse:
        filters = registry.EndpointFilters(
            host=request.host,
            network=request.network,
            pool=request.pool,
            label_selector=request.label_selector,
            state=convert.endpoint_state(request.state),
        )
        page, revision = registry.list_endpoints(self.engine, filters, request.page_size, request.page_token)
        return rpb.ListEndpointsResponse(
            endpoints=[convert.endpoint(e) for e in page.items], next_page_token=page.next_token, revision=revision
        )

    def LookupAddress(self, request: rpb.LookupAddressRequest, context: Ctx) -> rpb.LookupAddressResponse:
        at = convert.lookup_time(request)
        return convert.holder(
            registry.lookup_address(self.engine, request.address, request.space, at, self.hub.retention)
        )

    def WatchEndpoints(self, request: rpb.WatchEndpointsRequest, context: Ctx) -> Iterator[rpb.WatchEndpointsResponse]:
        since = request.since_revision if request.HasField("since_revision") else None
        cursor = registry.watch_cursor(self.engine, since)
        filters = registry.EndpointFilters(
            host=request.host, network=request.network, pool=request.pool, label_selector=request.label_selector
        )
        view = watch_filter.open_view(self.engine, filters, cursor)
        self.hub.join()
        try:
            while context.is_active() and not self.hub.stopping:
                events = self.hub.events_after(cursor)
                if events:
                    cursor = events[-1].revision
                    shown = events if view is None else [t for e in events if (t := view.translate(e)) is not None]
                    if shown:
                        yield rpb.WatchEndpointsResponse(events=[self._rendered(e) for e in shown])
                else:
                    self.hub.wait_beyond(cursor, IDLE_CHECK_SECONDS)
            if self.hub.stopping:
                raise Unavailable(f"the server is stopping; watch again (on any server) from revision {cursor}")
        finally:
            self.hub.leave()

    def _rendered(self, event: EndpointEvent) -> rpb.EndpointEvent:
        key = (event.revision, event.kind)
        with self._messages_lock:
            message = self._messages.get(key)
        if message is None:
            message = convert.event(event)
            with self._messages_lock:
                self._messages[key] = message
                if len(self._messages) > RENDERED_EVENTS:
                    del self._messages[next(iter(self._messages))]
        return message

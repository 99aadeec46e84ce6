"""gRPC servicer of the endpoint registry: request -> use case -> response, and the watch stream."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any, cast

import grpc
from sqlalchemy import Engine

from ipam.domain.errors import Unavailable
from ipam.server import registry_convert as convert
from ipam.server.principal import bound_host, require_host
from ipam.service import registry, watch_filter
from ipam.service.event_hub import Chunk, EventHub
from ipam_client._pb.ipam.v1 import registry_pb2 as rpb
from ipam_client._pb.ipam.v1 import registry_pb2_grpc as rrpc

Ctx = grpc.ServicerContext


class EndpointServicer(rrpc.EndpointServiceServicer):
    def __init__(self, engine: Engine, hub: EventHub) -> None:
        self.engine = engine
        self.hub = hub

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

    async def WatchEndpoints(
        self, request: rpb.WatchEndpointsRequest, context: Ctx
    ) -> AsyncIterator[rpb.WatchEndpointsResponse | bytes]:
        """A coroutine on the event loop: each message is the hub's rendered events, joined."""
        since = request.since_revision if request.HasField("since_revision") else None
        filters = registry.EndpointFilters(
            host=request.host, network=request.network, pool=request.pool, label_selector=request.label_selector
        )
        cursor = await asyncio.to_thread(registry.watch_cursor, self.engine, since)
        view = await asyncio.to_thread(watch_filter.open_view, self.engine, filters, cursor)
        with self.hub.watching(cursor, view) as subscription:
            # Headers now, not with the first event: the caller knows at once that this replica
            # took the stream (a refusal is a status instead).
            await cast(Any, context).send_initial_metadata(())
            while not self.hub.stopping:
                chunk = self.hub.chunk_after(subscription.cursor)
                if chunk is None:  # behind the hub's window: read the database, off the loop
                    chunk = await asyncio.to_thread(self.hub.read_chunk_after, subscription.cursor)
                if not chunk.events:
                    await self.hub.wait(subscription)
                    continue
                subscription.cursor = chunk.last  # past every event, shown or not
                payload = chunk.payload if view is None else self._seen_through(view, chunk)
                if payload:
                    yield payload
            raise Unavailable(
                f"the server is stopping; watch again (on any server) from revision {subscription.cursor}"
            )

    def _seen_through(self, view: watch_filter.WatchView, chunk: Chunk) -> bytes:
        """The chunk as a filtered stream sees it: the shared rendering of each event it shows as
        is, a rendering of its own where the view turns an update into an addition or a removal."""
        if view.unchanged_by(chunk.endpoint_ids, self.hub.matches.any_match(view, chunk.events)):
            return b""
        parts = []
        for event, rendered in zip(chunk.events, chunk.rendered, strict=True):
            shown = view.translate(event)
            if shown is not None:
                parts.append(rendered if shown is event else convert.framed_event(shown))
        return b"".join(parts)

"""Many watch streams from one process, on grpc.aio (one thread for all of them).

    python tests/watch_streams.py ADDRESS SINCE UNTIL STREAMS [LABEL_SELECTOR]

Prints "open" once every stream is connected, then, once each has received revision UNTIL,
a JSON list with what each stream got: [revision, type, owner_id] per event. Runs in a process
of its own: grpc.aio objects belong to one event loop, and the server under test runs on another.
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

import grpc.aio

from ipam_client import registry_pb
from ipam_client._pb.ipam.v1 import registry_pb2_grpc

CHANNELS = 15  # streams spread over several connections, as many hosts would open them


async def watch_all(address: str, since: int, until: int, streams: int, selector: str) -> list[list[Any]]:
    channels = [grpc.aio.insecure_channel(address) for _ in range(CHANNELS)]
    try:
        calls = [
            registry_pb2_grpc.EndpointServiceStub(channels[i % CHANNELS]).WatchEndpoints(
                registry_pb.WatchEndpointsRequest(since_revision=since, label_selector=selector)
            )
            for i in range(streams)
        ]
        await asyncio.gather(*(call.wait_for_connection() for call in calls))
        print("open", flush=True)

        async def read(call: grpc.aio.UnaryStreamCall[Any, registry_pb.WatchEndpointsResponse]) -> list[Any]:
            seen: list[Any] = []
            async for message in call:
                seen.extend([e.revision, e.type, e.endpoint.owner_id] for e in message.events)
                if seen and seen[-1][0] >= until:
                    call.cancel()
                    break
            return seen

        return list(await asyncio.gather(*(read(call) for call in calls)))
    finally:
        await asyncio.gather(*(channel.close(None) for channel in channels))


if __name__ == "__main__":
    address, since, until, streams = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    selector = sys.argv[5] if len(sys.argv) > 5 else ""
    print(json.dumps(asyncio.run(watch_all(address, since, until, streams, selector))), flush=True)

"""How many PostgreSQL connections a replica opens (docs/operations.md, "Connections").

A fixed pool (ipam.store.engine), never more, plus one LISTEN connection (ipam.store.notify) that
the event hub and the registry catch-up worker share. Kept free of SQLAlchemy: `ipam serve --help`
reads the defaults.
"""

from __future__ import annotations

# 20 replicas at the default take 20 x 4 = 80 of PostgreSQL's default max_connections = 100,
# of which 3 are kept for superusers (superuser_reserved_connections).
DEFAULT_POOL_SIZE = 3
# The garbage collector holds one connection for its lock while it works on another.
MIN_POOL_SIZE = 2
LISTEN_CONNECTIONS = 1
# A call waits this long for a free connection, then fails with Overloaded (UNAVAILABLE: retried).
POOL_TIMEOUT_SECONDS = 10.0
# A connection is replaced after this long (one reconnect per connection per half hour, not churn
# under load): it bounds the memory a PostgreSQL backend accumulates in its caches.
POOL_RECYCLE_SECONDS = 1800
# The name pg_stat_activity shows, unless the database URL gives an application_name.
APPLICATION_NAME = "ipam"
LISTEN_SUFFIX = "-listen"
# PostgreSQL's defaults.
MAX_CONNECTIONS = 100
SUPERUSER_RESERVED_CONNECTIONS = 3


def per_replica(pool_size: int = DEFAULT_POOL_SIZE) -> int:
    """The most connections one replica holds at once."""
    return pool_size + LISTEN_CONNECTIONS


def replicas_that_fit(
    pool_size: int = DEFAULT_POOL_SIZE,
    max_connections: int = MAX_CONNECTIONS,
    reserved: int = SUPERUSER_RESERVED_CONNECTIONS,
) -> int:
    """How many replicas a PostgreSQL server takes, each at its most, leaving nothing else room."""
    return (max_connections - reserved) // per_replica(pool_size)

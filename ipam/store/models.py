"""SQLAlchemy models. The constraints here are what make duplicates impossible.

Migrations in `migrations/` are the source of truth for the schema; `alembic check` in CI keeps
these models and the migrations identical.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    ForeignKeyConstraint,
    Identity,
    Index,
    Integer,
    LargeBinary,
    SmallInteger,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, CIDR, INET, JSONB, ExcludeConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


def _created() -> Mapped[datetime]:
    return mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())


class AddressSpace(Base):
    __tablename__ = "address_space"
    id: Mapped[int] = mapped_column(Integer, Identity(), primary_key=True)
    name: Mapped[str] = mapped_column(Text, nullable=False, unique=True)
    description: Mapped[str] = mapped_column(Text, nullable=False, server_default="")
    created_at: Mapped[datetime] = _created()


class Pool(Base):
    __tablename__ = "pool"
    id: Mapped[int] = mapped_column(Integer, Identity(), primary_key=True)
    space_id: Mapped[int] = mapped_column(ForeignKey("address_space.id"), nullable=False)
    name: Mapped[str] = mapped_column(Text, nullable=False, unique=True)
    cidr: Mapped[str] = mapped_column(CIDR, nullable=False)
    family: Mapped[int] = mapped_column(SmallInteger, nullable=False)
    host_prefix_length: Mapped[int] = mapped_column(SmallInteger, nullable=False)
    reserved_cidrs: Mapped[list[str]] = mapped_column(ARRAY(CIDR), nullable=False, server_default=text("'{}'::cidr[]"))
    host_selector: Mapped[str] = mapped_column(Text, nullable=False, server_default="")
    disabled: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default=text("false"))
    cooldown_seconds: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default="0")
    max_subnets_per_host: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    gateway_policy: Mapped[str] = mapped_column(Text, nullable=False)
    # Bump pointer over the pool's block indexes; freed blocks go to free_block.
    next_block: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default="0")
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = _created()

    __table_args__ = (
        ExcludeConstraint(
            (text("space_id"), "="),
            (text("cidr inet_ops"), "&&"),
            name="pool_no_overlap_in_space",
            using="gist",
        ),
        CheckConstraint("family IN (4, 6)", name="pool_family"),
        CheckConstraint("family(cidr) = family", name="pool_family_matches_cidr"),
        CheckConstraint("gateway_policy IN ('first_usable', 'none')", name="pool_gateway_policy"),
        CheckConstraint("cooldown_seconds >= 0 AND max_subnets_per_host >= 0", name="pool_non_negative"),
        # The target of lease_pool_in_space.
        UniqueConstraint("id", "space_id", name="pool_id_in_space"),
    )


class FreeBlock(Base):
    """A block index of a pool that was handed out once and is free again."""

    __tablename__ = "free_block"
    pool_id: Mapped[int] = mapped_column(ForeignKey("pool.id", ondelete="CASCADE"), primary_key=True)
    idx: Mapped[int] = mapped_column(BigInteger, primary_key=True)


class Host(Base):
    __tablename__ = "host"
    id: Mapped[int] = mapped_column(Integer, Identity(), primary_key=True)
    name: Mapped[str] = mapped_column(Text, nullable=False, unique=True)
    labels: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False, server_default=text("'{}'::jsonb"))
    created_at: Mapped[datetime] = _created()
    last_seen_at: Mapped[datetime] = _created()
    # Past last_seen_at + TTL the host is stale; past last_seen_at + grace, dead (ipam.domain.liveness).
    heartbeat_ttl_seconds: Mapped[int] = mapped_column(Integer, nullable=False, server_default="30")
    # Set by `ipam host drain`: no new allocations to the host.
    drained_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        CheckConstraint("heartbeat_ttl_seconds > 0", name="host_heartbeat_ttl_positive"),
        Index("host_by_last_seen", "last_seen_at"),
    )


class HostSubnet(Base):
    __tablename__ = "host_subnet"
    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    pool_id: Mapped[int] = mapped_column(ForeignKey("pool.id", ondelete="CASCADE"), nullable=False)
    space_id: Mapped[int] = mapped_column(ForeignKey("address_space.id"), nullable=False)
    # 'host': a block of the pool owned by one host; 'docker': a Docker network's subnet, shared
    # by every host using the network (no host, no block index).
    kind: Mapped[str] = mapped_column(Text, nullable=False, server_default="host")
    host_id: Mapped[int | None] = mapped_column(ForeignKey("host.id"))
    idx: Mapped[int | None] = mapped_column(BigInteger)
    cidr: Mapped[str] = mapped_column(CIDR, nullable=False)
    # Docker only: where any-address requests are served from (--ip-range), and the gateway.
    ip_range: Mapped[str | None] = mapped_column(CIDR)
    gateway: Mapped[str | None] = mapped_column(INET)
    # Bump pointer: offsets below it were handed out at least once.
    next_offset: Mapped[int] = mapped_column(BigInteger, nullable=False)
    offset_limit: Mapped[int] = mapped_column(BigInteger, nullable=False)
    created_at: Mapped[datetime] = _created()

    __table_args__ = (
        UniqueConstraint("pool_id", "idx", name="host_subnet_block_once"),
        ExcludeConstraint(
            (text("space_id"), "="),
            (text("cidr inet_ops"), "&&"),
            name="host_subnet_no_overlap_in_space",
            using="gist",
        ),
        Index("host_subnet_by_host", "host_id", "pool_id"),
        CheckConstraint("kind IN ('host', 'docker')", name="host_subnet_kind"),
        CheckConstraint(
            "(kind = 'host') = (host_id IS NOT NULL AND idx IS NOT NULL)", name="host_subnet_host_has_block"
        ),
        CheckConstraint("kind = 'docker' OR (ip_range IS NULL AND gateway IS NULL)", name="host_subnet_docker_fields"),
    )


class DockerNetworkHost(Base):
    """A host using a Docker network subnet (its dockerd asked for the pool)."""

    __tablename__ = "docker_network_host"
    subnet_id: Mapped[int] = mapped_column(ForeignKey("host_subnet.id", ondelete="CASCADE"), primary_key=True)
    host_id: Mapped[int] = mapped_column(ForeignKey("host.id"), primary_key=True)
    created_at: Mapped[datetime] = _created()  # renewed by each RequestPool of the host


class Lease(Base):
    __tablename__ = "lease"
    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    subnet_id: Mapped[int] = mapped_column(ForeignKey("host_subnet.id", ondelete="CASCADE"), nullable=False)
    pool_id: Mapped[int] = mapped_column(Integer, nullable=False)
    # The pool's address space (lease_pool_in_space keeps it so): what lease_one_active_per_address is per.
    space_id: Mapped[int] = mapped_column(Integer, nullable=False)
    host_id: Mapped[int] = mapped_column(ForeignKey("host.id"), nullable=False)
    offset: Mapped[int] = mapped_column(BigInteger, nullable=False)
    address: Mapped[str] = mapped_column(INET, nullable=False)
    owner_id: Mapped[str] = mapped_column(Text, nullable=False)
    interface: Mapped[str] = mapped_column(Text, nullable=False)
    attributes: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False, server_default=text("'{}'::jsonb"))
    state: Mapped[str] = mapped_column(Text, nullable=False)
    allocated_at: Mapped[datetime] = _created()
    released_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        # One row per address slot of a subnet.
        UniqueConstraint("subnet_id", "offset", name="lease_one_per_address"),
        # An address is held by one active lease at most, whichever subnet row the lease is in.
        Index(
            "lease_one_active_per_address",
            "space_id",
            "address",
            unique=True,
            postgresql_where=text("state = 'active'"),
        ),
        ForeignKeyConstraint(
            ["pool_id", "space_id"], ["pool.id", "pool.space_id"], name="lease_pool_in_space", ondelete="CASCADE"
        ),
        CheckConstraint("state IN ('active', 'released')", name="lease_state"),
        CheckConstraint("(state = 'released') = (released_at IS NOT NULL)", name="lease_released_at"),
        # One active address per owner key and pool: repeated requests return it.
        Index(
            "lease_one_per_owner",
            "pool_id",
            "owner_id",
            "interface",
            unique=True,
            postgresql_where=text("state = 'active'"),
        ),
        # An owner key (container + interface) is one endpoint: all its active leases are on one host.
        ExcludeConstraint(
            (text("owner_id"), "="),
            (text("interface"), "="),
            (text("host_id"), "<>"),
            name="lease_owner_on_one_host",
            using="gist",
            where=text("state = 'active'"),
        ),
        Index("lease_reusable", "subnet_id", "released_at", postgresql_where=text("state = 'released'")),
        Index("lease_by_address", "address"),
        Index("lease_by_owner", "owner_id", "interface"),
        Index("lease_by_host", "host_id", "id"),
    )


class GcRecord(Base):
    """One lease or host subnet reclaimed by garbage collection, and why (append-only)."""

    __tablename__ = "gc_record"
    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())
    reason: Mapped[str] = mapped_column(Text, nullable=False)
    kind: Mapped[str] = mapped_column(Text, nullable=False)
    host: Mapped[str] = mapped_column(Text, nullable=False)
    space: Mapped[str] = mapped_column(Text, nullable=False)
    pool: Mapped[str] = mapped_column(Text, nullable=False)
    # The address (lease) or CIDR (subnet).
    target: Mapped[str] = mapped_column(Text, nullable=False)
    owner_id: Mapped[str] = mapped_column(Text, nullable=False, server_default="")
    interface: Mapped[str] = mapped_column(Text, nullable=False, server_default="")
    detail: Mapped[str] = mapped_column(Text, nullable=False, server_default="")

    __table_args__ = (
        CheckConstraint("kind IN ('lease', 'subnet')", name="gc_record_kind"),
        CheckConstraint(
            "reason IN ('dead_host', 'runtime_gone', 'empty_subnet', 'host_deleted')", name="gc_record_reason"
        ),
        Index("gc_record_by_host", "host", "id"),
    )


class ApiToken(Base):
    """An API token: only a hash of its secret is kept (see ipam.domain.tokens)."""

    __tablename__ = "api_token"
    id: Mapped[str] = mapped_column(Text, primary_key=True)
    name: Mapped[str] = mapped_column(Text, nullable=False, unique=True)
    role: Mapped[str] = mapped_column(Text, nullable=False)
    host: Mapped[str | None] = mapped_column(Text)
    secret_hash: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    created_at: Mapped[datetime] = _created()
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    __table_args__ = (
        CheckConstraint("role IN ('admin', 'agent', 'reader')", name="api_token_role"),
        CheckConstraint("(role = 'agent') = (host IS NOT NULL)", name="api_token_agent_host"),
    )


# --- endpoint registry (migration 0003; triggers on `lease` keep these in step with it) --------


class Endpoint(Base):
    """One runtime attachment (container + interface on a host) and the addresses it holds."""

    __tablename__ = "endpoint"
    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    host_id: Mapped[int] = mapped_column(ForeignKey("host.id"), nullable=False)
    owner_id: Mapped[str] = mapped_column(Text, nullable=False)
    interface: Mapped[str] = mapped_column(Text, nullable=False)
    network: Mapped[str] = mapped_column(Text, nullable=False, server_default="")
    mac: Mapped[str] = mapped_column(Text, nullable=False, server_default="")
    labels: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False, server_default=text("'{}'::jsonb"))
    state: Mapped[str] = mapped_column(Text, nullable=False)
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = _created()
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        CheckConstraint("state IN ('active', 'deleted')", name="endpoint_state"),
        CheckConstraint("(state = 'deleted') = (deleted_at IS NOT NULL)", name="endpoint_deleted_at"),
        # One live endpoint per owner key; deleted ones stay for history until pruned.
        Index("endpoint_one_live", "owner_id", "interface", unique=True, postgresql_where=text("state = 'active'")),
        Index("endpoint_by_host", "host_id"),
    )


class AddressHistory(Base):
    """Who held an address from when until when (open while held): answers LookupAddress."""

    __tablename__ = "address_history"
    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    # No foreign keys to space, pool or lease: history outlives them.
    space_id: Mapped[int] = mapped_column(Integer, nullable=False)
    pool_id: Mapped[int] = mapped_column(Integer, nullable=False)
    lease_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    address: Mapped[str] = mapped_column(INET, nullable=False)
    endpoint_id: Mapped[int] = mapped_column(ForeignKey("endpoint.id", ondelete="CASCADE"), nullable=False)
    held_from: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    held_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        Index("address_history_lookup", "space_id", "address", text("held_from DESC")),
        Index("address_history_by_endpoint", "endpoint_id"),
        Index("address_history_open", "lease_id", unique=True, postgresql_where=text("held_until IS NULL")),
        Index("address_history_ended", "held_until", postgresql_where=text("held_until IS NOT NULL")),
    )


class Event(Base):
    """The append-only change log of endpoints, in rows of up to 1,000 events of one statement.
    Writers insert with revision NULL; the sequencer numbers committed rows afterwards (a row holds
    revisions revision .. revision + size - 1), so revisions are gap-free and in commit order. A
    removed endpoint's document is NULL here: read from `endpoint_doc` (it no longer changes)."""

    __tablename__ = "event"
    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    revision: Mapped[int | None] = mapped_column(BigInteger, unique=True)
    size: Mapped[int] = mapped_column(Integer, nullable=False)
    at: Mapped[datetime] = _created()
    endpoint_ids: Mapped[list[int]] = mapped_column(ARRAY(BigInteger), nullable=False)
    kinds: Mapped[list[str]] = mapped_column(ARRAY(Text), nullable=False)
    endpoints: Mapped[list[dict[str, Any] | None]] = mapped_column(ARRAY(JSONB), nullable=False)

    __table_args__ = (
        CheckConstraint(
            "size > 0 AND cardinality(endpoint_ids) = size AND cardinality(kinds) = size "
            "AND cardinality(endpoints) = size",
            name="event_sizes",
        ),
        CheckConstraint("kinds <@ ARRAY['added', 'updated', 'removed']", name="event_kinds"),
        Index("event_unsequenced", "id", postgresql_where=text("revision IS NULL")),
    )


class EventSequencer(Base):
    """One row: the last revision handed out and the last one pruned. Its row lock serializes sequencers."""

    __tablename__ = "event_sequencer"
    id: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    last_revision: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default="0")
    pruned_through: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default="0")

    __table_args__ = (CheckConstraint("id = 1", name="event_sequencer_one_row"),)


class RegistryBacklog(Base):
    """Leases deleted with a dead host's subnet whose holdings, endpoints and events the
    registry has yet to bring up to date (migration 0008): one row per deleting statement, `at`
    the time of the reclaim. Emptied by the registry catch-up worker."""

    __tablename__ = "registry_backlog"
    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    at: Mapped[datetime] = _created()
    lease_ids: Mapped[list[int]] = mapped_column(ARRAY(BigInteger), nullable=False)

    __table_args__ = (CheckConstraint("cardinality(lease_ids) > 0", name="registry_backlog_not_empty"),)

"""Writers do not NOTIFY (migration 0010): a committed transaction that wrote events wakes the
event hub's sequencer of its own process, and a failed one does not."""

from __future__ import annotations

import importlib
import pkgutil
import re
import time

import pytest
from sqlalchemy import Connection, Engine, text

import ipam.store
from ipam.domain.liveness import DEFAULT_GRACE_SECONDS
from ipam.service import hosts, pools
from ipam.service.event_hub import EventHub
from ipam.service.leases import AddressSpec, AllocateCommand, Allocator
from ipam.store import leases as lease_store
from ipam.store import tx
from ipam.store.sql import Sql

_CHANGES_LEASES = re.compile(r"\b(INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+lease\b", re.IGNORECASE)


def store_statements() -> dict[str, Sql]:
    found: dict[str, Sql] = {}
    for module in pkgutil.iter_modules(ipam.store.__path__):
        loaded = importlib.import_module(f"ipam.store.{module.name}")
        found.update({f"{module.name}.{k}": v for k, v in vars(loaded).items() if isinstance(v, Sql)})
    return found


def test_every_statement_that_changes_leases_marks_its_transaction() -> None:
    statements = store_statements()
    changing = {name for name, sql in statements.items() if _CHANGES_LEASES.search(sql.text)}
    assert changing  # the scan found the store's statements
    assert {name for name in changing if not statements[name].writes_events} == set()
    assert not statements["events._NUMBER"].writes_events  # the sequencer does not wake itself
    assert not statements["subnets._BUMP"].writes_events


def test_the_lease_triggers_send_no_notify(engine: Engine) -> None:
    with engine.connect() as conn:
        body = conn.execute(text("SELECT prosrc FROM pg_proc WHERE proname = 'ipam_record_events'")).scalar_one()
    assert "pg_notify" not in body


def test_observers_hear_of_commits_that_wrote_events_only(engine: Engine) -> None:
    hosts.register_host(engine, "h1", {}, 0, DEFAULT_GRACE_SECONDS)
    pools.create_pool(engine, pools.PoolSpec("p", "10.0.0.0/24", 24))
    heard: list[str] = []
    tx.commit_observers.append(lambda: heard.append("commit"))
    try:
        allocator = Allocator(engine)
        allocator.allocate(AllocateCommand("h1", "c1", "eth0", [AddressSpec(pool="p")]))
        assert heard == ["commit"]
        pools.get_pool(engine, "p")  # reads only
        assert heard == ["commit"]
        with pytest.raises(RuntimeError):
            tx.run(engine, release_then_fail)
        assert heard == ["commit"]  # rolled back: nothing to number
    finally:
        tx.commit_observers.pop()


def release_then_fail(conn: Connection) -> None:
    """A statement that changes leases, in a transaction then rolled back."""
    assert lease_store.release_owner(conn, "c1", "eth0")
    raise RuntimeError("rolled back")


def test_a_commit_is_numbered_without_a_notify_or_a_poll(engine: Engine) -> None:
    hosts.register_host(engine, "h1", {}, 0, DEFAULT_GRACE_SECONDS)
    pools.create_pool(engine, pools.PoolSpec("p", "10.0.0.0/24", 24))
    hub = EventHub(engine, lambda event: b"", poll_seconds=3600)  # the poll would come far too late to pass
    hub.start()
    try:
        with hub.watching(0):
            with engine.connect() as conn:
                start = conn.execute(text("SELECT coalesce(max(last_revision), 0) FROM event_sequencer")).scalar_one()
            Allocator(engine).allocate(AllocateCommand("h1", "c1", "eth0", [AddressSpec(pool="p")]))
            deadline = time.monotonic() + 60  # a bound against hanging, not a measurement
            while not (added := hub.events_after(start)) and time.monotonic() < deadline:
                time.sleep(0.05)  # only numbered events can be read
            assert [(e.kind, e.endpoint.owner_id) for e in added] == [("added", "c1")]
    finally:
        hub.stop()

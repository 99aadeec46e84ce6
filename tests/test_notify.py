"""The one LISTEN connection of an engine, shared by its workers: each is woken by its channels only."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, create_engine, pool, text
from sqlalchemy.engine import make_url

from ipam.store import notify
from ipam.store.engine import make_engine

DEADLINE = 30.0  # only stops a hang


@pytest.fixture
def named(database_url: str) -> Iterator[tuple[Engine, str]]:
    name = f"ipam-test-{uuid.uuid4().hex[:8]}"
    url = make_url(database_url).update_query_dict({"application_name": name})
    engine = make_engine(url.render_as_string(hide_password=False))
    yield engine, name
    engine.dispose()


def send(database_url: str, channel: str) -> None:
    engine = create_engine(database_url, poolclass=pool.NullPool)
    with engine.begin() as conn:
        conn.execute(text(f"NOTIFY {channel}"))
    engine.dispose()


def listeners(database_url: str, name: str) -> int:
    engine = create_engine(database_url, poolclass=pool.NullPool)
    with engine.connect() as conn:
        query = "SELECT count(*) FROM pg_stat_activity WHERE application_name = :name"
        count = int(conn.execute(text(query), {"name": name + "-listen"}).scalar_one())
    engine.dispose()
    return count


def test_workers_share_one_listen_connection_and_each_wakes_on_its_own_channels(
    named: tuple[Engine, str], database_url: str
) -> None:
    engine, name = named
    hub = notify.subscribe(engine, ["test_a", "test_b"])
    worker = notify.subscribe(engine, ["test_c"])
    try:
        assert hub.listening.wait(DEADLINE) and worker.listening.wait(DEADLINE)
        for subscription in (hub, worker):
            assert subscription.woken.wait(DEADLINE)  # woken once listening: look at what was missed
            subscription.woken.clear()
        assert listeners(database_url, name) == 1

        send(database_url, "test_b")
        assert hub.woken.wait(DEADLINE)
        send(database_url, "test_c")
        assert worker.woken.wait(DEADLINE)
        hub.woken.clear()
        worker.woken.clear()
        send(database_url, "test_c")
        assert worker.woken.wait(DEADLINE)
        assert not hub.woken.is_set()  # test_c is the worker's only
    finally:
        notify.unsubscribe(engine, hub)
        notify.unsubscribe(engine, worker)


def test_the_listener_ends_with_its_last_worker(named: tuple[Engine, str], database_url: str) -> None:
    engine, name = named
    stop = threading.Event()
    steps = threading.Semaphore(0)
    runner = threading.Thread(target=notify.run_woken, args=(engine, ["test_d"], stop, steps.release, 60.0, "test"))
    runner.start()
    assert steps.acquire(timeout=DEADLINE)  # the first step, once listening
    send(database_url, "test_d")
    assert steps.acquire(timeout=DEADLINE)  # woken by the notification, not the 60 s poll
    stop.set()
    runner.join(DEADLINE)
    assert engine not in notify._listeners
    # Its connection closes within a wait of the listener's thread.
    deadline = time.monotonic() + DEADLINE
    while listeners(database_url, name) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert listeners(database_url, name) == 0

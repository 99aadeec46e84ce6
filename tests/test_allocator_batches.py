"""Group commit: one transaction allocating for several owners of one host and pool at once.

The batch function is called directly with a known batch, so the batch is not left to timing.
"""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, text

from ipam.domain.errors import AlreadyExists, IpamError, ResourceExhausted
from ipam.domain.liveness import DEFAULT_GRACE_SECONDS
from ipam.service import hosts, pools
from ipam.service.leases import AddressSpec, AllocateCommand, Allocation, Allocator, GroupKey, release_owner


def command(owner: str, host: str = "h1", pool: str = "p") -> AllocateCommand:
    return AllocateCommand(host=host, owner_id=owner, interface="eth0", addresses=[AddressSpec(pool=pool)])


def addresses(outcomes: list[Allocation | IpamError]) -> list[str]:
    return [o.leases[0].address if isinstance(o, Allocation) else type(o).__name__ for o in outcomes]


@pytest.fixture
def allocator(engine: Engine) -> Allocator:
    hosts.register_host(engine, "h1", {}, 0, DEFAULT_GRACE_SECONDS)
    hosts.register_host(engine, "h2", {}, 0, DEFAULT_GRACE_SECONDS)
    return Allocator(engine)


def test_a_batch_skips_reserved_offsets_and_moves_the_pointer_past_them(engine: Engine, allocator: Allocator) -> None:
    pools.create_pool(engine, pools.PoolSpec("p", "10.0.0.0/24", 24, reserved_cidrs=["10.0.0.4/30", "10.0.0.10/32"]))
    batch = [command(f"c{i}") for i in range(6)]
    outcomes = allocator._allocate_group(GroupKey("h1", "p", "", 0), batch)
    assert addresses(outcomes) == ["10.0.0.2", "10.0.0.3", "10.0.0.8", "10.0.0.9", "10.0.0.11", "10.0.0.12"]
    with engine.connect() as conn:
        assert conn.execute(text("SELECT next_offset FROM host_subnet")).scalar_one() == 13
    assert allocator.allocate(command("next")).leases[0].address == "10.0.0.13"


def test_the_same_owner_twice_in_one_batch_gets_one_lease(engine: Engine, allocator: Allocator) -> None:
    pools.create_pool(engine, pools.PoolSpec("p", "10.0.0.0/24", 24))
    outcomes = allocator._allocate_group(GroupKey("h1", "p", "", 0), [command("c1"), command("c1"), command("c2")])
    assert addresses(outcomes) == ["10.0.0.2", "10.0.0.2", "10.0.0.3"]
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM lease WHERE state = 'active'")).scalar_one() == 2


def test_a_batch_larger_than_the_room_left_serves_whom_it_can(engine: Engine, allocator: Allocator) -> None:
    # One /29 subnet per host: offsets 2..6 are assignable (0 network, 1 gateway, 7 broadcast).
    pools.create_pool(engine, pools.PoolSpec("p", "10.0.0.0/28", 29, max_subnets_per_host=1))
    outcomes = allocator._allocate_group(GroupKey("h1", "p", "", 0), [command(f"c{i}") for i in range(7)])
    assert addresses(outcomes) == [f"10.0.0.{i}" for i in range(2, 7)] + ["ResourceExhausted"] * 2
    assert "holds 1/1 subnets" in str(outcomes[-1])
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM lease WHERE state = 'active'")).scalar_one() == 5


def test_an_owner_held_on_another_host_fails_alone(engine: Engine, allocator: Allocator) -> None:
    pools.create_pool(engine, pools.PoolSpec("p", "10.0.0.0/16", 24))
    allocator.allocate(command("moved", host="h2"))
    outcomes = allocator._allocate_group(GroupKey("h1", "p", "", 0), [command("c1"), command("moved"), command("c2")])
    assert addresses(outcomes) == ["10.0.1.2", "AlreadyExists", "10.0.1.3"]
    assert 'on host "h2"' in str(outcomes[1])


def test_released_slots_are_reused_oldest_first_within_a_batch(engine: Engine, allocator: Allocator) -> None:
    pools.create_pool(engine, pools.PoolSpec("p", "10.0.0.0/24", 24))
    for i in range(4):
        allocator.allocate(command(f"old{i}"))
    for i in (2, 0):  # 10.0.0.4 is released before 10.0.0.2
        release_owner(engine, f"old{i}", "eth0")
    outcomes = allocator._allocate_group(GroupKey("h1", "p", "", 0), [command("n1"), command("n2"), command("n3")])
    assert sorted(addresses(outcomes)[:2]) == ["10.0.0.2", "10.0.0.4"]
    assert addresses(outcomes)[2] == "10.0.0.6"


def test_exhaustion_of_the_pool_names_the_counts(engine: Engine, allocator: Allocator) -> None:
    pools.create_pool(engine, pools.PoolSpec("p", "10.0.0.0/29", 30))
    hosts.register_host(engine, "h3", {}, 0, DEFAULT_GRACE_SECONDS)
    allocator.allocate(command("a", host="h1"))
    allocator.allocate(command("b", host="h2"))
    with pytest.raises(ResourceExhausted, match=r'pool "p" has no free host subnet \(2/2 used\)'):
        allocator.allocate(command("c", host="h3"))
    with pytest.raises(AlreadyExists):
        allocator.allocate(command("a", host="h3"))

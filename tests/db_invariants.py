"""What must never be in the database, whatever the load: one query per rule, listing offenders."""

from __future__ import annotations

# Each query lists what must not exist.
INVARIANTS = {
    "an address held by two active leases": """
        SELECT host(l.address), count(*) FROM lease l JOIN pool p ON p.id = l.pool_id
        WHERE l.state = 'active' GROUP BY p.space_id, l.address HAVING count(*) > 1""",
    "a slot (subnet, offset) in two lease rows": """
        SELECT subnet_id, "offset", count(*) FROM lease GROUP BY 1, 2 HAVING count(*) > 1""",
    "an owner key with two active leases in one pool": """
        SELECT pool_id, owner_id, interface, count(*) FROM lease WHERE state = 'active'
        GROUP BY 1, 2, 3 HAVING count(*) > 1""",
    "a block (pool, idx) claimed twice": """
        SELECT pool_id, idx, count(*) FROM host_subnet GROUP BY 1, 2 HAVING count(*) > 1""",
    "overlapping host subnets": """
        SELECT CAST(a.cidr AS text), CAST(b.cidr AS text) FROM host_subnet a JOIN host_subnet b
        ON a.id < b.id AND a.space_id = b.space_id AND a.cidr && b.cidr""",
    "a host subnet outside its pool or of the wrong size": """
        SELECT CAST(hs.cidr AS text), p.name FROM host_subnet hs JOIN pool p ON p.id = hs.pool_id
        WHERE NOT hs.cidr <<= p.cidr OR masklen(hs.cidr) <> p.host_prefix_length
        OR hs.space_id <> p.space_id OR hs.next_offset > hs.offset_limit""",
    "a lease that does not match its host subnet": """
        SELECT host(l.address), CAST(hs.cidr AS text), l."offset", hs.next_offset FROM lease l
        JOIN host_subnet hs ON hs.id = l.subnet_id
        WHERE NOT l.address <<= hs.cidr OR l.pool_id <> hs.pool_id OR l.host_id <> hs.host_id
        OR host(l.address) <> host(CAST(host(hs.cidr) AS inet) + l."offset")
        OR l."offset" < 2 OR l."offset" >= hs.offset_limit OR l."offset" >= hs.next_offset""",
}

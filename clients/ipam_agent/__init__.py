"""`ipam agent`: the per-host agent.

It registers the host with the IPAM server, heartbeats, and serves the local unix socket that the
`ipam-cni` plugin talks to (see :mod:`ipam_cni.protocol`). It depends on the server only through
:mod:`ipam_client` (gRPC): never on SQLAlchemy, psycopg or the `ipam` server package.
"""

"""The `ipam-cni` CNI IPAM plugin and its wire protocol to the host agent (standard library only).

This package must never import grpc or anything heavy: the runtime executes the plugin once per
container start.
"""

"""Distributed IPAM and endpoint registry server."""

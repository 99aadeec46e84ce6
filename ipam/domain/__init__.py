"""Pure IPAM rules: CIDR maths, host subnet layout, selectors, validation and errors.

Nothing here knows about SQL, gRPC, clocks or I/O.
"""

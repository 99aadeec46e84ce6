"""Alembic migrations (installed as the package `ipam.migrations`)."""

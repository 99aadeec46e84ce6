"""Alembic environment: runs migrations under an advisory lock so replicas can start together."""

from __future__ import annotations

import os

from alembic import context
from sqlalchemy import create_engine, pool, text

from ipam.store.engine import normalize_url
from ipam.store.models import Base

# Any constant works; it only has to be the same for every replica.
MIGRATION_LOCK = 0x1BA4_0001

config = context.config
url = config.attributes.get("url") or os.environ.get("IPAM_DATABASE_URL")
if not url:
    raise SystemExit("set IPAM_DATABASE_URL to the database to migrate")


def run() -> None:
    engine = create_engine(normalize_url(url), poolclass=pool.NullPool)
    with engine.connect() as connection:
        connection.execute(text("SELECT pg_advisory_lock(:k)"), {"k": MIGRATION_LOCK})
        connection.commit()
        try:
            context.configure(connection=connection, target_metadata=Base.metadata, compare_type=True)
            with context.begin_transaction():
                context.run_migrations()
        finally:
            connection.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": MIGRATION_LOCK})
            connection.commit()
    engine.dispose()


run()

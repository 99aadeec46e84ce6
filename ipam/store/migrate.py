"""Applying the Alembic migrations shipped with the package."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

import ipam.migrations


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(Path(ipam.migrations.__file__).parent))
    config.attributes["url"] = url
    return config


def upgrade(url: str) -> None:
    """Bring the database to the newest schema; safe to run from several replicas at once."""
    command.upgrade(alembic_config(url), "head")

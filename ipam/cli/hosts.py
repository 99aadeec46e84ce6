"""Placeholder: filled in by the admin CLI work (issue 3)."""

from __future__ import annotations

import argparse
from typing import Any


def register(subparsers: Any, parents: list[argparse.ArgumentParser]) -> None:
    """Adds nothing yet."""

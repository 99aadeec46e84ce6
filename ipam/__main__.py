"""`python -m ipam` is the `ipam` command."""

import sys

from ipam.cli import main

sys.exit(main())

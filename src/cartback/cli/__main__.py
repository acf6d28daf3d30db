"""`python -m cartback.cli ...`, as the `cartback` command."""

from __future__ import annotations

import sys

from cartback.cli import main

sys.exit(main())

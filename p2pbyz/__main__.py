"""``python -m p2pbyz``: the ``p2pbyz`` command line (see :mod:`p2pbyz.cli`)."""

from __future__ import annotations

from .cli import main

raise SystemExit(main())

"""``python -m proofs_check``: see :func:`proofs_check.main`."""

from __future__ import annotations

from ._runner import main

raise SystemExit(main())

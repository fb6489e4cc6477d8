"""proofs_check: Monte Carlo estimates of the papers' bounds for p2pbyz's aggregation rules.

Six suites — ``resilience`` ((α, f)-resilience, Krum Prop. 1), ``angular`` (Aksel's angular-error
growth), ``slowdown`` (Multi-Krum / Multi-Bulyan vs averaging), ``leeway`` (per-coordinate leeway,
Bulyan), ``kappa`` ((f, κ)-robustness and (f, λ)-resilient averaging) and ``breakdown`` — each
give verdicts *holds / fails / inconclusive* with the estimate, its confidence interval, the
theoretical value and the margin. Closed forms live in :mod:`proofs_check.bounds`, estimators in
:mod:`proofs_check.estimate`, the report writer in :mod:`proofs_check.report`.

Run ``python -m proofs_check [--quick|--full] [--suite NAME ...] [--out DIR] [--rule mod:fn]``,
or :func:`run_checks` / :func:`main` from Python.
"""

from __future__ import annotations

from ._core import Claim as Claim
from ._core import Rule as Rule
from ._core import SuiteResult as SuiteResult
from ._core import registered_rule as registered_rule
from ._core import user_rule as user_rule
from ._runner import SUITES as SUITES
from ._runner import main as main
from ._runner import run_checks as run_checks

__all__ = ["Claim", "Rule", "SuiteResult", "SUITES", "main", "run_checks", "registered_rule",
           "user_rule"]

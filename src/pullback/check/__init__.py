"""Checking derivatives: numerical derivatives with error estimates, ``check_grads``,
the dot-product and Taylor tests, kinks, the rule audit and the wrong rule named.

- :func:`numerical_jvp`, :func:`numerical_vjp`, :func:`numerical_jacobian`: numerical
  derivatives by ``method`` ``"forward"`` (the notebook's), ``"central"``, ``"richardson"``
  (extrapolated, with an error estimate), ``"complex"`` (the complex step) or ``"auto"``.
- :func:`report` compares pullback's derivatives with numerical ones, per argument, mode
  and order, and returns a :class:`Report`; :func:`check_grads` raises
  :class:`GradientCheckError` carrying it when a check fails.
- :func:`taylor_test`: the observed convergence order of the first-order Taylor remainder.
- :func:`audit`: every registered rule, checked on inputs drawn from its domain.

Example:
    >>> import numpy as np, pullback.numpy as pnp
    >>> check_grads(lambda x: pnp.sum(pnp.tanh(x) ** 2), (np.array([0.3, -1.2]),), order=2)
"""

from pullback.check.audit import AuditCase, AuditReport, audit
from pullback.check.cli import cli_audit, cli_check
from pullback.check.grads import (
    TaylorResult,
    check_grads,
    numerical_jacobian,
    numerical_jvp,
    numerical_vjp,
    report,
    taylor_test,
)
from pullback.check.report import (
    CheckRow,
    GradientCheckError,
    Localisation,
    Report,
    default_rtol,
    format_table,
)

__all__ = [
    "AuditCase",
    "AuditReport",
    "CheckRow",
    "GradientCheckError",
    "Localisation",
    "Report",
    "TaylorResult",
    "audit",
    "check_grads",
    "cli_audit",
    "cli_check",
    "default_rtol",
    "format_table",
    "numerical_jacobian",
    "numerical_jvp",
    "numerical_vjp",
    "report",
    "taylor_test",
]

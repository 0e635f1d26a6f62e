"""The rule audit: every registered rule checked on inputs from its domain (CI runs this).

The full audit must pass; a planted wrong rule, in the registry or in a user primitive, must
show up as a failure; functions without an audit case are listed, not failed.
"""

from __future__ import annotations

import contextlib

import numpy as np
import pytest

import pullback as pb
import pullback.numpy as pnp
from pullback.check import AuditCase, audit, cli_audit
from pullback.check.audit import CASES, HELPERS, discover
from pullback.check.domains import FUNCTION_DOMAINS, domain_of, sample, valid
from pullback.cli import main as cli_main
from pullback.numpy._registry import PRIMITIVES
from specs import ALL_SPECS
from specs import sample as spec_sample


@pytest.fixture(scope="module")
def full_audit():
    return audit()


def test_every_registered_rule_passes_the_audit(full_audit):
    print(full_audit)  # the health table, in CI's log
    assert full_audit.ok, "\n".join(
        f"{r.name}: {r.verdict}: {r.note}" for r in full_audit.rows if r.failed
    )


def test_the_audit_covers_what_is_registered(full_audit):
    names = {r.name for r in full_audit.rows}
    assert {n for n, _, _ in discover()} == names
    no_case = [r.name for r in full_audit.rows if r.verdict == "no case"]
    uncovered = full_audit.uncovered
    # report, not fail: functions added without a case show up here and in the table
    print(f"functions without an audit case: {no_case}")
    print(f"registered primitives no case exercises: {uncovered}")
    assert set(full_audit.exercised) & set(PRIMITIVES)
    for r in full_audit.rows:
        if r.verdict == "no case":
            assert r.cases == 0 and not r.failed
        else:
            assert r.checks > 0 or r.kind == "helper", r


def test_special_points_are_audited_and_pass(full_audit):
    rows = {r.name: r for r in full_audit.rows}
    for name in ("abs", "maximum", "max"):
        assert rows[name].verdict == "kink", rows[name]
    labels = {c.label for c in CASES["exp"]}
    assert {"near overflow", "float32 near overflow"} <= labels
    assert rows["exp"].verdict == "ok" and rows["sqrt"].verdict == "ok"


@contextlib.contextmanager
def swapped(prim_name: str, attr: str, rule):
    prim = PRIMITIVES[prim_name]
    old = getattr(prim, attr)
    setattr(prim, attr, rule)
    try:
        yield
    finally:
        setattr(prim, attr, old)


def test_a_planted_error_in_a_registered_rule_fails_the_audit():
    def wrong_tanh(g, ans, args, params, needs):
        return (g * (1.0 - ans * ans) * (1 + 1e-6),)

    with swapped("tanh", "vjp", wrong_tanh):
        rep = audit(only=["tanh", "sin"], order=1)
    rows = {r.name: r for r in rep.rows}
    assert rows["tanh"].verdict == "fail" and rows["sin"].verdict == "ok"
    assert "first wrong rule: 'tanh'" in rows["tanh"].note
    assert not rep.ok and "FAIL" in str(rep)


def test_user_primitives_are_audited():
    @pb.primitive
    def good_cube(x):
        return x ** 3, lambda u: (3.0 * u * x ** 2,)

    @pb.primitive
    def bad_cube(x):
        return x ** 3, lambda u: (3.0 * u * x,)

    @pb.custom_vjp
    def scaled(x, y):
        return x * pnp.exp(y)

    scaled.defvjp(lambda x, y: (x * pnp.exp(y), (x, y)),
                  lambda res, g: (g * pnp.exp(res[1]),
                                  pnp.sum(g * res[0] * pnp.exp(res[1]), axis=0)))
    rep = audit(good_cube, bad_cube, scaled, registry=False,
                cases={"scaled": AuditCase(((2, 3), (3,)), ("real", "unit"))})
    rows = {r.name: r for r in rep.rows}
    assert [r.kind for r in rep.rows] == ["user"] * 3
    assert rows["good_cube"].verdict == "ok" and rows["scaled"].verdict == "ok"
    assert rows["bad_cube"].verdict == "fail" and not rep.ok
    # 2 arguments x (fwd, rev, dot) x orders 1 and 2, on real and on complex inputs
    assert rows["scaled"].checks == 24 and rows["scaled"].complex == "checked"


def test_a_rule_wrong_only_for_complex_input_fails_the_audit():
    # d(z^2) = 2 z dz: the pullback of u is 2 z u (no conjugate, the convention of
    # docs/conventions.md); conjugating is right for real input and wrong for complex
    @pb.primitive
    def square_conj(x):
        return x ** 2, lambda u: (2.0 * u * pnp.conj(x),)

    rep = audit(square_conj, registry=False, order=1)
    row = rep.rows[0]
    assert row.verdict == "fail" and row.note.startswith("[complex]"), row.note
    rep = audit(square_conj, registry=False, order=1, complex_cases=False)
    assert rep.rows[0].verdict == "ok" and rep.rows[0].complex == ""


def test_complex_input_is_audited_across_the_registry(full_audit):
    rows = {r.name: r for r in full_audit.rows}
    for name in ("sin", "linalg.svd", "linalg.eigh", "fft.fft", "matmul", "sum"):
        assert rows[name].complex == "checked", name
    assert rows["scipy.special.erf"].complex == "refused"
    assert sum(r.complex == "checked" for r in full_audit.rows) > 130
    assert "complex input: checked for" in str(full_audit)


def test_a_primitive_object_and_a_missing_case():
    prim = PRIMITIVES["sin"]
    rep = audit(prim, registry=False, order=1)
    assert [(r.name, r.verdict) for r in rep.rows] == [("sin", "ok")]

    def unknown(x):
        return x

    rep = audit(registry=True, only=["sin"], order=1)
    assert [r.name for r in rep.rows] == ["sin"]
    rep = audit(unknown, registry=False, order=1, cases={"unknown": AuditCase(((2,),))})
    assert rep.rows[0].verdict == "ok"


def test_pullback_audit_command_passes(capsys):
    # what CI runs: `pullback audit`, the whole registry at order 2
    assert cli_main(["audit"]) == 0
    out = capsys.readouterr().out
    assert "health: OK" in out and "registered primitives exercised" in out


def test_cli_audit_prints_and_exits_with_the_health(capsys):
    assert cli_audit(["--only", "exp", "--only", "abs"]) == 0
    out = capsys.readouterr().out
    assert "exp" in out and "abs (= absolute)" in out and "health: OK" in out
    with swapped("exp", "jvp", lambda tangents, ans, args, params: tangents[0] * ans * -1.0):
        assert cli_audit(["--only", "exp", "--order", "1"]) == 1
    assert "FAIL" in capsys.readouterr().out


def test_audit_inputs_respect_their_domains():
    rng = np.random.default_rng(0)
    for name in ("log", "arccosh", "arcsin", "sqrt"):
        for case in CASES[name]:
            if case.make is None:
                (x,) = case.args(rng, name)
                assert np.all(np.isfinite(getattr(np, name)(x)))


# ----------------------------------------------------------------------------- one table of domains


def _public(name):
    """The pullback function and NumPy's (or SciPy's) of that name, when both exist."""
    if name.startswith("scipy."):
        import pullback.scipy.special as ps

        try:
            import scipy.special as sps
        except ImportError:  # pragma: no cover - SciPy is in the dev extra
            sps = None
        attr = name.split(".")[-1]
        return [getattr(ps, attr, None), getattr(sps, attr, None)]
    ours, theirs = pnp, np
    for part in name.split("."):
        ours, theirs = getattr(ours, part, None), getattr(theirs, part, None)
    return [ours, theirs]


def test_the_domain_table_names_public_functions():
    names = {n for name, _, aliases in discover() for n in (name, *aliases)}
    assert set(FUNCTION_DOMAINS) <= names, set(FUNCTION_DOMAINS) - names
    for doms in FUNCTION_DOMAINS.values():
        for d in doms:  # every entry is a domain the sampler knows
            sample(np.random.default_rng(0), d, (3, 3))


def test_spec_rows_sample_inside_the_library_domains():
    # the spec table's rows that call a function of the domain table directly (pullback's or
    # NumPy's, same positional arguments) draw where the table says it is valid; rows that
    # name no domain get the table's, so the table is the one place to change a domain
    checked = 0
    for row in ALL_SPECS:
        name = row.function
        if name not in FUNCTION_DOMAINS or not any(row.fn is f for f in _public(name) if f):
            continue
        for shapes in row.shapes:
            rng = np.random.default_rng(0)
            for i, shape in enumerate(shapes):
                x = spec_sample(rng, row.domain(i), shape)
                ok = valid(domain_of(name, i), x)
                assert np.all(ok), (f"{row.id}: argument {i} drawn from {row.domain(i)!r} leaves "
                                    f"the domain {domain_of(name, i)!r} of "
                                    "pullback.check.domains.FUNCTION_DOMAINS")
                checked += 1
    assert checked > 50


def test_audit_cases_sample_inside_the_library_domains():
    rng = np.random.default_rng(0)
    for name, cases in CASES.items():
        if name not in FUNCTION_DOMAINS:
            continue
        for case in cases:
            if case.make is not None or case.call is not None:
                continue
            for i, x in enumerate(case.args(rng, name)):
                assert np.all(valid(domain_of(name, i), x)), (name, case.label, i)
    # a case that names no domain takes the table's
    assert AuditCase(((3,), (3,))).domain(1, "divide") == "nonzero"
    (x,) = CASES["log"][0].args(rng, "log")
    assert np.all(x > 0)


def test_one_sampler_for_the_audit_and_the_spec_table():
    for domain in ("real", "positive", "nonzero", "int", "bool", (0.1, 0.9),
                   lambda rng, shape: rng.uniform(1, 2, shape)):
        a = spec_sample(np.random.default_rng(5), domain, (3, 2))
        b = sample(np.random.default_rng(5), domain, (3, 2))
        np.testing.assert_array_equal(a, b)
        assert a.dtype == b.dtype and not a.flags.writeable and b.flags.writeable
    z = sample(np.random.default_rng(0), "complex", (4,), "float32")
    assert z.dtype == np.complex64
    with pytest.raises(ValueError, match="unknown domain 'posive'"):
        sample(np.random.default_rng(0), "posive", (2,))


def test_only_that_matches_nothing_is_an_error():
    with pytest.raises(ValueError, match="only='sinn' matches no function \\(did you mean 'sin'"):
        audit(only=["sinn"])


def test_discovery_lists_the_public_api_not_the_modules_that_implement_it():
    names = {n for n, _, _ in discover()}
    assert {"sin", "linalg.inv", "fft.fft", "random.normal", "scipy.special.erf",
            "scipy.stats.norm.logpdf"} <= names
    # pullback.numpy's family modules (elementwise.py, shape.py...) are not API
    assert not {n for n in names if "." in n and n.split(".")[0] in (
        "elementwise", "shape", "reductions", "creation", "manipulation")}


def test_every_differentiable_public_function_has_an_audit_case(full_audit):
    # pullback.numpy, its linalg/fft/random and pullback.scipy: a function without a case
    # is either not an array function (HELPERS: constructors, axis helpers, with a reason) or
    # one of the few listed here; the bound keeps new functions from going unaudited
    rows = {r.name: r for r in full_audit.rows}
    helpers = [r for r in full_audit.rows if r.kind == "helper"]
    assert {r.name for r in helpers} <= set(HELPERS) and all(r.note for r in helpers)
    no_case = sorted(r.name for r in full_audit.rows if r.verdict == "no case")
    assert len(no_case) <= 5, no_case
    assert set(no_case) <= NOT_AUDITED, set(no_case) - NOT_AUDITED
    for name in ("scipy.stats.norm.logpdf", "scipy.special.jv", "scipy.linalg.expm",
                 "scipy.integrate.odeint", "scipy.optimize.minimize", "scipy.signal.convolve",
                 "linalg.eig", "fft.irfftn", "random.normal", "polyfit", "cov"):
        assert rows[name].checks > 0 and not rows[name].failed, rows[name]
    assert all(not r.name.startswith("scipy.") for r in full_audit.rows
               if r.verdict == "no case")


#: public functions the audit does not run, and why
NOT_AUDITED: set[str] = set()

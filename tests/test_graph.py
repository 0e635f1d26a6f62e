"""pb.make_graph: the IR of a traced function, its printing, its DOT picture, its evaluation and
the simplification passes that pb.jit runs."""

from __future__ import annotations

import os
import stat

import numpy as np
import pytest

import pullback as pb
import pullback.numpy as pnp
from pullback.compile.ir import Graph
from pullback.compile.passes import simplify
from pullback.compile.values import Const, Equation, ShapedArray, Var


def small(x, y):
    return pnp.sum(pnp.sin(x) * y, axis=0)


X = np.linspace(-1, 1, 6).reshape(2, 3)
Y = np.array([0.5, -1.0, 2.0])

SMALL_IR = """\
{ lambda ; a:f64[2,3] b:f64[3]. let
    c:f64[2,3] = sin a
    d:f64[2,3] = broadcast_to[shape=(2, 3)] b
    e:f64[2,3] = multiply c d
    f:f64[3] = sum[axes=(0,) keepdims=False] e
  in (f,) }"""

SMALL_IR_SIMPLIFIED = """\
{ lambda ; a:f64[2,3] b:f64[3]. let
    c:f64[2,3] = sin a
    d:f64[2,3] = multiply c b
    e:f64[3] = sum[axes=(0,) keepdims=False] d
  in (e,) }"""


def test_printed_ir_of_a_small_function() -> None:
    graph = pb.make_graph(small, X, Y)
    assert str(graph) == SMALL_IR
    assert str(graph.simplified()) == SMALL_IR_SIMPLIFIED
    assert repr(graph) == "<Graph small: 2 inputs, 4 equations, 1 outputs>"


def test_printing_of_constants_params_literals_and_several_outputs() -> None:
    def f(x, n):
        a, b = pnp.split(x, 2)
        return (a[np.array([1, 0])] * 2.0 + np.arange(3.0)) ** n, b[1:, ::-1][None, ..., 0]

    text = str(pb.make_graph(f, np.ones((4, 3), np.float32), 3))
    assert text == """\
{ lambda b:f64[3] ; a:f32[4,3]. let
    c:f32[2,3] d:f32[2,3] = split[sizes=(2, 2) axis=0] a
    e:f32[2,3] = getitem[idx=([1,0],)] c
    f:f32[2,3] = multiply e 2.0
    g:f64[2,3] = astype[dtype=float64] f
    h:f64[2,3] = add g b
    i:f64[2,3] = power h 3
    j:f32[1,3] = getitem[idx=(1:, ::-1)] d
    k:f32[1,1] = getitem[idx=(None, ..., 0)] j
  in (i, k) }"""


def test_traced_indices_are_inputs_of_their_equation() -> None:
    graph = pb.make_graph(lambda x, i: x[i] * 2.0, np.ones(3), np.array([0, 2]))
    index = graph.invars[1]
    users = [e for e in graph.eqns if index in e.inputs or index in _vars_of(e.params)]
    assert users, str(graph)
    np.testing.assert_array_equal(graph(np.arange(3.0), np.array([2, 2]))[0], [4.0, 4.0])
    text = str(graph)
    assert "b:i64[2]" in text


def _vars_of(params: dict) -> list:
    from pullback.compile.values import vars_in

    return vars_in(params)


def test_python_numbers_computed_from_traced_values_stay_python_numbers() -> None:
    graph = pb.make_graph(lambda x: x * pnp.allclose(x, 1.0), np.ones(2))
    (close,) = [e for e in graph.eqns if e.prim.name == "allclose"]
    assert close.outvars[0].aval.weak is bool  # probed and run as a Python bool
    assert "bool[] = allclose a 1.0" in str(graph)
    np.testing.assert_array_equal(graph(np.array([1.0, 2.0]))[0], [0.0, 0.0])
    np.testing.assert_array_equal(graph(np.array([1.0, 1.0]))[0], [1.0, 1.0])


# ----------------------------------------------------------------------------- transformations


def notebook_loss(x, y, W1, W2):
    h = pnp.maximum(W1 @ x, 0)
    r = W2 @ h - y
    return 0.5 * pnp.sum(r**2)


def notebook_data():
    rng = np.random.default_rng(0)
    return np.linspace(-2, 2, 40), np.linspace(-2, 2, 10), rng.random((5, 40)), rng.random((10, 5))


def test_graph_of_value_and_grad_holds_forward_and_backward_passes() -> None:
    data = notebook_data()
    graph = pb.make_graph(pb.value_and_grad(notebook_loss, argnums=(0, 1, 2, 3)), *data)
    names = [e.prim.name for e in graph.eqns]
    # forward: two matmuls, relu, residual, square, sum; backward: a matmul per weight
    # cotangent... the pullback of each forward operation in reverse order
    assert names[:7] == ["matmul", "maximum", "matmul", "subtract", "power", "sum", "multiply"]
    assert names.count("matmul") == 4 and "greater" in names
    assert [a.aval.shape for a in graph.outvars] == [(), (40,), (10,), (5, 40), (10, 5)]
    assert graph.out_tree == pb.tree.tree_structure((0.0, (0, 0, 0, 0)))
    # evaluating the graph gives eager's numbers
    value, grads = pb.value_and_grad(notebook_loss, argnums=(0, 1, 2, 3))(*data)
    got = graph(*data)
    np.testing.assert_allclose(got[0], value, rtol=1e-15)
    for g, want in zip(got[1:], grads, strict=True):
        np.testing.assert_allclose(g, want, rtol=1e-15)
    assert len(graph.simplified()) < len(graph)


def test_graph_of_a_hessian_evaluates_to_the_hessian() -> None:
    f = lambda x: pnp.sum(pnp.exp(x) * pnp.sin(x[::-1]))  # noqa: E731
    x = np.linspace(-1, 1, 4)
    graph = pb.make_graph(pb.hessian(f), x)
    (H,) = graph.simplified()(x)
    np.testing.assert_allclose(H, pb.hessian(f)(x), rtol=1e-14)


def test_jit_inside_make_graph_is_traced_through() -> None:
    inner = pb.jit(lambda x: pnp.tanh(x) * 3.0)
    graph = pb.make_graph(lambda x: inner(x) + 1.0, np.ones(2))
    assert [e.prim.name for e in graph.eqns] == ["tanh", "multiply", "add"]
    assert inner.trace_count == 0


# ----------------------------------------------------------------------------- errors


def test_value_dependent_control_flow_in_make_graph() -> None:
    with pytest.raises(pb.ConcretizationError, match=r"bool\(\).*pnp.where"):
        pb.make_graph(lambda x: x if pnp.sum(x) > 0 else -x, np.ones(2))
    with pytest.raises(pb.ConcretizationError, match="output shape that depends on the values"):
        pb.make_graph(lambda x: x[x > 0], np.ones(3))
    assert isinstance(pb.ConcretizationError("x"), (TypeError, pb.TracerConversionError))


def test_static_argnums_fix_a_value() -> None:
    graph = pb.make_graph(lambda x, n: x * 2.0 if n > 0 else -x, np.ones(2), np.int64(1),
                          static_argnums=1)
    assert [e.prim.name for e in graph.eqns] == ["multiply"]
    assert len(graph.invars) == 1


def test_closing_over_an_outer_traced_value_is_refused() -> None:
    def f(x):
        graph = pb.make_graph(lambda y: y * x, np.ones(2))
        return graph

    with pytest.raises(TypeError, match="closes over a value traced by an enclosing"):
        pb.grad(lambda x: pnp.sum(f(x)(np.ones(2))[0]))(np.ones(2))


def test_the_shape_of_an_op_that_fails_on_ones_and_zeros_is_still_found() -> None:
    # a matrix of ones, or of zeros, is singular: the identity probe gives inv its shape
    graph = pb.make_graph(lambda a: pnp.linalg.inv(a) @ a[0], np.ones((3, 3)))
    assert [a.aval.shape for a in graph.outvars] == [(3,)]
    a = np.array([[2.0, 1.0, 0.0], [0.0, 3.0, 1.0], [1.0, 0.0, 4.0]])
    np.testing.assert_allclose(graph(a)[0], np.linalg.inv(a) @ a[0], rtol=1e-14)


# ----------------------------------------------------------------------------- simplification


def _names(graph: Graph) -> list[str]:
    return [e.prim.name for e in graph.eqns]


def test_algebraic_identities_disappear() -> None:
    def f(x):
        y = x * 1.0 + 0.0 - 0.0
        y = y / 1.0
        y = y**1
        y = pnp.reshape(pnp.reshape(y, (3, 2)), (6,))
        y = pnp.negative(pnp.negative(y))
        return pb.stop_gradient(y)

    graph = pb.make_graph(f, np.ones(6))
    assert len(graph) >= 9
    simple = graph.simplified()
    assert _names(simple) == [] and simple.outvars == simple.invars
    # but not where the identity would change a shape or a dtype
    mul = pnp.PRIMITIVES["multiply"]
    x = Var(ShapedArray((3,), np.float32))
    for one in (np.ones((2, 3), np.float32), np.float64(1.0)):
        out = Var(ShapedArray(np.broadcast_shapes((3,), np.shape(one)),
                              np.result_type(np.float32, one)))
        graph = Graph([x], [Equation(mul, [x, Const(one)], {}, [out], False)], [out])
        assert _names(simplify(graph)) == ["multiply"]


def test_common_subexpressions_and_dead_code() -> None:
    def f(x):
        pnp.exp(x)  # dead
        a = pnp.sin(x) * 2.0
        b = pnp.sin(x) * 2.0
        return a + b

    simple = pb.make_graph(f, np.ones(3)).simplified()
    assert _names(simple) == ["sin", "multiply", "add"]
    add = simple.eqns[-1]
    assert add.inputs[0] is add.inputs[1]


def test_chains_of_reshapes_and_broadcasts_fuse() -> None:
    def f(x):
        return pnp.broadcast_to(pnp.broadcast_to(pnp.reshape(pnp.reshape(x, (2, 3)), (6, 1)),
                                                 (6, 4)), (5, 6, 4)) @ np.ones(4)

    simple = pb.make_graph(f, np.ones(6)).simplified()
    assert _names(simple) == ["reshape", "broadcast_to", "matmul"]
    assert simple.eqns[0].params == {"shape": (6, 1)}
    assert simple.eqns[1].params == {"shape": (5, 6, 4)}
    np.testing.assert_array_equal(simple(np.arange(6.0))[0], np.tile(4 * np.arange(6.0), (5, 1)))


def test_transposes_compose_and_cancel() -> None:
    def f(x):
        a = pnp.transpose(pnp.transpose(x, (1, 2, 0)), (2, 0, 1))  # cancels
        b = pnp.transpose(pnp.transpose(x, (2, 0, 1)), (2, 0, 1))  # one transpose
        return a + b

    x = np.arange(27.0).reshape(3, 3, 3)
    simple = pb.make_graph(f, x).simplified()
    assert _names(simple) == ["transpose", "add"]
    assert simple.eqns[0].params == {"axes": (1, 2, 0)}
    np.testing.assert_array_equal(simple(x)[0], f(x))


def test_masks_stay_boolean_before_ufuncs() -> None:
    # the ReLU's derivative: (x > 0) as floats times g; a ufunc casts the mask itself
    def f(x, g):
        return g * pnp.astype(x > 0, np.float64) + pnp.astype(x < 0, np.float32)

    x, g = np.array([-1.0, 0.0, 2.0]), np.array([3.0, 4.0, 5.0])
    graph = pb.make_graph(f, x, g)
    simple = graph.simplified()
    assert _names(graph).count("astype") == 3  # bool->f64, bool->f32, f32->f64 for the add
    assert _names(simple) == ["greater", "multiply", "less", "add"]
    np.testing.assert_array_equal(simple(x, g)[0], f(x, g))
    assert simple(x, g)[0].dtype == np.float64
    # a cast that changes the loop stays: int8 + int8 -> int8, but as float32 -> float32
    h = pb.make_graph(lambda i: pnp.astype(i, np.float32) + i.astype(np.float32),
                      np.array([100], np.int8)).simplified()
    assert "astype" in _names(h)
    np.testing.assert_array_equal(h(np.array([100], np.int8))[0], [200.0])


def test_power_zero_is_one_even_for_nan() -> None:
    graph = pb.make_graph(lambda x: x**0 * 3.0 + x, np.ones(3))
    simple = graph.simplified()
    assert _names(simple) == ["add"]
    x = np.array([np.nan, np.inf, 0.0])
    np.testing.assert_array_equal(simple(x)[0], graph(x)[0])


def test_constant_folding() -> None:
    sin = pnp.PRIMITIVES["sin"]
    mul = pnp.PRIMITIVES["multiply"]
    x = Var(ShapedArray((2,), np.float64))
    c, d = Var(ShapedArray((), np.float64)), Var(ShapedArray((2,), np.float64))
    graph = Graph(
        [x],
        [Equation(sin, [Const(0.5)], {}, [c], False), Equation(mul, [c, x], {}, [d], False)],
        [d, c],
    )
    simple = simplify(graph)
    assert _names(simple) == ["multiply"]
    folded = simple.eqns[0].inputs[0]
    assert isinstance(folded, Const) and folded.value == np.sin(0.5)
    assert isinstance(simple.outvars[1], Const)
    np.testing.assert_allclose(simple(np.ones(2))[0], np.sin(0.5) * np.ones(2), rtol=1e-15)


def test_simplified_graphs_compute_the_same() -> None:
    data = notebook_data()
    graph = pb.make_graph(pb.value_and_grad(notebook_loss, argnums=(2, 3)), *data)
    for a, b in zip(graph(*data), graph.simplified()(*data), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-15)


# ----------------------------------------------------------------------------- pictures


def test_dot_has_a_node_per_input_equation_and_output_and_an_edge_per_use() -> None:
    graph = pb.make_graph(small, X, Y)
    dot = graph.to_dot()
    assert dot.startswith("digraph small {") and dot.rstrip().endswith("}")
    lines = dot.splitlines()
    assert len([ln for ln in lines if ln.lstrip().startswith(("in0 [", "in1 ["))]) == 2
    assert len([ln for ln in lines if "shape=box" in ln]) == len(graph.eqns)
    uses = sum(len(e.inputs) for e in graph.eqns) + len(graph.outvars)
    assert len([ln for ln in lines if "->" in ln]) == uses
    assert '  in1 -> e1 [label="f64[3]"];' in lines
    assert '  e3 -> out0 [label="f64[3]"];' in lines


def test_render_writes_dot_text_without_graphviz(tmp_path) -> None:
    graph = pb.make_graph(small, X, Y)
    out = graph.render(tmp_path / "g.dot")
    assert out.read_text() == graph.to_dot()


def test_render_explains_a_missing_dot_program(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(RuntimeError, match="Graphviz's 'dot' program was not found"):
        pb.make_graph(small, X, Y).render(tmp_path / "g.png")


def test_render_calls_dot_with_the_format(tmp_path, monkeypatch) -> None:
    bindir = tmp_path / "bin"
    bindir.mkdir()
    fake = bindir / "dot"
    # a stand-in for Graphviz: records its arguments, copies its input to the -o file
    fake.write_text('#!/bin/sh\necho "$@" > "$(dirname "$0")/args"\ncat > "$3"\n')
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", str(bindir) + os.pathsep + os.environ.get("PATH", ""))
    graph = pb.make_graph(small, X, Y)
    out = graph.render(tmp_path / "g.svg")
    assert (bindir / "args").read_text().split() == ["-Tsvg", "-o", str(tmp_path / "g.svg")]
    assert out.read_text() == graph.to_dot()
    fake.write_text("#!/bin/sh\necho 'syntax error' >&2\nexit 3\n")
    with pytest.raises(RuntimeError, match="exit status 3: syntax error"):
        graph.render(tmp_path / "g.pdf")

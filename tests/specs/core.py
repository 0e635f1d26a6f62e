"""Rows for the first set of operations (the notebook and small models)."""

import numpy as np

import pullback.numpy as pnp
from specs import spec

UNARY = [((3, 2),), ((),), ((0,),), ((4,),)]
BINARY = [((3, 2), (3, 2)), ((3, 2), (2,)), ((1, 2), (3, 1)), ((), (4,)), ((0, 2), (2,))]

# fmt: off
SPECS = [
    spec("negative", pnp.negative, np.negative, UNARY),
    spec("exp",      pnp.exp,      np.exp,      UNARY),
    spec("log",      pnp.log,      np.log,      UNARY, "positive"),
    spec("sin",      pnp.sin,      np.sin,      UNARY),
    spec("cos",      pnp.cos,      np.cos,      UNARY),
    spec("tanh",     pnp.tanh,     np.tanh,     UNARY),
    spec("sqrt",     pnp.sqrt,     np.sqrt,     UNARY, "positive"),
    spec("abs",      pnp.abs,      np.abs,      UNARY, "nonzero"),
    spec("add",      pnp.add,      np.add,      BINARY),
    spec("subtract", pnp.subtract, np.subtract, BINARY),
    spec("multiply", pnp.multiply, np.multiply, BINARY),
    spec("divide",   pnp.divide,   np.divide,   BINARY, "real", "nonzero"),
    spec("power",    pnp.power,    np.power,    BINARY, "positive", "real"),
    spec("power",    pnp.power,    np.power,    [((3, 2), ())], "real", "int", tag="int-exp"),
    spec("maximum",  pnp.maximum,  np.maximum,  BINARY),
    spec("minimum",  pnp.minimum,  np.minimum,  BINARY),
    spec("where",    pnp.where,    np.where,    [((3, 2), (3, 2), (3, 2)), ((2,), (3, 2), ()),
                                                 ((3, 1), (2,), (3, 2))], "bool", "real", "real"),
    spec("dot",      pnp.dot,      np.dot,      [((4,), (4,)), ((3, 4), (4,)), ((4,), (4, 2)),
                                                 ((3, 4), (4, 2)), ((), (3,))]),
    spec("matmul",   pnp.matmul,   np.matmul,   [((3, 4), (4, 2)), ((4,), (4, 2)), ((3, 4), (4,)),
                                                 ((2, 3, 4), (4, 2)), ((2, 1, 3, 4), (3, 4, 2)),
                                                 ((4,), (2, 4, 3)), ((2, 3, 4), (4,))]),
    spec("outer",    pnp.outer,    np.outer,    [((3,), (4,)), ((2, 2), (3,))]),
    spec("sum",      pnp.sum,      np.sum,      UNARY),
    spec("sum",      pnp.sum,      np.sum,      [((3, 4, 2),)], kwargs={"axis": 1}, tag="axis1"),
    spec("sum",      pnp.sum,      np.sum,      [((3, 4, 2),)], kwargs={"axis": (0, -1),
                                                 "keepdims": True}, tag="axes-keepdims"),
    spec("mean",     pnp.mean,     np.mean,     [((3, 2),), ((4,),)]),
    spec("mean",     pnp.mean,     np.mean,     [((3, 4, 2),)], kwargs={"axis": -2,
                                                 "keepdims": True}, tag="axis-keepdims"),
    spec("reshape",  pnp.reshape,  np.reshape,  [((3, 4),)], kwargs={"shape": (2, -1)}),
    spec("transpose", pnp.transpose, np.transpose, [((3, 4),), ((2, 3, 4),)]),
    spec("transpose", pnp.transpose, np.transpose, [((2, 3, 4),)], kwargs={"axes": (1, -1, 0)},
         tag="axes"),
    spec("broadcast_to", pnp.broadcast_to, np.broadcast_to, [((3, 1),), ((),)],
         kwargs={"shape": (2, 3, 4)}),
    spec("concatenate", lambda x, y: pnp.concatenate([x, y], axis=1),
         lambda x, y: np.concatenate([x, y], axis=1), [((2, 3), (2, 1))]),
    spec("stack", lambda x, y: pnp.stack([x, y], axis=-1),
         lambda x, y: np.stack([x, y], axis=-1), [((2, 3), (2, 3))]),
    spec("getitem", lambda x: x[1:, ::-1], lambda x: x[1:, ::-1], [((3, 4),)], tag="slices"),
    spec("getitem", lambda x: x[np.array([0, 2, 0])], lambda x: x[np.array([0, 2, 0])],
         [((3, 4),)], tag="repeated-int-array"),
    spec("getitem", lambda x: x[x > 0], lambda x: x[x > 0], [((3, 4),)], tag="mask"),
    spec("getitem", lambda x: x[None, ..., 1], lambda x: x[None, ..., 1], [((3, 4),)],
         tag="newaxis-ellipsis"),
    spec("astype", lambda x: pnp.astype(x, np.float32) * 2.0,
         lambda x: x.astype(np.float32) * 2.0, [((3,),)], rtol=1e-6, atol=1e-6,
         smooth=lambda x: x * 2.0),
    spec("methods", lambda x: (x.T @ x).sum(axis=0).reshape(2, 1).mean(),
         lambda x: (x.T @ x).sum(axis=0).reshape(2, 1).mean(), [((3, 2),)]),
]
# fmt: on

"""The libraries compared, loaded lazily, each on one thread.

``configure_threads()`` must run before NumPy (or any BLAS user) is imported: it sets the
thread variables of OpenMP, OpenBLAS, MKL and XLA. PyTorch is then told
``torch.set_num_threads(1)`` when it is imported, and JAX gets 64-bit floats so that the
float64 workloads stay float64 (float32 workloads pass float32 arrays explicitly).
"""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import os
from dataclasses import dataclass, field
from typing import Any

#: the columns of the tables, in order
LIBS = ("numpy", "pullback", "pullback.jit", "pullback.numba", "autograd", "torch", "jax")

#: the pb.jit columns and the backend each one compiles with
JIT_BACKENDS = {"pullback.jit": "numpy", "pullback.numba": "numba"}

LABELS = {
    "numpy": "NumPy by hand",
    "pullback": "pullback eager",
    "pullback.jit": "pullback jit (NumPy)",
    "pullback.numba": "pullback jit (Numba)",
    "autograd": "autograd",
    "torch": "PyTorch eager",
    "jax": "JAX jit",
}

_THREAD_VARS = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMEXPR_NUM_THREADS",
)


def configure_threads(threads: int = 1) -> None:
    """Ask every library for ``threads`` threads (call before importing NumPy)."""
    for var in _THREAD_VARS:
        os.environ[var] = str(threads)
    flags = os.environ.get("XLA_FLAGS", "")
    if "intra_op_parallelism_threads" not in flags:
        flags += (
            f" --xla_cpu_multi_thread_eigen={'true' if threads > 1 else 'false'}"
            f" intra_op_parallelism_threads={threads}"
        )
    os.environ["XLA_FLAGS"] = flags.strip()
    os.environ.setdefault("JAX_PLATFORMS", "cpu")


def limit_blas_threads(threads: int = 1) -> tuple[str, Any]:
    """Limit BLAS threads at run time too (threadpoolctl, when installed).

    Returns what was done, and the limiter (call its ``restore_original_limits()`` to undo)
    or ``None``.
    """
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return "thread variables only (threadpoolctl not installed)", None
    return f"thread variables and threadpoolctl ({threads})", threadpool_limits(threads)


@dataclass
class Libs:
    """The modules available in this environment (``None`` where not installed)."""

    modules: dict[str, Any] = field(default_factory=dict)
    missing: dict[str, str] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=dict)

    def has(self, name: str) -> bool:
        return self.modules.get(name) is not None

    def __getitem__(self, name: str) -> Any:
        return self.modules[name]


def _version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "?"


def load_libs(wanted: tuple[str, ...] = LIBS, threads: int = 1) -> Libs:
    """Import the libraries of ``wanted`` that are installed; note why the others are not.

    Example:
        >>> libs = load_libs(("numpy", "pullback"))
        >>> libs.has("numpy")
        True
    """
    libs = Libs()
    import numpy as np

    import pullback

    libs.modules["numpy"] = np
    libs.versions["numpy"] = np.__version__
    libs.modules["pullback"] = pullback
    libs.versions["pullback"] = pullback.__version__
    if "pullback.jit" in wanted:
        if hasattr(pullback, "jit"):
            libs.modules["pullback.jit"] = pullback
        else:
            libs.missing["pullback.jit"] = "n/a (pullback has no jit yet)"
    if "pullback.numba" in wanted:
        if importlib.util.find_spec("numba") is None:
            libs.missing["pullback.numba"] = "numba not installed"
        else:
            libs.modules["pullback.numba"] = pullback
            libs.versions["numba"] = _version("numba")
    for name in ("autograd", "torch", "jax"):
        if name not in wanted:
            continue
        try:
            mod = importlib.import_module(name)
        except ImportError:
            libs.missing[name] = "not installed"
            continue
        if name == "torch":
            mod.set_num_threads(threads)
            try:
                mod.set_num_interop_threads(threads)
            except RuntimeError:  # already set once in this process
                pass
        if name == "jax":
            mod.config.update("jax_enable_x64", True)
            libs.versions["jaxlib"] = _version("jaxlib")
        libs.modules[name] = mod
        libs.versions[name] = _version(name)
    return libs

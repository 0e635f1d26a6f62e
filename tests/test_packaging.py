"""Packaging, end to end: the sdist and the wheel build (the wheel from the sdist), pass
``twine check``, carry every module, the ``py.typed`` marker, the version and the
dependencies; the wheel installed into a fresh virtual environment runs ``pullback demo``.

The fresh environment sees this interpreter's installed packages (NumPy and the ``demo``
extra) through a ``.pth`` file, so nothing heavy is downloaded; the wheel is installed into
it without dependencies, and the test checks that the ``pullback`` it imports is the
wheel's, not this checkout's. Building needs the network once per build (``python -m build``
installs setuptools into an isolated environment), as CI has.
"""

from __future__ import annotations

import email.parser
import os
import re
import shutil
import subprocess
import sys
import tarfile
import venv
import zipfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.packaging

ROOT = Path(__file__).resolve().parents[1]
# what a build reads from the checkout (the rest of the repository is not packaged)
PROJECT_FILES = ["pyproject.toml", "README.md", "CHANGELOG.md", "MANIFEST.in", "LICENSE"]
DEMO_DEPS = ["numpy", "sklearn", "matplotlib", "tqdm"]


def _run(*cmd, cwd, timeout=300, env=None):
    result = subprocess.run([str(c) for c in cmd], cwd=cwd, env=env, capture_output=True,
                            text=True, timeout=timeout)
    assert result.returncode == 0, (
        f"{' '.join(map(str, cmd))} exited with {result.returncode}\n"
        f"--- stdout\n{result.stdout[-4000:]}\n--- stderr\n{result.stderr[-4000:]}")
    return result.stdout


def _clean_env():
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "VIRTUAL_ENV")}
    env["OMP_NUM_THREADS"] = env["OPENBLAS_NUM_THREADS"] = env["MKL_NUM_THREADS"] = "1"
    return env


def _declared_version():
    text = (ROOT / "src" / "pullback" / "__init__.py").read_text()
    return re.search(r'^__version__ = "([^"]+)"', text, re.M)[1]


def _source_modules():
    src = ROOT / "src"
    return sorted(p.relative_to(src).as_posix() for p in (src / "pullback").rglob("*.py")
                  if "__pycache__" not in p.parts)


@pytest.fixture(scope="module")
def dists(tmp_path_factory):
    """Build the sdist, then the wheel from it, from a copy of what the build reads."""
    base = tmp_path_factory.mktemp("packaging")
    project, out = base / "project", base / "dist"
    project.mkdir()
    for name in PROJECT_FILES:
        if (ROOT / name).exists():
            shutil.copy2(ROOT / name, project / name)
    shutil.copytree(ROOT / "src", project / "src",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info"))
    _run(sys.executable, "-m", "build", "--outdir", out, project, cwd=base,
         env=_clean_env())
    wheels, sdists = sorted(out.glob("*.whl")), sorted(out.glob("*.tar.gz"))
    assert len(wheels) == 1 and len(sdists) == 1, sorted(out.iterdir())
    return base, wheels[0], sdists[0]


def test_twine_check_passes(dists):
    base, wheel, sdist = dists
    out = _run(sys.executable, "-m", "twine", "check", "--strict", wheel, sdist, cwd=base)
    assert out.count("PASSED") == 2, out


def test_wheel_contents_and_metadata(dists):
    _, wheel, sdist = dists
    version = _declared_version()
    assert wheel.name == f"pullback-{version}-py3-none-any.whl"
    assert sdist.name == f"pullback-{version}.tar.gz"
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        meta = email.parser.Parser().parsestr(
            zf.read(f"pullback-{version}.dist-info/METADATA").decode())
        entry_points = zf.read(f"pullback-{version}.dist-info/entry_points.txt").decode()
    assert "pullback/py.typed" in names
    missing = [m for m in _source_modules() if m not in names]
    assert not missing, f"modules missing from the wheel: {missing}"
    assert meta["Version"] == version
    requires = meta.get_all("Requires-Dist")
    assert any(re.match(r"numpy\b[^;]*$", r) for r in requires), requires
    for dep in ("scikit-learn", "matplotlib", "tqdm"):
        assert any(r.startswith(dep) and 'extra == "demo"' in r for r in requires), requires
    assert "pullback = pullback.cli:main" in entry_points
    with tarfile.open(sdist) as tf:
        members = {m.split("/", 1)[1] for m in tf.getnames() if "/" in m}
    assert {"pyproject.toml", "README.md", "src/pullback/py.typed"} <= members


def test_wheel_installs_into_a_fresh_venv_and_runs_the_demo(dists):
    base, wheel, _ = dists
    env_dir = base / "venv"
    venv.create(env_dir, with_pip=False)
    python = env_dir / "bin" / "python"
    site = Path(_run(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])",
                     cwd=base, env=_clean_env()).strip())
    # the dependencies as this interpreter has them installed (no download)
    dep_dirs = _run(sys.executable, "-c",
                    "import pathlib\n"
                    f"for name in {DEMO_DEPS!r}:\n"
                    "    print(pathlib.Path(__import__(name).__file__).resolve().parents[1])",
                    cwd=base).split()
    (site / "_test_dependencies.pth").write_text("\n".join(dict.fromkeys(dep_dirs)) + "\n")
    _run(sys.executable, "-m", "pip", "--python", python, "install", "--quiet", "--no-index",
         "--no-deps", "--force-reinstall", wheel, cwd=base, env=_clean_env())

    where = _run(python, "-c", "import pullback; print(pullback.__file__, pullback.__version__)",
                 cwd=base, env=_clean_env()).split()
    assert Path(where[0]).is_relative_to(env_dir), f"imported {where[0]}, not the wheel's"
    assert where[1] == _declared_version()

    out_dir = base / "demo-out"
    out = _run(env_dir / "bin" / "pullback", "demo", "--epochs", "1", "--out", out_dir,
               "--no-progress", cwd=base, env=_clean_env())
    assert "[1/4] The notebook, replayed with pullback" in out
    assert re.search(r"test accuracy: [\d.]+% \(\d+ of 450 held-out digits", out), out
    assert "derivative checks: all passed" in out, out
    assert (out_dir / "params.npz").is_file()
    assert (out_dir / "training_curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

"""``pullback check`` and ``pullback audit``: every mistake on the command line is one line on
standard error that says what to do, with exit status 2 and no traceback; a good run prints
its report and exits with 0 (1 when a check fails)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from pullback.cli import main as cli_main


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    (tmp_path / "cli_model.py").write_text(textwrap.dedent("""
        import pullback.numpy as pnp

        def loss(x):
            return pnp.sum(pnp.tanh(x) ** 2)

        def nothing(x):
            pnp.sum(x)  # forgot the return

        def index(x):
            return pnp.argmax(x)

        def picky(x):
            if x.shape != (2, 2):
                raise RuntimeError("wants a 2 x 2 matrix")
            return pnp.sum(x)

        constant = 3.0
    """))
    (tmp_path / "cli_raises.py").write_text("1 / 0\n")
    (tmp_path / "cli_syntax.py").write_text("def f(:\n")
    (tmp_path / "cli_dep.py").write_text("import no_such_dependency_xyz\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    for name in ("cli_model", "cli_raises", "cli_syntax", "cli_dep"):
        sys.modules.pop(name, None)
    return tmp_path


def _run(capsys, *argv):
    status = cli_main(list(argv))
    out, err = capsys.readouterr()
    assert "Traceback" not in err and "Traceback" not in out
    return status, err, out


def _one_line(err: str) -> str:
    lines = err.strip("\n").split("\n")
    assert len(lines) == 1, err
    return lines[0]


CHECK_ERRORS = [
    # the module
    (["no_such_module_xyz:f"], "cannot import 'no_such_module_xyz': no module of that name; run "
                               "from the directory that contains it"),
    (["cli_raises:f"], "cannot import 'cli_raises': importing it raised ZeroDivisionError"),
    (["cli_syntax:f"], "cannot import 'cli_syntax': syntax error in"),
    (["cli_dep:f"], "it imports 'no_such_dependency_xyz', which is not installed"),
    (["missing_file.py:f"], "there is no file 'missing_file.py'"),
    (["cli_model:los"], "module 'cli_model' has no attribute 'los' (did you mean 'loss'?)"),
    (["cli_model:constant"], "cli_model:constant is a float, not a function"),
    (["cli_model"], "expected MODULE:FUNCTION"),
    # options
    (["cli_model:loss", "--shape", "-3"], "argument --shape: '-3' has the dimension '-3': write "
                                          "non-negative whole numbers separated by single "
                                          "commas, like 3,4"),
    (["cli_model:loss", "--shape", "-3,4"], "argument --shape: '-3,4' has the dimension '-3'"),
    (["cli_model:loss", "--shape", "3,,4"], "argument --shape: '3,,4' has an empty dimension"),
    (["cli_model:loss", "--shape", ",3"], "argument --shape: ',3' has an empty dimension"),
    (["cli_model:loss", "--shape", "3,x"], "argument --shape: '3,x' has the dimension 'x'"),
    (["cli_model:loss", "--dtype", "float8"], "argument --dtype: unknown dtype 'float8': use one "
                                              "of float64, float32, float16, complex128"),
    (["cli_model:loss", "--dtype", "int64"], "argument --dtype: unknown dtype 'int64'"),
    (["cli_model:loss", "--seed", "-1"], "argument --seed: expected a non-negative whole number "
                                         "for the seed (such as 0), got '-1'"),
    (["cli_model:loss", "--seed", "x"], "argument --seed: expected a non-negative whole number"),
    (["cli_model:loss", "--order", "0"], "argument --order: expected a positive whole number"),
    (["cli_model:loss", "--probes", "-2"], "argument --probes: expected a positive whole number"),
    (["cli_model:loss", "--modes", "forward"], "argument --modes: 'forward': write fwd, rev or "
                                               "fwd,rev"),
    (["cli_model:loss", "--method", "fd"], "argument --method: invalid choice: 'fd'"),
    (["cli_model:loss", "--domain", "huge"], "argument --domain: invalid choice: 'huge'"),
    (["cli_model:loss", "--frobnicate"], "unrecognized arguments: --frobnicate"),
    # the function
    (["cli_model:nothing"], "cli_model:nothing: nothing returned None, which has no "
                            "floating-point or complex output to differentiate"),
    (["cli_model:index"], "index returned a value of type int64, which has no floating-point or "
                          "complex output"),
    (["cli_model:picky", "--shape", "3"], "cli_model:picky raised RuntimeError: wants a 2 x 2 "
                                          "matrix at inputs of --shape 3 (dtype float64); give "
                                          "the shapes and dtype it expects"),
]


@pytest.mark.parametrize("argv,words", CHECK_ERRORS, ids=[" ".join(a) for a, _ in CHECK_ERRORS])
def test_check_mistakes_are_one_line_with_status_2(workdir, capsys, argv, words):
    status, err, out = _run(capsys, "check", *argv)
    line = _one_line(err)
    assert status == 2 and out == ""
    assert line.startswith("pullback check: ")
    assert words in line, line


def test_check_runs_and_reports(workdir, capsys):
    status, err, out = _run(capsys, "check", "cli_model:loss", "--shape", "2,3", "--order", "2")
    assert status == 0 and err == ""
    assert "derivative check of loss" in out and "FAIL" not in out
    status, _, out = _run(capsys, "check", "cli_model.py:loss", "--shape", "(3,)",
                          "--dtype", "complex128", "--domain", "positive", "--seed", "3")
    assert status == 0
    assert "dtype complex128" in out and "seed 3" in out and "is complex" in out
    status, _, out = _run(capsys, "check", "cli_model:loss", "--shape", "", "--dtype", "float32")
    assert status == 0 and "dtype float32" in out


AUDIT_ERRORS = [
    (["--only", "typo"], "pullback audit: --only 'typo' matches no function"),
    (["--only", "sin", "--only", "sinn"], "--only 'sinn' matches no function (did you mean "
                                          "'sin'"),
    (["--seed", "-1"], "argument --seed: expected a non-negative whole number"),
    (["--order", "0"], "argument --order: expected a positive whole number"),
    (["--probes", "x"], "argument --probes: expected a positive whole number"),
    (["--frobnicate"], "unrecognized arguments: --frobnicate"),
]


@pytest.mark.parametrize("argv,words", AUDIT_ERRORS, ids=[" ".join(a) for a, _ in AUDIT_ERRORS])
def test_audit_mistakes_are_one_line_with_status_2(capsys, argv, words):
    status, err, out = _run(capsys, "audit", *argv)
    line = _one_line(err)
    assert status == 2 and out == ""
    assert line.startswith("pullback audit: ")
    assert words in line, line
    assert "health: OK" not in out


def test_the_installed_command_reports_on_one_line(workdir):
    # as a user runs it: a fresh interpreter, the messages on stderr, the status to the shell
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(workdir), *filter(None, [os.environ.get("PYTHONPATH")])])}
    for argv, words in [
        (["check", "no_such_module_xyz:f"], "cannot import 'no_such_module_xyz'"),
        (["check", "cli_model:loss", "--shape", "3,,4"], "has an empty dimension"),
        (["audit", "--only", "typo"], "matches no function"),
    ]:
        done = subprocess.run([sys.executable, "-m", "pullback.cli", *argv], cwd=workdir,
                              env=env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 2, done
        assert "Traceback" not in done.stderr and done.stdout == ""
        assert words in _one_line(done.stderr)

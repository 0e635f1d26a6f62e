"""The ``pullback`` command's errors: each is one line on standard error that says what to
do, with exit status 2 and no traceback, for bad options, an output directory that cannot be
created, unknown commands and subcommands that cannot be imported."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys

import pytest

from pullback import cli, demo


def _one_line(err: str) -> str:
    assert "Traceback" not in err
    lines = err.strip("\n").split("\n")
    assert len(lines) == 1, err
    return lines[0]


def _run(capsys, *argv):
    status = cli.main(list(argv))
    captured = capsys.readouterr()
    return status, _one_line(captured.err), captured.out


@pytest.mark.parametrize("argv, words", [
    (["--seed", "-1"], "argument --seed: expected a whole number from 0 to 4294967295 (such as "
                       "0), got '-1'"),
    (["--seed", str(2**32)], "argument --seed: expected a whole number from 0 to 4294967295"),
    (["--seed", "1.5"], "argument --seed: expected a whole number"),
    (["--lr", "inf"], "argument --lr: expected a positive finite learning rate (such as 1e-3), "
                      "got 'inf'"),
    (["--lr", "nan"], "argument --lr: expected a positive finite learning rate"),
    (["--lr", "-1"], "argument --lr: expected a positive finite learning rate"),
    (["--lr", "0"], "argument --lr: expected a positive finite learning rate"),
    (["--lr", "fast"], "argument --lr: expected a positive finite learning rate"),
    (["--epochs", "0"], "argument --epochs: expected a positive whole number of epochs (such as "
                        "30), got '0'"),
    (["--epochs", "-3"], "argument --epochs: expected a positive whole number of epochs"),
    (["--epochs", "2.5"], "argument --epochs: expected a positive whole number of epochs"),
    (["--epochs"], "argument --epochs: expected one argument"),
    (["--batch-size", "0"], "argument --batch-size: expected a positive whole number of examples "
                            "per minibatch"),
    (["--hidden", "0"], "argument --hidden: expected positive layer widths separated by commas"),
    (["--hidden", "64,"], "argument --hidden: expected positive layer widths"),
    (["--device", "tpu"], "argument --device: invalid choice: 'tpu'"),
    (["--frobnicate"], "unrecognized arguments: --frobnicate"),
    (["--epochs", "1", "extra"], "unrecognized arguments: extra"),
])
def test_bad_demo_options_are_one_line_with_status_2(capsys, tmp_path, argv, words):
    status, line, out = _run(capsys, "demo", "--out", str(tmp_path), *argv)
    assert status == 2 and out == ""
    assert line.startswith("pullback demo: error: ")
    assert words in line
    assert line.endswith("; run `pullback demo --help` for the options")


def test_demo_out_that_cannot_be_created(capsys, tmp_path):
    regular = tmp_path / "file"
    regular.write_text("not a directory")
    status, line, _ = _run(capsys, "demo", "--out", str(regular / "sub"))
    assert status == 2
    assert line.startswith(f"pullback demo: error: argument --out: cannot write to the directory "
                           f"'{regular / 'sub'}' (NotADirectoryError: Not a directory); choose a "
                           "directory that can be created and written")
    status, line, _ = _run(capsys, "demo", "--out", str(regular))
    assert status == 2
    assert f"argument --out: '{regular}' is a file, not a directory; choose a directory" in line
    assert regular.read_text() == "not a directory"


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write anywhere")
def test_demo_out_that_is_read_only(capsys, tmp_path):
    tmp_path.chmod(0o500)
    try:
        status, line, _ = _run(capsys, "demo", "--out", str(tmp_path / "new"))
    finally:
        tmp_path.chmod(0o700)
    assert status == 2 and "argument --out: cannot write to the directory" in line


def test_demo_output_failing_during_the_run(capsys, tmp_path, monkeypatch):
    def full(args):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(demo, "_run", full)
    status, line, _ = _run(capsys, "demo", "--out", str(tmp_path))
    assert status == 2
    assert line == (f"pullback demo: error: OSError: [Errno 28] No space left on device; check "
                    f"that --out '{tmp_path}' is still writable and has free space")


def test_demo_help_still_works(capsys):
    assert cli.main(["demo", "--help"]) == 0
    out = capsys.readouterr().out
    assert "--lr LR" in out and "0 to 4294967295" in out


def test_unknown_and_missing_commands(capsys):
    status, line, _ = _run(capsys, "demoo")
    assert status == 2
    assert line == ("pullback: unknown command 'demoo'; use one of demo, check, audit "
                    "(`pullback --help` describes them)")
    status, line, _ = _run(capsys)
    assert status == 2 and line.startswith("pullback: no command given; run `pullback demo`")
    assert cli.main(["--help"]) == 0 and "commands:" in capsys.readouterr().out


@pytest.mark.parametrize("command, module", [("demo", "pullback.demo"),
                                             ("check", "pullback.check"),
                                             ("audit", "pullback.check")])
def test_a_subcommand_that_cannot_be_imported(capsys, monkeypatch, command, module):
    real = importlib.import_module

    def broken(name, *args):
        if name == module:
            raise NameError("name 'wrap_binary' is not defined")
        return real(name, *args)

    monkeypatch.setattr(importlib, "import_module", broken)
    status, line, _ = _run(capsys, command, "--help")
    assert status == 2
    assert line == (f"pullback {command}: the command cannot be loaded (NameError in {module}: "
                    "name 'wrap_binary' is not defined); reinstall pullback (pip install "
                    "pullback) and, if this persists, report it as a bug")


# Through a real process: the exit status and standard error as a shell sees them.


def _process(*argv, code=None):
    command = [sys.executable, "-m", "pullback.cli", *argv] if code is None else \
        [sys.executable, "-c", code, *argv]
    return subprocess.run(command, capture_output=True, text=True, timeout=120)


def test_bad_options_through_the_command_line(tmp_path):
    result = _process("demo", "--lr", "nan", "--out", str(tmp_path))
    assert result.returncode == 2 and result.stdout == ""
    assert _one_line(result.stderr).startswith("pullback demo: error: argument --lr: expected a "
                                               "positive finite learning rate")
    regular = tmp_path / "file"
    regular.write_text("")
    result = _process("demo", "--out", str(regular / "sub"))
    assert result.returncode == 2
    assert "argument --out: cannot write to the directory" in _one_line(result.stderr)


def test_a_broken_subcommand_through_the_command_line():
    code = ("import sys; sys.modules['pullback.demo'] = None; from pullback.cli import main; "
            "sys.exit(main(sys.argv[1:]))")
    result = _process("demo", "--epochs", "1", code=code)
    assert result.returncode == 2
    assert _one_line(result.stderr).startswith("pullback demo: the command cannot be loaded "
                                               "(ModuleNotFoundError in pullback.demo: ")


def test_demo_on_a_gpu_without_one_says_so_in_one_line(capsys, tmp_path, monkeypatch):
    # whatever this machine has: the probe answers that CuPy is missing
    monkeypatch.setattr(demo, "gpu_problem", lambda: "CuPy cannot be imported (no cupy)")
    status, line, out = _run(capsys, "demo", "--device", "gpu", "--out", str(tmp_path))
    assert status == 2 and out == ""
    assert line.startswith("pullback demo: --device gpu needs CuPy and an NVIDIA GPU")
    assert "CuPy cannot be imported" in line and "--device cpu" in line


def test_the_gpu_probe_answers_in_words_on_this_machine():
    problem = demo.gpu_problem()
    assert problem is None or problem.startswith("CuPy")


def test_the_demo_trains_on_the_cpu_by_default():
    assert demo._parser().parse_args([]).device == "cpu"

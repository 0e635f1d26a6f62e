"""``pullback demo`` end to end (one epoch, through the command line's dispatcher), its
determinism, its options, and its checks' ability to fail."""

from __future__ import annotations

import re
import runpy
from pathlib import Path

import numpy as np
import pytest

import pullback as pb
from pullback import cli, demo, io, nn


def _run(capsys, tmp_path, *extra):
    status = cli.main(["demo", "--epochs", "1", "--out", str(tmp_path), "--no-progress", *extra])
    return status, capsys.readouterr().out


def test_demo_one_epoch_end_to_end(capsys, tmp_path):
    status, out = _run(capsys, tmp_path / "out")
    assert status == 0, out
    # part 1: the notebook's ten pullbacks, each with its three errors
    rows = re.findall(r"^\s+.*?\s(x|W1|W2|pred|y)\s+(\S+)\s+(\S+)\s+(\S+)$", out, re.M)
    assert len(rows) == 10
    for _, fd, cs, cf in rows:
        assert float(cs) < 1e-12 and float(cf) < 1e-12 and float(fd) < 1e-3
    # part 2: the printed accuracy, a plausible one after a single epoch
    match = re.search(r"test accuracy: ([\d.]+)% \((\d+) of (\d+) held-out digits", out)
    assert match, out
    acc, correct, total = float(match[1]), int(match[2]), int(match[3])
    assert total == 450 and abs(acc - 100 * correct / total) < 0.01
    assert 50.0 < acc <= 100.0
    # part 3: the PNG, at the printed path
    png = re.search(r"training curves written to (\S+)", out)[1]
    assert png == str(tmp_path / "out" / "training_curves.png")
    with open(png, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    # the saved parameters reload into the model's shape
    params = io.load(tmp_path / "out" / "params.npz", like=nn.init_mlp([64, 256, 10], 0))
    assert len(params) == 2
    assert "reloaded: same test accuracy yes" in out
    # part 4: three directions checked, and the verdict
    assert len(re.findall(r"^\s+[123]\s+\S+e-?\d+", out, re.M)) == 3
    assert "derivative checks: all passed" in out


def test_demo_is_deterministic_for_a_seed(capsys, tmp_path):
    outs = [_run(capsys, tmp_path / str(i), "--seed", "3", "--hidden", "32,16")[1]
            for i in range(2)]

    def stable(text):
        return [line for line in text.splitlines()
                if not re.search(r"trained in|total [\d.]+ s|output in|written to|saved to", line)]

    assert stable(outs[0]) == stable(outs[1])
    assert "MLP 64 -> 32 -> 16 -> 10" in outs[0]


@pytest.mark.parametrize("argv", [["--epochs", "0"], ["--hidden", "a,b"], ["--lr", "-1"],
                                  ["--hidden", "0"]])
def test_demo_rejects_bad_options(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        demo.main(argv)
    assert exc.value.code == 2
    assert "pullback demo: error: argument" in capsys.readouterr().err


def test_the_final_gradient_check_catches_a_wrong_derivative(monkeypatch, capsys):
    """A ReLU whose pullback is 10% too large: forward mode, derived from the pullback, agrees
    with reverse mode, but the differences do not, and the check says so."""

    @pb.custom_vjp
    def bad_relu(x):
        return np.maximum(x, 0.0)

    bad_relu.defvjp(lambda x: (bad_relu(x), x),
                    lambda x, g: (1.1 * pb.numpy.where(x > 0, g, 0.0),))
    rng = np.random.default_rng(0)
    params = nn.init_mlp([6, 8, 3], rng)
    x, labels = rng.standard_normal((5, 6)), np.array([0, 1, 2, 0, 1])
    assert demo.gradient_check(params, x, labels, np.random.default_rng(1))
    monkeypatch.setattr(nn, "relu", bad_relu)
    assert not demo.gradient_check(params, x, labels, np.random.default_rng(1))
    capsys.readouterr()


def test_the_notebook_replay_passes_and_its_references_are_the_notebooks():
    rng = np.random.default_rng(0)
    x, W1, W2 = rng.standard_normal(4), rng.standard_normal((3, 4)), rng.standard_normal((2, 3))
    y = rng.standard_normal(2)
    value, vjp = demo.nb_loss(x, y, W1, W2)
    ours = pb.vjp(lambda x, y, W1, W2: nn.squared_loss(nn.mlp([{"W": W1}, {"W": W2}], x), y),
                  x, y, W1, W2)
    np.testing.assert_allclose(ours[0], value, rtol=1e-15)
    for a, b in zip(ours[1](np.float64(0.7)), vjp(0.7), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-14, atol=1e-15)


# ----------------------------------------------------------------------------- examples

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def _closed_forms_agree(out):
    errors = [float(e) for e in re.findall(r"closed form off by (\S+)", out)]
    return len(errors) == 6 and max(errors) < 1e-12


@pytest.mark.parametrize("name,check", [
    ("notebook_walkthrough.py", _closed_forms_agree),
    ("regression.py", lambda out: re.search(r"test mse against the noiseless curve: 0\.00", out)),
    ("classification.py", lambda out: re.search(r"saved and loaded again: 0\.9[5-9]", out)),
    ("custom_primitive.py", lambda out: "RuleError: the pullback of 'broken' returned" in out),
])
def test_examples_run(name, check, capsys):
    runpy.run_path(str(EXAMPLES / name), run_name="__main__")
    out = capsys.readouterr().out
    assert check(out), out


def test_tutorial_code_blocks_run_in_order(capsys):
    text = (EXAMPLES.parent / "docs" / "tutorial.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    assert len(blocks) >= 10
    exec(compile("\n".join(blocks), "docs/tutorial.md", "exec"), {})
    printed = capsys.readouterr().out.split()
    assert float(printed[0]) < 1e-13 and 1e-5 < float(printed[1]) < 1e-2  # complex step, fwd
    assert float(printed[-1]) > 0.95  # the accuracy of the XOR network

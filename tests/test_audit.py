"""`certify audit`: claim and radius verdicts on nets whose constants are known in closed form,
re-checkable refutations, and every bad-input path (one line, exit code 2)."""

from __future__ import annotations

import csv
import json
import math
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from flint import arb, ctx, fmpq
from hypothesis import given, settings
from hypothesis import strategies as st

from certify import resolve_network
from certify.audit import (
    RefutationFileError,
    audit_lipschitz,
    load_refutation,
    recheck,
)
from certify.audit.cli import EXIT_INTERNAL_ERROR, main
from certify.audit.margins import certainly_within, decimal_ball, output_balls
from certify.audit.schedule import by_cost, interleave
from certify.methods import method_names
from models import TwoLayerNetwork
from models.formats import save_model

from .strategies import networks

TIME = 4.0


def _save(net: TwoLayerNetwork, path: Path) -> Path:
    save_model(net, path)
    return path


@pytest.fixture
def toy(tmp_path: Path) -> Path:
    """W = [1; 1], b = (0, −1), A = [1, −1]: f(x) = clamp(x, 0, 1), Lip = 1 exactly."""
    return _save(
        TwoLayerNetwork.create([[1.0], [1.0]], [1.0, -1.0], b=[0.0, -1.0]), tmp_path / "toy.npz"
    )


@pytest.fixture
def clamp(tmp_path: Path) -> Path:
    """f(x) = clamp(x, 0, 1) − 1/2: the scalar score is positive exactly for x > 1/2."""
    net = TwoLayerNetwork.create([[1.0], [1.0]], [1.0, -1.0], b=[0.0, -1.0], c=[-0.5])
    return _save(net, tmp_path / "clamp.npz")


@pytest.fixture
def two_class(tmp_path: Path) -> Path:
    """f(x) = (relu(x0), relu(x1)), Lip = 1: class 0 wins exactly where relu(x0) > relu(x1)."""
    return _save(TwoLayerNetwork.create(np.eye(2), np.eye(2)), tmp_path / "two.npz")


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _one_error_line(err: str, name: str) -> None:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("certify audit: error:"), err
    assert name in lines[0] and "Traceback" not in err


# --- claimed Lipschitz constants -----------------------------------------------------------


def test_toy_claim_above_the_constant_is_verified(toy, capsys) -> None:
    code, out, _ = _run([toy, "--claim-lipschitz", 1.5, "--time-limit", TIME], capsys)
    assert code == 0 and out.startswith("claim:") and "VERIFIED" in out


def test_toy_claim_below_the_constant_is_refuted_with_a_witness_that_rechecks(
    toy, tmp_path, capsys
) -> None:
    witness = tmp_path / "refutation.json"
    argv = [toy, "--claim-lipschitz", 0.5, "--time-limit", TIME, "--witness-out", witness]
    code, out, _ = _run(argv, capsys)
    assert code == 1 and "REFUTED" in out
    record = json.loads(witness.read_text())
    assert record["claim"] == 0.5 and record["model"] == str(toy)
    for name, entry in record["witness"].items():
        if name != "type":
            assert [float.fromhex(h) for h in entry["hex"]] == [float(v) for v in entry["decimal"]]
    verdict = recheck(resolve_network(toy), load_refutation(witness))
    assert verdict.verified and 0.5 < verdict.value <= 1.0
    code, out, _ = _run([toy, "--recheck", witness], capsys)
    assert code == 1 and "REFUTED (re-checked)" in out


def test_toy_claim_equal_to_the_constant_is_never_refuted(toy, capsys) -> None:
    code, out, _ = _run([toy, "--claim-lipschitz", 1.0, "--time-limit", TIME, "--json"], capsys)
    record = json.loads(out)
    assert code in (0, 3) and record["verdict"] in ("VERIFIED", "UNDECIDED")
    assert record["report"]["lower"] <= 1.0 <= record["report"]["upper"]
    if code == 3:
        assert record["suggestion"]


@pytest.mark.parametrize(
    ("w", "a", "b", "activation", "slope"),
    [
        ([3.0, -4.0], -2.0, 0.5, "relu", 1.0),
        ([1e-3, 2e-3, -5e-3], 7.0, -1.0, "relu", 1.0),
        ([0.5, 1.5], 1.0, 0.0, "leaky_relu(2)", 2.0),
    ],
)
def test_single_neuron_claims_match_the_closed_form(w, a, b, activation, slope) -> None:
    """k = 1: f(x) = a·σ(w·x + b) has Lip = |a|·‖w‖·max(|α|, |β|)."""
    net = TwoLayerNetwork.create([w], [a], b=[b], activation=activation)
    constant = abs(a) * float(np.linalg.norm(w)) * slope
    assert audit_lipschitz(net, constant * 1.001, TIME).outcome == "VERIFIED"
    refuted = audit_lipschitz(net, constant * 0.999, TIME)
    assert refuted.outcome == "REFUTED"
    assert constant * 0.999 < refuted.report.lower <= constant * (1 + 1e-12)


def test_multi_output_claims(two_class) -> None:
    """f(x) = (relu(x0), relu(x1)) has Jacobians diag(0/1, 0/1), so Lip = 1."""
    net = resolve_network(two_class)
    assert audit_lipschitz(net, 1.01, TIME).outcome == "VERIFIED"
    assert audit_lipschitz(net, 0.99, TIME).outcome == "REFUTED"


def test_no_time_leaves_the_claim_undecided_and_asks_for_more(toy) -> None:
    audit = audit_lipschitz(resolve_network(toy), 1.2, time_limit=0.0)
    assert audit.outcome == "UNDECIDED" and audit.report.methods == ()
    assert "--time-limit" in audit.suggestion and "spectral" in audit.suggestion


def test_methods_are_tried_cheapest_first_alternating_sides() -> None:
    assert interleave(["a", "b", "c"], ["x"]) == ["a", "x", "b", "c"]
    for kind in ("upper", "lower"):
        assert sorted(by_cost(kind)) == sorted(method_names(kind=kind))
    assert by_cost("upper")[0] == "spectral"


def test_tampered_witness_file_is_rejected(toy, tmp_path, capsys) -> None:
    witness = tmp_path / "w.json"
    _run([toy, "--claim-lipschitz", 0.5, "--time-limit", TIME, "--witness-out", witness], capsys)
    record = json.loads(witness.read_text())
    record["witness"]["x"]["decimal"] = ["12.5"]
    witness.write_text(json.dumps(record))
    with pytest.raises(RefutationFileError, match="disagree"):
        load_refutation(witness)
    code, _, err = _run([toy, "--recheck", witness], capsys)
    assert code == 2
    _one_error_line(err, "w.json")


def test_witness_rechecked_on_other_weights_says_so(toy, tmp_path, capsys) -> None:
    witness = tmp_path / "w.json"
    _run([toy, "--claim-lipschitz", 0.5, "--time-limit", TIME, "--witness-out", witness], capsys)
    other = _save(TwoLayerNetwork.create([[0.1]], [1.0]), tmp_path / "other.npz")
    code, out, _ = _run([other, "--recheck", witness], capsys)
    assert code == 3 and "differ" in out and "NOT CONFIRMED" in out


@pytest.mark.parametrize(
    ("case", "argv"),
    [
        ("negative", ["--claim-lipschitz", "-1"]),
        ("nan", ["--claim-lipschitz", "nan"]),
        ("witness", ["--recheck", "no-such-witness.json"]),
        ("radii", ["--claim-radii", "no-such-claims.csv"]),
    ],
)
def test_bad_claims_give_one_line_and_exit_code_2(case, argv, toy, capsys) -> None:
    code, out, err = _run([toy, *argv], capsys)
    assert code == 2 and out == ""
    _one_error_line(err, {"witness": "no-such-witness", "radii": "no-such-claims"}.get(case, ""))


def test_missing_model_gives_one_line_and_exit_code_2(tmp_path, capsys) -> None:
    code, out, err = _run([tmp_path / "absent.npz", "--claim-lipschitz", 1], capsys)
    assert code == 2 and out == ""
    _one_error_line(err, "absent.npz")


# --- claimed robustness radii --------------------------------------------------------------


def _claims(path: Path, rows: list[list[object]], header: list[str] | None = None) -> Path:
    d = len(rows[0]) - 2
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header or [*(f"x{i}" for i in range(d)), "label", "radius"])
        writer.writerows(rows)
    return path


def _per_point(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def test_scalar_radii_verified_refuted_and_undecided(clamp, tmp_path, capsys) -> None:
    claims = _claims(
        tmp_path / "claims.csv",
        [[5.0, 1, 0.1], [0.6, 1, 0.5], [-3.0, -1, 2.0]],
    )
    out_csv = tmp_path / "points.csv"
    code, out, _ = _run(
        [clamp, "--claim-radii", claims, "--per-point-out", out_csv, "--time-limit", TIME], capsys
    )
    assert code == 1 and "1 VERIFIED, 1 REFUTED, 1 UNDECIDED" in out
    far, near, flat = _per_point(out_csv)
    assert far["verdict"] == "VERIFIED" and float(far["certified_radius"]) >= 0.1
    assert near["verdict"] == "REFUTED"
    # x = −3 is never misclassified, but margin / L = 1/2 cannot prove radius 2.
    assert flat["verdict"] == "UNDECIDED"
    example = np.array([float.fromhex(h) for h in near["counterexample_hex"].split()])
    assert abs(example[0] - 0.6) <= 0.5
    assert resolve_network(clamp)(example)[0] < 0


def test_multiclass_radii_at_the_sqrt2_bound(two_class, tmp_path, capsys) -> None:
    """At x = (1, 0) the boundary x0 = x1 is 1/√2 ≈ 0.707 away and margin/(√2·L) = 1/√2."""
    claims = _claims(tmp_path / "c.csv", [[1.0, 0.0, 0, 0.6], [1.0, 0.0, 0, 0.8]])
    code, out, _ = _run(
        [two_class, "--claim-radii", claims, "--json", "--time-limit", TIME], capsys
    )
    record = json.loads(out)
    assert code == 1
    inside, outside = record["points"]
    assert inside["verdict"] == "VERIFIED"
    assert 0.6 <= inside["certified_radius"] <= 1 / math.sqrt(2)
    assert outside["verdict"] == "REFUTED"
    example = np.array([float.fromhex(h) for h in outside["counterexample"]])
    assert np.linalg.norm(example - [1.0, 0.0]) <= 0.8
    scores = resolve_network(two_class)(example)
    assert scores[1] > scores[0]


def test_all_verified_exits_0_and_only_undecided_exits_3(clamp, tmp_path, capsys) -> None:
    verified = _claims(tmp_path / "v.csv", [[5.0, 1, 0.1], [-4.0, -1, 0.2]])
    assert _run([clamp, "--claim-radii", verified, "--time-limit", TIME], capsys)[0] == 0
    undecided = _claims(tmp_path / "u.csv", [[-3.0, -1, 2.0]])
    assert _run([clamp, "--claim-radii", undecided, "--time-limit", TIME], capsys)[0] == 3


@pytest.mark.parametrize(
    ("rows", "header", "problem"),
    [
        ([[0.1, 1]], ["x0", "label"], "missing radius"),
        ([[0.1, 0.2, 1, 0.5]], None, "2 input columns"),
        ([["nan", 1, 0.5]], None, "x0 is nan"),
        ([["abc", 1, 0.5]], None, "x0 is not a number"),
        ([[0.1, 2, 0.5]], None, "label must be -1 or +1"),
        ([[0.1, 1, -0.5]], None, "radius must be"),
        ([[0.1, 1, 0.5, 7]], ["x0", "label", "radius", "weight"], "unexpected 'weight'"),
    ],
)
def test_bad_claims_csv_gives_one_line_and_exit_code_2(
    rows, header, problem, clamp, tmp_path, capsys
) -> None:
    claims = _claims(tmp_path / "bad.csv", rows, header)
    code, out, err = _run([clamp, "--claim-radii", claims], capsys)
    assert code == 2 and out == ""
    _one_error_line(err, "bad.csv")
    assert problem in err


def test_empty_claims_csv_gives_exit_code_2(clamp, tmp_path, capsys) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    code, _, err = _run([clamp, "--claim-radii", empty], capsys)
    assert code == 2
    _one_error_line(err, "empty.csv")


# --- the rigorous pieces -------------------------------------------------------------------


def _exact_outputs(net: TwoLayerNetwork, x: np.ndarray) -> list[Fraction]:
    """f(x) in exact rational arithmetic, for ReLU and leaky ReLU."""
    slope = Fraction(net.activation.parameter or 0.0)
    hidden = []
    for row, bias in zip(net.W, net.b, strict=True):
        z = sum((Fraction(w) * Fraction(v) for w, v in zip(row, x, strict=True)), Fraction(bias))
        hidden.append(z if z > 0 else slope * z)
    return [
        sum((Fraction(a) * h for a, h in zip(row, hidden, strict=True)), Fraction(c))
        for row, c in zip(net.A, net.c, strict=True)
    ]


@settings(max_examples=40, deadline=None)
@given(net=networks(("relu", "leaky_relu(0.1)", "leaky_relu(3)")), seed=st.integers(0, 2**32 - 1))
def test_output_balls_enclose_the_exact_outputs(net: TwoLayerNetwork, seed: int) -> None:
    x = np.random.default_rng(seed).standard_normal(net.d) * 10.0 ** (seed % 7 - 3)
    for ball, exact in zip(output_balls(net, x), _exact_outputs(net, x), strict=True):
        with ctx.workprec(512):
            assert ball.contains(fmpq(exact.numerator, exact.denominator))


def test_decimal_balls_and_distances() -> None:
    assert decimal_ball(0.1).contains(arb("0.1"))
    assert certainly_within(np.array([0.3, 0.4]), np.array([0.0, 0.0]), 0.5 + 1e-9)
    assert not certainly_within(np.array([0.3, 0.4]), np.array([0.0, 0.0]), 0.5)
    assert not certainly_within(np.array([0.3, 0.4]), np.array([0.0, 0.0]), 0.49)


# --- claims in the l-infinity norm -------------------------------------------------------------


@pytest.fixture
def relu_sum(tmp_path: Path) -> Path:
    """f(x) = relu(x0) + relu(x1): Lip = √2 in ℓ2 but 2 in ℓ∞ (the gradient (1, 1))."""
    return _save(TwoLayerNetwork.create(np.eye(2), [[1.0, 1.0]]), tmp_path / "sum.npz")


def test_the_norm_decides_the_verdict_and_the_witness_keeps_it(relu_sum, tmp_path, capsys):
    witness = tmp_path / "w.json"
    claim = ["--claim-lipschitz", 1.9, "--time-limit", TIME, "--witness-out", witness]
    code, out, _ = _run([relu_sum, *claim], capsys)
    assert code == 0 and "(l2 -> l2" in out
    code, out, _ = _run([relu_sum, *claim, "--norm", "inf"], capsys)
    assert code == 1 and "(linf -> linf" in out
    refutation = load_refutation(witness)
    assert refutation.norm == "inf"
    assert recheck(resolve_network(relu_sum), refutation).value > 1.9
    code, _, _ = _run([relu_sum, "--recheck", witness], capsys)
    assert code == 1


def test_radius_claims_refuse_the_linf_norm(two_class, tmp_path, capsys) -> None:
    claims = tmp_path / "claims.csv"
    claims.write_text("x0,x1,label,radius\n1,0,0,0.1\n")
    code, _, err = _run([two_class, "--claim-radii", claims, "--norm", "inf"], capsys)
    assert code == 2
    _one_error_line(err, "claims.csv")


# --- where refutations go, and what a crash exits with ---------------------------------------


def test_refutation_goes_next_to_the_model_by_default(toy, tmp_path, capsys, monkeypatch):
    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    code, out, _ = _run([toy, "--claim-lipschitz", 0.5, "--time-limit", TIME], capsys)
    witness = toy.with_name("toy.refutation.json")
    assert code == 1 and witness.is_file() and f"--recheck {witness}" in out
    assert not list(elsewhere.iterdir())


def test_an_internal_error_is_never_exit_code_1(toy, capsys, monkeypatch) -> None:
    """Exit code 1 means REFUTED, so a crash must not produce it."""

    def broken(*args: object, **kwargs: object) -> None:
        raise KeyError("bug")

    monkeypatch.setattr("certify.audit.cli.audit_lipschitz", broken)
    code, out, err = _run([toy, "--claim-lipschitz", 0.5], capsys)
    assert code == EXIT_INTERNAL_ERROR != 1
    assert out == "" and "internal error" in err.splitlines()[-1]

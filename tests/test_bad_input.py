"""Conformance of every command line to bad input (issue 12): each row of the table is a
command line that must end with exit code 2, exactly one line on stderr naming the problem,
nothing on stdout and no traceback.  Most rows run ``main(argv)`` in this process; a few run
``python -m certify`` to prove there is no traceback end to end.  Extreme but finite weights
get a sound interval, and deep nets get re-checkable refutations."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from certify.cli import main
from models import TwoLayerNetwork
from models.deep import network_from_layers
from models.formats import save_model

LARGEST_DOUBLE = float(np.finfo(np.float64).max)


def _refutation(path: Path, **changes: object) -> str:
    """A well-formed refutation of the claim Lip ≤ 0.5 for the one-neuron net, with changes."""
    record = {
        "format": "lipcert-refutation/1",
        "model": "good.npz",
        "model_sha256": "0" * 64,
        "claim": 0.5,
        "verified_lower_bound": 1.0,
        "method": "sampling",
        "norm": "2",
        "witness": {"type": "point", "x": {"hex": [(0.5).hex()], "decimal": ["0.5"]}},
    } | changes
    path.write_text(json.dumps(record))
    return str(path)


@pytest.fixture
def files(tmp_path: Path) -> dict[str, str]:
    """Every input file the table refers to, by name."""
    good = tmp_path / "good.npz"
    save_model(TwoLayerNetwork.create([[1.0]], [1.0]), good)
    np.savez(tmp_path / "nan.npz", W=[[np.nan]], A=[[1.0]], activation="relu")
    (tmp_path / "garbage.npz").write_bytes(b"\x00\x01 these are not weights")
    (tmp_path / "notes.json").write_text("{not json")
    (tmp_path / "nan.csv").write_text("x0,label,radius\nnan,1,0.5\n")
    (tmp_path / "short.csv").write_text("x0,label\n0.1,1\n")
    (tmp_path / "binary.csv").write_bytes(b"\xff\xfe\x00 binary")
    return {
        "good": str(good),
        "nan": str(tmp_path / "nan.npz"),
        "garbage": str(tmp_path / "garbage.npz"),
        "missing": str(tmp_path / "missing.npz"),
        "notes": str(tmp_path / "notes.json"),
        "nan_csv": str(tmp_path / "nan.csv"),
        "short_csv": str(tmp_path / "short.csv"),
        "binary_csv": str(tmp_path / "binary.csv"),
        "null_witness": _refutation(tmp_path / "null.json", witness=None),
        "nan_claim": _refutation(tmp_path / "nanclaim.json", claim=float("nan")),
        "bool_claim": _refutation(tmp_path / "boolclaim.json", claim=True),
        "weak": _refutation(tmp_path / "weak.json", verified_lower_bound=0.25),
        "hex": _refutation(tmp_path / "hex.json", witness={"type": "point", "x": {"hex": ["zz"]}}),
        "wide": _refutation(
            tmp_path / "wide.json",
            witness={"type": "point", "x": {"hex": [(0.5).hex(), (1.0).hex()]}},
        ),
        "db": str(tmp_path / "law.sqlite"),
        "dir": str(tmp_path),
    }


#: (command line, fragment of the one error line).  ``{name}`` is a file of the fixture.
ROWS = [
    # certify: flags
    ("{good} --time-limit nan", "--time-limit: must be a positive finite number of seconds"),
    ("{good} --time-limit -1", "--time-limit: must be a positive finite number of seconds"),
    ("{good} --time-limit 0", "--time-limit: must be a positive finite number of seconds"),
    ("{good} --time-limit inf", "got inf"),
    ("{good} --time-limit soon", "got soon"),
    ("{good} --seed -1", "--seed: must be a whole number from 0 to"),
    ("{good} --seed 1.5", "--seed: must be a whole number"),
    ("{good} --domain box:1,1", "--domain: box:1,1 is not a box"),
    ("{good} --domain box:2,1", "LO < HI"),
    ("{good} --domain ball:0", "--domain: ball radius must be positive"),
    ("{good} --domain sphere", "--domain: unknown domain 'sphere'"),
    ("{good} --norm 3", "--norm: invalid choice: '3'"),
    ("{good} --method nonsense", "--method: unknown method 'nonsense'"),
    ("{good} --frobnicate", "unrecognized arguments: --frobnicate"),
    ("", "the following arguments are required: model"),
    # certify: files
    ("{missing}", "missing.npz"),
    ("{garbage}", "garbage.npz"),
    ("{nan}", "NaN"),
    ("{good} --activation swish", "swish"),
    # audit
    ("audit {good} --claim-lipschitz 1 --time-limit nan", "--time-limit: must be a positive"),
    ("audit {good} --claim-lipschitz 1 --seed -1", "--seed: must be a whole number"),
    ("audit {good} --claim-lipschitz nan", "--claim-lipschitz: must be a finite number >= 0"),
    ("audit {good} --claim-lipschitz -1", "--claim-lipschitz: must be a finite number >= 0"),
    ("audit {good}", "one of the arguments --claim-lipschitz --claim-radii --recheck"),
    ("audit {good} --claim-lipschitz 1 --recheck x.json", "not allowed with argument"),
    ("audit {missing} --claim-lipschitz 1", "missing.npz"),
    ("audit {good} --recheck {null_witness}", '"witness" must be an object whose "type" is'),
    ("audit {good} --recheck {nan_claim}", '"claim" must be a finite number >= 0, got nan'),
    ("audit {good} --recheck {bool_claim}", '"claim" must be a number, got true'),
    ("audit {good} --recheck {weak}", 'does not exceed the "claim"'),
    ("audit {good} --recheck {hex}", "not a float.hex"),
    ("audit {good} --recheck {wide}", "the witness has 2 coordinates, but the model has d = 1"),
    ("audit {good} --recheck {notes}", "notes.json: not valid JSON"),
    ("audit {good} --recheck {missing}", "missing.npz"),
    ("audit {good} --claim-radii {nan_csv}", "nan.csv: line 2: x0 is nan"),
    ("audit {good} --claim-radii {short_csv}", "short.csv: columns must be"),
    ("audit {good} --claim-radii {binary_csv}", "binary.csv: not a text (UTF-8) CSV file"),
    ("audit {good} --recheck {binary_csv}", "binary.csv: not a text (JSON) file"),
    # compare
    ("compare {good} --time-limit 0 --out {dir}", "--time-limit: must be a positive"),
    ("compare {good} --seed -5 --out {dir}", "--seed: must be a whole number"),
    ("compare {good} --method nonsense --out {dir}", "--method: unknown method 'nonsense'"),
    ("compare {missing} --out {dir}", "missing.npz"),
    ("compare", "the following arguments are required: MODEL"),
    # law
    ("law run --db {db} --n 10 --d 2 --k 5 --time-limit nan", "--time-limit: must be a positive"),
    ("law run --db {db} --n 0 --d 2 --k 5", "--n: must be a whole number >= 1, got 0"),
    ("law run --db {db} --n 10 --d 2 --k many", "--k: must be a whole number >= 1 or a rule"),
    ("law run --db {db} --n 10 --d 2 --k 5 --seeds -1", "--seeds: must be a whole number"),
    ("law run --db {db} --n 10 --d 2 --k 5 --workers 0", "--workers: must be a whole number"),
    ("law run --db {db} --n 10 --d 2 --k 5 --epsilon nan", "--epsilon: must be a positive"),
    ("law run --db {db} --n 10 --d 2 --k 5 --upper-method nonsense", "--upper-method: unknown"),
    ("law run --db {db} --n 10 --d 2 --k 5 --upper-method sampling", "not an upper-bound method"),
    ("law report --db {db} --resamples 0", "--resamples: must be a whole number >= 1"),
    ("law report --db {db} --gap 0.5", "--gap: must be a finite number >= 1"),
    ("law report --db {db}", "no results database"),
    ("law export --db {db}", "the following arguments are required: --out"),
    ("law frobnicate", "invalid choice: 'frobnicate'"),
]


def _argv(row: str, files: dict[str, str]) -> list[str]:
    return [part.format(**files) for part in row.split()]


def _prog(row: str) -> str:
    """The program name the error line starts with."""
    first = row.split()[0] if row else ""
    return f"certify {first}" if first in ("audit", "compare", "law") else "certify"


@pytest.mark.parametrize(("row", "fragment"), ROWS)
def test_bad_input_is_one_line_and_exit_code_2(row, fragment, files, capsys) -> None:
    code = main(_argv(row, files))
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert code == 2, captured.err
    assert captured.out == ""
    assert len(lines) == 1, captured.err
    assert fragment in lines[0]
    assert lines[0].startswith(_prog(row)) and ": error: " in lines[0]


@pytest.mark.parametrize(
    "row",
    [
        "{good} --json --time-limit nan",
        "{missing} --json",
        "audit {good} --json --recheck {null_witness}",
        "law report --db {db} --json",
    ],
)
def test_under_json_the_error_is_a_json_object_on_stdout(row, files, capsys) -> None:
    assert main(_argv(row, files)) == 2
    captured = capsys.readouterr()
    record = json.loads(captured.out)
    assert list(record) == ["error"] and record["error"]
    assert captured.err.strip() == captured.err.strip().splitlines()[0]
    assert captured.err.strip().endswith(record["error"])


@pytest.mark.parametrize(
    ("row", "fragment"),
    [
        ("{good} --time-limit nan", "--time-limit"),
        ("{garbage}", "garbage.npz"),
        ("audit {good} --recheck {null_witness}", '"witness"'),
        ("compare {missing} --out {dir}", "missing.npz"),
        ("law run --db {db} --n 0 --d 2 --k 5", "--n"),
    ],
)
def test_the_entry_point_prints_one_line_and_no_traceback(row, fragment, files) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "certify", *_argv(row, files)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr and result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and fragment in lines[0]


# --- extreme but finite weights: a sound interval, no warnings ---------------------------------


@pytest.mark.parametrize("weight", [1e200, LARGEST_DOUBLE])
def test_huge_finite_weights_get_a_sound_interval(weight, tmp_path, capsys) -> None:
    """f(x) = relu(w·x) has Lip = w exactly; the overflow at the largest double must leave the
    upper end at inf (sound), never below w, and print no RuntimeWarning."""
    path = tmp_path / "huge.npz"
    save_model(TwoLayerNetwork.create([[weight]], [1.0]), path)
    code = main([str(path), "--json", "--time-limit", "0.5"])
    captured = capsys.readouterr()
    assert code == 0 and "Warning" not in captured.err and "Traceback" not in captured.err
    report = json.loads(captured.out)
    assert report["lower"] <= weight
    assert report["upper"] is None or report["upper"] >= weight
    assert report["lower"] > 0


@pytest.mark.parametrize("command", [["audit", "--claim-lipschitz", "1"], ["compare"]])
def test_the_largest_double_is_no_crash_in_audit_and_compare(command, tmp_path, capsys):
    path = tmp_path / "huge.npz"
    save_model(TwoLayerNetwork.create([[LARGEST_DOUBLE]], [1.0]), path)
    name, *flags = command
    argv = [name, str(path), *flags, "--time-limit", "0.5"]
    if name == "compare":
        argv += ["--out", str(tmp_path / "out"), "--method", "spectral", "--method", "pair"]
    code = main(argv)
    captured = capsys.readouterr()
    assert "Warning" not in captured.err and "Traceback" not in captured.err
    # The claim 1 is refuted (Lip ≈ 1.8e308): exit 1 is the refutation, not a crash.
    assert code == (1 if name == "audit" else 0)


def test_radius_claims_on_the_largest_double_print_no_warning(tmp_path, capsys) -> None:
    path = tmp_path / "huge.npz"
    save_model(TwoLayerNetwork.create([[LARGEST_DOUBLE], [1e200]], [[1.0, -1.0]]), path)
    claims = tmp_path / "claims.csv"
    claims.write_text("x0,label,radius\n0.5,1,0.1\n1e-300,-1,1e300\n")
    code = main(["audit", str(path), "--claim-radii", str(claims), "--time-limit", "1"])
    captured = capsys.readouterr()
    assert code in (0, 1, 3)
    assert "Warning" not in captured.err and "Traceback" not in captured.err


# --- deep nets: refutations written next to the model, and re-checkable ------------------------


def test_a_deep_refutation_is_written_next_to_the_model_and_rechecks(
    tmp_path, capsys, monkeypatch
) -> None:
    rng = np.random.default_rng(0)
    widths = [3, 4, 4, 2]
    net = network_from_layers(
        [rng.standard_normal((n, m)) for m, n in itertools.pairwise(widths)],
        [np.zeros(n) for n in widths[1:]],
    )
    model = tmp_path / "models" / "deep.npz"
    model.parent.mkdir()
    save_model(net, model)
    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    code = main(["audit", str(model), "--claim-lipschitz", "0.001", "--time-limit", "5"])
    out = capsys.readouterr().out
    witness = model.with_name("deep.refutation.json")
    assert code == 1 and "REFUTED" in out and str(witness) in out
    assert witness.is_file() and not list(elsewhere.iterdir())
    assert main(["audit", str(model), "--recheck", str(witness)]) == 1
    assert "REFUTED (re-checked)" in capsys.readouterr().out
    folder = tmp_path / "witnesses"
    folder.mkdir()
    argv = ["audit", str(model), "--claim-lipschitz", "0.001", "--time-limit", "5"]
    assert main([*argv, "--out", str(folder)]) == 1
    assert (folder / "deep.refutation.json").is_file()


def test_radius_claims_on_a_deep_net_are_refused_in_one_line(tmp_path, capsys) -> None:
    net = network_from_layers([np.eye(2)] * 3, [np.zeros(2)] * 3)
    model = tmp_path / "deep.npz"
    save_model(net, model)
    claims = tmp_path / "claims.csv"
    claims.write_text("x0,x1,label,radius\n1,0,0,0.1\n")
    assert main(["audit", str(model), "--claim-radii", str(claims)]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and "two-layer networks only" in lines[0]

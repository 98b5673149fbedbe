"""The command line: the table, --json, --method, and every bad-input path (one line, exit 2)."""

from __future__ import annotations

import importlib.metadata
import json
import os
import signal
import subprocess
import sys
import tomllib
from pathlib import Path

import numpy as np
import pytest

import certify
from certify import certify as certify_model
from certify.cli import SUBCOMMANDS, main
from certify.version import source_version
from models import TwoLayerNetwork
from models.bundled import bundled_path
from models.formats import save_model

REQUIRED_KEYS = {"lower", "upper", "ratio", "lower_witness", "upper_method", "methods", "model"}


@pytest.fixture
def toy_file(tmp_path: Path) -> Path:
    """W = [1; 1], b = (0, −1), a = (1, −1): Lip = 1 exactly."""
    net = TwoLayerNetwork.create([[1.0], [1.0]], [1.0, -1.0], b=[0.0, -1.0])
    path = tmp_path / "toy.npz"
    save_model(net, path)
    return path


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_json_report_has_every_field_and_brackets_the_constant(toy_file, capsys) -> None:
    code, out, _ = _run([str(toy_file), "--json", "--time-limit", "5"], capsys)
    assert code == 0
    report = json.loads(out)
    assert set(report) >= REQUIRED_KEYS
    assert report["model"] == {
        "d": 1,
        "k": 2,
        "m": 1,
        "activation": "relu",
        "norm": "2",
        "domain": "R^d",
    }
    assert report["lower"] <= 1.0 <= report["upper"]
    assert report["upper"] <= 1.0 + 1e-6 and report["lower"] >= 1.0 - 1e-9
    assert report["lower_witness"]["type"] in {"point", "pair"}
    for method in report["methods"]:
        assert {"name", "kind", "value", "verified", "seconds"} <= set(method)
        assert method["kind"] in {"upper", "lower"}


def test_method_flag_selects_methods(toy_file, capsys) -> None:
    code, out, _ = _run(
        [str(toy_file), "--json", "--method", "spectral", "--method", "sampling"], capsys
    )
    assert code == 0
    assert [m["name"] for m in json.loads(out)["methods"]] == ["spectral", "sampling"]


def test_table_lists_methods_and_interval(capsys) -> None:
    code, out, _ = _run([str(bundled_path("sphere_relu")), "--method", "spectral"], capsys)
    assert code == 0
    assert "spectral" in out and "Lipschitz constant in [" in out


def _write(path: Path, content: bytes) -> Path:
    path.write_bytes(content)
    return path


def _bad_inputs(tmp: Path) -> dict[str, list[str]]:
    nan_net = {"W": np.array([[np.nan]]), "A": np.array([[1.0]])}
    np.savez(tmp / "nan.npz", **nan_net, activation="relu")
    np.savez(tmp / "inf.npz", W=np.array([[np.inf]]), A=np.array([[1.0]]), activation="relu")
    np.savez(tmp / "shapes.npz", W=np.ones((3, 2)), A=np.ones((1, 4)), activation="relu")
    good = tmp / "good.npz"
    save_model(TwoLayerNetwork.create(np.ones((2, 2)), np.ones(2)), good)
    truncated = _write(tmp / "truncated.npz", good.read_bytes()[:40])
    return {
        "nan": [str(tmp / "nan.npz")],
        "inf": [str(tmp / "inf.npz")],
        "shapes": [str(tmp / "shapes.npz")],
        "missing": [str(tmp / "missing.npz")],
        "empty": [str(_write(tmp / "empty.pt", b""))],
        "text": [str(_write(tmp / "notes.pt", b"these are not weights\n"))],
        "truncated": [str(truncated)],
        "activation": [str(good), "--activation", "swish"],
        "polynomial": [str(good), "--activation", "square"],
        "method": [str(good), "--method", "nonsense"],
    }


@pytest.mark.parametrize(
    "case",
    [
        "nan",
        "inf",
        "shapes",
        "missing",
        "empty",
        "text",
        "truncated",
        "activation",
        "polynomial",
        "method",
    ],
)
def test_bad_input_gives_one_line_and_exit_code_2(case, tmp_path, capsys) -> None:
    argv = _bad_inputs(tmp_path)[case]
    code, out, err = _run(argv, capsys)
    assert code == 2
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("certify: error:")
    assert "Traceback" not in err
    if case not in ("method",):
        assert Path(argv[0]).name in lines[0]


def test_entry_point_prints_no_traceback(tmp_path) -> None:
    path = _write(tmp_path / "garbage.safetensors", b"\x00\x01garbage")
    result = subprocess.run(
        [sys.executable, "-m", "certify", str(path)], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_json_names_the_model_version_settings_and_total_time(toy_file, capsys) -> None:
    argv = [str(toy_file), "--json", "--method", "spectral", "--time-limit", "2", "--seed", "7"]
    code, out, _ = _run(argv, capsys)
    report = json.loads(out)
    assert code == 0
    assert report["model_path"] == str(toy_file) and report["version"] == certify.__version__
    assert report["settings"] == {
        "methods": ["spectral"],
        "time_limit": 2.0,
        "seed": 7,
        "norm": "2",
        "domain": "R^d",
    }
    assert report["seconds"] >= report["methods"][0]["seconds"]


def test_version_is_printed_and_matches_the_project(capsys) -> None:
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"certify {certify.__version__}"
    pyproject = Path(__file__).parents[1] / "pyproject.toml"
    written = tomllib.loads(pyproject.read_text())["project"]["version"]
    assert source_version() == written
    try:
        installed = importlib.metadata.version("certify")
    except importlib.metadata.PackageNotFoundError:
        installed = written
    assert certify.__version__ in (written, installed)
    assert source_version(pyproject.with_name("absent.toml")) == "unknown"


def test_help_lists_every_subcommand(capsys) -> None:
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    assert all(f"certify {name} " in out for name in SUBCOMMANDS)


def test_printing_a_report_shows_the_table_the_command_prints(toy_file, capsys) -> None:
    code, out, _ = _run([str(toy_file), "--method", "spectral", "--method", "sampling"], capsys)
    report = certify_model(toy_file, methods=["spectral", "sampling"])
    table = str(report)
    assert code == 0 and table.startswith(f"model: {toy_file}  (d=1, k=2")
    assert "dataclass" not in table and "Report(" not in table
    # The same lines but the timings.
    assert [line.split()[:3] for line in table.splitlines()] == [
        line.split()[:3] for line in out.strip().splitlines()
    ]


def test_without_a_terminal_each_method_logs_one_line(toy_file, capsys) -> None:
    argv = [str(toy_file), "--method", "spectral", "--method", "sampling"]
    code, _, err = _run(argv, capsys)
    lines = err.strip().splitlines()
    assert code == 0 and len(lines) == 2
    assert lines[0].startswith("certify: spectral upper ") and lines[0].endswith(" s)")
    assert "verified" in lines[1] and lines[1].startswith("certify: sampling lower")
    code, _, err = _run([*argv, "--json"], capsys)
    assert code == 0 and err == ""


def test_a_reader_that_stops_early_ends_the_command_quietly(toy_file) -> None:
    """``certify model | head -c 0``: the pipe's reader is gone before the table is written."""
    read, write = os.pipe()
    command = [sys.executable, "-m", "certify", str(toy_file), "--method", "spectral"]
    process = subprocess.Popen(command, stdout=write, stderr=subprocess.PIPE)
    os.close(write)
    os.close(read)  # no reader left: every write of the command fails with EPIPE
    _, error = process.communicate(timeout=120)
    assert process.returncode == 128 + signal.SIGPIPE, error
    assert b"Traceback" not in error and b"Broken pipe" not in error, error

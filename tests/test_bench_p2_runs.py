"""bench/p2_runs.py, the run list behind bench/gpu_p2.sh: run names become valid p2.py options, and one failed run
leaves a row that says so while the others go on."""
import math
import subprocess

import pytest

import p2
from bench import p2_runs


@pytest.mark.parametrize("name, options", [
    ("gpu-fast", ["--preset", "gpu-fast"]),
    ("gpu-fast+compile", ["--preset", "gpu-fast", "--compile"]),
    ("gpu-fast+compile=max-autotune", ["--preset", "gpu-fast", "--compile=max-autotune"]),
    ("gpu-best@residual=true@widths=128,512,512",
     ["--preset", "gpu-best", "--set", "residual=true", "--set", "widths=128,512,512"]),
])
def test_run_names_become_p2_options(name, options):
    assert p2_runs.p2_options(name) == options
    args = p2.parse_args([*options, "--device", "cpu"])
    assert p2.check_options(args) == []


def test_a_failed_run_is_a_row_and_the_list_goes_on(monkeypatch, tmp_path, capsys):
    def run_one(run_name, seed, *rest):
        if seed == 0:
            raise subprocess.CalledProcessError(3, ["p2.py"])
        return dict(preset=run_name, seed=seed, acc=0.9068, train_s=1.87, wall_s=17.0, device="GPU")

    def run_airbench(variant, seed, *rest):
        return dict(preset=variant, seed=seed, acc=0.9074, train_s=2.54, wall_s=16.0, device="GPU")
    monkeypatch.setattr(p2_runs, "run_one", run_one)
    monkeypatch.setattr(p2_runs, "run_airbench", run_airbench)
    table = tmp_path / "table.md"
    monkeypatch.setattr("sys.argv", ["p2_runs.py", "--data-dir", "d", "--airbench", "a", "--table", str(table),
                                     "--runs", "gpu-fast:0", "gpu-fast:1", "gpu-fast:2", "airbench94:0"])
    p2_runs.main()
    text = table.read_text()
    assert "| gpu-fast | 0 | nan% | nan |" in text and "failed (exit 3)" in text
    assert "| gpu-fast mean of 2 | | 90.68% (min 90.68, max 90.68) | median 1.87 |" in text   # the failed run left out
    assert "| gpu-fast / airbench94 | | -0.06 points | time x0.74 |" in text
    assert capsys.readouterr().out.strip().endswith(text.strip().splitlines()[-1])


def test_summary_of_failed_runs_only_is_empty():
    rows = [dict(preset="gpu-best", seed=0, acc=math.nan, train_s=math.nan, wall_s=1.0, device="failed (exit 1)")]
    assert p2_runs.summary_lines(rows) == []


def test_every_run_of_a_preset_is_compared_with_its_rival():
    def row(name, acc, train_s):
        return dict(preset=name, seed=0, acc=acc, train_s=train_s, wall_s=1.0, device="GPU")
    rows = [row("airbench94", 0.9074, 2.54), row("gpu-fast+compile=max-autotune", 0.9079, 1.27),
            row("gpu-best@residual=true", 0.9323, 15.69), row("airbench96", 0.9334, 21.04)]
    assert p2_runs.summary_lines(rows) == [
        "| gpu-fast+compile=max-autotune / airbench94 | | +0.05 points | time x0.50 | | |",
        "| gpu-best@residual=true / airbench96 | | -0.11 points | time x0.75 | | |"]

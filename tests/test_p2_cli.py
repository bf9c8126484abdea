"""p2.py end to end on tiny generated CIFAR-10 files: --help, a short training run, --eval, clear errors."""
import os
import subprocess

import pytest

from fakes import p2_command, write_cifar_batches

P2 = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "andrewID-HW1", "p2", "p2.py")
RECORDS = 16  # per batch file, standing for the official 10,000


def run_p2(*args, cwd=None):
    return subprocess.run([*p2_command(P2, RECORDS), *args], capture_output=True, text=True, cwd=cwd, timeout=300,
                          env={**os.environ, "MPLBACKEND": "Agg"})


def test_help():
    result = run_p2("--help")
    assert result.returncode == 0 and "--preset" in result.stdout and "--eval" in result.stdout


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One tiny training run of the cpu preset's network (64 images, 1 epoch) shared by the tests below."""
    root = tmp_path_factory.mktemp("p2")
    data_dir = str(root / "cifar-10-batches-bin")
    write_cifar_batches(data_dir, "bin", RECORDS)
    out = root / "out"
    result = run_p2("--preset", "cpu", "--epochs", "1", "--batch-size", "32", "--data-dir", str(root),
                    "--out", str(out), "--device", "cpu")
    assert result.returncode == 0, result.stderr
    return data_dir, out, result


def test_training_writes_model_report_and_plot(trained):
    _, out, result = trained
    assert sorted(os.listdir(out)) == ["p2_model.pkl", "p2_report.pdf", "p2_training.png"]
    assert (out / "p2_report.pdf").read_bytes().startswith(b"%PDF")
    last = result.stdout.strip().splitlines()[-1]
    assert last.startswith("test accuracy: ") and last.endswith("%")


def test_eval_re_measures_the_stored_accuracy(trained):
    data_dir, out, result = trained
    evaluated = run_p2("--eval", str(out / "p2_model.pkl"), "--data-dir", data_dir, "--device", "cpu")
    assert evaluated.returncode == 0, evaluated.stderr
    assert evaluated.stdout.strip().splitlines()[-1] == result.stdout.strip().splitlines()[-1]


def test_missing_data_and_bad_model_give_one_clear_error(tmp_path, trained):
    data_dir, _, _ = trained
    bad = tmp_path / "bad.pkl"
    bad.write_bytes(b"not a model")
    result = run_p2("--eval", str(bad), "--data-dir", data_dir)
    assert result.returncode == 2 and result.stderr.startswith("error: ") and "Traceback" not in result.stderr
    os.makedirs(tmp_path / "partial" / "cifar-10-batches-bin")
    (tmp_path / "partial" / "cifar-10-batches-bin" / "data_batch_1.bin").write_bytes(b"\0" * 3073)
    result = run_p2("--data-dir", str(tmp_path / "partial"), "--out", str(tmp_path / "o"))
    assert result.returncode == 2 and "data_batch_2.bin" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "o" / "p2_model.pkl").exists()

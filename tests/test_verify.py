"""make verify: tiny models whose predictions are known, on tiny MNIST and CIFAR-10 files in the real formats."""
import glob
import json
import os
from pathlib import Path
import shutil
import sys
import time

import numpy as np
import pytest

from fakes import write_cifar_batches
from tools import verify

SOURCE = os.path.join(verify.ROOT, "andrewID-HW1")


def write_constant_p1_model(path, test_error, predicted=3):
    """An MLP that predicts `predicted` for every image: zero last-layer weights, a one-hot bias."""
    import p1
    np.random.seed(0)
    mlp = p1.MLP(784, 10, [8], [p1.ReLU(), p1.Identity()], p1.random_normal_weight_init, p1.zeros_bias_init,
                 p1.SoftmaxCrossEntropy(), lr=0.1)
    mlp.W[-1][:] = 0
    mlp.b[-1][:] = 0
    mlp.b[-1][predicted] = 1
    mlp.metadata = {"test_error": test_error}
    mlp.save_model(path)


def write_constant_p2_model(path, test_accuracy, **extra):
    """A network whose logits are all zero, so it predicts class 0 (argmax takes the first maximum)."""
    import torch
    from checkpoint import save_checkpoint
    from config import Config
    from data import CLASSES
    from model import build_model
    cfg = Config(widths=(8, 16, 16))
    model = build_model(cfg)
    with torch.no_grad():
        model.head.weight.zero_()
    save_checkpoint(path, model, cfg, class_names=CLASSES, mean=(0, 0, 0), std=(1, 1, 1), preset="test", seed=0,
                    test_accuracy=test_accuracy, **extra)


def write_mnist_test_csv(folder, labels):
    rng = np.random.default_rng(0)
    rows = [[label] + list(rng.integers(0, 256, 784)) for label in labels]
    (folder / "mnist_test.csv").write_text("".join(",".join(map(str, row)) + "\n" for row in rows))


def expect_records(p2_dir, records):
    """Make the bundle copy's data reader expect batch files of `records` records instead of the official 10,000,
    so the tiny generated files pass its count check (verify runs p2.py from that copy, in a fresh process)."""
    path = p2_dir / "data.py"
    text = path.read_text()
    assert text.count("RECORDS_PER_FILE = 10_000") == 1
    path.write_text(text.replace("RECORDS_PER_FILE = 10_000", f"RECORDS_PER_FILE = {records}"))


@pytest.fixture
def setup(tmp_path, monkeypatch):
    """A bundle folder with the repository's code and constant models, plus tiny data sets: p1's error is 15/20
    (it predicts 3, five labels are 3), p2's accuracy 3/4 (it predicts 0, three labels are 0)."""
    monkeypatch.setattr(verify, "MNIST_TEST_ROWS", 20)
    bundle = tmp_path / "bundle"
    (bundle / "p1").mkdir(parents=True)
    (bundle / "p2").mkdir()
    shutil.copy(os.path.join(SOURCE, "p1", "p1.py"), bundle / "p1")
    for module in glob.glob(os.path.join(SOURCE, "p2", "*.py")):
        shutil.copy(module, bundle / "p2")
    write_constant_p1_model(str(bundle / "p1" / "p1_model.npz"), test_error=0.75)
    mnist, cifar = tmp_path / "mnist", tmp_path / "cifar10"
    mnist.mkdir()
    write_mnist_test_csv(mnist, [3] * 5 + [0, 1, 2, 4, 5] * 3)
    expect_records(bundle / "p2", 4)
    write_cifar_batches(cifar / "cifar-10-batches-bin", "bin", test_labels=[0, 0, 0, 5])
    return dict(bundle=bundle, args=["--bundle", str(bundle), "--mnist-dir", str(mnist), "--cifar10-dir", str(cifar)])


def test_both_models_reproduce_their_stored_numbers(setup, capsys):
    write_constant_p2_model(str(setup["bundle"] / "p2" / "p2_model.pkl"), test_accuracy=0.75)
    assert verify.main(setup["args"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0].split() == ["model", "stored", "re-measured", "tolerance", "match"]
    assert "75.00%  75.00% (15/20)" in lines[2] and lines[2].endswith("yes")
    assert "75.00%  75.00%" in lines[3] and lines[3].endswith("yes")
    assert "trained on an unrecorded device" in out and "tolerance 10 images of 10,000 (0.1 pp)" in out
    assert "all stored numbers reproduced" in out


@pytest.mark.parametrize("layout, folder", [("bin", "cifar-10-batches-bin"), ("py2", "cifar-10-batches-py")])
def test_cifar_found_in_either_layout(tmp_path, layout, folder):
    write_cifar_batches(tmp_path / folder, layout, records_per_file=1)
    assert verify.cifar_batches_dir(str(tmp_path)) == str(tmp_path / folder)
    assert verify.cifar_batches_dir(str(tmp_path / folder)) == str(tmp_path / folder)


def test_p1_within_one_image_matches_beyond_it_fails(setup, capsys):
    model = str(setup["bundle"] / "p1" / "p1_model.npz")
    write_constant_p1_model(model, test_error=0.70)  # 14/20: one image off
    assert verify.main(setup["args"] + ["--only", "p1"]) == 0
    write_constant_p1_model(model, test_error=0.65)
    assert verify.main(setup["args"] + ["--only", "p1"]) == 1
    captured = capsys.readouterr()
    assert captured.out.splitlines()[-1].endswith("NO")
    assert "differs from the stored one" in captured.err


def test_a_cut_test_set_or_a_stored_error_that_is_no_number_is_one_line(setup, capsys):
    write_mnist_test_csv(Path(setup["args"][3]), [3] * 5 + [0, 1, 2, 4, 5] * 2)   # 15 of the 20 rows
    assert verify.main(setup["args"] + ["--only", "p1"]) == 1
    assert "mnist_test.csv: 15 rows, but MNIST's test set has 20; get it again" in capsys.readouterr().err
    model = setup["bundle"] / "p1" / "p1_model.npz"
    with np.load(model, allow_pickle=False) as z:
        arrays = dict(z)
    arrays["meta_test_error"] = np.array("abc")
    np.savez(model, **arrays)
    assert verify.main(setup["args"] + ["--only", "p1"]) == 1
    err = capsys.readouterr().err
    assert "its stored test_error ('abc') is not a number" in err and "Traceback" not in err


def test_a_p1_py_without_this_projects_helpers_is_one_line(setup, capsys):
    """A bundle's p1.py of another making: what its code raises is one error line, not a traceback."""
    p1_py = setup["bundle"] / "p1" / "p1.py"
    p1_py.write_text(p1_py.read_text().replace("def preprocess(", "def preprocessed("))
    assert verify.main(setup["args"] + ["--only", "p1"]) == 1
    assert capsys.readouterr().err == "error: p1: AttributeError: module 'verified_p1' has no attribute 'preprocess'\n"


def test_a_p2_failure_is_named_by_its_own_error_line_once(setup, capsys):
    write_constant_p2_model(str(setup["bundle"] / "p2" / "p2_model.pkl"), test_accuracy=0.75)
    test_batch = Path(setup["args"][5]) / "cifar-10-batches-bin" / "test_batch.bin"
    test_batch.write_bytes(test_batch.read_bytes()[:100])   # cut short: p2.py --eval refuses it
    assert verify.main(setup["args"] + ["--only", "p2"]) == 1
    err = capsys.readouterr().err
    failed = [line for line in err.splitlines() if "failed (exit" in line]
    assert len(failed) == 1 and failed[0].endswith("test_batch.bin: 100 bytes is not a whole number of 3073-byte "
                                                   "records (an official batch is 30,730,000 bytes); the file is "
                                                   "truncated or not CIFAR-10 binary. Re-download it.")
    assert "verify-json" not in err and "Traceback" not in err


def test_without_a_folder_the_test_set_is_found_where_p1_looks(setup, capsys, monkeypatch, tmp_path):
    p1_dir = setup["bundle"] / "p1"   # beside p1.py, where p1's own message tells students to put the CSVs
    write_mnist_test_csv(p1_dir, [3] * 5 + [0, 1, 2, 4, 5] * 3)
    (p1_dir / "mnist_train.csv").write_text((p1_dir / "mnist_test.csv").read_text())
    monkeypatch.chdir(tmp_path)
    assert verify.main(["--bundle", str(setup["bundle"]), "--only", "p1"]) == 0
    assert "75.00%  75.00% (15/20)" in capsys.readouterr().out


def test_the_test_set_alone_is_enough_and_an_unpacked_zip_finds_the_repositorys_data(setup, capsys, monkeypatch,
                                                                                    tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(verify, "ROOT", str(tmp_path / "repo"))
    data = tmp_path / "repo" / "data" / "mnist"
    data.mkdir(parents=True)
    write_mnist_test_csv(data, [3] * 5 + [0, 1, 2, 4, 5] * 3)   # no mnist_train.csv: verify reads only the test set
    assert verify.main(["--bundle", str(setup["bundle"]), "--only", "p1"]) == 0
    assert "75.00%  75.00% (15/20)" in capsys.readouterr().out


def test_without_a_folder_cifar10_is_found_where_the_pytorch_tutorial_puts_it(setup, capsys, monkeypatch, tmp_path):
    monkeypatch.delenv("CIFAR10_DIR", raising=False)
    monkeypatch.setattr(verify, "ROOT", str(tmp_path / "repo"))   # nothing there: ./data must be found
    work = tmp_path / "work"
    write_cifar_batches(work / "data" / "cifar-10-batches-py", "py2", test_labels=[0, 0, 0, 5])
    monkeypatch.chdir(work)
    write_constant_p2_model(str(setup["bundle"] / "p2" / "p2_model.pkl"), test_accuracy=0.75)
    assert verify.main(["--bundle", str(setup["bundle"]), "--only", "p2"]) == 0
    assert "75.00%  75.00%" in capsys.readouterr().out


def test_cifar10_places_are_p2s_own_search_then_this_repositorys_data(setup, monkeypatch, tmp_path):
    monkeypatch.delenv("CIFAR10_DIR", raising=False)
    monkeypatch.setattr(verify, "ROOT", str(tmp_path / "repo"))
    monkeypatch.chdir(tmp_path)
    p2_dir = setup["bundle"] / "p2"
    assert verify.cifar10_places(str(p2_dir)) == [str(p) for p in (
        tmp_path / "data", p2_dir, p2_dir / "data", tmp_path / "data" / "cifar10",
        tmp_path / "repo" / "data", tmp_path / "repo" / "data" / "cifar10")]


def test_missing_data_says_how_to_get_it(setup, tmp_path, capsys):
    empty = str(tmp_path / "nothing")
    args = ["--bundle", str(setup["bundle"]), "--mnist-dir", empty, "--cifar10-dir", empty]
    write_constant_p2_model(str(setup["bundle"] / "p2" / "p2_model.pkl"), test_accuracy=0.75)
    assert verify.main(args) == 1
    captured = capsys.readouterr()
    assert "make data-mnist" in captured.err and "MNIST_DIR=" in captured.err
    assert "make data-cifar10" in captured.err and "CIFAR10_DIR=" in captured.err
    assert captured.out.count("n/a") == 2


def test_missing_model_says_how_to_make_it(setup, capsys):
    assert verify.main(setup["args"] + ["--only", "p2"]) == 1
    assert "p2_model.pkl: missing; train it with `make p2`" in capsys.readouterr().err


@pytest.mark.parametrize("measured, stored_device, current_device, match", [
    (93.45, "gpu", "gpu", True),
    (93.46, "gpu", "gpu", True),    # one image in 10,000
    (93.47, "gpu", "gpu", False),
    (93.55, "gpu", "cpu", True),    # another device: 10 images
    (93.35, "gpu", "cpu", True),
    (93.56, "gpu", "cpu", False),   # 11 images
    (93.55, None, "cpu", True),     # an unrecorded device counts as another one
])
def test_p2_tolerance_depends_on_the_device(measured, stored_device, current_device, match):
    result = verify.compare_p2(0.9345, measured, stored_device, current_device)
    assert result.match is match
    assert ("bf16" in result.note) is (stored_device != current_device)
    assert result.tolerance == ("+/-1 image (0.01 pp)" if stored_device == current_device else "+/-10 images (0.1 pp)")


def test_cpu_trained_model_re_measured_on_a_gpu_one_image_apart_matches():
    # the committed model: 90.83% stored (a float32) on the Xeon, 90.84% re-measured on an H100
    result = verify.compare_p2(0.90829998254776, 90.84, "CPU: Intel(R) Xeon(R) Processor, 2 threads",
                               "NVIDIA H100 80GB HBM3")
    assert result.match is True
    assert "10 images of 10,000" in result.note and "nearly tied" in result.note


def test_verify_looks_for_the_batch_files_p2_reads():
    # tools/verify.py checks for the files itself (so p2.py never downloads during a verification): its list of
    # layouts and files must be the one p2's loader reads.
    import data
    assert verify.CIFAR_LAYOUTS == {layout: files["train"] + files["test"] for layout, files in data.FILES.items()}


def test_an_evaluation_that_runs_past_its_time_is_stopped(monkeypatch, tmp_path):
    """The deadline runs while the output is still being read: a child that keeps going is ended at it."""
    monkeypatch.setattr(verify, "P2_TIMEOUT_S", 1)
    started = time.monotonic()
    with pytest.raises(verify.VerifyError, match="took over 1 s; gave up"):
        verify.run_showing_progress([sys.executable, "-c", "import time; print('working', flush=True); "
                                     "time.sleep(30)"], str(tmp_path))
    assert time.monotonic() - started < 15


@pytest.mark.parametrize("fell_back", [False, True])
def test_p2_is_compared_on_the_device_it_was_measured_on(monkeypatch, tmp_path, fell_back):
    """Where a Mac's GPU fails and p2 goes on on the CPU, the CPU is the device of the measurement."""
    (tmp_path / "p2_model.pkl").write_bytes(b"")
    info = dict(test_accuracy=0.9, device="Apple M2 GPU (MPS), float32", current_device="Apple M2 GPU (MPS), float32",
                cpu_device="CPU: Apple M2, 8 threads, float32")
    lines = [verify.MARK + json.dumps(info)]
    lines += ["the Mac's GPU (MPS) failed (an MPS error); running on the CPU instead"] * fell_back
    lines += ["test accuracy: 90.00%"]
    monkeypatch.setattr(verify, "run_showing_progress", lambda cmd, folder: (0, lines))
    monkeypatch.setattr(verify, "cifar_batches_dir", lambda *places: str(tmp_path))
    measured = verify.measure_p2(str(tmp_path), str(tmp_path))
    assert measured[3] == (info["cpu_device"] if fell_back else info["current_device"])

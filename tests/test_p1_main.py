"""p1 end to end on a tiny generated MNIST: the command line, its outputs, and every bad setting or fault
refused up front with one line on stderr, its exit status, and nothing written or lost."""
import os
import time

import numpy as np
import pytest

import p1

TINY = dict(hiddens=[32], activations=[p1.ReLU()], lr=0.05, num_epochs=3, batch_size=32, momentum=0.9,
            warmup=0.1, max_shift=1, max_degrees=0, max_scale=0, validation=100, seed=0)
OLD = {name: f"old {name}".encode() for name in p1.OUTPUTS}


def write_mnist(folder, rng=None):
    """mnist_train.csv / mnist_test.csv with 400 / 100 rows: a bright 4x4 square whose place is the label."""
    rng = rng or np.random.default_rng(0)
    folder.mkdir(parents=True, exist_ok=True)
    for name, n in (("mnist_train.csv", 400), ("mnist_test.csv", 100)):
        labels = rng.integers(0, 10, n)
        images = rng.integers(0, 60, (n, 28, 28))
        for image, label in zip(images, labels):
            image[4 + 2 * label:8 + 2 * label, 12:16] = 255
        np.savetxt(folder / name, np.column_stack([labels, images.reshape(n, 784)]), fmt="%d", delimiter=",")
    return folder


@pytest.fixture
def env(tmp_path):
    """The environment p1 runs in: generated data, outputs and cache in tmp_path."""
    return {"MNIST_DIR": str(write_mnist(tmp_path / "mnist")), "P1_OUT": str(tmp_path / "out"),
            "P1_CACHE_DIR": str(tmp_path / "cache")}


def run(env, **changes):
    return p1.run_presets({"default": dict(TINY, **changes)}, env)


def old_outputs(folder):
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in OLD.items():
        (folder / name).write_bytes(data)
    return folder


def assert_untouched(folder):
    assert sorted(os.listdir(folder)) == sorted(OLD)  # no temporary file left either
    for name, data in OLD.items():
        assert (folder / name).read_bytes() == data


def one_error_line(capfd, start="error: "):
    out, err = capfd.readouterr()
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(start), err
    assert "Traceback" not in out + err and "error:" not in out
    return lines[0]


def test_trains_and_writes_model_curves_and_report(env, tmp_path, capfd):
    assert run(env) == 0
    out, err = capfd.readouterr()
    lines = out.strip().splitlines()
    assert lines[-1].startswith("test error: ") and lines[-1].endswith("%") and err == ""
    out_dir = tmp_path / "out"
    assert sorted(os.listdir(out_dir)) == sorted(p1.OUTPUTS)
    assert (out_dir / "p1_report.pdf").read_bytes()[:5] == b"%PDF-"
    assert (out_dir / "p1_training.png").read_bytes()[:4] == b"\x89PNG"
    model = p1.load_model(str(out_dir / "p1_model.npz"))
    assert model.metadata["preset"] == "default" and model.metadata["seed"] == 0
    pixels, labels = p1.load_mnist_csv(str(tmp_path / "mnist" / "mnist_test.csv"))
    _, error = p1.evaluate(model, p1.preprocess(pixels), labels)
    assert error == model.metadata["test_error"] < 0.3
    assert f"test error: {100 * error:.2f}%" == lines[-1]
    assert any(line.startswith("test loss ") for line in lines)  # get_training_stats prints the final test
    for key in ("train_error", "val_error"):
        assert 0 <= model.metadata[key] <= 1


def test_same_seed_twice_gives_an_identical_model_file(env, tmp_path, capfd):
    models = []
    for folder in ("a", "b"):
        assert run(dict(env, P1_OUT=str(tmp_path / folder))) == 0
        models.append((tmp_path / folder / "p1_model.npz").read_bytes())
    assert models[0] == models[1]


def test_data_beside_p1_py_and_outputs_there_without_any_setting(tmp_path, monkeypatch, capfd):
    # an unzipped andrewID-HW1/p1/ with the CSVs beside p1.py: `python p1.py` needs no environment variable
    folder = write_mnist(tmp_path / "p1")
    monkeypatch.setattr(p1, "HERE", str(folder))
    monkeypatch.chdir(tmp_path)
    assert p1.run_presets({"default": TINY}, {"P1_CACHE_DIR": str(tmp_path / "cache")}) == 0
    assert set(p1.OUTPUTS) <= set(os.listdir(folder))


def test_search_order_working_folder_then_repository(tmp_path, monkeypatch):
    monkeypatch.setattr(p1, "HERE", str(tmp_path / "empty"))
    monkeypatch.setattr(p1, "DEFAULT_MNIST_DIR", str(write_mnist(tmp_path / "repo")))
    monkeypatch.chdir(tmp_path)
    assert p1.find_mnist_dir({}) == str(tmp_path / "repo")
    write_mnist(tmp_path)
    assert p1.find_mnist_dir({}) == str(tmp_path)


def test_missing_data_names_every_place_tried_and_the_urls(tmp_path, monkeypatch, capfd):
    monkeypatch.setattr(p1, "HERE", str(tmp_path / "here"))
    monkeypatch.setattr(p1, "DEFAULT_MNIST_DIR", str(tmp_path / "repo"))
    monkeypatch.chdir(tmp_path)
    assert p1.run_presets({"default": TINY}, {"P1_OUT": str(tmp_path / "out")}) == 1
    line = one_error_line(capfd)
    for place in ("the folder holding p1.py", str(tmp_path / "here"), "the working folder", str(tmp_path),
                  "data/mnist two folders above p1.py", str(tmp_path / "repo"), *p1.CSV_URLS):
        assert place in line
    assert not (tmp_path / "out").exists()


def test_mnist_dir_set_is_the_only_place(env, tmp_path, capfd):
    assert run(dict(env, MNIST_DIR=str(tmp_path / "nowhere"))) == 1
    line = one_error_line(capfd)
    assert f"MNIST_DIR {tmp_path / 'nowhere'} (no mnist_train.csv or mnist_test.csv)" in line
    assert "working folder" not in line and not (tmp_path / "out").exists()


def test_divergence_writes_nothing_and_keeps_the_old_outputs(env, tmp_path, capfd):
    out_dir = old_outputs(tmp_path / "out")
    assert run(env, lr=1e30) == 1
    assert "lower the learning rate" in one_error_line(capfd)
    assert_untouched(out_dir)


def test_ctrl_c_during_training_keeps_the_old_outputs_and_exits_130(env, tmp_path, capfd, monkeypatch):
    out_dir = old_outputs(tmp_path / "out")
    calls = []

    def step_then_interrupt(self):
        calls.append(1)
        if len(calls) == 5:
            raise KeyboardInterrupt
    monkeypatch.setattr(p1.MLP, "step", step_then_interrupt)
    assert run(env) == 130
    assert "were left as they were" in one_error_line(capfd, "interrupted: ")
    assert_untouched(out_dir)


@pytest.mark.parametrize("failing", ["plot_training", "write_report"])
def test_a_failure_while_writing_replaces_no_output(env, tmp_path, capfd, monkeypatch, failing):
    # the model is written first: a failure after it must not leave a new model beside an old report
    out_dir = old_outputs(tmp_path / "out")

    def fail(*args):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(p1, failing, fail)
    assert run(env) == 1
    assert "No space left on device" in one_error_line(capfd)
    assert_untouched(out_dir)


@pytest.mark.parametrize("changes,message", [
    (dict(P1_PRESET="fastest"), "unknown P1_PRESET 'fastest'; choose one of default"),
    (dict(P1_CACHE_DIR="FILE"), "P1_CACHE_DIR FILE is a file, not a folder"),
    (dict(P1_OUT="FILE"), "P1_OUT FILE is a file, not a folder"),
    (dict(P1_OUT="FILE/sub"), "P1_OUT FILE/sub cannot be written (Not a directory)"),
])
def test_bad_environment_is_refused_before_any_work(env, tmp_path, capfd, changes, message, monkeypatch):
    blocker = tmp_path / "blocker"
    blocker.write_text("x")
    changes = {k: v.replace("FILE", str(blocker)) for k, v in changes.items()}
    monkeypatch.setattr(p1, "load_mnist_csv", lambda *args: pytest.fail("data was read"))
    assert run(dict(env, **changes)) == 2
    assert message.replace("FILE", str(blocker)) in one_error_line(capfd)
    assert blocker.read_text() == "x" and not (tmp_path / "out").exists() and not (tmp_path / "cache").exists()


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_unwritable_output_folder_is_refused_before_any_work(env, tmp_path, capfd, monkeypatch):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    monkeypatch.setattr(p1, "load_mnist_csv", lambda *args: pytest.fail("data was read"))
    assert run(dict(env, P1_OUT=str(locked / "out"))) == 2
    assert "cannot be written (Permission denied)" in one_error_line(capfd)


def test_unwritable_output_folder_message(env, tmp_path, capfd, monkeypatch):
    # the same path as above for any user (root may write anywhere): creating the probe file is refused
    def refuse(*args):
        raise PermissionError(13, "Permission denied")
    monkeypatch.setattr(p1.os, "open", refuse)
    monkeypatch.setattr(p1, "load_mnist_csv", lambda *args: pytest.fail("data was read"))
    assert run(env) == 2
    monkeypatch.undo()
    line = one_error_line(capfd)
    assert line == (f"error: P1_OUT {tmp_path / 'out'} cannot be written (Permission denied); set P1_OUT to a "
                    "folder you can write")
    assert not (tmp_path / "out").exists()  # the folder made for the check is gone again


@pytest.mark.parametrize("changes,message", [
    (dict(lr=-1.0), "lr must be a positive finite number, got -1.0"),
    (dict(lr=float("nan")), "lr must be a positive finite number, got nan"),
    (dict(num_epochs=0), "num_epochs must be a whole number of at least 1, got 0"),
    (dict(num_epochs=float("inf")), "num_epochs must be a whole number of at least 1, got inf"),
    (dict(batch_size=-5), "batch_size must be a whole number of at least 1, got -5"),
    (dict(batch_size=True), "batch_size must be a whole number of at least 1, got True"),
    (dict(hiddens=[32, 0]), "hiddens must be a list of positive whole numbers"),
    (dict(activations=[p1.ReLU(), p1.ReLU(), p1.ReLU()]), "activations must be one activation"),
    (dict(momentum=1.0), "momentum must be a number from 0 up to (not including) 1, got 1.0"),
    (dict(epochs=3), "unknown hyper-parameter 'epochs'"),
])
def test_bad_hyper_parameters_are_refused_before_any_work(env, tmp_path, capfd, changes, message, monkeypatch):
    monkeypatch.setattr(p1, "load_mnist_csv", lambda *args: pytest.fail("data was read"))
    assert run(env, **changes) == 2
    assert f"error: preset 'default': {message}" in one_error_line(capfd)
    assert not (tmp_path / "out").exists()


def test_batch_larger_than_the_training_rows(env, tmp_path, capfd):
    assert run(env, batch_size=301) == 2
    assert "batch_size 301 is larger than the 300 training rows" in one_error_line(capfd)
    assert not (tmp_path / "out").exists()


def test_the_presets_in_main_are_valid_and_use_the_templates_split(monkeypatch):
    monkeypatch.setattr(p1, "run_presets", lambda presets: presets)
    presets = p1.main()
    assert set(presets) == {"default", "best"}
    for name, config in presets.items():
        p1.check_config(name, config)
        assert config["validation"] == 10000  # the template's 50,000 / 10,000 split of the 60,000 rows


def test_default_data_folder_is_the_repository_data_folder():
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(p1.__file__))))
    assert p1.DEFAULT_MNIST_DIR == os.path.join(root, "data", "mnist")


@pytest.mark.parametrize("damage,message", [
    (lambda text: b"\xef\xbb\xbf" + text, "the file starts with a UTF-8 byte-order mark"),
    (lambda text: b"3" + b",-1" * 784 + b"\n" + text, "row 1: pixel -1 is negative (column 2)"),
])
def test_a_bad_csv_is_one_line_and_keeps_the_old_outputs(env, tmp_path, capfd, damage, message):
    out_dir = old_outputs(tmp_path / "out")
    csv = tmp_path / "mnist" / "mnist_train.csv"
    csv.write_bytes(damage(csv.read_bytes()))
    assert run(env) == 1
    line = one_error_line(capfd)
    assert line.startswith(f"error: {csv}") and message in line
    assert_untouched(out_dir)


def test_python_p1_py_with_a_bad_setting_prints_one_line_on_stderr(tmp_path):
    import subprocess
    import sys
    env = dict(os.environ, P1_PRESET="nope", P1_OUT=str(tmp_path / "out"), MPLBACKEND="Agg")
    done = subprocess.run([sys.executable, p1.__file__], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr == "error: unknown P1_PRESET 'nope'; choose one of default, best\n"
    assert not (tmp_path / "out").exists()


def test_a_folder_where_an_output_goes_is_refused_before_any_work(env, tmp_path, capfd, monkeypatch):
    # the three outputs are replaced as one set: a name that cannot be replaced would stop it half way
    out_dir = old_outputs(tmp_path / "out")
    (out_dir / "p1_report.pdf").unlink()
    (out_dir / "p1_report.pdf").mkdir()
    monkeypatch.setattr(p1, "load_mnist_csv", lambda *args: pytest.fail("data was read"))
    assert run(env) == 2
    line = one_error_line(capfd)
    assert f"{out_dir / 'p1_report.pdf'} exists and is not a file" in line and "P1_OUT" in line
    assert sorted(os.listdir(out_dir)) == sorted(OLD)
    for name in ("p1_model.npz", "p1_training.png"):
        assert (out_dir / name).read_bytes() == OLD[name]


def test_the_parse_cache_goes_where_the_environment_says(env, tmp_path, capfd, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("P1_CACHE_DIR", raising=False)
    assert run(env) == 0
    cached = [f for _, _, files in os.walk(env["P1_CACHE_DIR"]) for f in files]
    assert len(cached) == 2 and all(f.endswith(".npy") for f in cached)
    assert not (tmp_path / "home" / ".cache" / "hw1_p1").exists()


def test_runs_where_os_has_no_uname_and_no_elapsed_time(env, tmp_path, capfd, monkeypatch):
    """Windows: no os.uname, and os.times() leaves elapsed at 0; the run still times itself and writes all."""
    real_times = os.times

    class WindowsTimes:
        def __init__(self):
            t = real_times()
            self.user, self.system, self.elapsed = t.user, t.system, 0.0
    monkeypatch.delattr(p1.os, "uname")
    monkeypatch.setattr(p1.os, "times", WindowsTimes)
    assert p1.machine_description().startswith("Windows, ")
    before = time.time()
    assert abs(p1.wall_clock() - before) < 2   # whole seconds of the calendar clock
    assert run(env) == 0
    assert sorted(os.listdir(tmp_path / "out")) == sorted(p1.OUTPUTS)
    assert "wall time" in capfd.readouterr().out

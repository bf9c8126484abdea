"""p1 end to end on a tiny generated MNIST: `python p1.py`'s main() and its outputs, and every failure as one
line on stderr with its exit status, the old outputs kept and nothing written outside the output folder."""
import functools
import io
import os
import platform
import subprocess
import sys
import time

import numpy as np
import pytest

import p1

TINY = dict(hiddens=[32], activations=[p1.ReLU()], lr=0.05, num_epochs=3, batch_size=32, momentum=0.9,
            warmup=0.1, max_shift=1, max_degrees=0, max_scale=0, elastic=0, seed=0)
OLD = {name: f"old {name}".encode() for name in p1.OUTPUTS}


def mnist_csvs(rng):
    """{file name: bytes} of mnist_train.csv / mnist_test.csv with 400 / 100 rows: a bright 4x4 square whose place is
    the label."""
    csvs = {}
    for name, n in (("mnist_train.csv", 400), ("mnist_test.csv", 100)):
        labels = rng.integers(0, 10, n)
        images = rng.integers(0, 60, (n, 28, 28))
        for image, label in zip(images, labels):
            image[4 + 2 * label:8 + 2 * label, 12:16] = 255
        text = io.BytesIO()
        np.savetxt(text, np.column_stack([labels, images.reshape(n, 784)]), fmt="%d", delimiter=",")
        csvs[name] = text.getvalue()
    return csvs


@functools.lru_cache(maxsize=None)
def default_mnist_csvs():
    """The files of the default generator, made once: most tests write them, and np.savetxt takes ~50 ms."""
    return mnist_csvs(np.random.default_rng(0))


def write_mnist(folder, rng=None):
    """Write the two CSVs of mnist_csvs into `folder` (created); without `rng`, the same bytes for every test."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in (default_mnist_csvs() if rng is None else mnist_csvs(rng)).items():
        (folder / name).write_bytes(data)
    return folder


@pytest.fixture
def tiny(monkeypatch, tmp_path):
    """main() on generated data with small hyper-parameters: every preset of main() becomes TINY (names kept, so
    P1_PRESET still chooses among them), 100 validation rows, outputs into tmp_path/out."""
    real_choose = p1.choose_preset
    changes = {}
    monkeypatch.setattr(p1, "choose_preset", lambda presets: real_choose({k: dict(TINY, **changes) for k in presets}))
    monkeypatch.setattr(p1, "VALIDATION_ROWS", 100)
    monkeypatch.setenv("MNIST_DIR", str(write_mnist(tmp_path / "mnist")))
    monkeypatch.setenv("P1_OUT", str(tmp_path / "out"))
    return changes


def without_drawing(monkeypatch):
    """p1_training.png and p1_report.pdf written empty, not drawn, for tests that never read them: drawing takes most
    of a tiny run's time (test_trains_and_writes_model_curves_and_report and the report tests below draw them)."""
    monkeypatch.setattr(p1, "plot_training", lambda stats, file: None)
    monkeypatch.setattr(p1, "write_report", lambda results, file: None)


def run(tiny, **changes):
    tiny.clear()
    tiny.update(changes)
    return p1.run(p1.main)


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
    assert "Traceback" not in out + err and not any(line.startswith("error:") for line in out.splitlines())
    return lines[0]


def test_trains_and_writes_model_curves_and_report(tiny, tmp_path, capfd, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    assert run(tiny) == 0
    out, err = capfd.readouterr()
    lines = out.strip().splitlines()
    assert lines[-1].startswith("test error: ") and lines[-1].endswith("%") and err == ""
    assert sum(line.startswith("validation error:") for line in lines) == 3   # the template's prints, per epoch
    out_dir = tmp_path / "out"
    assert sorted(os.listdir(out_dir)) == sorted(p1.OUTPUTS)
    assert sorted(os.listdir(tmp_path)) == ["mnist", "out"]   # nothing written anywhere else (no cache, no home)
    assert (out_dir / "p1_report.pdf").read_bytes()[:5] == b"%PDF-"
    assert (out_dir / "p1_training.png").read_bytes()[:4] == b"\x89PNG"
    model = p1.load_model(str(out_dir / "p1_model.npz"))
    assert model.metadata["seed"] == 0 and 0 <= model.metadata["val_error"] <= 1
    pixels, labels = p1.load_mnist_csv(str(tmp_path / "mnist" / "mnist_test.csv"))
    model(p1.preprocess(pixels))
    error = model.get_error(labels) / len(labels)
    assert error == model.metadata["test_error"] < 0.3
    assert f"test error: {100 * error:.2f}%" == lines[-1]
    printed = [line for line in lines if line.startswith("test error:  ")]   # get_training_stats' own print
    assert len(printed) == 1 and float(printed[0].split(":")[1]) == pytest.approx(error)


def test_same_seed_twice_gives_an_identical_model_file(tiny, tmp_path, capfd, monkeypatch):
    without_drawing(monkeypatch)
    models = []
    for folder in ("a", "b"):
        monkeypatch.setenv("P1_OUT", str(tmp_path / folder))
        assert run(tiny) == 0
        models.append((tmp_path / folder / "p1_model.npz").read_bytes())
    assert models[0] == models[1]


def test_data_beside_p1_py_and_outputs_there_without_any_setting(tiny, tmp_path, monkeypatch, capfd):
    # an unzipped andrewID-HW1/p1/ with the CSVs beside p1.py: `python p1.py` needs no environment variable
    folder = write_mnist(tmp_path / "p1")
    monkeypatch.setattr(p1, "HERE", str(folder))
    monkeypatch.delenv("MNIST_DIR")
    monkeypatch.delenv("P1_OUT")
    monkeypatch.chdir(tmp_path)
    without_drawing(monkeypatch)
    assert run(tiny) == 0
    assert set(p1.OUTPUTS) <= set(os.listdir(folder))


def test_search_order_working_folder_then_repository(tmp_path, monkeypatch):
    monkeypatch.setattr(p1, "HERE", str(tmp_path / "empty"))
    monkeypatch.setattr(p1, "DEFAULT_MNIST_DIR", str(write_mnist(tmp_path / "repo")))
    monkeypatch.chdir(tmp_path)
    assert p1.find_mnist_dir() == str(tmp_path / "repo")
    write_mnist(tmp_path)
    assert p1.find_mnist_dir() == str(tmp_path)


def test_missing_data_names_every_place_tried_and_the_assignments_urls_first(tiny, tmp_path, monkeypatch, capfd):
    monkeypatch.setattr(p1, "HERE", str(tmp_path / "here"))
    monkeypatch.setattr(p1, "DEFAULT_MNIST_DIR", str(tmp_path / "repo"))
    monkeypatch.delenv("MNIST_DIR")
    monkeypatch.chdir(tmp_path)
    assert run(tiny) == 1
    line = one_error_line(capfd)
    for place in ("the folder holding p1.py", str(tmp_path / "here"), "the working folder", str(tmp_path),
                  "data/mnist two folders above p1.py", str(tmp_path / "repo"), *p1.CSV_URLS):
        assert place in line
    assert line.index("https://www.python-course.eu/data/mnist/mnist_train.csv") < line.index("pjreddie.com")
    assert not (tmp_path / "out").exists()


def test_mnist_dir_set_is_the_only_place(tiny, tmp_path, monkeypatch, capfd):
    monkeypatch.setenv("MNIST_DIR", str(tmp_path / "nowhere"))
    assert run(tiny) == 1
    line = one_error_line(capfd)
    assert f"MNIST_DIR {tmp_path / 'nowhere'} (no mnist_train.csv or mnist_test.csv)" in line
    assert "working folder" not in line and not (tmp_path / "out").exists()


def test_mnist_dir_naming_a_file_says_so(tiny, tmp_path, monkeypatch, capfd):
    (tmp_path / "mnist_train.csv").write_text("0" + ",0" * 784 + "\n")
    monkeypatch.setenv("MNIST_DIR", str(tmp_path / "mnist_train.csv"))
    assert run(tiny) == 1
    assert f"MNIST_DIR {tmp_path / 'mnist_train.csv'} (a file, not a folder)" in one_error_line(capfd)


def test_divergence_writes_nothing_and_keeps_the_old_outputs(tiny, tmp_path, capfd):
    out_dir = old_outputs(tmp_path / "out")
    assert run(tiny, lr=1e30) == 1
    assert "lower the learning rate" in one_error_line(capfd)
    assert_untouched(out_dir)


def test_ctrl_c_during_training_keeps_the_old_outputs_and_exits_130(tiny, tmp_path, capfd, monkeypatch):
    out_dir = old_outputs(tmp_path / "out")
    calls = []

    def step_then_interrupt(self):
        calls.append(1)
        if len(calls) == 5:
            raise KeyboardInterrupt
    monkeypatch.setattr(p1.MLP, "step", step_then_interrupt)
    assert run(tiny) == 130
    assert "were left as they were" in one_error_line(capfd, "interrupted: ")
    assert_untouched(out_dir)


@pytest.mark.parametrize("failing", ["savez", "plot_training", "write_report"])
def test_a_failure_while_writing_replaces_no_output(tiny, tmp_path, capfd, monkeypatch, failing):
    # the model is written first: a failure after it must not leave a new model beside an old report. save_model
    # writes through a write_outputs of its own, inside main's: the cause is still said once, of p1_model.npz
    out_dir = old_outputs(tmp_path / "out")

    def fail(*args, **kwargs):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(p1.np if failing == "savez" else p1, failing, fail)
    assert run(tiny) == 1
    written = {"savez": "p1_model.npz", "plot_training": "p1_training.png", "write_report": "p1_report.pdf"}[failing]
    assert one_error_line(capfd) == (f"error: writing {written} in {out_dir} failed (No space left on device); the old "
                                     "outputs were left as they were")
    assert_untouched(out_dir)


@pytest.mark.parametrize("locked", p1.OUTPUTS)
def test_an_output_another_program_holds_open_keeps_the_old_set(tiny, tmp_path, capfd, monkeypatch, locked):
    # Windows will not move a file another program has open (a PDF in a viewer): os.replace fails on it
    out_dir = old_outputs(tmp_path / "out")
    real_replace = os.replace

    def replace(src, dst):
        if os.path.basename(src) == locked:
            raise PermissionError(13, "Permission denied", src)
        real_replace(src, dst)
    monkeypatch.setattr(p1.os, "replace", replace)
    without_drawing(monkeypatch)
    assert run(tiny) == 1
    assert one_error_line(capfd) == (f"error: {out_dir / locked} cannot be replaced (Permission denied); if another "
                                     "program has it open, close it and run again")
    assert_untouched(out_dir)


@pytest.mark.parametrize("error", [PermissionError(13, "Permission denied"), KeyboardInterrupt()])
def test_a_failure_moving_the_new_files_in_puts_every_old_file_back(tmp_path, monkeypatch, error):
    # the old files are already aside and the new "a" in when the new "b" cannot move: each move is undone
    for name in ("a", "b"):
        (tmp_path / name).write_text(f"old {name}")
    real_replace = os.replace

    def replace(src, dst):
        if os.path.basename(src).startswith(".tmp") and src.endswith("b"):
            raise error
        real_replace(src, dst)
    monkeypatch.setattr(p1.os, "replace", replace)
    with pytest.raises(type(error) if isinstance(error, KeyboardInterrupt) else OSError):
        p1.write_outputs(str(tmp_path), {name: (lambda file: file.write(b"new")) for name in ("a", "b")})
    assert sorted(os.listdir(tmp_path)) == ["a", "b"]
    assert [(tmp_path / name).read_text() for name in ("a", "b")] == ["old a", "old b"]


def test_the_error_line_is_written_in_the_consoles_own_encoding(tiny, tmp_path, monkeypatch):
    monkeypatch.setenv("MNIST_DIR", str(tmp_path / "Zoë"))
    written = []
    monkeypatch.setattr(p1.os, "device_encoding", lambda fd: "cp1252" if fd == 2 else None)   # a Windows console
    monkeypatch.setattr(p1.os, "write", lambda fd, data: written.append((fd, data)))
    assert run(tiny) == 1
    (fd, data), = written
    assert fd == 2 and "Zoë".encode("cp1252") in data and data.endswith(b"\n")


def test_a_setting_removed_from_the_block_is_named(monkeypatch):
    monkeypatch.delenv("P1_PRESET", raising=False)
    without = {key: value for key, value in TINY.items() if key not in ("seed", "warmup")}
    with pytest.raises(p1.SettingError, match="^hyper-parameter block: the default preset has no warmup, seed; give "
                                              "each a value$"):
        p1.choose_preset({"default": without})


def test_unknown_preset_is_one_line(tiny, tmp_path, capfd, monkeypatch):
    monkeypatch.setenv("P1_PRESET", "fastest")
    assert run(tiny) == 2
    assert one_error_line(capfd) == "error: unknown P1_PRESET 'fastest'; choose one of default, best"
    assert not (tmp_path / "out").exists()


SEED_RULE = "a whole number from 0 to 4294967295"


@pytest.mark.parametrize("setting, rule", [
    (dict(lr=-0.1), "a number > 0"), (dict(lr=float("inf")), "a number > 0"), (dict(lr=None), "a number > 0"),
    (dict(lr="0.1"), "a number > 0"),
    (dict(batch_size=0), "a whole number >= 1"), (dict(num_epochs=0), "a whole number >= 1"),
    (dict(num_epochs=2.5), "a whole number >= 1"), (dict(num_epochs=True), "a whole number >= 1"),
    (dict(hiddens=[0]), "a list of whole numbers >= 1"), (dict(hiddens=[10.5]), "a list of whole numbers >= 1"),
    (dict(hiddens=8), "a list of whole numbers >= 1"), (dict(hiddens=[True]), "a list of whole numbers >= 1"),
    (dict(momentum=1.0), "a number in [0, 1)"), (dict(warmup=-0.1), "a number in [0, 1)"),
    (dict(momentum=None), "a number in [0, 1)"),
    (dict(max_shift=-1), "a whole number >= 0"), (dict(max_shift=1.5), "a whole number >= 0"),
    (dict(max_shift=None), "a whole number >= 0"), (dict(max_shift=True), "a whole number >= 0"),
    (dict(max_degrees=-5), "a number >= 0"), (dict(max_degrees=float("inf")), "a number >= 0"),
    (dict(max_scale=-0.1), "a number in [0, 1)"), (dict(max_scale=1.0), "a number in [0, 1)"),
    (dict(elastic=-1), "a number >= 0"), (dict(elastic="2"), "a number >= 0"),
    (dict(seed=None), SEED_RULE), (dict(seed=-1), SEED_RULE), (dict(seed=2**32), SEED_RULE)])
def test_a_bad_value_in_the_hyper_parameter_block_is_one_line(tiny, tmp_path, capfd, setting, rule):
    out_dir = old_outputs(tmp_path / "out")
    assert run(tiny, **setting) == 2
    (key, value), = setting.items()
    assert one_error_line(capfd) == f"error: hyper-parameter block: {key} = {value!r} (must be {rule})"
    assert_untouched(out_dir)


def test_every_bad_value_in_the_hyper_parameter_block_is_named_in_one_line(tiny, capfd):
    assert run(tiny, lr=0, max_shift=-1) == 2
    assert one_error_line(capfd) == ("error: hyper-parameter block: lr = 0 (must be a number > 0); max_shift = -1 "
                                     "(must be a whole number >= 0)")


def test_numpy_numbers_in_the_hyper_parameter_block_are_numbers(tiny, capfd):
    assert run(tiny, num_epochs=np.int64(1), batch_size=np.int32(32), hiddens=[np.int64(16)], lr=np.float32(0.05),
               seed=np.uint32(3)) == 0


@pytest.mark.parametrize("out", ["FILE", "FILE/sub"])
def test_an_output_folder_that_cannot_be_written_is_refused_before_any_work(tiny, tmp_path, capfd, monkeypatch, out):
    blocker = tmp_path / "blocker"
    blocker.write_text("x")
    monkeypatch.setenv("P1_OUT", out.replace("FILE", str(blocker)))
    monkeypatch.setattr(p1, "load_mnist_csv", lambda *args: pytest.fail("data was read"))
    assert run(tiny) == 2
    assert f"the output folder {out.replace('FILE', str(blocker))} cannot be written" in one_error_line(capfd)
    assert blocker.read_text() == "x"


@pytest.mark.parametrize("out", ["new/" + "a" * 300, "broken-link", "new/deeper"])
def test_an_output_folder_that_cannot_be_made_is_refused_before_any_work_and_none_is_left(tiny, tmp_path, capfd,
                                                                                            monkeypatch, out):
    """A name too long, or a link to nowhere, was found only after training; a folder that can be made is made for
    the test and removed again, so a refused run leaves none."""
    (tmp_path / "broken-link").symlink_to(tmp_path / "nowhere")
    monkeypatch.setenv("P1_OUT", str(tmp_path / out))
    monkeypatch.setattr(p1, "load_mnist_csv", lambda *args: pytest.fail("data was read"))
    if out == "new/deeper":
        assert p1.output_dir() == str(tmp_path / out)
    else:
        assert run(tiny) == 2
        assert f"the output folder {tmp_path / out} cannot be written" in one_error_line(capfd)
    assert not (tmp_path / "new").exists() and not (tmp_path / "nowhere").exists()


def test_a_folder_named_as_an_output_is_refused_before_any_work(tiny, tmp_path, capfd, monkeypatch):
    """p1_report.pdf/ as a folder would be moved aside, out of sight, rather than replaced."""
    (tmp_path / "out" / "p1_report.pdf").mkdir(parents=True)
    monkeypatch.setattr(p1, "load_mnist_csv", lambda *args: pytest.fail("data was read"))
    assert run(tiny) == 2
    assert one_error_line(capfd) == (f"error: p1_report.pdf in {tmp_path / 'out'} is a folder; move it away or set "
                                     "P1_OUT to another folder")
    assert os.listdir(tmp_path / "out") == ["p1_report.pdf"]


def test_a_read_only_output_folder_is_refused_before_any_work(tiny, tmp_path, capfd, monkeypatch):
    def refuse(path, *args, **kwargs):   # as a read-only folder, even for root (and as os.access cannot tell on Windows)
        raise PermissionError(13, "Permission denied", path)
    monkeypatch.setattr(p1.os, "open", refuse)
    monkeypatch.setattr(p1, "load_mnist_csv", lambda *args: pytest.fail("data was read"))
    assert run(tiny) == 2
    monkeypatch.undo()
    assert one_error_line(capfd) == (f"error: the output folder {tmp_path / 'out'} cannot be written; set P1_OUT to "
                                     "a folder you can write")
    assert not (tmp_path / "out").exists()


def test_the_presets_in_main_are_the_hyper_parameter_block(monkeypatch, tmp_path):
    seen = {}

    def capture(presets):
        seen.update(presets)
        raise KeyboardInterrupt   # stop main() here
    monkeypatch.setattr(p1, "choose_preset", capture)
    monkeypatch.setenv("MNIST_DIR", str(write_mnist(tmp_path)))
    monkeypatch.setenv("P1_OUT", str(tmp_path / "out"))   # not the checkout's folder, which may be read-only
    monkeypatch.setattr(p1, "VALIDATION_ROWS", 100)
    with pytest.raises(KeyboardInterrupt):
        p1.main()
    assert set(seen) == {"default", "best"}
    for hp in seen.values():
        assert set(hp) == set(TINY) and len(hp["activations"]) == len(hp["hiddens"])
        assert all(key in p1.HYPERPARAMETER_NOTES for key in hp)   # the report gives every value's reason
    monkeypatch.undo()
    assert p1.VALIDATION_ROWS == 10000   # the template's 50,000 / 10,000 split of the 60,000 rows


def test_default_data_folder_is_the_repository_data_folder():
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(p1.__file__))))
    assert p1.DEFAULT_MNIST_DIR == os.path.join(root, "data", "mnist")


@pytest.mark.parametrize("damage,message", [
    (lambda text: b"\xef\xbb\xbf" + text, "the file starts with a byte-order mark"),
    (lambda text: b"3" + b",-1" * 784 + b"\n" + text, "row 1: pixel '-1' (column 2) is negative"),
])
def test_a_bad_csv_is_one_line_and_keeps_the_old_outputs(tiny, tmp_path, capfd, damage, message):
    out_dir = old_outputs(tmp_path / "out")
    csv = tmp_path / "mnist" / "mnist_train.csv"
    csv.write_bytes(damage(csv.read_bytes()))
    assert run(tiny) == 1
    line = one_error_line(capfd)
    assert line.startswith(f"error: {csv}") and message in line
    assert_untouched(out_dir)


def test_python_p1_py_with_a_bad_setting_prints_one_line_on_stderr(tmp_path):
    blocker = tmp_path / "blocker"
    blocker.write_text("x")
    env = dict(os.environ, P1_OUT=str(blocker), MPLBACKEND="Agg")
    done = subprocess.run([sys.executable, p1.__file__], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr == (f"error: the output folder {blocker} cannot be written; set P1_OUT to a folder you can "
                           "write\n")


def test_runs_where_os_times_has_no_elapsed_time(tiny, tmp_path, capfd, monkeypatch):
    """Windows: os.times() leaves elapsed at 0; the run still times itself and writes all."""
    real_times = os.times

    class WindowsTimes:
        def __init__(self):
            t = real_times()
            self.user, self.system, self.elapsed = t.user, t.system, 0.0
    monkeypatch.setattr(p1.os, "times", WindowsTimes)
    before = time.time()
    assert abs(p1.wall_clock() - before) < 2   # whole seconds of the calendar clock
    assert run(tiny) == 0
    assert sorted(os.listdir(tmp_path / "out")) == sorted(p1.OUTPUTS)
    assert "wall time" in capfd.readouterr().out


def report_text(tiny, monkeypatch, **changes):
    """The report's text block of a run of main() with these hyper-parameter changes (the run must succeed); the
    PDF and PNG are not drawn (other tests draw them), which takes most of a tiny run's time."""
    runs = []
    without_drawing(monkeypatch)
    monkeypatch.setattr(p1, "write_report", lambda run, file: runs.append(run))
    assert run(tiny, **changes) == 0
    return p1._report_text(runs[0])


def test_the_report_names_the_initialisation_and_speaks_to_the_reader(tiny, monkeypatch, capfd):
    text = report_text(tiny, monkeypatch)
    assert "passes over the 300 training images" in text   # the run's own count (400 rows less 100 validation)
    assert "He et al. (2015), normal with variance 2 / fan-in" in text
    for phrase in ("preset", "time budget", "BLAS", platform.release()):   # no lab-notebook words, no kernel
        assert phrase not in text


@pytest.mark.parametrize("changes", [{}, {"max_shift": 0}, {"max_degrees": 5, "max_scale": 0.1, "elastic": 2}])
def test_every_report_line_fits_the_page(tiny, monkeypatch, changes):
    """The text block is monospaced: a line over about 120 characters runs off the page's right edge."""
    assert max(len(line) for line in report_text(tiny, monkeypatch, **changes).splitlines()) <= 118


@pytest.mark.parametrize("changes, seen, kind", [({}, "(shifted images, ", "shifted"),
                                                 ({"max_shift": 0}, "(weights still", "unchanged"),
                                                 ({"max_degrees": 5}, "(distorted images, ", "distorted"),
                                                 ({"max_shift": 0, "elastic": 2}, "(distorted images, ", "distorted")])
def test_the_curve_note_names_what_the_training_images_went_through(tiny, monkeypatch, changes, seen, kind):
    text = report_text(tiny, monkeypatch, **changes)
    assert f"just before its batch's step\n{seen}" in text
    assert f"(last epoch, {kind} images, as the curves)" in text
    assert ("random shift of each training image, pixels; 0: off in this run" in text) == (changes.get("max_shift")
                                                                                           == 0)
    rotation = "random rotation of each training image, degrees"   # explained even where it is off
    assert (rotation + "; 0: off in this run" in text) == ("max_degrees" not in changes) and rotation in text


@pytest.mark.parametrize("last_training_error", [0.0, 0.01])
def test_an_error_of_zero_is_said_to_be_missing_from_the_log_scale_curves(tiny, monkeypatch, last_training_error):
    real_stats = p1.get_training_stats

    def stats(*args):   # the curves as get_training_stats returns them, the last training error set
        losses, errors, val_losses, val_errors = real_stats(*args)
        return losses, [0.1] * (len(errors) - 1) + [last_training_error], val_losses, [0.1] * len(val_errors)
    monkeypatch.setattr(p1, "get_training_stats", stats)
    missing = "An error of exactly 0 has no place on a log scale: the epochs that reached it are not drawn."
    assert (missing in report_text(tiny, monkeypatch)) == (last_training_error == 0)


def test_a_setting_added_to_the_block_is_reported_and_the_momentum_note_follows_its_value(tiny, monkeypatch):
    text = report_text(tiny, monkeypatch, momentum=0.8, dropout=0.0)   # a key the report has no note for
    assert "a steady slope moves 1 / (1 - 0.8) = 5x as far" in text and "  dropout " in text


def test_the_report_speaks_only_of_what_the_run_did(tiny, monkeypatch):
    """The hyper-parameter block is meant to be edited: its notes follow the values, not the default preset."""
    plain = report_text(tiny, monkeypatch, momentum=0.0, warmup=0.0, max_shift=0,
                        activations=[p1.Sigmoid() for _ in TINY["hiddens"]])
    assert "HYPER-PARAMETERS (SGD on the batch-mean loss)" in plain
    assert "keeps 0 of each step (Polyak, 1964); 0: off in this run" in plain and "x as far" not in plain
    assert "after each hidden layer\n" in plain and "ReLU passes" not in plain
    assert "any augmentation" in plain and "after the warm-up" not in plain
    default = report_text(tiny, monkeypatch)
    assert "(momentum SGD on the batch-mean loss; training images randomly shifted)" in default
    assert "Simard" not in default.split("\n\n")[1].splitlines()[0]   # whole-pixel shifts are not Simard's
    assert "ReLU passes gradient 1" in default
    distorted = report_text(tiny, monkeypatch, max_degrees=5)
    assert "; training images distorted as in Simard et al., 2003)" in distorted


@pytest.mark.parametrize("activations", [[p1.ReLU, p1.ReLU], ["relu", "relu"], "one object twice", p1.ReLU()])
def test_activations_that_are_not_new_objects_are_one_line_before_any_work(tiny, capfd, activations):
    if activations == "one object twice":
        shared = p1.ReLU()
        activations = [shared, shared]
    assert run(tiny, activations=activations, hiddens=[16, 16]) == 2
    assert one_error_line(capfd) == ("error: 2 hidden layers need a list of 2 activation objects, e.g. [ReLU(), "
                                     "ReLU()]: a new one for each hidden layer (it keeps that layer's state for "
                                     "backward()); Identity() may follow for the output layer")


def test_activations_that_do_not_match_the_hidden_layers_are_one_line_before_any_work(tiny, capfd):
    assert run(tiny, activations=[p1.ReLU()], hiddens=[16, 16, 16]) == 2
    assert one_error_line(capfd).startswith("error: 3 hidden layers need a list of 3 activation objects, e.g. "
                                            "[ReLU(), ReLU(), ReLU()]: a new one for each hidden layer")


def test_an_enormous_but_finite_loss_is_divergence_too(tiny, tmp_path, capfd):
    out_dir = old_outputs(tmp_path / "out")
    assert run(tiny, lr=1e3, warmup=0.0) == 1   # chance-level weights a long way out: no NaN needed to stop
    assert "diverged after" in one_error_line(capfd)
    assert_untouched(out_dir)


def test_the_curves_of_a_one_epoch_run_mark_whole_epochs():
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    fig = Figure()
    axes = fig.subplots(1, 2)
    p1._draw_curves(axes, ([0.5], [0.1], [0.4], [0.08]))
    FigureCanvasAgg(fig).draw()
    low, high = axes[0].get_xlim()
    assert [t.get_text() for t in axes[0].get_xticklabels() if low <= t.get_position()[0] <= high] == ["1"]


@pytest.mark.parametrize("wrong", [0, 3, 20])
def test_the_report_shows_the_first_misclassified_test_digits_with_their_labels(tiny, monkeypatch, tmp_path, wrong):
    """Up to 8 misclassified test images, in the test file's order, each titled with its true and predicted digit."""
    results, real_write_report = [], p1.write_report
    without_drawing(monkeypatch)   # the curves' PNG is not read here; the report is drawn below, from its inputs
    monkeypatch.setattr(p1, "write_report", lambda run, file: results.append(run))
    assert run(tiny, num_epochs=1) == 0
    labels = results[0]["test_labels"]
    predicted = labels.copy()
    predicted[:wrong] = (labels[:wrong] + 1) % 10   # the first `wrong` test images misread as the next digit
    pages = []
    monkeypatch.setattr(p1.Figure, "savefig", lambda page, *args, **kwargs: pages.append(page))
    real_write_report(dict(results[0], predicted=predicted), str(tmp_path / "report.pdf"))
    digits = [ax for ax in pages[0].axes if ax.get_images() and ax.get_images()[0].get_array().shape == (28, 28)]
    assert [ax.get_title() for ax in digits] == [f"a {t} read as {(t + 1) % 10}" for t in labels[:min(wrong, 8)]]
    for ax, image in zip(digits, results[0]["test_imgs"]):
        assert np.array_equal(ax.get_images()[0].get_array(), image.reshape(28, 28))
    confusion_title = next(ax.get_title() for ax in pages[0].axes if ax.get_xlabel() == "predicted digit")
    assert confusion_title.endswith(f"{wrong} errors of {len(labels)}" + f"; the first {min(wrong, 8)} beside it"
                                    * (wrong > 0))


def test_a_path_the_console_cannot_show_is_printed_with_its_letters_replaced(capfd, monkeypatch):
    """A console in cp1252 (Windows, output redirected) and a folder named in Chinese: print() ended a finished run
    in an error after writing the outputs."""
    import builtins

    def cp1252_print(*args, **kwargs):   # print() to such a console: UnicodeEncodeError for the Chinese letters
        " ".join(map(str, args)).encode("cp1252")
        builtins.print(*args, **kwargs)
    monkeypatch.setattr(p1, "print", cp1252_print, raising=False)
    monkeypatch.setattr(p1.os, "device_encoding", lambda fd: "cp1252")
    p1.say("wrote p1_model.npz to C:\\Users\\张三\\hw1")
    p1.say("wrote p1_model.npz to C:\\Users\\jdoe\\hw1")
    assert capfd.readouterr().out == ("wrote p1_model.npz to C:\\Users\\??\\hw1\n"
                                      "wrote p1_model.npz to C:\\Users\\jdoe\\hw1\n")

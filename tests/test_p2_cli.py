"""p2.py end to end on tiny generated CIFAR-10 files: --help, a short training run, --eval, clear errors."""
import io
import time
import os
import platform
import pickle
import signal
import subprocess
import sys
import types

import pytest
import torch

import progress
from fakes import p2_command, write_cifar_batches
from train import TrainingDiverged
from torch_support import CPU_SCALER

P2 = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "andrewID-HW1", "p2", "p2.py")
RECORDS = 16  # per batch file, standing for the official 10,000


def run_p2(*args, cwd=None):
    return subprocess.run([*p2_command(P2, RECORDS), *args], capture_output=True, text=True, cwd=cwd, timeout=300,
                          env={**os.environ, "MPLBACKEND": "Agg"})


def test_a_path_the_console_cannot_show_is_printed_with_its_letters_replaced(tmp_path):
    """A console in cp1252 (Windows, output redirected) and a folder named in Chinese: printing it was an error."""
    folder = tmp_path / "张三"
    write_cifar_batches(str(folder / "cifar-10-batches-bin"), "bin", RECORDS)
    result = subprocess.run([*p2_command(P2, RECORDS), "--download-only", "--data-dir", str(folder)],
                            capture_output=True, timeout=300, env={**os.environ, "PYTHONIOENCODING": "cp1252"})
    assert result.returncode == 0, result.stderr.decode("cp1252")
    assert f"CIFAR-10 is in {tmp_path}{os.sep}??{os.sep}cifar-10-batches-bin" in result.stdout.decode("cp1252")


def test_help():
    result = run_p2("--help")
    assert result.returncode == 0 and "--preset" in result.stdout and "--eval" in result.stdout


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One tiny training run of the default recipe on a small network (64 images, 1 epoch), shared by the tests below;
    its SGD learning rates scaled from the preset's batch of 2000 to 32."""
    root = tmp_path_factory.mktemp("p2")
    data_dir = str(root / "cifar-10-batches-bin")
    write_cifar_batches(data_dir, "bin", RECORDS)
    out = root / "out"
    result = run_p2("--epochs", "1", "--batch-size", "32", "--set", "widths=16,32,32", "--set", "logit_scale=1/32",
                    "--set", "lr=21.44", "--set", "bias_lr=1.7", "--data-dir", str(root), "--out", str(out),
                    "--device", "cpu")
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
    result = run_p2("--eval", str(bad), "--data-dir", data_dir, "--device", "cpu")
    assert result.returncode == 2 and result.stderr.startswith("error: ") and "Traceback" not in result.stderr
    os.makedirs(tmp_path / "partial" / "cifar-10-batches-bin")
    (tmp_path / "partial" / "cifar-10-batches-bin" / "data_batch_1.bin").write_bytes(b"\0" * 3073)
    result = run_p2("--data-dir", str(tmp_path / "partial"), "--out", str(tmp_path / "o"), "--device", "cpu")
    assert result.returncode == 2 and "data_batch_2.bin" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "o" / "p2_model.pkl").exists()


def test_console_wording(trained):
    _, _, result = trained
    out = result.stdout
    assert "for 1 epoch (" in out                                  # singular
    assert max(len(line) for line in out.splitlines()) < 130       # the config is a table, not one long line
    assert any(line.split()[:2] == ["logit_scale", "0.03125"] for line in out.splitlines())
    epoch = next(line for line in out.splitlines() if line.startswith("epoch  1"))
    assert "train acc" in epoch and epoch.count("%") == 1          # no validation images held out: no test curve
    assert "test accuracy without test-time augmentation: " in out


# ----- refused before any work: in-process, with data loading booby-trapped -----

@pytest.fixture
def p2_main(monkeypatch):
    """p2.main with data loading that fails the test if it is ever reached."""
    import p2

    def no_data(*args, **kwargs):
        raise AssertionError("data loaded although the settings were refused")
    monkeypatch.setattr(p2, "load_cifar10", no_data)
    return p2


def old_outputs(folder):
    os.makedirs(folder, exist_ok=True)
    for name in ("p2_model.pkl", "p2_report.pdf", "p2_training.png"):
        (folder / name).write_bytes(b"old " + name.encode())
    return {name: (folder / name).read_bytes() for name in os.listdir(folder)}


def contents(folder):
    return {name: (folder / name).read_bytes() for name in os.listdir(folder)}


DEFAULT = "fast" if torch.cuda.is_available() else "cpu"   # the preset p2.py trains without --preset here
BAD_OPTIONS = [
    (["--epochs", "0"], "--epochs 0: must be a positive finite number"),
    (["--epochs", "-1"], "--epochs -1: must be a positive finite number"),
    (["--epochs", "inf"], "--epochs inf: must be a positive finite number"),
    (["--epochs", "nan"], "--epochs nan: must be a positive finite number"),
    (["--batch-size", "0"], "--batch-size 0: must be between 1 and 50,000"),
    (["--batch-size", "-5"], "--batch-size -5: must be between 1 and 50,000"),
    (["--batch-size", "50001"], "--batch-size 50001: must be between 1 and 50,000"),
    (["--seed", "-1"], "--seed -1: must be a whole number from 0 to"),
    (["--seed", str(2 ** 40)], "must be a whole number from 0 to"),
    (["--device", "gpu0"], "--device 'gpu0': not a device name"),
    (["--device", "meta"], "--device meta: p2 runs on cpu, cuda or mps (a Mac's GPU)"),
    (["--set", "epochs"], "--set 'epochs': expected FIELD=VALUE"),
    (["--set", "widthz=8,8,8"], "--set widthz=8,8,8: no config field 'widthz'; the fields are: widths,"),
    (["--set", "residual=maybe"], "--set residual=maybe: residual takes true or false"),
    (["--set", "widths=8,0,8"], "--set widths=8,0,8: widths takes positive whole numbers separated by commas"),
    (["--set", "lr=1/0"], "--set lr=1/0: lr takes a number"),
    (["--set", "batch_size=1.5"], "--set batch_size=1.5: batch_size takes a whole number"),
    (["--set", "tta=all"], "--set tta=all: tta is one of: none, flip, flip_translate"),
    (["--set", "optimizer=adam"], "--set optimizer=adam: optimizer is one of: sgd, muon"),
    (["--set", "epochs=-3"], "--set epochs=-3: epochs must be more than 0"),
    (["--set", "cutout=-1"], "--set cutout=-1: cutout must be 0 or more"),
    (["--set", "momentum=1"], "--set momentum=1: momentum must be less than 1"),
    (["--set", "warmup_frac=1.5"], "--set warmup_frac=1.5: warmup_frac must be 1 or less"),
    (["--set", "tta_fraction=0"], "--set tta_fraction=0: tta_fraction must be more than 0"),
    (["--set", "tta_fraction=1.2"], "--set tta_fraction=1.2: tta_fraction must be 1 or less"),
    # Values that pass their type but could not run: found before any work, not as a traceback after it.
    (["--set", "translate=32"], "--set translate=32: translate must be 31 or less"),
    (["--set", "cutout=32"], "--set cutout=32: cutout must be 31 or less"),   # a square that blanks the whole image
    (["--set", "whiten_patch=33"], "--set whiten_patch=33: whiten_patch must be 8 or less"),
    (["--set", "lr=1e308"], "--set lr=1e308: lr must be at most 3.403e+38 (the largest float32)"),
    (["--set", "widths=8,30000,8"], "--set widths=8,30000,8: widths allows at most 4,096 channels a layer"),
    (["--set", "batch_size=100000"], "--set batch_size=100000: batch_size must be 50,000 or less"),
    (["--set", "epochs=1e300"], "--set epochs=1e300: epochs must be 1,000 or less"),
    (["--epochs", "1e12"], f"preset {DEFAULT} with these settings: epochs must be 1,000 or less"),
    (["--validation", "30000"], "--validation 30000: must be from 0 to 25,000 training images"),
    (["--no-epoch-eval"], "--no-epoch-eval skips the per-epoch accuracy of the images --validation holds out; "
                          "without --validation there is none to skip"),
    (["--validation", "5000", "--batch-size", "48000"],
     "batch size 48,000 is larger than the 45,000 training images --validation 5,000 leaves"),
    (["--eval", "p2_model.pkl", "--set", "tta=none", "--epochs", "3"],
     "--eval re-measures a saved model with the settings stored in it: --set, --epochs, --out would not apply"),
    (["--download-only", "--seed", "3"], "--download-only only finds or downloads the data: --seed, --out would not"),
    (["--preset", "fast", "--set", "widths=8,8,8,8,8,8"],
     "preset fast with these settings: 6 conv groups (widths) with whiten_patch 2 pool the 31x31 maps below 1 pixel"),
    (["--set", "epoch_sizes=16,40"], "--set epoch_sizes=16,40: epoch_sizes allows at most 32 (the images' size) "
                                     "pixels"),
    (["--preset", "fast", "--set", "epoch_sizes=4,32"],
     "preset fast with these settings: 3 conv groups (widths) with whiten_patch 2 pool the 3x3 maps of 4x4 images "
     "(epoch_sizes) below 1 pixel"),
    (["--batch-size", "1", "--set", "epoch_sizes=16"],   # batch norm of a single value a channel: a traceback
     f"preset {DEFAULT} with these settings: batch_size 1 with a 1x1 last map: batch norm needs at least two values"),
    (["--data-note", "JPEG copy\nweek 2"], "--data-note: one line, without line breaks or tabs"),
    (["--data-note", "x" * 101], "--data-note: at most 100 characters (the report's subtitle is one line), not 101"),
]
if not torch.cuda.is_available():
    BAD_OPTIONS.append((["--device", "cuda"], "--device cuda: CUDA is not available on this machine"))
else:
    BAD_OPTIONS.append((["--device", "cuda:99"], "--device cuda:99: this machine has"))


@pytest.mark.parametrize("options, message", BAD_OPTIONS)
def test_nonsense_settings_are_refused_before_any_work(p2_main, tmp_path, capsys, options, message):
    out = tmp_path / "out"
    before = old_outputs(out)
    assert p2_main.main([*options, "--out", str(out), "--data-dir", str(tmp_path / "none")]) == 2
    captured = capsys.readouterr()
    assert captured.err == f"error: {captured.err[7:]}" and captured.err.count("\n") == 1
    assert message in captured.err and captured.out == ""
    assert contents(out) == before


def test_float16_on_a_cpu_with_a_torch_without_cpu_loss_scaling_is_refused_before_any_work(p2_main, tmp_path,
                                                                                            capsys, monkeypatch):
    monkeypatch.delattr(torch.amp, "GradScaler", raising=False)   # as in torch 2.2, the last for Intel Macs
    out = tmp_path / "out"
    assert p2_main.main(["--precision", "fp16", "--device", "cpu", "--out", str(out)]) == 2
    assert capsys.readouterr().err == ("error: --precision fp16 on the CPU needs torch 2.3 or newer for its loss "
                                       f"scaling; this is torch {torch.__version__}: use fp32\n")
    assert not out.exists()


def test_compile_where_this_torch_cannot_is_refused_before_any_work(p2_main, monkeypatch):
    import options
    monkeypatch.setattr(options, "compile_supported", lambda: False)   # torch 2.2 on Python 3.12
    problems = p2_main.check_options(p2_main.parse_args(["--compile", "--device", "cpu"]))
    assert problems == [f"--compile: torch {torch.__version__} cannot compile on Python {platform.python_version()}; "
                        "leave --compile out (it only saves time)"]
    monkeypatch.undo()
    assert options.compile_supported() in (True, False)


def test_a_data_note_with_a_no_break_space_is_one_line(p2_main):
    assert not [p for p in p2_main.check_options(p2_main.parse_args(["--data-note", "JPEG\u00a0q75 copy"]))
                if "data-note" in p]


@pytest.mark.parametrize("option", ["--eval", "--out", "--data-dir"])
def test_an_empty_path_is_refused_not_read_as_no_path(p2_main, capsys, option):
    """--eval "$MODEL" with the variable unset would otherwise train, and write next to p2.py."""
    with pytest.raises(SystemExit) as exited:
        p2_main.main([option, ""])
    assert exited.value.code == 2
    assert capsys.readouterr().err.startswith(f"error: argument {option}: an empty path; give a file or folder")


def compile_failure(module, message, inner=None):
    """An exception as torch.compile's wrappers raise it: InductorError (torch 2.14), BackendCompilerFailed (2.2)."""
    failure = type("Wrapper", (RuntimeError,), {"__module__": module})(message)
    failure.inner_exception = inner
    return failure


def test_a_compile_failure_is_one_line():
    """torch.compile on a CPU needs a C++ compiler (Windows without MSVC, a Mac without Xcode's tools lack one)."""
    from failures import error_message
    no_compiler = type("InvalidCxxCompiler", (RuntimeError,), {})("No working C++ compiler found in "
                                                                  "torch._inductor.config.cpp.cxx\n\nmore")
    expected = ("--compile failed (InvalidCxxCompiler: No working C++ compiler found in torch._inductor.config.cpp.cxx);"
                " run without --compile, which only saves time")
    assert error_message(compile_failure("torch._inductor.exc", f"InvalidCxxCompiler: {no_compiler}",
                                         no_compiler)) == expected
    assert error_message(compile_failure("torch._dynamo.exc", "backend='inductor' raised:\nInvalidCxxCompiler",
                                         no_compiler)) == expected   # its first line says nothing
    assert error_message(compile_failure("torch._dynamo.exc", "first line\nsecond")) == (
        "--compile failed (first line); run without --compile, which only saves time")
    out_of_memory = compile_failure("torch._inductor.exc", "OutOfMemoryError: CUDA out of memory",
                                    torch.cuda.OutOfMemoryError("CUDA out of memory"))
    assert error_message(out_of_memory).startswith("out of GPU memory")   # not "run without --compile"


def test_an_unknown_preset_lists_the_presets_by_their_names(p2_main, capsys):
    with pytest.raises(SystemExit) as exited:
        p2_main.main(["--preset", "fsat"])
    assert exited.value.code == 2
    err = capsys.readouterr().err   # Python's own words, which vary a little between its versions
    assert err.startswith("error: argument --preset: invalid choice: 'fsat'") and err.count("\n") == 1
    assert all(name in err for name in ("fast", "cpu", "best")) and "gpu-" not in err
    assert p2_main.parse_args(["--preset", "gpu-fast"]).preset == "fast"   # an earlier name still works


def test_every_problem_gets_its_own_line(p2_main, tmp_path, capsys):
    new = tmp_path / "new"
    assert p2_main.main(["--epochs", "0", "--batch-size", "0", "--out", str(new)]) == 2
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 2 and all(line.startswith("error: --") for line in lines)
    assert not new.exists()


def test_unparsable_option_is_one_line(p2_main, capsys):
    with pytest.raises(SystemExit) as e:
        p2_main.main(["--epochs", "ten"])
    err = capsys.readouterr().err
    assert e.value.code == 2 and err.count("\n") == 1 and "--epochs" in err and "--help" in err


def test_unknown_compile_mode_is_one_line(p2_main, capsys):
    with pytest.raises(SystemExit) as e:
        p2_main.main(["--compile=fastest"])
    err = capsys.readouterr().err
    assert e.value.code == 2 and err.count("\n") == 1 and "--compile" in err and "max-autotune" in err


def test_compile_mode_per_device(monkeypatch):
    import p2
    seen = []
    monkeypatch.setattr(p2.torch, "compile", lambda model, **options: seen.append(options) or model)
    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    for device, mode in [(cpu, "auto"), (cuda, "auto"), (cuda, "default"), (cuda, "max-autotune")]:
        assert p2.compile_model("net", device, mode) == "net"
    assert [o["mode"] for o in seen] == [None, "reduce-overhead", None, "max-autotune"]
    assert all(o["dynamic"] is False for o in seen)   # fixed shapes: one graph each for training and evaluation
    assert p2.parse_args(["--compile"]).compile == "auto" and p2.parse_args([]).compile is None


def test_output_folder_that_is_a_file_is_refused_at_once(p2_main, tmp_path, capsys):
    blocker = tmp_path / "results"
    blocker.write_text("keep me")
    for out, message in ((blocker, "is a file, not a folder"), (blocker / "sub", "cannot write there")):
        assert p2_main.main(["--out", str(out), "--device", "cpu"]) == 2
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1
    assert blocker.read_text() == "keep me" and os.listdir(tmp_path) == ["results"]


def test_an_output_name_taken_by_a_folder_is_refused_at_once(p2_main, tmp_path, capsys):
    (tmp_path / "results" / "p2_report.pdf").mkdir(parents=True)
    assert p2_main.main(["--out", str(tmp_path / "results"), "--device", "cpu"]) == 2
    assert capsys.readouterr().err == (f"error: --out {tmp_path / 'results'}: p2_report.pdf there is a folder; move "
                                       "it away or choose another output folder\n")
    assert os.listdir(tmp_path / "results") == ["p2_report.pdf"]


def test_an_output_folder_refusing_files_is_refused_at_once_even_for_root(p2_main, tmp_path, capsys, monkeypatch):
    import errno

    import outputs

    def refused(*args, **kwargs):   # what a read-only folder gives anyone but root
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES))
    monkeypatch.setattr(outputs.tempfile, "mkstemp", refused)
    assert p2_main.main(["--out", str(tmp_path / "new"), "--device", "cpu"]) == 2
    assert capsys.readouterr().err == (f"error: --out {tmp_path / 'new'}: cannot write there "
                                       f"({os.strerror(errno.EACCES)}); choose a folder you can write to\n")
    assert os.listdir(tmp_path) == []


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root may write into read-only folders")
def test_read_only_output_folder_is_refused_at_once(p2_main, tmp_path, capsys):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        assert p2_main.main(["--out", str(locked), "--device", "cpu"]) == 2
    finally:
        locked.chmod(0o755)
    assert "cannot write there" in capsys.readouterr().err and os.listdir(locked) == []


def test_failed_run_removes_only_the_folders_it_created(monkeypatch, tmp_path, capsys):
    import p2
    from data import DataError

    def missing(*args, **kwargs):
        raise DataError("CIFAR-10 not found")
    monkeypatch.setattr(p2, "find_data", missing)
    existing = tmp_path / "existing"
    existing.mkdir()
    assert p2.main(["--out", str(existing / "new" / "deeper"), "--device", "cpu"]) == 2
    assert capsys.readouterr().err == "error: CIFAR-10 not found\n"
    assert os.listdir(tmp_path) == ["existing"] and os.listdir(existing) == []


# ----- the outputs are replaced as a set, or not at all -----

def pages_built_not_rendered(monkeypatch):
    """report.write_report as it is, except that each figure it builds (every PDF page, the curves of the PNG) is
    saved as a blank figure of the same size: the figures are still built from the run's summary, and the PDF (with
    as many pages) and the PNG are still written at the paths p2 stages, but nothing is rendered, which took about a
    second of each tiny run. No test of tiny_run reads the report's content; the `trained` run above renders a real
    one end to end, and test_p2_report renders and reads the report itself."""
    import report
    from matplotlib.figure import Figure

    def blank(figure):
        return Figure(figsize=figure.get_size_inches())

    class BlankPages(report.PdfPages):
        def savefig(self, figure=None, **kwargs):
            super().savefig(blank(figure), **kwargs)
    training_figure = report.training_figure

    def plot_training(history, png_path, **inputs):
        blank(training_figure(history, **inputs)).savefig(png_path, format="png", dpi=10)
    monkeypatch.setattr(report, "PdfPages", BlankPages)
    monkeypatch.setattr(report, "plot_training", plot_training)


@pytest.fixture
def tiny_run(monkeypatch, tmp_path):
    """p2 on tiny generated data with a tiny network; returns (p2 module, argv, out folder with old files). The
    report's figures are built but not rendered (pages_built_not_rendered)."""
    import options
    import p2
    from config import Config
    monkeypatch.setattr(options, "get_preset", lambda name: Config(widths=(8, 16, 16), epochs=1, batch_size=16,
                                                                   channels_last=False, tta="none"))
    import data
    monkeypatch.setattr(data, "RECORDS_PER_FILE", 8)
    write_cifar_batches(str(tmp_path / "data" / "cifar-10-batches-bin"), "bin", 8)
    pages_built_not_rendered(monkeypatch)
    out = tmp_path / "out"
    return p2, ["--data-dir", str(tmp_path / "data"), "--out", str(out), "--device", "cpu"], out


def test_set_overrides_any_field_and_is_stored_in_the_model(tiny_run, capsys):
    p2, argv, out = tiny_run
    assert p2.main([*argv, "--set", "widths=8,8,12", "--set", "residual=yes", "--set", "logit-scale=1/4",
                    "--epochs", "2"]) == 0
    config = torch.load(out / "p2_model.pkl", weights_only=True)["config"]
    assert (config["widths"], config["residual"], config["logit_scale"], config["epochs"]) == ((8, 8, 12), True,
                                                                                               0.25, 2.0)
    assert "residual" in capsys.readouterr().out   # the printed config


@pytest.mark.parametrize("data_note", ["", "JPEG quality-75 copy"])
def test_eval_says_why_its_figure_may_differ_from_the_stored_one(tiny_run, capsys, monkeypatch, data_note):
    """A student who re-measures the committed model on the official files should learn that its stored figure
    was measured on other data, not only that devices round differently."""
    p2, argv, out = tiny_run
    assert p2.main(argv) == 0
    path = out / "p2_model.pkl"
    ckpt = torch.load(path, weights_only=True)
    torch.save(dict(ckpt, test_accuracy=ckpt["test_accuracy"] + 0.25, data_note=data_note), path)
    capsys.readouterr()
    real_evaluate = p2.evaluate
    monkeypatch.setattr(p2, "evaluate", lambda *a, **k: (print("EVALUATING"), real_evaluate(*a, **k))[1])
    assert p2.main(["--eval", str(path), *argv[:2], "--device", "cpu"]) == 0
    lines = capsys.readouterr().out.splitlines()
    said = [line for line in lines if "apart from the stored figure" in line]
    assert len(said) == 1 and said[0].endswith(f'described as "{data_note}"' if data_note else "rounds differently")
    assert f"apart from the stored figure ({100 * (ckpt['test_accuracy'] + 0.25):.2f}%)" in said[0]
    # which model is being measured is said before the wait, not after it
    named = [i for i, line in enumerate(lines) if line.startswith(f"{path}: preset ")]
    assert len(named) == 1 and named[0] < lines.index("EVALUATING") and lines[-1].startswith("test accuracy: ")


OUT_OF_MEMORY = "error: out of memory (a CPU training run of the cpu recipe takes up to about 4 GB, fast and best more)"


@pytest.mark.parametrize("error, status, said", [
    (KeyboardInterrupt(), 130, "interrupted (Ctrl-C)"),
    (MemoryError(), 2, OUT_OF_MEMORY),
    (RuntimeError("[enforce fail at alloc_cpu.cpp:127] err == 0. DefaultCPUAllocator: can't allocate memory: you "
                  "tried to allocate 262144000 bytes. Error code 12 (Cannot allocate memory)"), 2, OUT_OF_MEMORY),
])
def test_a_run_stopped_in_training_is_one_line_and_keeps_the_old_set(tiny_run, ctrl_c, monkeypatch, capsys, error,
                                                                     status, said):
    p2, argv, out = tiny_run
    before = old_outputs(out)

    def stopped(*args, **kwargs):
        raise error
    monkeypatch.setattr(p2, "train", stopped)
    assert p2.main(argv) == status
    err = capsys.readouterr().err
    assert err.startswith(said) and err.count("\n") == 1
    assert contents(out) == before


def test_a_diverged_run_is_one_line_and_keeps_the_old_set(tiny_run, monkeypatch, capsys):
    p2, argv, out = tiny_run
    before = old_outputs(out)
    build = p2.build_model

    def nan_head(cfg):
        model = build(cfg)
        model.head.weight.data.fill_(float("nan"))
        return model
    monkeypatch.setattr(p2, "build_model", nan_head)
    assert p2.main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: the training loss became nan in epoch 1 at peak learning rate")
    assert err.count("\n") == 1 and "--set lr=" in err and "are as they were" in err
    assert contents(out) == before


def press_ctrl_c_inside_a_library():
    """What some library code does to a Ctrl-C: the KeyboardInterrupt is raised inside it, caught and dropped."""
    import interrupt
    try:
        interrupt._on_signal(signal.SIGINT, None)
    except KeyboardInterrupt:
        pass


@pytest.fixture
def ctrl_c(monkeypatch):
    import interrupt
    monkeypatch.setattr(interrupt, "_received", None)   # restored after the test: no press leaks into the next
    monkeypatch.setattr(interrupt, "_previous", {})     # nor a handler a test routed away from and left behind
    monkeypatch.setattr(interrupt, "_installed", [])
    handler = signal.getsignal(signal.SIGINT)
    yield
    signal.signal(signal.SIGINT, handler)   # p2 ignores further presses once it is ending


def test_a_notebook_gets_its_own_ctrl_c_handler_back_and_the_next_run_starts_afresh(ctrl_c, monkeypatch):
    # `%run p2.py` twice in one notebook kernel: the module stays imported, the kernel keeps running
    import interrupt
    monkeypatch.setitem(sys.modules, "IPython", types.ModuleType("IPython"))

    def kernels_handler(signum, frame):
        pass
    signal.signal(signal.SIGINT, kernels_handler)
    sigterm = signal.getsignal(signal.SIGTERM)
    with interrupt.installed():           # a first run, interrupted
        assert signal.getsignal(signal.SIGINT) == interrupt._on_signal
        with pytest.raises(KeyboardInterrupt):
            interrupt._on_signal(signal.SIGINT, None)
        assert interrupt.ending()[0] == "Ctrl-C"   # which ignores further presses while it ends
    assert signal.getsignal(signal.SIGINT) == kernels_handler
    with interrupt.installed():           # the next run: the earlier press is not this run's
        assert not interrupt.received()
        interrupt.check()
    assert signal.getsignal(signal.SIGINT) == kernels_handler and signal.getsignal(signal.SIGTERM) == sigterm
    assert interrupt.ending()[1] == 130 and signal.getsignal(signal.SIGTERM) == sigterm   # nothing left to ignore


def test_a_ctrl_c_while_p2_starts_in_a_notebook_gives_the_kernel_its_handler_back(ctrl_c, monkeypatch, capsys):
    import interrupt
    monkeypatch.setitem(sys.modules, "IPython", types.ModuleType("IPython"))

    def kernels_handler(signum, frame):
        pass
    signal.signal(signal.SIGINT, kernels_handler)
    interrupt.while_starting(True)
    with pytest.raises(SystemExit) as e:
        signal.getsignal(signal.SIGINT)(signal.SIGINT, None)
    assert e.value.code == 130 and signal.getsignal(signal.SIGINT) == kernels_handler
    assert capsys.readouterr().err == "interrupted (Ctrl-C) while starting; nothing was written\n"


def test_a_ctrl_c_while_p2_starts_ends_the_process_at_once(ctrl_c, monkeypatch, capsys):
    """An exception raised in the handler could be caught by the import it interrupted (torch loading numpy), and
    the program went on after saying it had stopped: the process ends without unwinding."""
    import interrupt
    monkeypatch.delitem(sys.modules, "IPython", raising=False)
    ended = []
    monkeypatch.setattr(interrupt.os, "_exit", ended.append)
    interrupt.while_starting(True)
    signal.getsignal(signal.SIGINT)(signal.SIGINT, None)
    assert ended == [130] and capsys.readouterr().err == "interrupted (Ctrl-C) while starting; nothing was written\n"


def test_a_process_that_ends_with_the_run_keeps_ignoring_ctrl_c_while_it_exits(ctrl_c, monkeypatch):
    import interrupt
    monkeypatch.delitem(sys.modules, "IPython", raising=False)   # python p2.py, not a notebook's %run
    sigterm = signal.getsignal(signal.SIGTERM)
    try:
        with interrupt.installed():
            interrupt.ending()
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN   # a second press adds no traceback to the exit
    finally:
        interrupt.restore()   # this test's process goes on
    assert signal.getsignal(signal.SIGTERM) == sigterm


def test_ctrl_c_swallowed_by_a_library_still_ends_training(tiny_run, ctrl_c, monkeypatch, capsys):
    p2, argv, out = tiny_run
    before = old_outputs(out)
    real_train, steps = p2.train, []

    def train_with_a_lost_press(model, cfg, *args, **kwargs):
        press_ctrl_c_inside_a_library()
        model.register_forward_hook(lambda *_: steps.append(1))
        return real_train(model, cfg, *args, **kwargs)
    monkeypatch.setattr(p2, "train", train_with_a_lost_press)
    assert p2.main(argv) == 130
    assert steps == []                                   # not a single step after the press
    err = capsys.readouterr().err
    assert err.startswith("interrupted (Ctrl-C)") and err.count("\n") == 1
    assert contents(out) == before


@pytest.mark.parametrize("then", ["nothing", "another error"])
def test_ctrl_c_swallowed_while_writing_the_report_keeps_the_old_set(tiny_run, ctrl_c, monkeypatch, capsys, then):
    p2, argv, out = tiny_run
    before = old_outputs(out)
    real_write_report = p2.write_report

    def write_report(*args, **kwargs):
        real_write_report(*args, **kwargs)
        press_ctrl_c_inside_a_library()
        if then == "another error":
            raise TypeError("incompatible function arguments")   # a Ctrl-C turned into another error
    monkeypatch.setattr(p2, "train", lambda *args, **kwargs: ([], 0.0))
    monkeypatch.setattr(p2, "write_report", write_report)
    assert p2.main(argv) == 130
    err = capsys.readouterr().err
    assert err.startswith("interrupted (Ctrl-C)") and err.count("\n") == 1
    assert contents(out) == before


def test_ctrl_c_while_the_outputs_are_renamed_lets_all_three_be_replaced(tiny_run, ctrl_c, monkeypatch, capsys):
    p2, argv, out = tiny_run
    before = old_outputs(out)
    real_replace, renamed = os.replace, []

    def replace_with_a_press_after_the_first(src, dst):
        real_replace(src, dst)
        if os.path.basename(dst) not in before:
            return   # a temporary file of the staging, not one of the three final renames
        renamed.append(dst)
        if len(renamed) == 1:
            import interrupt
            interrupt._on_signal(signal.SIGINT, None)   # the handler as the signal calls it: it must not raise here
    monkeypatch.setattr(p2, "train", lambda *args, **kwargs: ([], 0.0))
    monkeypatch.setattr(os, "replace", replace_with_a_press_after_the_first)
    assert p2.main(argv) == 0
    assert len(renamed) == 3 and all(contents(out)[name] != before[name] for name in before)


def test_a_bug_without_ctrl_c_keeps_its_traceback(tiny_run, ctrl_c, monkeypatch):
    p2, argv, out = tiny_run

    def bug(*args, **kwargs):
        raise TypeError("a bug")
    monkeypatch.setattr(p2, "train", bug)
    with pytest.raises(TypeError, match="a bug"):
        p2.main(argv)


def test_out_of_gpu_memory_is_one_line_naming_a_recipe_that_needs_less(tiny_run, monkeypatch, capsys):
    p2, argv, out = tiny_run
    before = old_outputs(out)

    def out_of_memory(*args, **kwargs):
        raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 1.00 GiB")
    monkeypatch.setattr(p2, "train", out_of_memory)
    assert p2.main(argv) == 2
    assert capsys.readouterr().err == ("error: out of GPU memory; --preset cpu needs less (batches of 1000, with "
                                       "learning rates set for them), and --device cpu trains in the computer's "
                                       "own memory\n")
    assert contents(out) == before


def test_failure_after_the_model_is_saved_keeps_the_old_set(tiny_run, monkeypatch, capsys):
    p2, argv, out = tiny_run
    before = old_outputs(out)

    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device", "p2_report.pdf")
    monkeypatch.setattr(p2, "train", lambda *args, **kwargs: ([], 0.0))   # untrained weights will do
    monkeypatch.setattr(p2, "write_report", disk_full)
    assert p2.main(argv) == 2
    assert capsys.readouterr().err == "error: p2_report.pdf: No space left on device\n"
    assert contents(out) == before                       # the new model was staged, never moved into place


@pytest.mark.parametrize("locked", ["p2_model.pkl", "p2_report.pdf", "p2_training.png"])
def test_an_output_another_program_holds_open_replaces_nothing_and_keeps_the_new_files(tiny_run, monkeypatch, capsys,
                                                                                        locked):
    # Windows will not move a file another program has open (a PDF in a viewer): os.replace fails on it
    p2, argv, out = tiny_run
    before = old_outputs(out)
    real_replace = os.replace

    def replace(src, dst):
        if os.path.basename(src) == locked:
            raise PermissionError(13, "Permission denied", src)
        real_replace(src, dst)
    monkeypatch.setattr(p2, "train", lambda *args, **kwargs: ([], 0.0))
    monkeypatch.setattr(os, "replace", replace)
    assert p2.main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {out / locked} cannot be replaced (Permission denied), so nothing was replaced. "
                          f"The new files are kept in {out} as ") and err.count("\n") == 1
    assert err.endswith(f": close any program that has {locked} open, then rename them to p2_model.pkl, "
                        "p2_report.pdf, p2_training.png\n")
    now = contents(out)
    assert {name: now.pop(name) for name in before} == before        # the previous set, every file back in place
    assert sorted(now) == sorted(f".{n.replace('.', f'.{os.getpid()}.new.')}" for n in before)   # the new set, kept
    assert all(name in err for name in now) and torch.load(out / min(now), weights_only=True)["preset"]


@pytest.mark.skipif(os.name != "posix", reason="signals sent to another process: POSIX only")
@pytest.mark.parametrize("sent, status, says, sigint", [
    (signal.SIGINT, 130, "Ctrl-C", signal.SIG_DFL),     # as from a terminal
    (signal.SIGTERM, 143, "SIGTERM", signal.SIG_DFL),
    (signal.SIGTERM, 143, "SIGTERM", signal.SIG_IGN),   # a background job of a script: SIGINT ignored
])
def test_ctrl_c_or_kill_in_a_real_process_is_one_line_and_keeps_the_old_set(tmp_path, sent, status, says, sigint):
    out = tmp_path / "out"
    before = old_outputs(out)
    write_cifar_batches(str(tmp_path / "cifar-10-batches-bin"), "bin", 8)
    proc = subprocess.Popen([*p2_command(P2, 8), "--data-dir", str(tmp_path), "--out", str(out), "--device", "cpu",
                             "--epochs", "1000", "--batch-size", "8"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"},
                            preexec_fn=lambda: signal.signal(signal.SIGINT, sigint))
    assert proc.stdout.readline().startswith("preset ")   # started: past the imports, about to read the data
    proc.send_signal(sent)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == status and err.startswith(f"interrupted ({says})") and err.count("\n") == 1, err
    assert contents(out) == before   # no temporary file left either


@CPU_SCALER
def test_the_precision_and_its_reason_are_said_first_and_stored(tiny_run, capsys):
    p2, argv, out = tiny_run
    assert p2.main([*argv, "--precision", "fp16"]) == 0
    said = capsys.readouterr().out.splitlines()
    assert said[1] == ("precision: float16 autocast with loss scaling (asked for with --precision; torch computes "
                       "float16 on a CPU mostly in software (minutes a training step; Ctrl-C waits for it), so expect "
                       "it to run many times slower than float32)")
    assert torch.load(out / "p2_model.pkl", weights_only=True)["precision"] == "fp16"


def test_validation_holds_out_the_last_training_images_and_reports_them_each_epoch(tiny_run, capsys):
    p2, argv, out = tiny_run
    assert p2.main([*argv, "--validation", "16", "--epochs", "2"]) == 0
    said = capsys.readouterr().out
    assert "holding out the last 16 training images for validation: training on 24" in said
    assert said.count("validation acc") == 2
    stored = torch.load(out / "p2_model.pkl", weights_only=True)
    assert (stored["n_train"], stored["n_validation"]) == (24, 16)


def test_a_model_file_that_cannot_be_written_completely_is_one_line(tiny_run, monkeypatch, capsys):
    p2, argv, out = tiny_run
    before = old_outputs(out)

    def disk_full(*args, **kwargs):
        raise RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 807680 vs 807576")
    monkeypatch.setattr(torch, "save", disk_full)
    assert p2.main(argv) == 2
    err = capsys.readouterr().err
    assert err == (f"error: --out {out}: the model file could not be written (it was not written completely; is the "
                   "disk full, or a file size or quota limit reached?); p2_model.pkl, p2_report.pdf, p2_training.png "
                   "are as they were\n")
    assert contents(out) == before


# ----- --eval refuses wrong files with one line, before reading any data -----

def test_eval_of_a_pickle_says_what_the_file_is_not(p2_main, tmp_path, capsys):
    path = tmp_path / "p2_model.pkl"
    path.write_bytes(pickle.dumps({"format": "hw1-p2-cifar10/1"}))
    assert p2_main.main(["--eval", str(path), "--device", "cpu"]) == 2
    err = capsys.readouterr().err
    assert err == f"error: {path}: not a p2 model file: it holds Python objects, which are never loaded\n"


# ----- pieces -----

def test_report_command_line_has_no_machine_paths():
    import p2
    line = p2.command_line(["--data-dir", "/home/me/data/cifar10", "--out=/tmp/runs/a", "--epochs", "2"])
    assert line == "python p2.py --data-dir .../cifar10 --out=.../a --epochs 2"
    line = p2.command_line(["--data-dir", "../../elsewhere/cifar10", "--out", "runs/a"])
    assert line == "python p2.py --data-dir .../cifar10 --out runs/a"   # a path inside the working folder stays


def test_samples_are_the_first_of_each_class_then_misclassified_ones():
    import p2
    labels = torch.tensor([3, 3, 0, 1, 2, 4, 5, 6, 7, 8, 9, 0])
    preds = torch.tensor([3, 1, 0, 1, 2, 4, 5, 6, 7, 8, 0, 2])
    images = torch.arange(12, dtype=torch.uint8).view(12, 1, 1, 1).expand(12, 3, 32, 32)
    by_class, wrong = p2.pick_samples(images, labels, preds)
    assert by_class["labels"] == list(range(10)) and by_class["images"].shape == (10, 32, 32, 3)
    assert by_class["images"][:, 0, 0, 0].tolist() == [2, 3, 4, 0, 5, 6, 7, 8, 9, 10]
    assert wrong["labels"] == [0, 3, 9] and wrong["preds"] == [2, 1, 0]   # a class at a time


def test_misclassified_samples_cover_the_classes_of_a_test_set_in_class_order():
    import p2
    labels = torch.arange(10).repeat_interleave(20)   # as the test set may be stored: sorted by class
    preds = (labels + 1) % 10                         # every image wrong
    images = torch.zeros(200, 3, 32, 32, dtype=torch.uint8)
    _, wrong = p2.pick_samples(images, labels, preds)
    assert wrong["labels"] == list(range(10)) + list(range(5))
    assert wrong["title"] == "15 misclassified test images, the first of each class in turn"


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def test_progress_in_a_log_is_a_plain_line_about_every_30_seconds():
    stream, clock = io.StringIO(), FakeClock()
    bar = progress.EpochProgress(epoch=2, n_steps=12, batch_size=100, stream=stream, clock=clock)
    shown = []
    for i in bar:
        clock.now += 7.0
        if bar.due(i):
            shown.append(i)
            bar.report(i, loss=1.5, acc=0.5)
    bar.close()
    assert shown == [4, 9]                  # at 35 s and 70 s; none at the last step: the epoch line follows it
    lines = stream.getvalue().splitlines()
    assert lines[0] == "epoch 2  step 5/12  loss 1.5000  14 img/s  35 s" and "\r" not in stream.getvalue()


def test_progress_on_a_terminal_is_a_bar():
    class Terminal(io.StringIO):
        def isatty(self):
            return True
    stream = Terminal()
    bar = progress.EpochProgress(epoch=1, n_steps=20, batch_size=10, stream=stream)
    shown = []
    for i in bar:
        if bar.due(i):
            shown.append(i)
            bar.report(i, loss=1.0, acc=0.25)
    assert shown == [9, 19]
    assert "epoch 1" in stream.getvalue() and "loss=1.000" in stream.getvalue()
    assert stream.getvalue().endswith("\r")            # closed: the bar's line is cleared


def test_a_bar_moves_during_a_long_step():
    # a step of a large batch on a laptop CPU can take a minute: the bar's clock must move meanwhile
    class Terminal(io.StringIO):
        def isatty(self):
            return True
    stream = Terminal()
    bar = progress.EpochProgress(epoch=1, n_steps=2, batch_size=10, stream=stream)
    bar.ticker.stop()
    bar.ticker = progress.Ticker(bar.bar, every_s=0.05)
    before, deadline = stream.getvalue(), time.monotonic() + 10   # patient: busy test workers share the cores
    while stream.getvalue() == before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert stream.getvalue() != before   # redrawn without a step having finished
    bar.close()


def test_evaluation_progress_in_a_log_is_a_line_about_every_30_seconds():
    stream, clock = io.StringIO(), FakeClock()
    for _ in progress.Progress(5, "testing", stream=stream, clock=clock):
        clock.now += 20.0
    assert stream.getvalue().splitlines() == ["testing: 2/5 batches, 40 s", "testing: 4/5 batches, 80 s"]


def test_a_short_evaluation_says_nothing_in_a_log():
    stream = io.StringIO()
    assert list(progress.Progress(3, "testing", stream=stream)) == [0, 1, 2] and stream.getvalue() == ""


def test_the_warm_up_runs_every_training_image_size(monkeypatch, capsys):
    """A compiled net makes a graph per image size: each is compiled before the timed run, not in it."""
    import p2
    from config import Config
    trained = []
    monkeypatch.setattr(p2, "train", lambda model, cfg, *args, **kwargs: trained.append((cfg.epoch_sizes, cfg.epochs)))
    monkeypatch.setattr(p2, "predict_logits", lambda *args, **kwargs: None)
    data = {"train_images": torch.zeros(100, 3, 32, 32, dtype=torch.uint8)}
    data["test_images"] = data["train_images"]
    p2.warm_up(torch.nn.Linear(2, 2), Config(epoch_sizes=(24, 24, 32), batch_size=10), data, torch.device("cpu"),
               None, compiled=True)
    assert trained == [((24,), 0.3), ((32,), 0.3)]   # 3 steps of the 10 an epoch, at each size
    said = capsys.readouterr().out
    assert "3 training steps per image size to compile" in said
    assert said.splitlines()[1:3] == ["  24x24 images", "  32x32 images"]   # progress while each size compiles


def test_the_test_runs_on_the_network_as_saved_not_the_compiled_one(tiny_run, monkeypatch):
    """Compiled kernels round differently: the stored accuracy must be what --eval of the saved file gives."""
    p2, argv, out = tiny_run

    class Compiled(torch.nn.Module):
        def __init__(self, model):
            super().__init__()
            self._orig_mod = model

        def forward(self, x):
            assert self.training, "the test ran on the compiled network"
            return self._orig_mod(x)
    monkeypatch.setattr(p2, "compile_model", lambda model, device, mode: Compiled(model))
    assert p2.main([*argv, "--compile"]) == 0
    assert (out / "p2_model.pkl").exists()


@pytest.mark.parametrize("device, current", [(torch.device("cuda", 1), [1]), (torch.device("cuda"), [])])
def test_a_numbered_gpu_becomes_the_current_one_before_any_work(p2_main, monkeypatch, device, current):
    """CUDA events, graphs and tensors made without a device go to the current GPU; it must be the one asked for,
    or the timings measure an idle cuda:0. "cuda" without a number is cuda:0 already (set_device refuses it)."""
    calls = []
    monkeypatch.setattr(p2_main, "check_options", lambda args: [])
    monkeypatch.setattr(p2_main, "pick_device", lambda name: (device, None))
    monkeypatch.setattr(torch.cuda, "set_device",   # as torch's own: a device without an index is refused
                        lambda d: calls.append(("current", torch.cuda._utils._get_device_index(d))))
    monkeypatch.setattr(p2_main, "run_training", lambda args, d: calls.append(("train", d)))
    assert p2_main.main([]) == 0
    assert calls == [("current", index) for index in current] + [("train", device)]


@pytest.mark.parametrize("free", [2.9e9, None])
def test_short_of_memory_a_cpu_run_says_so_and_leaves_malloc_alone(tiny_run, monkeypatch, capsys, free):
    import cpu_memory
    p2, argv, out = tiny_run
    kept = []
    monkeypatch.setattr(cpu_memory, "available_bytes", lambda: free)
    monkeypatch.setattr(cpu_memory, "keep_freed_memory", lambda: kept.append(True))
    assert p2.main(argv) == 0
    said = capsys.readouterr().out.count("memory: 2.9 GB free, under the 4 GB this run may take")
    assert (said, kept) == ((1, []) if free else (0, [True]))


MPS_FAULTS = [
    NotImplementedError("The operator 'aten::some_op' is not currently implemented for the MPS device.\nmore"),
    RuntimeError("MPS backend out of memory (MPS allocated: 7.50 GB, max allowed: 9.07 GB)"),
    TypeError("Cannot convert a MPS Tensor to float64 dtype as the MPS framework doesn't support float64"),
    TrainingDiverged("the training loss is not finite"),   # the preset's recipe: how wrong gradients show
]


def on_a_macs_gpu(monkeypatch, task, mps_error, cpu_error=None):
    """p2 with a Mac's GPU whose run of `task` raises `mps_error`; the CPU's raises `cpu_error` (None: succeeds).
    Returns the devices the task ran on, in order."""
    import options
    import p2
    for module in (p2, options):   # main picks the device, and the option checks do too
        monkeypatch.setattr(module, "pick_device", lambda name=None: (torch.device("mps"), None))
    monkeypatch.setattr(torch.mps, "empty_cache", lambda: None)
    ran = []

    def fake(args, device):
        ran.append(device.type)
        error = mps_error if device.type == "mps" else cpu_error
        if error:
            raise error
    monkeypatch.setattr(p2, task, fake)
    return p2, ran


@pytest.mark.parametrize("error", MPS_FAULTS)
@pytest.mark.parametrize("task", ["run_training", "run_eval"])
def test_a_failure_on_a_macs_gpu_runs_again_on_the_cpu(monkeypatch, capsys, error, task):
    """PyTorch's Mac GPU support lacks or mishandles a few operations in some versions: one line, then the CPU."""
    p2, ran = on_a_macs_gpu(monkeypatch, task, error)
    assert p2.main(["--eval", "model.pkl"] if task == "run_eval" else []) == 0
    out, err = capsys.readouterr()
    assert ran == ["mps", "cpu"] and not err
    assert out == (f"the Mac's GPU (MPS) failed ({str(error).splitlines()[0]}); running on the CPU instead (--device "
                   "cpu skips the GPU)\n")


def test_the_report_of_a_run_moved_to_the_cpu_says_why(monkeypatch):
    p2, ran = on_a_macs_gpu(monkeypatch, "run_training", MPS_FAULTS[0])
    said = []
    fake = p2.run_training
    monkeypatch.setattr(p2, "run_training", lambda args, device: said.append(args.fallback) or fake(args, device))
    assert p2.main([]) == 0 and ran == ["mps", "cpu"]
    assert said == ["", " (the Mac's GPU failed, so the run was repeated on the CPU)"]


def test_what_would_fail_on_the_cpu_as_well_is_not_run_again(monkeypatch, capsys):
    from data import DataError
    p2, ran = on_a_macs_gpu(monkeypatch, "run_training", DataError("no CIFAR-10 here"))
    assert p2.main([]) == 2 and ran == ["mps"] and capsys.readouterr().err == "error: no CIFAR-10 here\n"
    p2, ran = on_a_macs_gpu(monkeypatch, "run_training", TrainingDiverged("the loss is not finite; lower --set lr"))
    assert p2.main(["--set", "lr=1e9"]) == 2 and ran == ["mps"]   # the user's own rates: the same on the CPU
    p2, ran = on_a_macs_gpu(monkeypatch, "run_training", DataError("/Users/thompson/mps/cifar: no CIFAR-10 here"))
    assert p2.main([]) == 2 and ran == ["mps"]   # a path that holds the letters is no fault of the GPU
    p2, ran = on_a_macs_gpu(monkeypatch, "run_training", ValueError("a bug in writing the report"))
    with pytest.raises(ValueError, match="a bug in writing the report"):   # a bug keeps its traceback, once
        p2.main([])
    assert ran == ["mps"]


def test_a_failure_of_the_cpu_run_after_the_macs_gpu_comes_out_once(monkeypatch, capsys):
    from data import DataError
    p2, ran = on_a_macs_gpu(monkeypatch, "run_training", MPS_FAULTS[0], DataError("the disk is full"))
    assert p2.main([]) == 2 and ran == ["mps", "cpu"]
    out, err = capsys.readouterr()
    assert out.count("running on the CPU instead") == 1 and err == "error: the disk is full\n"


def test_a_macs_gpu_keeps_the_usual_memory_layout_and_the_report_does_not_call_that_a_change():
    """channels_last gains nothing on MPS, and PyTorch before 2.14 computed batch norm's gradients wrongly in it."""
    import p2
    from config import SELECTION_NOTES
    mps = torch.device("mps")
    preset, cfg = p2.compose_config(p2.parse_args([]), mps)
    assert preset == "cpu" and not cfg.channels_last
    assert p2.compose_config(p2.parse_args([]), torch.device("cpu"))[1].channels_last
    assert p2.selection_note(preset, cfg, mps) == SELECTION_NOTES["cpu"]
    _, every_view = p2.compose_config(p2.parse_args(["--set", "tta_fraction=1"]), mps)   # changes the accuracy
    assert "share of test images given the extra views: 100 % instead of 40 %" in p2.selection_note(preset, every_view,
                                                                                                  mps)

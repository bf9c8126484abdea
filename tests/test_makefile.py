"""The Makefile in a scratch tree whose tools are stand-ins that log their arguments: variables arrive as
literal arguments (never shell text), make data tries both data sets, make zip lets the theory tool decide
whether the PDF is stale,
clean says what it keeps."""
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time

import pytest

from fakes import write_cifar_batches

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="needs make (Windows has none by default)")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Logs its script name, arguments and a few variables; fails when its script is named in FAKE_FAIL.
FAKE = r"""
import json, os, sys
script = os.path.relpath(os.path.abspath(sys.argv[0]))
if script == os.path.join("theory", "__main__.py"):
    script = "theory"
with open(os.environ["FAKE_LOG"], "a") as f:
    f.write(json.dumps({"script": script, "argv": sys.argv[1:]}) + "\n")
if script in os.environ.get("FAKE_FAIL", "").split(","):
    sys.exit(1)
if script == "theory":
    open(sys.argv[sys.argv.index("--pdf") + 1], "w").write("%PDF-")
"""
FAKES = ["tools/get_mnist.py", "tools/bundle.py", "tools/verify.py", "andrewID-HW1/p2/p2.py",
         "andrewID-HW1/p1/p1.py", "bench/bench_p2_cpu.py", "theory/__main__.py"]


@pytest.fixture
def tree(tmp_path):
    root = tmp_path / "repo"
    for name in FAKES:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(FAKE)
    for name in ("Makefile", "tools/with_args.py"):
        shutil.copy(os.path.join(ROOT, name), root / name)
    (root / "theory" / "__init__.py").write_text("")
    (root / "theory" / "fig5.json").write_text("{}")
    (root / "theory" / "HW1_theory.pdf").write_text("%PDF-")
    old = time.time() - 100
    for name in ("theory/__init__.py", "theory/__main__.py", "theory/fig5.json"):
        os.utime(root / name, (old, old))
    return root


def make(tree, *args, **env):
    log = tree.parent / "log.jsonl"
    if log.exists():
        log.unlink()
    inherited = {k: v for k, v in os.environ.items() if k not in ("MNIST_DIR", "CIFAR10_DIR")}
    environ = dict(inherited, FAKE_LOG=str(log), **env)
    # quoted: a student's virtual environment may sit in a folder whose name has a space ("Deep Learning")
    result = subprocess.run(["make", "--no-print-directory", f"PYTHON={shlex.quote(sys.executable)}", *args], cwd=tree,
                            env=environ, capture_output=True, text=True, timeout=60)
    calls = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
    return result, calls


SHELL_TEXT = 'x"; touch pwned; echo "'


@pytest.mark.parametrize("target, variable, expected", [
    ("zip", "ANDREW_ID", ["zip", "--", SHELL_TEXT]),   # after "--" or "=": a value starting with "-" is no option
    ("check-zip", "ZIP", ["check", "--", SHELL_TEXT]),
    ("data-mnist", "MNIST_DIR", ["--", SHELL_TEXT]),
    ("data-cifar10", "CIFAR10_DIR", ["--download-only", f"--data-dir={SHELL_TEXT}"]),
    ("bench-p2-cpu", "CIFAR10_DIR", [f"--data-dir={SHELL_TEXT}"]),
    ("verify", "MNIST_DIR", [f"--mnist-dir={SHELL_TEXT}"]),
    ("verify", "CIFAR10_DIR", [f"--cifar10-dir={SHELL_TEXT}"]),
    ("p2", "CIFAR10_DIR", [f"--data-dir={SHELL_TEXT}"]),
])
def test_variables_arrive_as_literal_arguments(tree, target, variable, expected):
    result, calls = make(tree, target, f"{variable}={SHELL_TEXT}")
    assert result.returncode == 0, result.stderr
    assert calls[-1]["argv"] == expected
    assert not (tree / "pwned").exists()


def test_p1_reads_its_folder_from_the_environment(tree):
    result, calls = make(tree, "p1", f"MNIST_DIR={SHELL_TEXT}")
    assert result.returncode == 0 and calls == [{"script": "andrewID-HW1/p1/p1.py", "argv": []}]
    assert not (tree / "pwned").exists()


@pytest.mark.parametrize("given, expected", [((), ""), (("MNIST_DIR=/data/mnist",), "/data/mnist")])
def test_p1_gets_mnist_dir_only_when_given_so_it_searches_like_the_plain_command(tree, given, expected):
    seen = tree.parent / "mnist_dir.txt"
    (tree / "andrewID-HW1" / "p1" / "p1.py").write_text(
        f"import os\nopen({str(seen)!r}, 'w').write(os.environ.get('MNIST_DIR', ''))\n")
    result, _ = make(tree, "p1", *given)
    assert result.returncode == 0, result.stderr
    assert seen.read_text() == expected


@pytest.mark.parametrize("target, expected", [
    ("data-mnist", ["--", "data/mnist"]),
    ("data-cifar10", ["--download-only", "--data-dir=data/cifar10"]),
    ("verify", []),   # verify then looks where p1.py and p2.py do
    ("p2", []),       # p2.py then searches itself, ./data first
])
def test_downloads_default_to_data_and_without_folders_p2_and_verify_search_themselves(tree, target, expected):
    result, calls = make(tree, target)
    assert result.returncode == 0, result.stderr
    assert calls[-1]["argv"] == expected


def test_p2_args_are_split_like_shell_words_but_never_run(tree):
    result, calls = make(tree, "p2", """P2_ARGS=--epochs 2 --out "my runs"; touch pwned""")
    assert result.returncode == 0, result.stderr
    assert calls == [{"script": "andrewID-HW1/p2/p2.py",
                      "argv": ["--epochs", "2", "--out", "my runs;", "touch", "pwned"]}]
    assert not (tree / "pwned").exists()


def test_make_p2_finds_cifar10_where_the_pytorch_tutorial_puts_it(tree):
    # p2.py stands in as a script that runs the real data search on the folder make hands it, if any
    (tree / "andrewID-HW1" / "p2" / "p2.py").write_text(
        "import sys\n"
        f"sys.path.insert(0, {os.path.join(ROOT, 'andrewID-HW1', 'p2')!r})\n"
        "import data\n"
        "data.RECORDS_PER_FILE = 8\n"
        "given = sys.argv[sys.argv.index('--data-dir') + 1] if '--data-dir' in sys.argv else None\n"
        "print('found', data.locate_cifar10(given, download=False).folder)\n")
    write_cifar_batches(tree / "data" / "cifar-10-batches-py", "py", records_per_file=8)
    result, _ = make(tree, "p2")
    assert result.returncode == 0, result.stderr
    assert f"found {tree / 'data' / 'cifar-10-batches-py'}" in result.stdout


def test_p2_args_expand_a_leading_tilde_as_a_shell_would(tree):
    result, calls = make(tree, "p2", "P2_ARGS=--out ~/runs --data-note ~x", HOME="/home/student")
    assert result.returncode == 0, result.stderr
    assert calls[-1]["argv"] == ["--out", "/home/student/runs", "--data-note", "~x"]


def test_p2_args_keep_windows_folders_whole():
    """make on Windows (Git Bash's, say) runs a Windows Python: there a backslash separates folders."""
    from tools import with_args
    text = r'--out C:\runs\a --data-note "my notes"'
    assert with_args.shell_words(text, windows=True) == ["--out", r"C:\runs\a", "--data-note", "my notes"]
    assert with_args.shell_words(text, windows=False) == shlex.split(text)


def test_p2_args_with_an_open_quote_is_one_line(tree):
    result, calls = make(tree, "p2", """P2_ARGS=--out "my runs""")
    assert result.returncode != 0 and calls == []
    assert "error: P2_ARGS: No closing quotation" in result.stderr


@pytest.mark.parametrize("fail, summary", [
    ("andrewID-HW1/p2/p2.py", "make data: MNIST ok, CIFAR-10 FAILED"),
    ("tools/get_mnist.py,andrewID-HW1/p2/p2.py", "make data: MNIST FAILED, CIFAR-10 FAILED"),
])
def test_make_data_tries_both_then_reports_both(tree, fail, summary):
    (tree / "mine" / "cifar").mkdir(parents=True)   # made by the student, empty: a failed download keeps it
    result, calls = make(tree, "data", "CIFAR10_DIR=mine/cifar", FAKE_FAIL=fail)
    assert result.returncode != 0
    assert [call["script"] for call in calls] == ["tools/get_mnist.py", "andrewID-HW1/p2/p2.py"]
    assert summary in result.stderr
    assert (tree / "mine" / "cifar").is_dir()


@pytest.mark.parametrize("value", ["my$1.zip", "$(shell touch PWNED).zip", "a $$b `c` 'd' \"e\"; f.zip"])
def test_a_variable_given_to_make_arrives_as_typed_and_never_runs(tree, value):
    result, calls = make(tree, "check-zip", f"ZIP={value}")
    assert calls == [{"script": "tools/bundle.py", "argv": ["check", "--", value]}], result.stderr
    assert not (tree / "PWNED").exists()


def test_make_data_success_says_so(tree):
    result, calls = make(tree, "data")
    assert result.returncode == 0 and "make data: MNIST ok, CIFAR-10 ok" in result.stdout


@pytest.mark.parametrize("sources", ["older than the PDF", "newer than the PDF"])
def test_zip_asks_the_theory_tool_whatever_the_file_dates(tree, sources):
    """Staleness is decided by the sources' fingerprint inside the PDF (theory --if-stale), never by make's file
    dates: in a fresh clone every file has the checkout's time."""
    if sources == "newer than the PDF":
        os.utime(tree / "theory" / "fig5.json")
    result, calls = make(tree, "zip", "ANDREW_ID=jdoe")
    assert result.returncode == 0, result.stderr
    assert calls == [{"script": "theory", "argv": ["--pdf", "theory/HW1_theory.pdf", "--if-stale"]},
                     {"script": "tools/bundle.py", "argv": ["zip", "--", "jdoe"]}]


def test_zip_stops_when_the_theory_pdf_cannot_be_written(tree):
    result, calls = make(tree, "zip", "ANDREW_ID=jdoe", FAKE_FAIL="theory")
    assert result.returncode != 0 and [call["script"] for call in calls] == ["theory"]


def test_zip_needs_no_extra_variable(tree):
    assert "ALLOW_EXAMPLE_FIG5" not in (tree / "Makefile").read_text()


def test_clean_says_what_it_keeps_and_removes_only_the_named_students_zip(tree):
    for name in ("jdoe-HW1.zip", "jdoe-HW1.pdf", "24789-HW1.pdf", "andrewID-HW1.zip"):   # a handout, a starter zip
        (tree / name).write_text(name)
    (tree / "scratch" / "p1best").mkdir(parents=True)   # where the README's p1-best command writes its model
    (tree / "scratch" / "p1best" / "p1_model.npz").write_text("model")
    result, _ = make(tree, "clean")
    assert result.returncode == 0 and (tree / "jdoe-HW1.zip").exists()
    assert "kept: data/, the trained models and reports, and *-HW1.zip/.pdf" in result.stdout
    result, _ = make(tree, "clean", "ANDREW_ID=jdoe")
    assert result.returncode == 0 and "kept: data/, the trained models and reports\n" in result.stdout
    assert not (tree / "jdoe-HW1.zip").exists() and not (tree / "jdoe-HW1.pdf").exists()
    assert (tree / "24789-HW1.pdf").exists() and (tree / "andrewID-HW1.zip").exists()
    assert (tree / "scratch" / "p1best" / "p1_model.npz").exists()


def test_help_lists_every_target_with_its_line(tree):
    # awk, not sed's "\t": macOS's sed writes a plain "t" for it
    result, _ = make(tree, "help")
    targets = re.findall(r"^([a-z0-9-]+):.*?## (.*)$", (tree / "Makefile").read_text(), re.M)
    assert result.returncode == 0 and len(targets) > 10 and "all" in dict(targets)
    for target, text in targets:
        assert f"{target:16s}{text}" in result.stdout.splitlines()


# Stands for a Python of the version in FAKE_VERSION: runs tools/check_python.py as that version, logs anything else.
OLD_PYTHON = r"""
import json, os, runpy, sys
if sys.argv[1].endswith("check_python.py"):
    sys.version_info = tuple(map(int, os.environ["FAKE_VERSION"].split("."))) + ("final", 0)
    sys.executable, sys.argv = os.environ["FAKE_EXECUTABLE"], sys.argv[1:]
    runpy.run_path(sys.argv[0], run_name="__main__")
else:
    with open(os.environ["FAKE_LOG"], "a") as f:
        f.write(json.dumps({"script": "python", "argv": sys.argv[1:]}) + "\n")
"""


@pytest.mark.parametrize("version, works", [("3.9.6", False), ("2.7.18", False), ("3.10.0", True), ("3.15.2", True)])
def test_install_names_a_python_too_old_for_the_pins_before_pip_runs(tree, version, works):
    shutil.copy(os.path.join(ROOT, "tools", "check_python.py"), tree / "tools" / "check_python.py")
    fake = tree.parent / "python-fake"   # a shell script: a #! line cannot name a path with a space
    (tree.parent / "fake.py").write_text(OLD_PYTHON)
    fake.write_text(f'#!/bin/sh\nexec {shlex.quote(sys.executable)} {shlex.quote(str(tree.parent / "fake.py"))} "$@"\n')
    fake.chmod(0o755)
    result, calls = make(tree, "install", f"PYTHON={shlex.quote(str(fake))}", FAKE_VERSION=version,
                         FAKE_EXECUTABLE=str(fake))
    if works:
        assert result.returncode == 0, result.stderr
        assert calls == [{"script": "python", "argv": ["-m", "pip", "install", "-r", "requirements.txt"]}]
    else:
        assert result.returncode != 0 and calls == []
        assert f"make install: HW1 needs Python 3.10 to 3.15; this is Python {version[:3]} ({fake})." in result.stderr


def test_without_python_given_make_uses_the_projects_virtual_environment_when_it_runs(tree):
    def recipe():
        environ = dict(os.environ)
        environ.pop("PYTHON", None)
        return subprocess.run(["make", "--no-print-directory", "-n", "p1"], cwd=tree, env=environ,
                              capture_output=True, text=True, timeout=60).stdout
    venv_python = tree / ".venv" / "bin" / "python"
    venv_python.parent.mkdir(parents=True)
    venv_python.write_text("#!/bin/sh\nexit 0\n")   # a Python that runs
    venv_python.chmod(0o755)
    assert recipe().startswith(".venv/bin/python andrewID-HW1/p1/p1.py")
    venv_python.unlink()
    venv_python.symlink_to(tree / "gone" / "python3.12")   # its base Python removed (a Homebrew upgrade)
    assert recipe().startswith("python3 andrewID-HW1/p1/p1.py")
    venv_python.unlink()
    assert recipe().startswith("python3 andrewID-HW1/p1/p1.py")


def test_clean_leaves_the_virtual_environments_compiled_files(tree):
    for folder in (".venv/lib/site/__pycache__", "tools/__pycache__"):
        (tree / folder).mkdir(parents=True)
    result, _ = make(tree, "clean")
    assert result.returncode == 0, result.stderr
    assert (tree / ".venv/lib/site/__pycache__").is_dir() and not (tree / "tools/__pycache__").exists()

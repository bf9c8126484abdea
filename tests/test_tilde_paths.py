"""A folder or file typed as ~/... reaches every program expanded. zsh, macOS's shell, leaves ~ as typed in
`make p2 CIFAR10_DIR=~/cifar`, and no shell expands it in `--out=~/runs`: each program expands it itself."""
import os

import pytest

import data
import p1
import p2
from fakes import write_cifar_batches
from tools import bundle, get_mnist, verify


def same(path, expected):
    """Path equality as the system reads paths (on Windows expanduser keeps the "/" typed after "~")."""
    return os.path.normpath(path) == os.path.normpath(expected)


@pytest.fixture
def home(tmp_path, monkeypatch):
    folder = tmp_path / "home"
    folder.mkdir()
    for name in ("HOME", "USERPROFILE"):   # where os.path.expanduser looks: POSIX, Windows
        monkeypatch.setenv(name, str(folder))
    return folder


def test_p1_reads_mnist_dir_and_p1_out_with_a_tilde(home, monkeypatch):
    monkeypatch.setenv("MNIST_DIR", "~/mnist")
    monkeypatch.setenv("P1_OUT", "~/runs")
    [(folder, name)] = p1.mnist_places()
    assert same(folder, home / "mnist") and name == "MNIST_DIR"
    assert same(p1.output_dir(), home / "runs")


def test_p2_finds_cifar10_under_a_tilde_from_the_option_or_the_variable(home, monkeypatch):
    write_cifar_batches(home / "cifar" / data.BIN, "bin", 4)
    assert data.locate_cifar10("~/cifar", download=False).folder == str(home / "cifar" / data.BIN)
    monkeypatch.setenv("CIFAR10_DIR", "~/cifar")
    assert data.search_places()[0] == str(home / "cifar")
    assert data.locate_cifar10(download=False).folder == str(home / "cifar" / data.BIN)


def test_p2_options_with_a_tilde(home):
    assert same(p2.parse_args(["--out=~/runs"]).out, home / "runs")
    assert same(p2.parse_args(["--eval", "~/p2_model.pkl"]).eval, home / "p2_model.pkl")


def test_the_tools_expand_a_tilde(home, monkeypatch, capsys):
    args = verify.parse_args(["--mnist-dir=~/m", "--cifar10-dir=~/c", "--bundle=~/b"])
    assert all(same(got, home / name) for got, name in zip((args.mnist_dir, args.cifar10_dir, args.bundle), "mcb"))

    asked = []
    monkeypatch.setattr(get_mnist, "get", lambda name, folder: asked.append(folder) or "stand-in")
    assert get_mnist.main(["~/mnist"]) == 0
    assert len(asked) == 2 and all(same(folder, home / "mnist") for folder in asked) and (home / "mnist").is_dir()

    assert bundle.main(["check", "~/jdoe-HW1.zip"]) == 1   # absent: the message names the expanded path
    named = capsys.readouterr().err.split(": no such file")[0].removeprefix("error: ")
    assert same(named, home / "jdoe-HW1.zip")

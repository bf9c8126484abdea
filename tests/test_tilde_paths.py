"""A folder or file typed as ~/... reaches every program expanded. zsh, macOS's shell, leaves ~ as typed in
`make p2 CIFAR10_DIR=~/cifar`, and no shell expands it in `--out=~/runs`: each program expands it itself."""
import os

import pytest

import data
import p1
import p2
from fakes import write_cifar_batches
from tools import bundle, get_mnist, verify


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
    assert p1.mnist_places() == [(str(home / "mnist"), "MNIST_DIR")]
    assert p1.output_dir() == str(home / "runs")


def test_p2_finds_cifar10_under_a_tilde_from_the_option_or_the_variable(home, monkeypatch):
    write_cifar_batches(home / "cifar" / data.BIN, "bin", 4)
    assert data.locate_cifar10("~/cifar", download=False).folder == str(home / "cifar" / data.BIN)
    monkeypatch.setenv("CIFAR10_DIR", "~/cifar")
    assert data.search_places()[0] == str(home / "cifar")
    assert data.locate_cifar10(download=False).folder == str(home / "cifar" / data.BIN)


def test_p2_options_with_a_tilde(home):
    assert p2.parse_args(["--out=~/runs"]).out == str(home / "runs")
    assert p2.parse_args(["--eval", "~/p2_model.pkl"]).eval == str(home / "p2_model.pkl")


def test_the_tools_expand_a_tilde(home, monkeypatch, capsys):
    args = verify.parse_args(["--mnist-dir=~/m", "--cifar10-dir=~/c", "--bundle=~/b"])
    assert (args.mnist_dir, args.cifar10_dir, args.bundle) == tuple(str(home / n) for n in ("m", "c", "b"))

    asked = []
    monkeypatch.setattr(get_mnist, "get", lambda name, folder: asked.append(folder) or "stand-in")
    assert get_mnist.main(["~/mnist"]) == 0
    assert set(asked) == {str(home / "mnist")} and (home / "mnist").is_dir()

    assert bundle.main(["check", "~/jdoe-HW1.zip"]) == 1   # absent: the message names the expanded path
    assert f"{home / 'jdoe-HW1.zip'}: no such file" in capsys.readouterr().err

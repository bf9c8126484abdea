"""The p2 model file: round trip, and refusal of anything that is not a plain p2 checkpoint."""
import os
import pickle

import pytest
import torch

from checkpoint import CheckpointError, load_checkpoint, load_model, save_checkpoint
from config import Config
from data import CLASSES
from model import build_model

CFG = Config(widths=(8, 16, 16))


def saved_model(path, seed=0):
    torch.manual_seed(seed)
    model = build_model(CFG)
    model.whiten.fit(torch.randn(16, 3, 32, 32))
    save_checkpoint(path, model, CFG, class_names=CLASSES, mean=(0, 0, 0), std=(1, 1, 1), preset="test", seed=seed,
                    test_accuracy=0.125)
    return model.eval()


def test_round_trip_gives_identical_logits(tmp_path):
    path = str(tmp_path / "m.pkl")
    model = saved_model(path)
    loaded, cfg, ckpt = load_model(path)
    x = torch.randn(5, 3, 32, 32)
    with torch.no_grad():
        assert torch.equal(model(x), loaded(x))
    assert cfg == CFG and ckpt["test_accuracy"] == 0.125 and ckpt["class_names"] == list(CLASSES)
    assert not loaded.training
    assert os.listdir(tmp_path) == ["m.pkl"]          # no temp file left behind


class RunsCode:
    """Unpickling this would call os.system: the classic malicious pickle."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def test_malicious_pickle_is_refused_and_runs_nothing(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pkl"
    torch.save({"format": "hw1-p2-cifar10/1", "payload": RunsCode(marker)}, path)
    with pytest.raises(CheckpointError, match="refused"):
        load_model(str(path))
    assert not marker.exists()


@pytest.mark.parametrize("content, message", [
    (b"definitely not a torch file", "not a readable torch model file"),
    ([1, 2, 3], "not a p2 model file"),
    ({"format": "hw1-p2-cifar10/1", "state_dict": {}}, "lacks"),
])
def test_wrong_files_are_refused(tmp_path, content, message):
    path = tmp_path / "wrong.pkl"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        torch.save(content, path)
    with pytest.raises(CheckpointError, match=message):
        load_checkpoint(str(path))


def test_missing_file_and_mismatched_weights(tmp_path):
    with pytest.raises(CheckpointError, match="no such file"):
        load_model(str(tmp_path / "absent.pkl"))
    path = str(tmp_path / "m.pkl")
    saved_model(path)
    ckpt = torch.load(path, weights_only=True)
    ckpt["config"]["widths"] = [8, 16, 32]
    torch.save(ckpt, path)
    with pytest.raises(CheckpointError, match="do not fit"):
        load_model(path)


def test_failed_save_keeps_the_old_file(tmp_path, monkeypatch):
    path = str(tmp_path / "m.pkl")
    saved_model(path)
    before = open(path, "rb").read()

    def broken_save(*args, **kwargs):
        raise OSError("disk full")
    monkeypatch.setattr(torch, "save", broken_save)
    with pytest.raises(OSError):
        saved_model(path, seed=1)
    assert open(path, "rb").read() == before and os.listdir(tmp_path) == ["m.pkl"]

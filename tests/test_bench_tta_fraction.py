"""bench/p2_tta_fraction_validation.py: the held-out images are the training set's last n_validation, each share of
extra views is measured on them, and a model without held-out images is refused."""
import pytest
import torch

from bench import p2_tta_fraction_validation as bench
from checkpoint import save_checkpoint
from config import Config
from data import CLASSES
from model import build_model

CFG = Config(widths=(8, 16, 16), channels_last=False, tta="flip_translate", tta_fraction=0.4)


def model_file(path, n_validation):
    torch.manual_seed(0)
    save_checkpoint(path, build_model(CFG).eval(), CFG, class_names=CLASSES, mean=(0, 0, 0), std=(1, 1, 1),
                    preset="test", seed=0, test_accuracy=0.1, n_validation=n_validation)
    return str(path)


def test_each_share_is_measured_on_the_held_out_images_only(tmp_path, monkeypatch):
    images = torch.randint(0, 256, (30, 3, 32, 32), dtype=torch.uint8)
    labels = torch.randint(0, 10, (30,))
    seen = []
    real = bench.predict_logits_per_tta
    monkeypatch.setattr(bench, "predict_logits_per_tta", lambda model, x, cfg, *rest: (
        seen.append((x, cfg.tta_fraction)), real(model, x, cfg, *rest))[1])
    data = dict(train_images=images, train_labels=labels)
    rows = bench.held_out_accuracies(model_file(tmp_path / "m.pkl", 12), data, fractions=(1.0, 0.4))
    assert [label for label, _ in rows] == ["one view", "1", "0.4"] and all(0 <= acc <= 1 for _, acc in rows)
    assert [fraction for _, fraction in seen] == [1.0, 0.4]
    assert all(torch.equal(x, images[-12:]) for x, _ in seen)


def test_a_model_trained_on_every_image_is_refused(tmp_path):
    with pytest.raises(SystemExit, match="no --validation"):
        bench.held_out_accuracies(model_file(tmp_path / "m.pkl", 0), dict(
            train_images=torch.zeros((4, 3, 32, 32), dtype=torch.uint8), train_labels=torch.zeros(4, dtype=torch.long)))

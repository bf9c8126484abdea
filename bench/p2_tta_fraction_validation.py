"""The share of images given the extra test-time views (Config.tta_fraction), re-checked on held-out training images.

For each model trained with `p2.py --validation N`, prints the accuracy on its N held-out training images (the last N
of the training set, as p2.py holds them out) from one view, from all six views for every image, and from the six
views for only the least sure fraction of them, for several fractions:

    python bench/p2_tta_fraction_validation.py --data-dir data/cifar10 runs/s0/p2_model.pkl runs/s1/p2_model.pkl
    python bench/p2_tta_fraction_validation.py runs/s0/p2_model.pkl --fractions 0.4
"""
import argparse
import dataclasses
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "andrewID-HW1", "p2"))
import p2  # noqa: E402
from checkpoint import load_model  # noqa: E402
from data import load_cifar10, locate_cifar10  # noqa: E402
from predict import accuracy, predict_logits_per_tta  # noqa: E402

FRACTIONS = (1.0, 0.2, 0.3, 0.4, 0.5, 0.7)


def held_out_accuracies(path, data, fractions=FRACTIONS, device="cpu"):
    """[(label, accuracy)] on the training images (of `data`, as load_cifar10 gives it) the model at `path` was
    trained without."""
    model, cfg, ckpt = load_model(path, device)
    n = ckpt.get("n_validation") or 0
    if not n:
        raise SystemExit(f"{path}: trained on every training image (no --validation): nothing held out")
    held_out = p2.split_validation(data, n, device)
    images, labels = held_out["val_images"], held_out["val_labels"]
    rows = []
    for fraction in fractions:
        logits = predict_logits_per_tta(model, images, dataclasses.replace(cfg, tta_fraction=fraction), device,
                                        ("none", "flip_translate"))
        if not rows:
            rows.append(("one view", accuracy(logits["none"], labels)))
        rows.append((f"{fraction:g}", accuracy(logits["flip_translate"], labels)))
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="+", help="p2_model.pkl files trained with --validation")
    parser.add_argument("--data-dir", help="the CIFAR-10 folder (default: where p2.py looks)")
    parser.add_argument("--fractions", type=float, nargs="+", default=FRACTIONS,
                        help=f"shares of the images given the extra views (default: {' '.join(map(str, FRACTIONS))})")
    args = parser.parse_args()
    data = load_cifar10(locate_cifar10(args.data_dir, download=False), splits=("train",))
    print("held-out accuracy (%): one view, then the six views for this share of the least sure images")
    for path in args.models:
        rows = held_out_accuracies(path, data, args.fractions)
        print(path, "  ".join(f"{label}: {100 * acc:.2f}" for label, acc in rows), flush=True)


if __name__ == "__main__":
    main()

"""Tiny data files in the real on-disk formats, shared by the tests (no network, no real data)."""
import os

import numpy as np

CIFAR_FILES = tuple(f"data_batch_{i}.bin" for i in range(1, 6)) + ("test_batch.bin",)


def write_cifar_bins(folder, records_per_file=8, seed=0):
    """Write the six CIFAR-10 binary batch files (label byte, then R, G, B planes) into `folder`.

    The images are learnable: each class is a different mean colour plus noise, so a few training steps
    visibly lower the loss.
    """
    os.makedirs(folder, exist_ok=True)
    rng = np.random.default_rng(seed)
    for name in CIFAR_FILES:
        labels = rng.integers(0, 10, records_per_file)
        colour = (labels[:, None] * 25 + np.array([0, 80, 160])) % 256
        images = colour[:, :, None, None] + rng.normal(0, 20, (records_per_file, 3, 32, 32))
        images = np.clip(images, 0, 255).astype(np.uint8)
        records = np.column_stack([labels.astype(np.uint8), images.reshape(records_per_file, -1)])
        records.tofile(os.path.join(folder, name))
    return folder

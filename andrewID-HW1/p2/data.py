"""CIFAR-10, binary version: find, download and read the official batch files.

The binary release is read with numpy (no unpickling). Each file holds records of 3073 bytes: one label byte
(0..9), then 3072 pixel bytes as three 32x32 planes, R then G then B, each row-major.
"""
import os

import numpy as np
import torch

CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")

URL = "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz"
MD5 = "c32a1d4ab5d03f1284b67883e8d87530"  # official checksum of the binary archive
BATCHES_DIR_NAME = "cifar-10-batches-bin"
TRAIN_FILES = tuple(f"data_batch_{i}.bin" for i in range(1, 6))
TEST_FILE = "test_batch.bin"

IMAGE_SHAPE = (3, 32, 32)
RECORD_BYTES = 1 + 3 * 32 * 32


class DataError(Exception):
    """A CIFAR-10 file is missing, unreadable or malformed; the message says which file and what to do."""


def _holds_batches(folder):
    return any(os.path.isfile(os.path.join(folder, name)) for name in TRAIN_FILES + (TEST_FILE,))


def find_batches_dir(data_dir):
    """Return the folder holding the .bin files: DATA_DIR/cifar-10-batches-bin, or DATA_DIR itself."""
    nested = os.path.join(data_dir, BATCHES_DIR_NAME)
    if os.path.isdir(nested):
        return nested
    if os.path.isdir(data_dir) and (os.path.basename(os.path.normpath(data_dir)) == BATCHES_DIR_NAME
                                    or _holds_batches(data_dir)):
        return data_dir
    raise DataError(f"CIFAR-10 not found in {data_dir!r}: expected {BATCHES_DIR_NAME}/ (or the .bin files) there. "
                    f"Pass --data-dir (or set CIFAR10_DIR) to a folder holding {BATCHES_DIR_NAME}/, "
                    "or run `make data-cifar10` with a network.")


def download_cifar10(data_dir):
    """Download and extract the official archive into data_dir (md5-checked); return the batches folder."""
    try:
        # torchvision is only needed here, so a machine that already has the data never imports it
        from torchvision.datasets.utils import download_and_extract_archive
        os.makedirs(data_dir, exist_ok=True)
        download_and_extract_archive(URL, data_dir, md5=MD5)
    except Exception as exc:  # network, disk, checksum and import errors all end the same way for the user
        raise DataError(f"CIFAR-10 is missing in {data_dir!r} and the download from {URL} failed "
                        f"({type(exc).__name__}: {exc}). Pass --data-dir (or set CIFAR10_DIR) to an existing "
                        f"{BATCHES_DIR_NAME} folder, or run `make data-cifar10` on a machine with a network.") from exc
    return find_batches_dir(data_dir)


def locate_cifar10(data_dir, download=True):
    """The batches folder in data_dir; if there is none and download is true, fetch the official archive first."""
    try:
        return find_batches_dir(data_dir)
    except DataError:
        if not download:
            raise
        return download_cifar10(data_dir)


def read_batch_file(path):
    """Read one batch file -> (images uint8 (n, 3, 32, 32), labels int64 (n,))."""
    if not os.path.isfile(path):
        raise DataError(f"{path}: file missing. Re-download CIFAR-10 (binary version) or fix --data-dir.")
    size = os.path.getsize(path)
    if size == 0 or size % RECORD_BYTES:
        raise DataError(f"{path}: {size} bytes is not a positive multiple of the {RECORD_BYTES}-byte record "
                        "(an official batch is 30,730,000 bytes); the file is truncated or not CIFAR-10 binary. "
                        "Re-download it.")
    try:
        records = np.fromfile(path, dtype=np.uint8).reshape(-1, RECORD_BYTES)
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc}). Check the file's permissions or re-download it.") from exc
    labels = records[:, 0].astype(np.int64)
    bad = np.flatnonzero(labels > 9)
    if bad.size:
        raise DataError(f"{path}: record {bad[0]} has label {labels[bad[0]]}, expected 0..9; the file is corrupt "
                        "or not CIFAR-10 binary. Re-download it.")
    images = np.ascontiguousarray(records[:, 1:]).reshape(-1, *IMAGE_SHAPE)
    return images, labels


def _read_files(folder, names):
    parts = [read_batch_file(os.path.join(folder, name)) for name in names]
    images = np.concatenate([images for images, _ in parts])
    labels = np.concatenate([labels for _, labels in parts])
    return torch.from_numpy(images), torch.from_numpy(labels)


def load_cifar10(data_dir, download=True, splits=("train", "test")):
    """Load the data set as tensors: train_images/test_images uint8 (N, 3, 32, 32), *_labels int64 (N,).

    If no CIFAR-10 folder is found in data_dir and download is true, the official archive is fetched first.
    `splits` names the parts to read (evaluation needs only "test").
    """
    folder = locate_cifar10(data_dir, download)
    files = {"train": TRAIN_FILES, "test": (TEST_FILE,)}
    out = {}
    for split in splits:
        out[f"{split}_images"], out[f"{split}_labels"] = _read_files(folder, files[split])
    return out

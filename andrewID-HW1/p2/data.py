"""CIFAR-10: find it where people keep it, download it if absent, and read either official layout.

Binary version (cifar-10-batches-bin/*.bin), read with numpy: each file holds records of 3073 bytes, one label
byte (0..9), then 3072 pixel bytes as three 32x32 planes, R then G then B, each row-major.
Python version (cifar-10-batches-py/, what the PyTorch tutorial and torchvision download): each file is a pickled
dict with "data" (10000, 3072) uint8 in the same pixel order and "labels"; it is read with safe_pickle, which runs
nothing from the file.
"""
import errno
import hashlib
import os
import shutil
import socket
from dataclasses import dataclass

import numpy as np
import torch

import safe_pickle

CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")

URL = "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz"
MD5 = "c32a1d4ab5d03f1284b67883e8d87530"  # official checksum of the binary archive
STALL_SECONDS = 60   # a download that receives nothing for this long fails instead of waiting forever
ARCHIVE = os.path.basename(URL)

BIN, PY = "cifar-10-batches-bin", "cifar-10-batches-py"  # the official folder names of the two layouts
TRAIN_FILES = tuple(f"data_batch_{i}.bin" for i in range(1, 6))
TEST_FILE = "test_batch.bin"
PY_TRAIN_FILES = tuple(f"data_batch_{i}" for i in range(1, 6))
PY_TEST_FILE = "test_batch"
FILES = {BIN: {"train": TRAIN_FILES, "test": (TEST_FILE,)},
         PY: {"train": PY_TRAIN_FILES, "test": (PY_TEST_FILE,)}}
LAYOUT_NAMES = {BIN: "binary version", PY: "python version"}
# md5 of each official python batch file, as torchvision's CIFAR10 dataset lists them
PY_MD5 = {"data_batch_1": "c99cafc152244af753f735de768cd75f", "data_batch_2": "d4bba439e000b95fd0a9bffe97cbabec",
          "data_batch_3": "54ebc095f3ab1f0389bbae665268c751", "data_batch_4": "634d18415352ddfa80567beed471001a",
          "data_batch_5": "482c414d41f54cd18b22e5b47cb7c3cb", "test_batch": "40351d587109b95175f43aff81a1287e"}

IMAGE_SHAPE = (3, 32, 32)
PIXELS = 3 * 32 * 32
RECORD_BYTES = 1 + PIXELS
RECORDS_PER_FILE = 10_000  # every official batch file, train or test

HERE = os.path.dirname(os.path.abspath(__file__))
REPO_DATA_DIR = os.path.join(HERE, "..", "..", "data", "cifar10")  # two folders above p2.py, beside the hand-in


class DataError(Exception):
    """CIFAR-10 is missing, unreadable or malformed; the message says which file and what to do."""


@dataclass(frozen=True)
class DataSource:
    """Where the data is read from: the batches folder, its layout (BIN or PY) and a description for reports
    (what the data is, never where it is on this machine)."""
    folder: str
    layout: str
    description: str

    def describe(self, note=""):
        """The description led by the user's note on the data (e.g. 'JPEG-q75 copy'): the note says what the files
        are, the description only how they were read."""
        return f"{note}; read as {self.description}" if note else self.description


def _is_official_py(folder):
    """Whether the six python batches are byte for byte the official files (a fraction of a second)."""
    for name, md5 in PY_MD5.items():
        path = os.path.join(folder, name)
        if not os.path.isfile(path):
            return False
        with open(path, "rb") as f:   # 30 MB each
            if hashlib.md5(f.read(), usedforsecurity=False).hexdigest() != md5:
                return False
    return True


def _found(folder, layout, downloaded=False):
    if downloaded:
        description = "CIFAR-10, official binary version, md5-checked download"
    elif layout == PY and _is_official_py(folder):
        description = f"CIFAR-10, official python version ({PY}), md5-checked"
    else:
        description = f"CIFAR-10, {LAYOUT_NAMES[layout]} ({layout})"  # no checksums known for unpacked .bin files
    return DataSource(os.path.abspath(folder), layout, description)


# ---------------------------------------------------------------------------------------------------------------
# Finding the data
# ---------------------------------------------------------------------------------------------------------------
def search_places():
    """Where to look when no folder is given, in order: $CIFAR10_DIR, ./data (the PyTorch tutorial's root), the
    folder holding p2.py and its data/, then data/ two folders above p2.py (the tutorial's root when p2.py is run
    from two folders above it) and data/cifar10 there."""
    repo_data = os.path.dirname(REPO_DATA_DIR)
    places = [cifar10_dir_setting(), "data", HERE, os.path.join(HERE, "data"), repo_data, REPO_DATA_DIR]
    unique = []
    for place in places:
        if place and os.path.abspath(place) not in unique:
            unique.append(os.path.abspath(place))
    return unique


def find_in(place):
    """The CIFAR-10 folder in `place` (place/cifar-10-batches-bin, place/cifar-10-batches-py, or place itself when
    it holds batch files), or None. A complete copy wins over a partial one; then the binary layout, which needs no
    unpickling."""
    def present(folder, layout):
        return [os.path.isfile(os.path.join(folder, name)) for name in FILES[layout]["train"] + FILES[layout]["test"]]
    held = [(folder, layout) for layout in (BIN, PY) for folder in (os.path.join(place, layout), place)
            if any(present(folder, layout))]
    complete = [candidate for candidate in held if all(present(*candidate))]
    return _found(*(complete + held)[0]) if held else None


def _not_found(places):
    """The message for places holding no CIFAR-10, naming a batches folder that is there but holds none of its files
    (a wrong or unfinished copy), as that one needs the user's eye."""
    strays = [os.path.join(p, layout) for p in places for layout in (BIN, PY) if os.path.isdir(os.path.join(p, layout))]
    stray = f" ({', '.join(strays)} holds none of the batch files)" if strays else ""
    return f"CIFAR-10 not found: looked for {BIN}/ or {PY}/ in {', '.join(places)}{stray}"


POINT_TO_DATA = "Pass --data-dir (or set CIFAR10_DIR) to the folder holding one of them"


def _new_paths(data_dir):
    """The outermost folder that downloading into data_dir would create, or, when data_dir exists, the archive and
    batches folder it would add: what to remove if the download fails."""
    path, outermost_new = os.path.abspath(data_dir), None
    while not os.path.exists(path):
        path, outermost_new = os.path.dirname(path), path
    if outermost_new:
        return [outermost_new]
    return [p for p in (os.path.join(data_dir, ARCHIVE), os.path.join(data_dir, BIN)) if not os.path.exists(p)]


def _remove(paths):
    for path in paths:
        if os.path.isdir(path):
            shutil.rmtree(path, ignore_errors=True)
        elif os.path.exists(path):
            os.remove(path)


def download_cifar10(data_dir, searched=None):
    """Download and extract the official binary archive into data_dir (md5-checked); return its DataSource.
    On failure (or Ctrl-C) nothing this download created is left behind."""
    new = _new_paths(data_dir)
    print(f"CIFAR-10 not found; downloading it (170 MB) from {URL} into {os.path.abspath(data_dir)}", flush=True)
    timeout = socket.getdefaulttimeout()
    try:
        # torchvision is only needed here, so a machine that already has the data never imports it
        from torchvision.datasets.utils import download_and_extract_archive
        # the 170 MB archive goes once unpacked (the batch files are all p2 reads), unless it was there before
        keep = os.path.exists(os.path.join(data_dir, ARCHIVE))
        socket.setdefaulttimeout(STALL_SECONDS)   # torchvision's urlopen waits forever on a stalled network
        try:
            download_and_extract_archive(URL, data_dir, md5=MD5, remove_finished=not keep)
        finally:
            socket.setdefaulttimeout(timeout)
        source = find_in(data_dir)
        if source is None:
            raise OSError(f"the archive held no {BIN}/ folder")
    except BaseException as exc:
        _remove(new)
        if not isinstance(exc, Exception):
            raise
        # torchvision's words when the file came but its md5 did not match
        why = ("the file that came does not match CIFAR-10's md5 checksum: an interrupted transfer, or a network "
               "that served another page" if isinstance(exc, RuntimeError) and "corrupted" in str(exc)
               else f"{type(exc).__name__}: {exc}")
        if "CERTIFICATE_VERIFY_FAILED" in why:   # python.org's Python for macOS comes without certificates
            why += "; on a Mac, run Install Certificates.command in Applications > Python 3.x first"
        full = isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT)   # a disk or a quota full
        then = ("Free about 350 MB there (the archive and its files), or give another folder, and run again" if full
                else f"{POINT_TO_DATA}, or run again with a working network")
        raise DataError(f"{_not_found(searched or [os.path.abspath(data_dir)])}, and downloading it from {URL} "
                        f"into {os.path.abspath(data_dir)} failed ({why}). {then}.") from None
    return _found(source.folder, BIN, downloaded=True)


def locate_cifar10(data_dir=None, download=True):
    """The DataSource to read. With data_dir, only that folder is used (either layout); without, the places of
    search_places() are tried in order. If none holds CIFAR-10 and download is true, the official binary archive
    is fetched into data_dir, or else into $CIFAR10_DIR or ./data."""
    data_dir = os.path.expanduser(data_dir) if data_dir else None
    name, folder = ("--data-dir", data_dir) if data_dir else ("CIFAR10_DIR", cifar10_dir_setting())
    if folder and os.path.exists(folder) and not os.path.isdir(folder):
        raise DataError(f"{name} {folder} is a file; give the folder holding {BIN}/ or {PY}/.")
    places = [os.path.abspath(data_dir)] if data_dir else search_places()
    found = [source for source in map(find_in, places) if source is not None]
    if found:   # a complete copy first: a partial one earlier in the search must not hide it
        return next((source for source in found if not missing_files(source)), found[0])
    if not download:
        raise DataError(f"{_not_found(places)}. {POINT_TO_DATA}, or run p2.py with a network to download it.")
    return download_cifar10(data_dir or cifar10_dir_setting() or "data", searched=places)


def cifar10_dir_setting():
    """$CIFAR10_DIR, a leading ~ expanded: zsh (macOS's shell) leaves it as typed in an argument CIFAR10_DIR=~/cifar."""
    return os.path.expanduser(os.environ.get("CIFAR10_DIR", ""))


# ---------------------------------------------------------------------------------------------------------------
# Reading the batch files
# ---------------------------------------------------------------------------------------------------------------
def _check_labels(path, labels):
    bad = np.flatnonzero((labels < 0) | (labels > 9))
    if bad.size:
        raise DataError(f"{path}: record {bad[0]} has label {labels[bad[0]]}, expected 0..9; the file is corrupt "
                        "or not CIFAR-10. Re-download it.")


def _cut_short(path, n, records):
    what = "was cut short" if n < records else "is longer than an official one"
    return DataError(f"{path}: holds {n:,} images, an official batch holds {records:,}; the file {what} or is not "
                     "CIFAR-10. Re-download it.")


def read_bin_file(path, records=None):
    """One binary batch file -> (images uint8 (n, 3, 32, 32), labels int64 (n,)); n must be `records`
    (default RECORDS_PER_FILE)."""
    records = RECORDS_PER_FILE if records is None else records
    size = os.path.getsize(path)
    if size == 0 or size % RECORD_BYTES:
        raise DataError(f"{path}: {size} bytes is not a whole number of {RECORD_BYTES}-byte records (an official "
                        "batch is 30,730,000 bytes); the file is truncated or not CIFAR-10 binary. Re-download it.")
    if size // RECORD_BYTES != records:
        raise _cut_short(path, size // RECORD_BYTES, records)
    try:
        rows = np.fromfile(path, dtype=np.uint8).reshape(-1, RECORD_BYTES)
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc}). Check the file's permissions or re-download it.") from None
    labels = rows[:, 0].astype(np.int64)
    _check_labels(path, labels)
    return np.ascontiguousarray(rows[:, 1:]).reshape(-1, *IMAGE_SHAPE), labels


def read_py_file(path, records=None):
    """One python batch file -> (images uint8 (n, 3, 32, 32), labels int64 (n,)), unpickled by safe_pickle."""
    records = RECORDS_PER_FILE if records is None else records
    try:
        with open(path, "rb") as f:
            batch = safe_pickle.load(f)
    except safe_pickle.RefusedPickle as exc:
        raise DataError(f"{path}: refused, not loaded: {exc}. Use the official CIFAR-10 files instead.") from None
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc}). Check the file's permissions or re-download it.") from None
    except Exception as exc:  # any damage: truncation, wrong format, impossible array state
        raise DataError(f"{path}: not a readable CIFAR-10 python batch ({type(exc).__name__}: {exc}); the file is "
                        "damaged. Re-download it.") from None
    if not isinstance(batch, dict):
        raise DataError(f"{path}: holds a {type(batch).__name__}, not a CIFAR-10 batch (a dict). Re-download it.")
    # the official files have Python 2 string keys, which read as bytes
    batch = {k.decode("latin-1") if isinstance(k, bytes) else k: v for k, v in batch.items()}
    if "data" not in batch or "labels" not in batch:
        raise DataError(f"{path}: has no 'data' and 'labels'; not a CIFAR-10 batch. Re-download it.")
    images, labels = batch["data"], np.asarray(batch["labels"])
    if not (isinstance(images, np.ndarray) and images.dtype == np.uint8 and images.ndim == 2
            and images.shape[1] == PIXELS):
        shape = getattr(images, "shape", None)
        raise DataError(f"{path}: 'data' is {type(images).__name__} {shape}, expected a ({records}, {PIXELS}) "
                        "uint8 array; not a CIFAR-10 batch. Re-download it.")
    if len(images) != records:
        raise _cut_short(path, len(images), records)
    if labels.shape != (records,) or labels.dtype.kind not in "iu":
        raise DataError(f"{path}: 'labels' is not {records} whole numbers; not a CIFAR-10 batch. Re-download it.")
    labels = labels.astype(np.int64)
    _check_labels(path, labels)
    return np.ascontiguousarray(images).reshape(-1, *IMAGE_SHAPE), labels


READERS = {BIN: read_bin_file, PY: read_py_file}


def _read_files(source, names):
    parts = [READERS[source.layout](os.path.join(source.folder, name)) for name in names]
    images = np.concatenate([images for images, _ in parts])
    labels = np.concatenate([labels for _, labels in parts])
    return torch.from_numpy(images), torch.from_numpy(labels)


def load_cifar10(source=None, download=True, splits=("train", "test")):
    """Load the data set as tensors: train_images/test_images uint8 (N, 3, 32, 32), *_labels int64 (N,).

    `source` is a DataSource from locate_cifar10, or a folder (None: search) handed to it with `download`.
    `splits` names the parts to read (evaluation needs only "test").
    """
    if not isinstance(source, DataSource):
        source = locate_cifar10(source, download)
    missing = missing_files(source, splits)
    if missing:
        raise DataError(f"{source.folder}: {', '.join(missing)} missing. Remove that folder and download CIFAR-10 "
                        "again (python p2.py --download-only), or pass --data-dir to a complete copy.")
    out = {}
    for split in splits:
        out[f"{split}_images"], out[f"{split}_labels"] = _read_files(source, FILES[source.layout][split])
    return out


def missing_files(source, splits=("train", "test")):
    """The batch files of `splits` that the DataSource's folder lacks."""
    return [name for split in splits for name in FILES[source.layout][split]
            if not os.path.isfile(os.path.join(source.folder, name))]

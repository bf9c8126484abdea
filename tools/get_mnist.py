"""Download the MNIST CSVs that HW1 problem 1 reads: `python3 tools/get_mnist.py DIR` (or `make data-mnist`).

First source: the CSV files the assignment links to. Fallback: the original MNIST idx files from torchvision's
mirrors (URLs and md5 sums taken from torchvision.datasets.MNIST), converted to the same CSV layout (label, then
784 pixels 0..255, no header, original order). Either way the CSV must match the sha256 below, the checksum of
the assignment's files, so both routes give identical bytes. Files already present and correct are kept; every
file is written to a temporary name and renamed, so an interrupted run never leaves a partial CSV.
"""
import gzip
import hashlib
import os
import sys
import urllib.request

import numpy as np

CSV_URLS = {
    "mnist_train.csv": "https://pjreddie.com/media/files/mnist_train.csv",
    "mnist_test.csv": "https://pjreddie.com/media/files/mnist_test.csv",
}
CSV_SHA256 = {
    "mnist_train.csv": "fb60bc58af4dac3554e394af262b3184479833d3cc540ff8783f274b73492d5d",
    "mnist_test.csv": "51c292478d94ec3a01461bdfa82eb0885d262eb09e615679b2d69dedb6ad09e7",
}
IDX_FILES = {  # the idx pair (images, labels) each CSV is made from
    "mnist_train.csv": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "mnist_test.csv": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}
TIMEOUT_S = 60


class GetMnistError(Exception):
    """The MNIST files could not be downloaded or did not verify."""


def fetch(url):
    """The bytes at `url` (tests replace this function to serve generated files)."""
    with urllib.request.urlopen(url, timeout=TIMEOUT_S) as response:
        return response.read()


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def file_sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def torchvision_mirrors():
    """[(base URL, ...)], {idx file name: md5} as torchvision's MNIST class lists them."""
    from torchvision.datasets import MNIST
    return list(MNIST.mirrors), dict(MNIST.resources)


def idx_to_csv(images_gz, labels_gz):
    """The assignment's CSV text from the original gzip'd idx files (big-endian header, then raw bytes)."""
    images, labels = gzip.decompress(images_gz), gzip.decompress(labels_gz)
    if int.from_bytes(images[:4], "big") != 2051 or int.from_bytes(labels[:4], "big") != 2049:
        raise GetMnistError("the idx files do not start with the MNIST magic numbers 2051/2049")
    n, rows, cols = (int.from_bytes(images[k:k + 4], "big") for k in (4, 8, 12))
    pixels = np.frombuffer(images, np.uint8, offset=16).reshape(n, rows * cols)
    label = np.frombuffer(labels, np.uint8, offset=8)
    if len(label) != n:
        raise GetMnistError(f"the idx files disagree: {n} images but {len(label)} labels")
    text = [str(v) for v in range(256)]
    table = np.column_stack([label, pixels])
    return "".join(",".join([text[v] for v in row]) + "\n" for row in table.tolist()).encode("ascii")


def download(url):
    try:
        return fetch(url)
    except OSError as e:  # urllib's URLError, timeouts, refused connections
        raise GetMnistError(f"{url}: {getattr(e, 'reason', e)}") from None


def from_assignment_link(name):
    data = download(CSV_URLS[name])
    if sha256(data) != CSV_SHA256[name]:
        raise GetMnistError(f"{CSV_URLS[name]}: the file does not match the expected sha256")
    return data


def from_idx_mirrors(name):
    mirrors, md5s = torchvision_mirrors()
    parts = []
    for idx_name in IDX_FILES[name]:
        errors = []
        for base in mirrors:
            try:
                data = download(base + idx_name)
            except GetMnistError as e:
                errors.append(str(e))
                continue
            if hashlib.md5(data).hexdigest() == md5s[idx_name]:
                parts.append(data)
                break
            errors.append(f"{base + idx_name}: md5 mismatch")
        else:
            raise GetMnistError("\n  ".join(errors))
    data = idx_to_csv(*parts)
    if sha256(data) != CSV_SHA256[name]:
        raise GetMnistError(f"{name} converted from the idx files does not match the expected sha256")
    return data


def write_atomically(path, data):
    tmp = f"{path}.tmp{os.getpid()}"
    try:
        with open(tmp, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def get(name, folder):
    """Make sure folder/name is the verified CSV; returns what was done."""
    path = os.path.join(folder, name)
    if os.path.isfile(path) and file_sha256(path) == CSV_SHA256[name]:
        return "already present, sha256 verified"
    errors = []
    for source, how in ((from_assignment_link, "the assignment's link"),
                        (from_idx_mirrors, "the original idx files (torchvision mirror)")):
        try:
            data = source(name)
        except GetMnistError as e:
            errors.append(str(e))
            continue
        write_atomically(path, data)
        return f"downloaded from {how}, sha256 verified"
    raise GetMnistError(f"could not get {name}:\n  " + "\n  ".join(errors) + "\nCheck the network connection, "
                        f"or copy mnist_train.csv and mnist_test.csv into {folder} by hand.")


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print("usage: python3 tools/get_mnist.py DIR", file=sys.stderr)
        return 2
    folder = argv[0]
    try:
        os.makedirs(folder, exist_ok=True)
        for name in CSV_URLS:
            print(f"{os.path.join(folder, name)}: {get(name, folder)}", flush=True)
    except (GetMnistError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Download the MNIST CSVs that HW1 problem 1 reads: python3 tools/get_mnist.py DIR (or make data-mnist).

Sources, tried in this order for each file:
  1. the assignment's own links, https://www.python-course.eu/data/mnist/mnist_train.csv and .../mnist_test.csv
     (label, then 784 pixels 0..255, no header, the original order);
  2. a CSV copy of MNIST at pjreddie.com, the same layout;
  3. the original MNIST idx files from torchvision's mirrors (URLs and md5 sums taken from
     torchvision.datasets.MNIST), converted here to the same CSV layout.
Each CSV must match a fixed sha256 (that of the standard MNIST CSV files), so every route gives identical
bytes. Files already present and correct are kept; every file is written to a temporary name and
renamed, so an interrupted run never leaves a partial CSV, and a failed run leaves no empty folder behind.
"""
import argparse
import gzip
import hashlib
import http.client
import os
import sys
import urllib.request

CSV_NAMES = ("mnist_train.csv", "mnist_test.csv")
CSV_COPIES = (  # (folder URL, how to name it): the assignment's own links first, then a mirror
    ("https://www.python-course.eu/data/mnist/", "the assignment's CSV copy at python-course.eu"),
    ("https://pjreddie.com/media/files/", "the CSV copy at pjreddie.com"),
)
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
    try:
        from torchvision.datasets import MNIST
    except Exception as e:   # not installed, or torch and torchvision of versions that do not fit
        raise GetMnistError(f"this source needs torchvision, which did not load ({type(e).__name__}: {e}); "
                            "make install") from None
    return list(MNIST.mirrors), dict(MNIST.resources)


def idx_to_csv(images_gz, labels_gz):
    """The assignment's CSV text from the original gzip'd idx files (big-endian header, then raw bytes)."""
    try:
        import numpy as np   # only this source needs it: the CSV copies download without it
    except ImportError:
        raise GetMnistError("this source needs numpy, which is not installed: make install") from None
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
        why = f"{getattr(e, 'reason', e)}"
        if "CERTIFICATE_VERIFY_FAILED" in why:   # python.org's Python for macOS comes without certificates
            why += "; on a Mac, run Install Certificates.command in Applications > Python 3.x first"
        raise GetMnistError(f"{url}: {why}") from None
    except http.client.HTTPException as e:   # e.g. IncompleteRead: the connection dropped part-way
        raise GetMnistError(f"{url}: the download broke off ({type(e).__name__})") from None


def csv_copy(base):
    """A source: the CSV `name` from the folder URL `base`, checked against its sha256."""
    def from_csv_copy(name):
        data = download(base + name)
        if sha256(data) != CSV_SHA256[name]:
            raise GetMnistError(f"{base + name}: the file does not match the expected sha256")
        return data
    return from_csv_copy


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
    except OSError as e:   # a full disk or quota names no file of its own
        raise GetMnistError(f"cannot write {path}: {e.strerror or e}") from None
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


SOURCES = tuple((csv_copy(base), how) for base, how in CSV_COPIES) + \
    ((from_idx_mirrors, "the original idx files from torchvision's mirrors, converted to CSV"),)


def get(name, folder):
    """Make sure folder/name is the verified CSV, trying SOURCES in order; returns what was done."""
    path = os.path.join(folder, name)
    if os.path.isfile(path) and file_sha256(path) == CSV_SHA256[name]:
        return "already present, sha256 verified"
    check_writable(folder)
    errors = []
    for number, (source, how) in enumerate(SOURCES, start=1):
        print(f"{name}: trying source {number} of {len(SOURCES)}, {how}", flush=True)
        try:
            data = source(name)
        except GetMnistError as e:
            errors.append(f"{how}: {e}")
            continue
        write_atomically(path, data)
        return f"downloaded from {how}, sha256 verified"
    raise GetMnistError(f"could not get {name} from any source:\n  " + "\n  ".join(errors) + "\nCheck the network "
                        f"connection, or copy mnist_train.csv and mnist_test.csv into {folder} by hand.")


def make_folder(folder):
    """Create `folder` and any missing parents; returns the ones created, deepest first, to undo on failure."""
    if os.path.exists(folder) and not os.path.isdir(folder):
        raise GetMnistError(f"{folder} is a file, not a folder; give the folder the CSVs should go to")
    created, path = [], os.path.abspath(folder)
    while not os.path.isdir(path):
        created.append(path)
        path = os.path.dirname(path)
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError as e:
        remove_if_empty(created)
        raise GetMnistError(f"{folder} cannot be created ({e.strerror or e}); choose a folder you can write to") \
            from None
    return created


def check_writable(folder):
    """Fail before a download, not after it, when the CSV could not be written (a read-only folder that already
    holds both verified CSVs is fine: nothing is written there)."""
    probe = os.path.join(folder, f".write_test{os.getpid()}")
    try:
        open(probe, "wb").close()
        os.remove(probe)
    except OSError as e:
        raise GetMnistError(f"{folder} cannot be written ({e.strerror or e}); choose a folder you can write to") \
            from None


def remove_if_empty(folders):
    for path in folders:
        try:
            os.rmdir(path)
        except OSError:  # not empty (a CSV did arrive) or already gone
            return


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python3 tools/get_mnist.py", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", metavar="DIR", type=os.path.expanduser,   # zsh leaves ~ in MNIST_DIR=~/x
                        help="where mnist_train.csv and mnist_test.csv go")
    try:
        folder = parser.parse_args(argv).folder
    except SystemExit as e:  # --help (0) or a usage error (2)
        return e.code
    if not folder.strip():   # MNIST_DIR= given empty through make, say
        print("error: no folder given: name the folder the CSVs go to, e.g. data/mnist", file=sys.stderr)
        return 2
    created = []
    try:
        created = make_folder(folder)
        for name in CSV_NAMES:
            print(f"{os.path.join(folder, name)}: {get(name, folder)}", flush=True)
    except (GetMnistError, OSError) as e:
        remove_if_empty(created)
        print(f"error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:   # a partly downloaded file was never written (write_atomically)
        remove_if_empty(created)
        print("interrupted (Ctrl-C); nothing half-written was left", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""tools/get_mnist.py with the network replaced by generated files: both sources, skipping, failures."""
import gzip
import hashlib
import http.client
import os
import ssl
import sys
import urllib.error

import numpy as np
import pytest

from tools import get_mnist

MIRRORS = ["https://mirror-a.test/", "https://mirror-b.test/"]
COURSE, PJREDDIE = "https://www.python-course.eu/data/mnist/", "https://pjreddie.com/media/files/"
REAL_MIRRORS = get_mnist.torchvision_mirrors


def make_set(n, seed):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (n, 784), dtype=np.uint8), rng.integers(0, 10, n).astype(np.uint8)


def csv_bytes(pixels, labels):
    return "".join(f"{label}," + ",".join(map(str, row)) + "\n" for label, row in zip(labels, pixels)).encode()


def idx_bytes(pixels, labels):
    images = (2051).to_bytes(4, "big") + b"".join(v.to_bytes(4, "big") for v in (len(pixels), 28, 28))
    return (gzip.compress(images + pixels.tobytes()),
            gzip.compress((2049).to_bytes(4, "big") + len(labels).to_bytes(4, "big") + labels.tobytes()))


@pytest.fixture
def server(monkeypatch):
    """Serves generated files at the URLs get_mnist asks for; `files` maps URL -> bytes, `asked` logs URLs."""
    sets = {"mnist_train.csv": make_set(30, 1), "mnist_test.csv": make_set(10, 2)}
    csvs = {name: csv_bytes(*s) for name, s in sets.items()}
    files, md5s = {}, {}
    for name, s in sets.items():
        files[COURSE + name] = files[PJREDDIE + name] = csvs[name]
        for idx_name, data in zip(get_mnist.IDX_FILES[name], idx_bytes(*s)):
            files[MIRRORS[1] + idx_name] = data
            md5s[idx_name] = hashlib.md5(data).hexdigest()
    asked = []

    def fetch(url):
        asked.append(url)
        if url not in files:
            raise OSError(f"<urlopen error [Errno -2] Name or service not known: {url}>")
        return files[url]

    monkeypatch.setattr(get_mnist, "fetch", fetch)
    monkeypatch.setattr(get_mnist, "torchvision_mirrors", lambda: (MIRRORS, md5s))
    monkeypatch.setattr(get_mnist, "CSV_SHA256", {n: hashlib.sha256(d).hexdigest() for n, d in csvs.items()})
    return type("Server", (), {"files": files, "asked": asked, "csvs": csvs})


def test_downloads_from_the_assignments_own_links_first(tmp_path, server, capsys):
    assert get_mnist.main([str(tmp_path / "mnist")]) == 0
    for name, data in server.csvs.items():
        assert (tmp_path / "mnist" / name).read_bytes() == data
    out = capsys.readouterr().out
    assert "mnist_train.csv: trying source 1 of 3, the assignment's CSV copy at python-course.eu" in out
    assert "downloaded from the assignment's CSV copy at python-course.eu" in out and "source 2" not in out
    assert server.asked == [COURSE + "mnist_train.csv", COURSE + "mnist_test.csv"]
    assert sorted(p.name for p in (tmp_path / "mnist").iterdir()) == ["mnist_test.csv", "mnist_train.csv"]


def test_falls_back_to_the_pjreddie_copy(tmp_path, server, capsys):
    for name in server.csvs:
        del server.files[COURSE + name]
    assert get_mnist.main([str(tmp_path)]) == 0
    assert "downloaded from the CSV copy at pjreddie.com" in capsys.readouterr().out
    for name, data in server.csvs.items():
        assert (tmp_path / name).read_bytes() == data


def test_files_present_and_correct_are_not_downloaded_again(tmp_path, server, capsys):
    assert get_mnist.main([str(tmp_path)]) == 0
    server.asked.clear()
    assert get_mnist.main([str(tmp_path)]) == 0
    assert server.asked == [] and "already present" in capsys.readouterr().out


def test_corrupt_file_is_replaced(tmp_path, server):
    (tmp_path / "mnist_test.csv").write_text("5,0,0\n")
    assert get_mnist.main([str(tmp_path)]) == 0
    assert (tmp_path / "mnist_test.csv").read_bytes() == server.csvs["mnist_test.csv"]


def test_falls_back_to_converted_idx_files(tmp_path, server, capsys):
    for name in server.csvs:
        del server.files[COURSE + name], server.files[PJREDDIE + name]  # both CSV copies are down; mirror-a too
    assert get_mnist.main([str(tmp_path)]) == 0
    for name, data in server.csvs.items():
        assert (tmp_path / name).read_bytes() == data  # identical bytes to the CSV route
    out = capsys.readouterr().out
    assert "trying source 1 of 3" in out and "trying source 3 of 3, the original idx files from torchvision's mirrors" \
        in out and "downloaded from the original idx files" in out


def test_wrong_checksum_is_rejected(tmp_path, server, capsys):
    for url in list(server.files):
        server.files[url] = server.files[url][:-1] + b"1\n" if url.endswith(".csv") else b"garbage"
    assert get_mnist.main([str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "sha256" in err and "md5 mismatch" in err
    assert list(tmp_path.iterdir()) == []


def test_no_network_gives_one_clear_error_and_leaves_no_folder(tmp_path, server, capsys):
    server.files.clear()
    assert get_mnist.main([str(tmp_path / "data" / "mnist")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: could not get mnist_train.csv from any source") and "Check the network" in err
    assert "the assignment's CSV copy at python-course.eu: " in err and "the CSV copy at pjreddie.com: " in err
    assert "the original idx files from torchvision's mirrors" in err
    assert "Traceback" not in err and list(tmp_path.iterdir()) == []


def test_a_failed_run_keeps_a_folder_that_was_there(tmp_path, server):
    server.files.clear()
    assert get_mnist.main([str(tmp_path)]) == 1
    assert tmp_path.is_dir()


def test_a_download_that_breaks_off_or_a_missing_torchvision_is_one_error(tmp_path, server, capsys, monkeypatch):
    def broken(url):
        raise http.client.IncompleteRead(b"partial", 1000)   # the connection dropped mid-body
    monkeypatch.setattr(get_mnist, "fetch", broken)
    monkeypatch.setattr(get_mnist, "torchvision_mirrors", REAL_MIRRORS)
    monkeypatch.setitem(sys.modules, "torchvision.datasets", None)   # as on a p1-only machine: no torchvision
    assert get_mnist.main([str(tmp_path / "mnist")]) == 1
    err = capsys.readouterr().err
    assert "the download broke off (IncompleteRead)" in err and "this source needs torchvision" in err
    assert "Traceback" not in err and list(tmp_path.iterdir()) == []


def test_a_download_refused_for_want_of_certificates_says_what_a_mac_needs(tmp_path, server, capsys, monkeypatch):
    def refused(url):   # python.org's Python for macOS before its certificates are installed
        raise urllib.error.URLError(ssl.SSLCertVerificationError(1, "[SSL: CERTIFICATE_VERIFY_FAILED] certificate "
                                                                    "verify failed"))
    monkeypatch.setattr(get_mnist, "fetch", refused)
    monkeypatch.setitem(sys.modules, "torchvision.datasets", None)
    assert get_mnist.main([str(tmp_path / "mnist")]) == 1
    err = capsys.readouterr().err
    assert "CERTIFICATE_VERIFY_FAILED" in err and "on a Mac, run Install Certificates.command" in err


def test_a_torchvision_that_does_not_load_is_one_error(tmp_path, server, capsys, monkeypatch):
    import builtins
    real_import = builtins.__import__

    def mismatched(name, *args, **kwargs):   # what a torchvision built for another torch raises
        if name.startswith("torchvision"):
            raise RuntimeError("operator torchvision::nms does not exist")
        return real_import(name, *args, **kwargs)
    server.files.clear()
    monkeypatch.setattr(get_mnist, "torchvision_mirrors", REAL_MIRRORS)
    monkeypatch.setattr(builtins, "__import__", mismatched)
    assert get_mnist.main([str(tmp_path / "mnist")]) == 1
    err = capsys.readouterr().err
    assert "this source needs torchvision, which did not load (RuntimeError: operator torchvision::nms" in err
    assert "Traceback" not in err and list(tmp_path.iterdir()) == []


def test_ctrl_c_leaves_no_folder_and_exits_130(tmp_path, server, capsys, monkeypatch):
    def interrupted(url):
        raise KeyboardInterrupt
    monkeypatch.setattr(get_mnist, "fetch", interrupted)
    assert get_mnist.main([str(tmp_path / "mnist")]) == 130
    assert capsys.readouterr().err.startswith("interrupted (Ctrl-C)") and list(tmp_path.iterdir()) == []


def test_a_folder_that_cannot_be_written_is_refused_before_any_download(tmp_path, server, capsys):
    blocker = tmp_path / "afile"
    blocker.write_text("x")
    assert get_mnist.main([str(blocker)]) == 1
    err = capsys.readouterr().err
    assert err == f"error: {blocker} is a file, not a folder; give the folder the CSVs should go to\n"
    assert get_mnist.main([str(blocker / "sub")]) == 1
    assert "cannot be created (Not a directory)" in capsys.readouterr().err
    assert server.asked == [] and sorted(p.name for p in tmp_path.iterdir()) == ["afile"]


def test_a_read_only_folder_that_holds_both_csvs_is_fine(tmp_path, server, monkeypatch):
    assert get_mnist.main([str(tmp_path)]) == 0

    def read_only(folder):
        raise get_mnist.GetMnistError(f"{folder} cannot be written (Permission denied)")
    monkeypatch.setattr(get_mnist, "check_writable", read_only)   # as the course's shared, read-only copy
    assert get_mnist.main([str(tmp_path)]) == 0
    (tmp_path / "mnist_test.csv").unlink()
    assert get_mnist.main([str(tmp_path)]) == 1   # now something would have to be written there


def test_help_names_the_sources_in_order(capsys):
    assert get_mnist.main(["--help"]) == 0
    out = capsys.readouterr().out
    assert "tried in this order" in out
    assert out.index("1. the assignment's own links, https://www.python-course.eu/data/mnist/mnist_train.csv") < \
        out.index("2. a CSV copy of MNIST at pjreddie.com") < out.index("3. the original MNIST idx files")


def test_usage(capsys):
    assert get_mnist.main([]) == 2
    assert "usage" in capsys.readouterr().err
    assert get_mnist.main(["--", " "]) == 2
    assert capsys.readouterr().err == "error: no folder given: name the folder the CSVs go to, e.g. data/mnist\n"


def test_torchvision_lists_the_mirrors():
    mirrors, md5s = get_mnist.torchvision_mirrors()
    assert mirrors and set(md5s) == {f for pair in get_mnist.IDX_FILES.values() for f in pair}


def test_a_full_disk_names_the_file_and_leaves_nothing(tmp_path, server, capsys, monkeypatch):
    real_open = open

    def full_disk(path, mode="r", *args, **kwargs):
        if "w" in mode and str(path).endswith(f".tmp{os.getpid()}"):   # the CSV, once the folder proved writable
            raise OSError(28, "No space left on device")
        return real_open(path, mode, *args, **kwargs)
    monkeypatch.setattr("builtins.open", full_disk)
    folder = tmp_path / "mnist"
    assert get_mnist.main([str(folder)]) == 1
    err = capsys.readouterr().err
    assert err == f"error: cannot write {folder / 'mnist_train.csv'}: No space left on device\n"
    assert list(tmp_path.iterdir()) == []

"""data.py and safe_pickle.py on tiny batch files in both official CIFAR-10 layouts (no network, no real data)."""
import contextlib
import os
import pickle

import numpy as np
import pytest
import torch

import data
import p2
from fakes import python2_batch_pickle, write_cifar_batches

RECORDS = 8
LAYOUT_DIRS = {"bin": data.BIN, "py": data.PY, "py2": data.PY}


@pytest.fixture(autouse=True)
def small_batches(monkeypatch, tmp_path):
    """Batch files of RECORDS records stand for the official 10,000; no real data or env setting leaks in."""
    monkeypatch.setattr(data, "RECORDS_PER_FILE", RECORDS)
    monkeypatch.delenv("CIFAR10_DIR", raising=False)
    monkeypatch.setattr(data, "HERE", str(tmp_path / "p2"))
    monkeypatch.setattr(data, "REPO_DATA_DIR", str(tmp_path / "repo" / "data" / "cifar10"))
    monkeypatch.chdir(tmp_path)


def no_download(monkeypatch):
    def offline(*args, **kwargs):
        raise AssertionError("must not download")
    monkeypatch.setattr(data, "download_cifar10", offline)


def expected(written, split, layout):
    names = data.FILES[LAYOUT_DIRS[layout]][split]
    return (np.concatenate([written[n][0] for n in names]), np.concatenate([written[n][1] for n in names]))


def test_classes_in_official_order():
    assert data.CLASSES == ("airplane", "automobile", "bird", "cat", "deer",
                            "dog", "frog", "horse", "ship", "truck")


def test_pixel_order_lands_in_right_channel_row_col(tmp_path):
    # one record built byte by byte from the format description: R plane, G plane, B plane, row-major
    planes = np.zeros((3, 32, 32), np.uint8)
    planes[0, 0, 1], planes[1, 2, 0], planes[2, 31, 30] = 11, 22, 33
    path = tmp_path / "one.bin"
    np.concatenate([[7], planes.ravel()]).astype(np.uint8).tofile(path)
    images, labels = data.read_bin_file(str(path), records=1)
    assert images.shape == (1, 3, 32, 32) and images.dtype == np.uint8
    assert labels.dtype == np.int64 and labels.tolist() == [7]
    assert images[0, 0, 0, 1] == 11 and images[0, 1, 2, 0] == 22 and images[0, 2, 31, 30] == 33
    assert int(images.sum()) == 11 + 22 + 33


@pytest.mark.parametrize("layout", ["bin", "py", "py2"])
@pytest.mark.parametrize("nested", [True, False])
def test_both_layouts_read_in_both_folder_forms(tmp_path, layout, nested):
    batches = tmp_path / "cifar" / LAYOUT_DIRS[layout]
    written = write_cifar_batches(batches, layout, RECORDS)
    source = data.locate_cifar10(str(batches.parent if nested else batches), download=False)
    assert source.folder == str(batches) and source.layout == LAYOUT_DIRS[layout]
    out = data.load_cifar10(source)
    for split in ("train", "test"):
        images, labels = expected(written, split, layout)
        assert out[f"{split}_images"].dtype == torch.uint8 and out[f"{split}_labels"].dtype == torch.int64
        np.testing.assert_array_equal(out[f"{split}_images"].numpy(), images)
        np.testing.assert_array_equal(out[f"{split}_labels"].numpy(), labels)


def test_same_images_give_the_same_tensors_in_every_layout(tmp_path):
    loaded = {}
    for layout in ("bin", "py", "py2"):
        write_cifar_batches(tmp_path / layout / LAYOUT_DIRS[layout], layout, RECORDS, seed=3)
        loaded[layout] = data.load_cifar10(str(tmp_path / layout), download=False)
    for key, tensor in loaded["bin"].items():
        assert torch.equal(loaded["py"][key], tensor) and torch.equal(loaded["py2"][key], tensor)


def test_binary_layout_wins_when_a_folder_holds_both(tmp_path):
    write_cifar_batches(tmp_path / "both" / data.PY, "py", RECORDS)
    write_cifar_batches(tmp_path / "both" / data.BIN, "bin", RECORDS)
    assert data.locate_cifar10(str(tmp_path / "both"), download=False).layout == data.BIN
    (tmp_path / "both" / data.BIN / "data_batch_3.bin").unlink()   # a partial binary copy: the complete one wins
    assert data.locate_cifar10(str(tmp_path / "both"), download=False).layout == data.PY


def test_description_names_the_data_never_the_folder(tmp_path):
    write_cifar_batches(tmp_path / "d" / data.PY, "py", RECORDS)
    source = data.locate_cifar10(str(tmp_path / "d"), download=False)
    assert source.description == "CIFAR-10, python version (cifar-10-batches-py)"
    assert source.describe("JPEG-q75 copy") == "JPEG-q75 copy; read as CIFAR-10, python version (cifar-10-batches-py)"
    assert str(tmp_path) not in source.describe("note")


def test_python_batches_matching_the_official_checksums_are_called_official(tmp_path, monkeypatch):
    import hashlib
    batches = tmp_path / "d" / data.PY
    write_cifar_batches(batches, "py2", RECORDS)
    checksums = {name: hashlib.md5((batches / name).read_bytes()).hexdigest() for name in data.PY_MD5}
    monkeypatch.setattr(data, "PY_MD5", checksums)
    assert data.locate_cifar10(str(batches)).description == \
        "CIFAR-10, official python version (cifar-10-batches-py), md5-checked"
    (batches / "test_batch").write_bytes((batches / "test_batch").read_bytes() + b" ")
    assert "official" not in data.locate_cifar10(str(batches)).description


# ---------------------------------------------------------------------------------------------------------------
# Where the data is looked for
# ---------------------------------------------------------------------------------------------------------------
def test_search_order_env_then_cwd_data_then_p2_folder_then_repo(tmp_path, monkeypatch):
    no_download(monkeypatch)
    places = [tmp_path / "env", tmp_path / "data", tmp_path / "p2", tmp_path / "p2" / "data",
              tmp_path / "repo" / "data", tmp_path / "repo" / "data" / "cifar10"]
    monkeypatch.setenv("CIFAR10_DIR", str(places[0]))
    assert data.search_places() == [str(p) for p in places]
    layouts = ["py", "py", "bin", "py2", "py", "bin"]
    for place, layout in reversed(list(zip(places, layouts))):  # fill from the last place; the first must win
        write_cifar_batches(place / LAYOUT_DIRS[layout], layout, RECORDS)
        source = data.locate_cifar10()
        assert source.folder == str(place / LAYOUT_DIRS[layout])


def test_a_partial_copy_early_in_the_search_does_not_hide_a_complete_one(tmp_path, monkeypatch):
    no_download(monkeypatch)
    partial, complete = tmp_path / "env", tmp_path / "data"
    monkeypatch.setenv("CIFAR10_DIR", str(partial))
    monkeypatch.chdir(tmp_path)
    write_cifar_batches(partial / data.PY, "py", RECORDS)
    os.remove(partial / data.PY / "data_batch_3")
    with pytest.raises(data.DataError, match="data_batch_3 missing. Remove that folder and download CIFAR-10 again"):
        data.load_cifar10()   # the only copy found is partial: it is named, with what to do
    write_cifar_batches(complete / data.BIN, "bin", RECORDS)
    assert data.locate_cifar10().folder == str(complete / data.BIN)


def test_download_only_checks_every_file_before_it_says_ok(tmp_path, monkeypatch, capsys):
    no_download(monkeypatch)
    write_cifar_batches(tmp_path / data.BIN, "bin", RECORDS)
    assert p2.main(["--download-only", "--data-dir", str(tmp_path)]) == 0
    assert capsys.readouterr().out.strip().endswith(f"{5 * RECORDS} training and {RECORDS} test images, checked")
    with open(tmp_path / data.BIN / data.TEST_FILE, "r+b") as f:
        f.truncate(100)
    assert p2.main(["--download-only", "--data-dir", str(tmp_path)]) != 0
    assert "test_batch.bin" in capsys.readouterr().err


def test_run_from_inside_the_p2_folder_finds_the_tutorials_data_in_the_repository(tmp_path, monkeypatch):
    # The PyTorch tutorial downloads into <repo>/data/cifar-10-batches-py; `cd andrewID-HW1/p2 && python p2.py`
    # must find it there, not only in the working folder's data/.
    no_download(monkeypatch)
    repo = tmp_path / "repo"
    monkeypatch.setattr(data, "HERE", str(repo / "andrewID-HW1" / "p2"))
    monkeypatch.setattr(data, "REPO_DATA_DIR", str(repo / "andrewID-HW1" / "p2" / ".." / ".." / "data" / "cifar10"))
    (repo / "andrewID-HW1" / "p2").mkdir(parents=True)
    monkeypatch.chdir(repo / "andrewID-HW1" / "p2")
    write_cifar_batches(repo / "data" / data.PY, "py", RECORDS)
    assert data.locate_cifar10().folder == str(repo / "data" / data.PY)


def test_not_found_names_every_place_tried(tmp_path, monkeypatch):
    monkeypatch.setenv("CIFAR10_DIR", str(tmp_path / "env"))
    os.makedirs(tmp_path / "data" / data.BIN)  # an empty batches folder holds nothing
    with pytest.raises(data.DataError) as info:
        data.locate_cifar10(download=False)
    message = str(info.value)
    for place in data.search_places():
        assert place in message
    assert data.BIN in message and data.PY in message and "--data-dir" in message and "\n" not in message


def test_a_given_folder_is_the_only_place_looked_at(tmp_path):
    write_cifar_batches(tmp_path / "data" / data.BIN, "bin", RECORDS)  # found by a search, not by --data-dir
    with pytest.raises(data.DataError, match="not found"):
        data.locate_cifar10(str(tmp_path / "elsewhere"), download=False)


def test_a_batches_folder_without_batch_files_is_named(tmp_path):
    stray = tmp_path / data.BIN
    stray.mkdir()
    (stray / "notes.txt").write_text("not the data")
    with pytest.raises(data.DataError) as info:
        data.locate_cifar10(str(tmp_path), download=False)
    assert f"({stray} holds none of the batch files)" in str(info.value)


def test_a_file_given_as_data_dir_is_refused_before_any_download(tmp_path, monkeypatch):
    no_download(monkeypatch)
    (tmp_path / "cifar.tar.gz").write_bytes(b"x")
    with pytest.raises(data.DataError, match="is a file; give the folder"):
        data.locate_cifar10(str(tmp_path / "cifar.tar.gz"))
    monkeypatch.setenv("CIFAR10_DIR", str(tmp_path / "cifar.tar.gz"))   # where p2 would download to, without one
    with pytest.raises(data.DataError, match=r"^CIFAR10_DIR .*cifar\.tar\.gz is a file; give the folder"):
        data.locate_cifar10()


# ---------------------------------------------------------------------------------------------------------------
# Downloading
# ---------------------------------------------------------------------------------------------------------------
def fake_download(calls, fail=None):
    def download(url, root, md5=None, remove_finished=False):
        calls.append((url, os.path.abspath(root), md5))
        os.makedirs(root, exist_ok=True)
        with open(os.path.join(root, data.ARCHIVE), "wb") as f:
            f.write(b"partial")
        if fail:
            os.makedirs(os.path.join(root, data.BIN), exist_ok=True)
            raise fail
        write_cifar_batches(os.path.join(root, data.BIN), "bin", RECORDS)
        if remove_finished:   # as torchvision does once the archive is unpacked
            os.remove(os.path.join(root, data.ARCHIVE))
    return download


def test_download_uses_official_url_and_md5_and_says_so(tmp_path, monkeypatch):
    import torchvision.datasets.utils as tv_utils
    calls = []
    monkeypatch.setattr(tv_utils, "download_and_extract_archive", fake_download(calls))
    source = data.locate_cifar10(str(tmp_path / "fresh"))
    assert calls == [(data.URL, str(tmp_path / "fresh"), data.MD5)]
    assert source.folder == str(tmp_path / "fresh" / data.BIN)
    assert source.description == "CIFAR-10, official binary version, md5-checked download"
    assert data.load_cifar10(source)["train_images"].shape[0] == 5 * RECORDS


@pytest.mark.parametrize("env", [True, False])
def test_search_downloads_into_cifar10_dir_or_else_data(tmp_path, monkeypatch, env):
    import torchvision.datasets.utils as tv_utils
    calls = []
    monkeypatch.setattr(tv_utils, "download_and_extract_archive", fake_download(calls))
    if env:
        monkeypatch.setenv("CIFAR10_DIR", str(tmp_path / "mine"))
    data.locate_cifar10()
    assert calls[0][1] == str(tmp_path / ("mine" if env else "data"))


@pytest.mark.parametrize("fail", [None, OSError("timed out")])
def test_a_download_says_so_first_and_gives_up_on_a_stalled_network(tmp_path, monkeypatch, capsys, fail):
    """torchvision's urlopen has no timeout of its own: a connection that stalls would wait, silent, forever."""
    import socket
    import torchvision.datasets.utils as tv_utils
    waits, before = [], socket.getdefaulttimeout()
    download = fake_download([], fail)
    monkeypatch.setattr(tv_utils, "download_and_extract_archive",
                        lambda *a, **k: waits.append(socket.getdefaulttimeout()) or download(*a, **k))
    with pytest.raises(data.DataError) if fail else contextlib.nullcontext():
        data.locate_cifar10(str(tmp_path / "fresh"))
    assert waits == [data.STALL_SECONDS] and socket.getdefaulttimeout() == before
    assert capsys.readouterr().out == (f"CIFAR-10 not found; downloading it (170 MB) from {data.URL} into "
                                       f"{tmp_path / 'fresh'}\n")


def test_failed_download_leaves_no_folder_it_created(tmp_path, monkeypatch):
    import torchvision.datasets.utils as tv_utils
    calls = []
    monkeypatch.setattr(tv_utils, "download_and_extract_archive", fake_download(calls, OSError("network down")))
    with pytest.raises(data.DataError) as info:
        data.locate_cifar10(str(tmp_path / "new" / "cifar"))
    assert not (tmp_path / "new").exists()
    message = str(info.value)
    assert "not found" in message and "network down" in message and data.URL in message
    assert "--data-dir" in message and "CIFAR10_DIR" in message and "\n" not in message


def test_a_download_refused_for_want_of_certificates_says_what_a_mac_needs(tmp_path, monkeypatch):
    import urllib.error
    import torchvision.datasets.utils as tv_utils
    refused = urllib.error.URLError("[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed")
    monkeypatch.setattr(tv_utils, "download_and_extract_archive", fake_download([], refused))
    with pytest.raises(data.DataError, match="CERTIFICATE_VERIFY_FAILED.*; on a Mac, run Install Certificates.command"):
        data.locate_cifar10(str(tmp_path / "new"))


def test_a_download_that_fails_its_checksum_says_so(tmp_path, monkeypatch):
    import torchvision.datasets.utils as tv_utils
    failed = RuntimeError("File not found or corrupted.")   # torchvision's words for a wrong md5
    monkeypatch.setattr(tv_utils, "download_and_extract_archive", fake_download([], failed))
    with pytest.raises(data.DataError, match="does not match CIFAR-10's md5 checksum: an interrupted transfer"):
        data.locate_cifar10(str(tmp_path / "new"))


def test_failed_download_into_an_existing_folder_keeps_it_and_its_files(tmp_path, monkeypatch):
    import torchvision.datasets.utils as tv_utils
    monkeypatch.setattr(tv_utils, "download_and_extract_archive", fake_download([], OSError("md5 mismatch")))
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    with pytest.raises(data.DataError, match="md5 mismatch"):
        data.locate_cifar10(str(tmp_path / "mine"))
    assert sorted(os.listdir(tmp_path / "mine")) == ["notes.txt"]


# ---------------------------------------------------------------------------------------------------------------
# Damaged and hostile files
# ---------------------------------------------------------------------------------------------------------------
def write_bin(path, labels):
    labels = np.asarray(labels, np.uint8)
    np.column_stack([labels, np.zeros((len(labels), 3072), np.uint8)]).tofile(path)


@pytest.mark.parametrize("size, words", [(3073 * 2 + 5, "not a whole number"), (0, "not a whole number"),
                                         (3073 * (RECORDS - 1), f"holds 7 images, an official batch holds {RECORDS}; "
                                                                "the file was cut short"),
                                         (3073 * (RECORDS + 1), f"holds 9 images, an official batch holds {RECORDS}; "
                                                                "the file is longer than an official one")])
def test_truncated_bin_file_is_refused(tmp_path, size, words):
    path = tmp_path / "data_batch_1.bin"
    path.write_bytes(b"\x01" * size)
    with pytest.raises(data.DataError, match=words) as info:
        data.read_bin_file(str(path))
    assert str(path) in str(info.value)


def test_an_archive_without_the_binary_folder_is_a_failed_download_that_leaves_nothing(tmp_path, monkeypatch):
    import torchvision.datasets.utils as tv_utils
    monkeypatch.setattr(tv_utils, "download_and_extract_archive",
                        lambda url, root, md5=None, remove_finished=False: os.makedirs(root, exist_ok=True))
    with pytest.raises(data.DataError, match=f"failed \\(OSError: the archive held no {data.BIN}/ folder\\)"):
        data.locate_cifar10(str(tmp_path / "fresh"))
    assert not (tmp_path / "fresh").exists()


@pytest.mark.parametrize("layout", ["bin", "py"])
def test_a_batch_file_that_cannot_be_read_is_one_clear_error(tmp_path, monkeypatch, layout):
    written = write_cifar_batches(str(tmp_path / "batches"), layout, RECORDS)
    path = str(tmp_path / "batches" / next(iter(written)))
    import errno

    def disk_error(*args, **kwargs):
        raise OSError(errno.EIO, os.strerror(errno.EIO))
    monkeypatch.setattr(np, "fromfile", disk_error)   # what each layout's reader reads the file with
    monkeypatch.setattr(data.safe_pickle, "load", disk_error)
    reader = data.read_bin_file if layout == "bin" else data.read_py_file
    with pytest.raises(data.DataError, match=f"cannot read .*{os.strerror(errno.EIO)}.*Check the file's permissions"):
        reader(path)


def test_bin_label_out_of_range_names_file_and_record(tmp_path):
    path = tmp_path / "data_batch_3.bin"
    write_bin(path, [1, 2, 3, 10, 4, 5, 6, 7])
    with pytest.raises(data.DataError, match=r"data_batch_3\.bin: record 3 has label 10"):
        data.read_bin_file(str(path))


def write_py(path, batch, protocol=2):
    with open(path, "wb") as f:
        pickle.dump(batch, f, protocol=protocol)


@pytest.mark.parametrize("batch, words", [
    ({b"data": np.zeros((RECORDS - 1, 3072), np.uint8), b"labels": [0] * (RECORDS - 1)},
     f"holds 7 images, an official batch holds {RECORDS}"),
    ({b"data": np.zeros((RECORDS, 3072), np.uint8), b"labels": [0] * 7 + [12]}, "record 7 has label 12"),
    ({b"data": np.zeros((RECORDS, 3072), np.float32), b"labels": [0] * RECORDS}, "expected a"),
    ({b"data": np.zeros((RECORDS, 3072), np.uint8), b"labels": [b"x"] * RECORDS}, "'labels' is not"),
    ({b"data": np.zeros((RECORDS, 3072), np.uint8)}, "has no 'data' and 'labels'"),
    ([1, 2, 3], "holds a list"),
])
def test_malformed_python_batch_is_refused(tmp_path, batch, words):
    path = tmp_path / "data_batch_2"
    write_py(path, batch)
    with pytest.raises(data.DataError, match=words):
        data.read_py_file(str(path))


@pytest.mark.parametrize("protocol", [3, 4, 5])   # 5: Python 3.14's default, arrays as raw buffers
def test_python_batch_with_str_keys_is_read(tmp_path, protocol):
    path = tmp_path / "test_batch"
    write_py(path, {"data": np.full((RECORDS, 3072), 5, np.uint8), "labels": list(range(RECORDS))}, protocol)
    images, labels = data.read_py_file(str(path))
    assert images.shape == (RECORDS, 3, 32, 32) and labels.tolist() == list(range(RECORDS))


def test_truncated_python_batch_is_refused(tmp_path):
    path = tmp_path / "test_batch"
    full = python2_batch_pickle(np.zeros((RECORDS, 3072), np.uint8), [1] * RECORDS, "test_batch")
    path.write_bytes(full[:len(full) // 2])
    with pytest.raises(data.DataError, match="damaged"):
        data.read_py_file(str(path))


class RunsCommand:
    """Unpickling this object calls os.system: what a hostile batch file would do."""

    def __init__(self, command):
        self.command = command

    def __reduce__(self):
        return os.system, (self.command,)


def hostile_pickles(marker):
    command = f"touch {marker}"
    return {
        "os.system via a reducer": pickle.dumps({b"data": RunsCommand(command)}, protocol=2),
        "os.system in protocol 0": f"cos\nsystem\n(S'{command}'\ntR.".encode(),
        "builtins.eval": f"cbuiltins\neval\n(S'__import__(\"os\").system(\"{command}\")'\ntR.".encode(),
        "a codec other than latin-1": b"\x80\x02c_codecs\nencode\nX\x01\x00\x00\x00xX\x04\x00\x00\x00zlib\x86R.",
    }


@pytest.mark.parametrize("kind", list(hostile_pickles("m")))
def test_hostile_python_batch_is_refused_and_runs_nothing(tmp_path, kind):
    marker = tmp_path / "marker"
    path = tmp_path / "data_batch_1"
    path.write_bytes(hostile_pickles(marker)[kind])
    with pytest.raises(data.DataError) as info:
        data.read_py_file(str(path))
    message = str(info.value)
    assert message.startswith(f"{path}: refused, not loaded") and "\n" not in message
    assert not marker.exists()


def test_p2_refuses_a_hostile_batch_in_one_line_before_training(tmp_path, capsys):
    batches = tmp_path / "cifar" / data.PY
    write_cifar_batches(batches, "py", RECORDS)
    marker = tmp_path / "marker"
    (batches / "data_batch_4").write_bytes(hostile_pickles(marker)["os.system via a reducer"])
    code = p2.main(["--data-dir", str(tmp_path / "cifar"), "--out", str(tmp_path / "out"), "--device", "cpu",
                    "--epochs", "1", "--batch-size", "8"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and err.startswith("error: ") and "data_batch_4: refused" in err
    assert f"{os.system.__module__}.system" in err or "os.system" in err   # posix.system; nt.system on Windows
    assert not marker.exists() and not (tmp_path / "out" / "p2_model.pkl").exists()


def test_missing_files_are_all_named(tmp_path):
    batches = tmp_path / data.BIN
    write_cifar_batches(batches, "bin", RECORDS)
    os.remove(batches / "data_batch_2.bin")
    os.remove(batches / data.TEST_FILE)
    with pytest.raises(data.DataError, match=r"data_batch_2\.bin, test_batch\.bin missing"):
        data.load_cifar10(str(tmp_path))


# ---------------------------------------------------------------------------------------------------------------
# p2.py --eval from an unzipped p2 folder with the tutorial's ./data/cifar-10-batches-py
# ---------------------------------------------------------------------------------------------------------------
def test_eval_from_tutorial_data_folder_matches_binary_layout(tmp_path, capsys):
    from checkpoint import save_checkpoint
    from config import Config
    from model import build_model
    torch.manual_seed(0)
    cfg = Config(widths=(8, 16, 16), tta="flip")
    model_path = tmp_path / "p2_model.pkl"
    save_checkpoint(str(model_path), build_model(cfg), cfg, class_names=data.CLASSES, mean=(0, 0, 0),
                    std=(1, 1, 1), preset="test", seed=0, test_accuracy=0.5)
    write_cifar_batches(tmp_path / "data" / data.PY, "py2", RECORDS, seed=5)
    write_cifar_batches(tmp_path / "bin" / data.BIN, "bin", RECORDS, seed=5)
    printed = []
    for extra in ([], ["--data-dir", str(tmp_path / "bin")]):
        assert p2.main(["--eval", str(model_path), "--device", "cpu", *extra]) == 0
        printed.append(capsys.readouterr().out.splitlines())
    assert printed[0][0].startswith("precision: ")   # the precision this device computes in, and why
    assert printed[0][1] == f"data: {tmp_path / 'data' / data.PY} (CIFAR-10 python version)"
    assert printed[1][1] == f"data: {tmp_path / 'bin' / data.BIN} (CIFAR-10 binary version)"
    assert printed[0][-1] == printed[1][-1] and printed[0][-1].startswith("test accuracy: ")



def test_a_download_that_fills_the_disk_says_to_free_space_not_to_fix_the_network(tmp_path, monkeypatch):
    import torchvision.datasets.utils as tv_utils
    full = OSError(28, "No space left on device")
    monkeypatch.setattr(tv_utils, "download_and_extract_archive", fake_download([], full))
    with pytest.raises(data.DataError) as info:
        data.locate_cifar10(str(tmp_path / "new"))
    message = str(info.value)
    assert "No space left on device" in message and "Free about 350 MB there" in message
    assert "network" not in message and not (tmp_path / "new").exists()


@pytest.mark.parametrize("there_before", [False, True])
def test_the_archive_goes_once_unpacked_unless_it_was_there_before(tmp_path, monkeypatch, there_before):
    import torchvision.datasets.utils as tv_utils
    monkeypatch.setattr(tv_utils, "download_and_extract_archive", fake_download([]))
    if there_before:   # fetched by hand beside the folder p2 reads
        (tmp_path / "mine").mkdir()
        (tmp_path / "mine" / data.ARCHIVE).write_bytes(b"the student's copy")
    data.locate_cifar10(str(tmp_path / "mine"))
    assert (tmp_path / "mine" / data.ARCHIVE).exists() == there_before
    assert (tmp_path / "mine" / data.BIN / data.TEST_FILE).exists()


def test_torchvision_takes_the_arguments_the_download_passes():
    import inspect
    from torchvision.datasets.utils import download_and_extract_archive
    assert {"md5", "remove_finished"} <= set(inspect.signature(download_and_extract_archive).parameters)


def test_python_batch_checksums_are_torchvisions():
    from torchvision.datasets import CIFAR10
    assert data.PY_MD5 == dict(CIFAR10.train_list + CIFAR10.test_list)
    assert data.MD5 == "c32a1d4ab5d03f1284b67883e8d87530"   # the binary archive's, as the CIFAR-10 page gives it


@pytest.mark.parametrize("labels, words", [([-1] + [0] * 7, "record 0 has label -1"),
                                           ([0.0] * 8, "'labels' is not 8 whole numbers"),
                                           ([0] * 7, "'labels' is not 8 whole numbers")])
def test_python_batch_labels_must_be_one_whole_number_0_to_9_per_image(tmp_path, labels, words):
    path = tmp_path / "data_batch_1"
    with open(path, "wb") as f:
        pickle.dump({b"data": np.zeros((8, 3072), np.uint8), b"labels": labels}, f, protocol=2)
    with pytest.raises(data.DataError, match=words):
        data.read_py_file(str(path), records=8)


def test_the_repository_data_folder_is_two_folders_above_p2(monkeypatch):
    monkeypatch.undo()   # the real folder, not the one this file's fixture puts in its place
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    assert os.path.normpath(data.REPO_DATA_DIR) == os.path.join(root, "data", "cifar10")


def test_validation_holds_out_the_last_training_images():
    split = p2.split_validation({"train_images": torch.arange(10), "train_labels": torch.arange(10) + 100}, 3, "cpu")
    assert split["val_images"].tolist() == [7, 8, 9] and split["train_images"].tolist() == list(range(7))
    assert split["val_labels"].tolist() == [107, 108, 109]

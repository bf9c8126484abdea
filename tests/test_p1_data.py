"""p1's MNIST CSV reader on generated files: values, caching, and one clear error per malformed case."""
import os

import numpy as np
import pytest

import p1


@pytest.fixture(autouse=True)
def cache_dir(tmp_path, monkeypatch):
    folder = tmp_path / "cache"
    monkeypatch.setenv("P1_CACHE_DIR", str(folder))
    return folder


def table(n=5, seed=0):
    rng = np.random.default_rng(seed)
    return np.column_stack([rng.integers(0, 10, n), rng.integers(0, 256, (n, 784))])


def write_csv(path, rows, newline="\n", final_newline=True):
    text = newline.join(",".join(str(v) for v in row) for row in rows)
    path.write_bytes((text + (newline if final_newline else "")).encode())
    return path


@pytest.mark.parametrize("newline,final_newline", [("\n", True), ("\r\n", True), ("\n", False)])
def test_reads_pixels_and_labels(tmp_path, newline, final_newline):
    rows = table()
    path = write_csv(tmp_path / "mnist_train.csv", rows, newline, final_newline)
    pixels, labels = p1.load_mnist_csv(str(path))
    assert pixels.dtype == np.uint8 and pixels.shape == (5, 784) and pixels.flags.c_contiguous
    assert labels.dtype == np.int64
    np.testing.assert_array_equal(pixels, rows[:, 1:])
    np.testing.assert_array_equal(labels, rows[:, 0])


def test_second_read_comes_from_the_cache_and_edits_invalidate_it(tmp_path, cache_dir):
    path = write_csv(tmp_path / "mnist_test.csv", table())
    p1.load_mnist_csv(str(path))
    cached = [os.path.join(d, f) for d, _, files in os.walk(cache_dir) for f in files]
    assert len(cached) == 1 and cached[0].endswith(".npy")
    np.save(cached[0], np.zeros((2, 785), np.uint8))  # a cache hit returns the cached table, not a re-parse
    assert p1.load_mnist_csv(str(path))[0].shape == (2, 784)
    rows = table(3, seed=1)
    write_csv(path, rows)
    os.utime(path, ns=(1, 1))  # a different size and time: the cache entry no longer matches
    np.testing.assert_array_equal(p1.load_mnist_csv(str(path))[0], rows[:, 1:])
    now_cached = [os.path.join(d, f) for d, _, files in os.walk(cache_dir) for f in files]
    assert len(now_cached) == 1 and now_cached != cached   # the stale one (as large as the data) is gone


def test_only_the_same_csvs_older_caches_are_removed(tmp_path, cache_dir):
    path = write_csv(tmp_path / "mnist_test.csv", table())
    folder = cache_dir / str(tmp_path).lstrip(os.sep)
    folder.mkdir(parents=True)
    keep = ["mnist_train.csv.10-20.npy", "mnist_test.csv.notes.npy", "mnist_test.csv.1-2.txt", "other.csv.1-2.npy"]
    for name in keep + ["mnist_test.csv.10-20.npy"]:
        (folder / name).write_bytes(b"x")
    p1.load_mnist_csv(str(path))
    assert sorted(os.listdir(folder)) == sorted(keep + [os.path.basename(p1._cache_file(str(path), cache_dir))])


def test_a_windows_path_gets_a_cache_file_inside_the_cache_folder(monkeypatch):
    import ntpath

    class Stat:
        st_size, st_mtime_ns = 109_575_000, 1_700_000_000_000_000_000
    cache, version = r"C:\Users\jdoe\.cache\hw1_p1", ".109575000-1700000000000000000.npy"
    with monkeypatch.context() as m:
        m.setattr(os, "path", ntpath)
        m.setattr(os, "stat", lambda path: Stat)
        names = [p1._cache_file(csv, cache) for csv in (
            r"C:\Users\jdoe\hw1\mnist_test.csv", r"\\?\C:\Users\jdoe\hw1\mnist_test.csv",
            r"\\server\share\mnist_test.csv", r"\\?\UNC\server\share\mnist_test.csv")]
    assert names == [cache + r"\C\Users\jdoe\hw1\mnist_test.csv" + version] * 2 + \
                    [cache + r"\server\share\mnist_test.csv" + version] * 2


def test_clean_cache_finds_and_removes_what_p1_writes(tmp_path, cache_dir, monkeypatch):
    # tools/clean_cache.py keeps its own copy of p1's cache folder and file names (it must run without numpy):
    # the two must agree, with and without P1_CACHE_DIR.
    from tools import clean_cache
    assert clean_cache.cache_dir() == p1.cache_dir() == str(cache_dir)
    monkeypatch.delenv("P1_CACHE_DIR")
    assert clean_cache.cache_dir() == p1.cache_dir()
    monkeypatch.setenv("P1_CACHE_DIR", str(cache_dir))
    for name in ("mnist_train.csv", "mnist_test.csv"):
        p1.load_mnist_csv(str(write_csv(tmp_path / name, table())))
    cached = [f for _, _, files in os.walk(cache_dir) for f in files]
    assert len(cached) == 2 and all(clean_cache.CACHE_FILE.fullmatch(f) for f in cached)
    assert clean_cache.remove_cache(str(cache_dir))[0] == 2
    assert not cache_dir.exists()


def test_unwritable_cache_is_skipped_with_a_warning_naming_it(tmp_path, monkeypatch, capfd):
    blocker = tmp_path / "not_a_folder"
    blocker.write_text("x")
    monkeypatch.setenv("P1_CACHE_DIR", str(blocker))
    path = write_csv(tmp_path / "mnist_train.csv", table())
    assert p1.load_mnist_csv(str(path))[0].shape == (5, 784)
    err = capfd.readouterr().err
    assert err.startswith(f"warning: could not write the parse cache {blocker}") and err.count("\n") == 1


@pytest.mark.parametrize("damage", ["empty", "cut", "random", "pickle", "wrong shape"])
def test_damaged_cache_file_is_a_cache_miss_and_is_rewritten(tmp_path, cache_dir, capfd, damage):
    rows = table()
    path = write_csv(tmp_path / "mnist_test.csv", rows)
    p1.load_mnist_csv(str(path))
    cached = next(os.path.join(d, f) for d, _, files in os.walk(cache_dir) for f in files)
    good = open(cached, "rb").read()
    bad = {"empty": b"", "cut": good[:200], "random": np.random.default_rng(0).bytes(500), "pickle": None,
           "wrong shape": None}[damage]
    if damage == "pickle":
        np.save(cached, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    elif damage == "wrong shape":
        np.save(cached, np.zeros((3, 4), np.uint8))
    else:
        open(cached, "wb").write(bad)
    pixels, labels = p1.load_mnist_csv(str(path))  # parsed again, no error
    np.testing.assert_array_equal(pixels, rows[:, 1:])
    assert open(cached, "rb").read() == good  # and the cache rewritten
    err = capfd.readouterr().err
    assert err == f"warning: the parse cache {cached} was unreadable; parsing the CSV again and rewriting the cache\n"


def test_missing_file_says_how_to_get_the_data(tmp_path):
    with pytest.raises(p1.MnistDataError) as e:
        p1.load_mnist_csv(str(tmp_path / "mnist_train.csv"))
    assert "mnist_train.csv: file not found" in str(e.value) and p1.CSV_URLS[0] in str(e.value)


def test_byte_order_mark_is_named_as_such(tmp_path):
    path = tmp_path / "mnist_train.csv"
    path.write_bytes(b"\xef\xbb\xbf" + corrupt(table(), 0, "none").encode())
    with pytest.raises(p1.MnistDataError) as e:
        p1.load_mnist_csv(str(path))
    assert str(e.value).startswith(f"{path}: the file starts with a UTF-8 byte-order mark (bytes EF BB BF")
    assert "\ufffd" not in str(e.value) and "\ufeff" not in str(e.value)


def corrupt(rows, row, kind):
    lines = [[str(v) for v in r] for r in rows]
    if kind == "short":
        lines[row].pop()
    elif kind == "long":
        lines[row].append("0")
    elif kind == "label":
        lines[row][0] = "10"
    elif kind == "pixel":
        lines[row][-1] = "256"
    elif kind == "huge":  # wraps to 0 in a 64-bit integer; must still be caught
        lines[row][-1] = "18446744073709551616"
    elif kind in ("char", "negative", "empty", "decimal"):
        lines[row][1] = {"char": "x", "negative": "-1", "empty": "", "decimal": "2.5"}[kind]
    elif kind == "header":
        lines.insert(0, ["label"] + [f"pixel{i}" for i in range(784)])
    return "\n".join(",".join(line) for line in lines) + "\n"


@pytest.mark.parametrize("kind,row,message", [
    ("short", 2, "row 3: 784 values, expected 785"),
    ("long", 0, "row 1: 786 values, expected 785"),
    ("label", 3, "row 4: label 10 is outside 0..9"),
    ("pixel", 1, "row 2: pixel 256 is outside 0..255 (column 785)"),
    ("huge", 2, "row 3: pixel 18446744073709551616 is outside 0..255 (column 785)"),
    ("char", 4, "row 5: pixel 'x' (column 2) is not a whole number"),
    ("negative", 2, "row 3: pixel -1 is negative (column 2)"),
    ("empty", 1, "row 2: pixel '' (column 2) is not a whole number"),
    ("decimal", 0, "row 1: pixel '2.5' (column 2) is not a whole number"),
    ("header", 0, "row 1: label 'label' (column 1) is not a whole number"),
])
def test_malformed_file_names_file_and_row(tmp_path, kind, row, message):
    path = tmp_path / "mnist_train.csv"
    path.write_text(corrupt(table(), row, kind))
    with pytest.raises(p1.MnistDataError) as e:
        p1.load_mnist_csv(str(path))
    assert str(e.value).startswith(str(path)) and message in str(e.value), str(e.value)
    assert p1.CSV_URLS[0] in str(e.value) and "\n" not in str(e.value)


@pytest.mark.filterwarnings("error")   # one message, not NumPy's "no data" warning beside it
@pytest.mark.parametrize("text", ["", "\n\n", " \r\n\t\n"])
def test_file_without_rows(tmp_path, text):
    path = tmp_path / "mnist_test.csv"
    path.write_text(text)
    with pytest.raises(p1.MnistDataError, match="empty|no rows"):
        p1.load_mnist_csv(str(path))


def test_single_row_and_blank_lines(tmp_path):
    rows = table(2)
    path = tmp_path / "mnist_test.csv"
    path.write_text(",".join(map(str, rows[0])) + "\n\n" + ",".join(map(str, rows[1])) + "\n")
    np.testing.assert_array_equal(p1.load_mnist_csv(str(path))[1], rows[:, 0])
    write_csv(path, rows[:1])
    assert p1.load_mnist_csv(str(path))[0].shape == (1, 784)


def test_preprocess_is_a_fixed_scaling():
    pixels = np.array([[0, 51, 255]], np.uint8)
    out = p1.preprocess(pixels)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, [[0.0, 0.2, 1.0]], rtol=1e-6)

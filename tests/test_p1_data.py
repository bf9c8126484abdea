"""p1's MNIST CSV reader on generated files: values, and one clear error per malformed case."""

import re

import numpy as np
import pytest

import p1


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


def test_byte_order_mark_is_named_as_such(tmp_path):
    path = tmp_path / "mnist_train.csv"
    path.write_bytes(b"\xef\xbb\xbf" + corrupt(table(), 0, "none").encode())
    with pytest.raises(p1.MnistDataError) as e:
        p1.load_mnist_csv(str(path))
    assert str(e.value).startswith(f"{path}, row 1: the file starts with a byte-order mark")
    assert "\ufffd" not in str(e.value) and "\ufeff" not in str(e.value)


def corrupt(rows, row, kind):
    lines = [[str(v) for v in r] for r in rows]
    if kind == "short":
        lines[row].pop()
    elif kind == "long":
        lines[row].append("0")
    elif kind == "label":
        lines[row][0] = "10"
    elif kind == "negative label":
        lines[row][0] = "-3"
    elif kind == "pixel":
        lines[row][-1] = "256"
    elif kind == "huge":  # wraps to 0 in a 64-bit integer; must still be caught
        lines[row][-1] = "18446744073709551616"
    elif kind in ("char", "negative", "empty", "decimal", "underscore"):
        lines[row][1] = {"char": "x", "negative": "-1", "empty": "", "decimal": "2.5", "underscore": "0_0"}[kind]
    elif kind == "header":
        lines.insert(0, ["label"] + [f"pixel{i}" for i in range(784)])
    return "\n".join(",".join(line) for line in lines) + "\n"


@pytest.mark.parametrize("kind,row,message", [
    ("short", 2, "row 3: 784 values, expected 785"),
    ("long", 0, "row 1: 786 values, expected 785"),
    ("label", 3, "row 4: label '10' (column 1) is not a whole number 0..9"),
    ("pixel", 1, "row 2: pixel '256' (column 785) is not a whole number 0..255"),
    ("huge", 2, "row 3: pixel '18446744073709551616' (column 785) is not a whole number 0..255"),
    ("char", 4, "row 5: pixel 'x' (column 2) is not a whole number 0..255"),
    ("negative", 2, "row 3: pixel '-1' (column 2) is negative"),
    ("negative label", 1, "row 2: label '-3' (column 1) is negative"),
    ("empty", 1, "row 2: pixel '' (column 2) is not a whole number 0..255"),
    ("decimal", 0, "row 1: pixel '2.5' (column 2) is not a whole number 0..255"),
    ("underscore", 2, "row 3: pixel '0_0' (column 2) is not a whole number 0..255"),   # Python's float() reads it
    ("header", 0, "row 1: label 'label' (column 1) is not a whole number 0..9"),
])
def test_malformed_file_names_file_and_row(tmp_path, kind, row, message):
    path = tmp_path / "mnist_train.csv"
    path.write_text(corrupt(table(), row, kind))
    with pytest.raises(p1.MnistDataError) as e:
        p1.load_mnist_csv(str(path))
    assert str(e.value).startswith(str(path)) and message in str(e.value), str(e.value)
    assert p1.CSV_URLS[0] in str(e.value) and "\n" not in str(e.value)


@pytest.mark.filterwarnings("error")   # one message, not NumPy's "no data" warning beside it
def test_whole_numbers_written_as_decimals_pass_and_the_first_really_bad_row_is_named(tmp_path):
    lines = [[str(v) for v in row] for row in table()]
    lines[0][1] = "3.0"   # a whole number, as the reader takes it
    lines[2][5] = "300"
    path = tmp_path / "mnist_train.csv"
    path.write_text("\n".join(",".join(line) for line in lines) + "\n")
    with pytest.raises(p1.MnistDataError, match="row 3: pixel '300' \\(column 6\\)"):
        p1.load_mnist_csv(str(path))
    lines[2][5] = "30"
    path.write_text("\n".join(",".join(line) for line in lines) + "\n")
    assert p1.load_mnist_csv(str(path))[0][0, 0] == 3


def test_a_file_of_integers_is_parsed_once_as_integers(tmp_path, monkeypatch):
    dtypes, loadtxt = [], np.loadtxt   # floats parse up to 9x slower: only a file with "3.0" needs them
    monkeypatch.setattr(np, "loadtxt", lambda *a, **k: dtypes.append(k["dtype"]) or loadtxt(*a, **k))
    p1.load_mnist_csv(str(write_csv(tmp_path / "mnist_train.csv", table())))
    assert len(dtypes) == 1 and np.issubdtype(dtypes[0], np.integer)


@pytest.mark.parametrize("kind, message", [("label", "row 4: label '10' (column 1)"), ("spaces", "row 4: 1 values")])
def test_a_bad_row_after_blank_lines_is_named_by_its_line_in_the_file(tmp_path, kind, message):
    lines = corrupt(table(), 2, "label").splitlines()   # data row 3 bad: line 4 of the file below
    if kind == "spaces":
        lines[2] = "   "   # a line of spaces is no blank line to the reader
    path = tmp_path / "mnist_train.csv"
    path.write_text("\n".join(lines[:1] + [""] + lines[1:]) + "\n")   # an empty line 2 (skipped, but counted)
    with pytest.raises(p1.MnistDataError, match=re.escape(message)):
        p1.load_mnist_csv(str(path))


@pytest.mark.parametrize("text", ["", "\n\n", " \r\n\n"])
def test_empty_file(tmp_path, recwarn, text):
    path = tmp_path / "mnist_test.csv"
    path.write_text(text)
    with pytest.raises(p1.MnistDataError, match=r"the file is empty \(no rows\)"):
        p1.load_mnist_csv(str(path))
    assert not recwarn.list   # one line, not NumPy's "input contained no data" before it


def test_too_few_rows_for_the_split(tmp_path):
    path = write_csv(tmp_path / "mnist_train.csv", table(3))
    with pytest.raises(p1.MnistDataError, match="3 rows, but at least 4 are needed"):
        p1.load_mnist_csv(str(path), 4)


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

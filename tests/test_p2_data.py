"""data.py on tiny batch files written in the official CIFAR-10 binary layout (no network, no real data)."""
import os

import numpy as np
import pytest
import torch

import data

RECORDS = 20


def pattern_images(n, seed):
    """Random images: distinct enough that a mixed-up record, plane or file order shows up."""
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, size=(n, 3, 32, 32), dtype=np.uint8)


def write_bin(path, images, labels):
    """Write records the way the official files do: label byte, then R, G, B planes, each row-major."""
    records = np.column_stack([np.asarray(labels, dtype=np.uint8), images.reshape(len(images), -1)])
    records.astype(np.uint8).tofile(path)


def make_dataset(folder):
    """Write 5 train files and a test file; return the arrays they hold (train concatenated in order)."""
    os.makedirs(folder, exist_ok=True)
    arrays = {}
    for k, name in enumerate(data.TRAIN_FILES + (data.TEST_FILE,)):
        images = pattern_images(RECORDS, seed=k)
        labels = (np.arange(RECORDS) + k) % 10
        write_bin(os.path.join(folder, name), images, labels)
        arrays[name] = (images, labels)
    train = [arrays[name] for name in data.TRAIN_FILES]
    return (np.concatenate([x for x, _ in train]), np.concatenate([y for _, y in train]),
            *arrays[data.TEST_FILE])


def test_classes_in_official_order():
    assert data.CLASSES == ("airplane", "automobile", "bird", "cat", "deer",
                            "dog", "frog", "horse", "ship", "truck")


def test_pixel_order_lands_in_right_channel_row_col(tmp_path):
    # one record built byte by byte from the format description: R plane, G plane, B plane, row-major
    r = np.zeros((32, 32), np.uint8)
    g = np.zeros((32, 32), np.uint8)
    b = np.zeros((32, 32), np.uint8)
    r[0, 1] = 11   # row 0, col 1 of red
    g[2, 0] = 22   # row 2, col 0 of green
    b[31, 30] = 33
    record = np.concatenate([[7], r.ravel(), g.ravel(), b.ravel()]).astype(np.uint8)
    path = tmp_path / "one.bin"
    record.tofile(path)
    images, labels = data.read_batch_file(str(path))
    assert images.shape == (1, 3, 32, 32) and images.dtype == np.uint8
    assert labels.dtype == np.int64 and labels.tolist() == [7]
    assert images[0, 0, 0, 1] == 11 and images[0, 1, 2, 0] == 22 and images[0, 2, 31, 30] == 33
    assert int(images.sum()) == 11 + 22 + 33


@pytest.mark.parametrize("nested", [True, False])
def test_load_both_directory_forms(tmp_path, nested):
    batches = tmp_path / data.BATCHES_DIR_NAME
    train_x, train_y, test_x, test_y = make_dataset(batches)
    out = data.load_cifar10(str(tmp_path if nested else batches), download=False)
    assert out["train_images"].shape == (5 * RECORDS, 3, 32, 32)
    assert out["train_images"].dtype == torch.uint8 and out["test_images"].dtype == torch.uint8
    assert out["train_labels"].dtype == torch.int64 and out["test_labels"].dtype == torch.int64
    assert out["test_images"].shape == (RECORDS, 3, 32, 32)
    np.testing.assert_array_equal(out["train_images"].numpy(), train_x)
    np.testing.assert_array_equal(out["train_labels"].numpy(), train_y)
    np.testing.assert_array_equal(out["test_images"].numpy(), test_x)
    np.testing.assert_array_equal(out["test_labels"].numpy(), test_y)


def test_any_folder_holding_the_files_is_accepted(tmp_path):
    make_dataset(tmp_path / "my_cifar")
    assert data.find_batches_dir(str(tmp_path / "my_cifar")) == str(tmp_path / "my_cifar")


def test_size_not_multiple_of_record(tmp_path):
    path = tmp_path / "data_batch_1.bin"
    path.write_bytes(b"\x00" * (3073 * 2 + 5))
    with pytest.raises(data.DataError, match="data_batch_1.bin"):
        data.read_batch_file(str(path))


def test_empty_file(tmp_path):
    path = tmp_path / "test_batch.bin"
    path.write_bytes(b"")
    with pytest.raises(data.DataError, match="test_batch.bin"):
        data.read_batch_file(str(path))


def test_label_out_of_range_names_file_and_record(tmp_path):
    path = tmp_path / "data_batch_3.bin"
    write_bin(path, pattern_images(5, 0), [1, 2, 3, 10, 4])
    with pytest.raises(data.DataError, match=r"data_batch_3\.bin: record 3 has label 10"):
        data.read_batch_file(str(path))


def test_missing_test_batch_is_named(tmp_path):
    batches = tmp_path / data.BATCHES_DIR_NAME
    make_dataset(batches)
    os.remove(batches / data.TEST_FILE)
    with pytest.raises(data.DataError, match="test_batch.bin"):
        data.load_cifar10(str(tmp_path), download=True)  # present folder: no download attempt


def test_missing_data_without_download(tmp_path):
    with pytest.raises(data.DataError, match="--data-dir"):
        data.load_cifar10(str(tmp_path / "nowhere"), download=False)


def test_failed_download_gives_clear_error(tmp_path, monkeypatch):
    import torchvision.datasets.utils as tv_utils

    def offline(*args, **kwargs):
        raise OSError("network is unreachable")

    monkeypatch.setattr(tv_utils, "download_and_extract_archive", offline)
    with pytest.raises(data.DataError) as info:
        data.load_cifar10(str(tmp_path / "cifar"), download=True)
    message = str(info.value)
    assert "missing" in message and "download" in message and "failed" in message
    assert "--data-dir" in message and "CIFAR10_DIR" in message and "cifar-10-batches-bin" in message


def test_download_is_called_with_official_url_and_md5(tmp_path, monkeypatch):
    import torchvision.datasets.utils as tv_utils
    calls = []

    def fake_download(url, root, md5=None, **kwargs):
        calls.append((url, md5))
        make_dataset(os.path.join(root, data.BATCHES_DIR_NAME))

    monkeypatch.setattr(tv_utils, "download_and_extract_archive", fake_download)
    out = data.load_cifar10(str(tmp_path / "fresh"), download=True)
    assert calls == [(data.URL, data.MD5)]
    assert out["train_images"].shape[0] == 5 * RECORDS

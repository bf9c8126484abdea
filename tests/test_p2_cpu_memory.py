"""cpu_memory: freed memory kept through glibc's mallopt on Linux (a no-op elsewhere), and the free memory a run sees."""
import ctypes
import sys

import pytest

import cpu_memory

available_bytes = cpu_memory.available_bytes   # conftest makes every test's p2 see no figure; these test the real one


@pytest.fixture(autouse=True)
def untuned(monkeypatch):
    monkeypatch.setattr(cpu_memory, "_malloc_trim", None)


def test_other_systems_are_left_alone(monkeypatch):
    monkeypatch.setattr(sys, "platform", "darwin")
    assert cpu_memory.keep_freed_memory() is False
    cpu_memory.release_free_memory()   # nothing to release: a no-op


def test_a_libc_without_mallopt_is_left_alone(monkeypatch):
    monkeypatch.setattr(sys, "platform", "linux")

    def no_mallopt(name):
        raise OSError("no such library")
    monkeypatch.setattr(ctypes, "CDLL", no_mallopt)
    assert cpu_memory.keep_freed_memory() is False


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt: Linux only")
def test_glibc_takes_both_settings_and_memory_still_works():
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except AttributeError:
        pytest.skip("this libc has no mallopt")
    try:
        assert cpu_memory.keep_freed_memory() is True
        exercise_large_blocks()
    finally:   # glibc's defaults again for the rest of the test session
        mallopt(cpu_memory.M_MMAP_MAX, 65536)
        mallopt(cpu_memory.M_TRIM_THRESHOLD, 128 * 1024)


def exercise_large_blocks():
    import torch
    for _ in range(3):   # blocks above glibc's 32 MB mmap limit, freed, allocated again, handed back
        x = torch.ones(64, 1024, 1024)
        assert x.sum().item() == 64 * 1024 * 1024
        del x
        cpu_memory.release_free_memory()


def test_release_calls_malloc_trim_once_tuned(monkeypatch):
    calls = []
    monkeypatch.setattr(cpu_memory, "_malloc_trim", calls.append)
    cpu_memory.release_free_memory()
    assert calls == [0]


def test_free_memory_is_linuxs_memavailable(tmp_path):
    meminfo = tmp_path / "meminfo"
    meminfo.write_text("MemTotal: 8000000 kB\nMemFree: 100 kB\nMemAvailable: 3000000 kB\nCached: 10 kB\n")
    assert available_bytes(str(meminfo)) == 3000000 * 1024
    meminfo.write_text("MemTotal: 8000000 kB\n")   # a Linux before 3.14
    assert available_bytes(str(meminfo)) is None
    assert available_bytes(str(tmp_path / "none")) is None   # macOS, Windows


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc/meminfo: Linux only")
def test_this_linux_says_how_much_is_free():
    assert available_bytes() > 0


def test_a_machine_short_of_memory_is_told_before_training(monkeypatch):
    monkeypatch.setattr(cpu_memory, "available_bytes", lambda: 2.9e9)
    assert cpu_memory.low_memory_note().startswith("memory: 2.9 GB free, under the 4 GB this run may take")
    assert max(map(len, cpu_memory.low_memory_note().splitlines())) < 120
    assert "'Killed'" in cpu_memory.low_memory_note()
    for free in (5e9, None):
        monkeypatch.setattr(cpu_memory, "available_bytes", lambda: free)
        assert cpu_memory.low_memory_note() is None

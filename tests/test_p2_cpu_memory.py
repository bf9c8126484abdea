"""cpu_memory.keep_freed_memory: applied through glibc's mallopt on Linux, a no-op elsewhere."""
import ctypes
import sys

import pytest

import cpu_memory


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

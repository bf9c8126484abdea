"""Which device p2 runs on: a GPU only where the installed PyTorch has code for it, and a plain word when an NVIDIA GPU
is passed over. Each card, build and driver is faked, so every case is checked on any machine."""
import subprocess

import pytest
import torch

import devices
from devices import DeviceError, default_device, pick_device
from fakes import write_cifar_batches

CUDA_13_BUILD = ["sm_75", "sm_80", "sm_86", "sm_90", "sm_100", "sm_120"]   # torch 2.14.1's default Linux wheel


def fake_gpu_and_build(monkeypatch, name, capability, built_for):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: capability)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda device=None: name)
    monkeypatch.setattr(torch.cuda, "get_arch_list", lambda: built_for)


@pytest.mark.parametrize("name, capability, built_for", [
    ("Tesla T4", (7, 5), CUDA_13_BUILD), ("NVIDIA L4", (8, 9), CUDA_13_BUILD),   # 8.9 runs sm_86's code
    ("NVIDIA H200", (9, 0), CUDA_13_BUILD), ("NVIDIA GB10", (12, 1), CUDA_13_BUILD),
    ("Tesla V100-SXM2-16GB", (7, 0), ["sm_50", "sm_60", "sm_70", "sm_75", "sm_80", "sm_86", "sm_90"]),   # CUDA 12.6
    ("Tesla P100-PCIE-16GB", (6, 0), ["sm_50", "compute_50"]),   # PTX, compiled for the card on first use
    ("Tesla V100-SXM2-16GB", (7, 0), []),                         # a build that lists nothing: PyTorch decides
])
def test_a_gpu_this_torch_runs_on_is_the_default(monkeypatch, name, capability, built_for):
    fake_gpu_and_build(monkeypatch, name, capability, built_for)
    assert pick_device(None) == pick_device("cuda") == (torch.device("cuda"), None)
    assert default_device() == (torch.device("cuda"), None)


@pytest.mark.parametrize("name, capability", [
    ("Tesla V100-SXM2-16GB", (7, 0)), ("Tesla P100-PCIE-16GB", (6, 0)), ("NVIDIA GeForce GTX 1080", (6, 1)),
])
def test_a_gpu_without_kernels_in_this_torch_is_passed_over_for_the_cpu(monkeypatch, name, capability):
    """torch 2.14's default Linux wheel has no code for cards before compute capability 7.5: every kernel would
    fail there. Without --device p2 says so and trains on the CPU; --device cuda is refused with the same words."""
    fake_gpu_and_build(monkeypatch, name, capability, CUDA_13_BUILD)
    device, said = pick_device(None)
    assert device == torch.device("cpu") and "\n" not in said and said.endswith(": running on the CPU")
    major, minor = capability
    assert f"{name} (compute capability {major}.{minor}) is not supported by this PyTorch build" in said
    assert "sm_75 sm_80" in said and "e.g. 12.6" in said
    with pytest.raises(DeviceError, match=rf"--device cuda: {name} \(compute capability {major}\.{minor}\)"):
        pick_device("cuda")
    assert default_device() == (torch.device("cpu"), said.removesuffix(": running on the CPU"))


def test_a_gpu_newer_than_this_torch_is_told_to_get_a_newer_cuda_build(monkeypatch):
    """A CUDA 12.6 wheel stops at sm_90: a card of compute capability 12.0 needs a newer build, not an older one."""
    fake_gpu_and_build(monkeypatch, "NVIDIA GeForce RTX 5090", (12, 0),
                       ["sm_50", "sm_60", "sm_70", "sm_75", "sm_80", "sm_86", "sm_90"])
    device, said = pick_device(None)
    assert device == torch.device("cpu") and "a PyTorch built for a newer CUDA, e.g. 12.8 or later" in said
    assert "older CUDA" not in said


@pytest.mark.parametrize("cuda, nvidia_smi, said", [
    (None, "/usr/bin/nvidia-smi", "an NVIDIA driver is installed (nvidia-smi), but this PyTorch build has no CUDA "
                                  "support; to train on the GPU in seconds, install a CUDA build "
                                  "(pytorch.org/get-started/locally)"),
    ("13.0", "/usr/bin/nvidia-smi", "an NVIDIA driver is installed (nvidia-smi), but this PyTorch (CUDA 13.0) finds "
                                    "no GPU it can use: the driver may be older than that CUDA needs (nvidia-smi "
                                    "shows the CUDA version it supports)"),
    (None, None, None), ("13.0", None, None),   # no NVIDIA driver: nothing to say
])
def test_an_nvidia_gpu_out_of_torchs_reach_is_named(monkeypatch, cuda, nvidia_smi, said):
    """PyPI's torch for Windows is CPU-only: a laptop's GeForce would sit idle through a CPU run without a word."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.version, "cuda", cuda)
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    monkeypatch.setattr(devices.shutil, "which", lambda name: nvidia_smi if name == "nvidia-smi" else None)
    assert default_device() == (torch.device("cpu"), said)
    assert pick_device(None) == (torch.device("cpu"), f"{said}: running on the CPU" if said else None)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")   # the GPUs hidden on purpose: the CPU was chosen
    assert default_device() == (torch.device("cpu"), None)


def test_p2_says_once_why_it_passes_a_gpu_over(monkeypatch, capsys, tmp_path):
    """The line comes before any work, and once, though the options are checked before the run picks its device."""
    import p2
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.version, "cuda", None)
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    monkeypatch.setattr(devices.shutil, "which", lambda name: "/usr/bin/nvidia-smi" if name == "nvidia-smi" else None)
    import data
    monkeypatch.setattr(data, "RECORDS_PER_FILE", 4)
    write_cifar_batches(str(tmp_path / "cifar-10-batches-bin"), "bin", 4)
    assert p2.main(["--download-only", "--data-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert out.count("this PyTorch build has no CUDA support") == 1
    assert out.splitlines()[0].endswith("(pytorch.org/get-started/locally): running on the CPU")


def test_describe_device_names_the_cpu_and_its_threads():
    assert devices.describe_device(torch.device("cpu")).startswith("CPU: ")
    assert devices.describe_device(torch.device("cpu")).endswith(f", {torch.get_num_threads()} threads")


def test_on_macos_the_cpu_is_named_by_sysctl(monkeypatch):
    monkeypatch.setattr(devices, "CPUINFO", "/nonexistent/cpuinfo")
    monkeypatch.setattr(devices.platform, "system", lambda: "Darwin")
    monkeypatch.setattr(devices.platform, "processor", lambda: "arm")
    asked = []

    def sysctl(command, **kwargs):
        asked.append(command)
        return subprocess.CompletedProcess(command, 0, stdout="Apple M2\n", stderr="")
    monkeypatch.setattr(devices.subprocess, "run", sysctl)
    assert devices.describe_device(torch.device("cpu")).startswith("CPU: Apple M2, ")
    assert asked == [["sysctl", "-n", "machdep.cpu.brand_string"]]
    def no_sysctl(command, **kwargs):
        raise FileNotFoundError(2, "No such file or directory", command[0])
    monkeypatch.setattr(devices.subprocess, "run", no_sysctl)
    assert devices.describe_device(torch.device("cpu")).startswith("CPU: arm, ")   # no sysctl: what Python says


def fake_mac(monkeypatch, machine, mps):
    """macOS on Apple silicon ("arm64") or Intel ("x86_64"), with or without a GPU PyTorch's MPS backend can use."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(devices.shutil, "which", lambda name: None)   # a Mac has no NVIDIA driver
    monkeypatch.setattr(devices.platform, "system", lambda: "Darwin")
    monkeypatch.setattr(devices.platform, "machine", lambda: machine)
    monkeypatch.setattr(devices, "mps_available", lambda: mps)


@pytest.mark.parametrize("machine, mps, expected", [
    ("arm64", True, "mps"), ("arm64", False, "cpu"),
    ("x86_64", True, "cpu"),   # an Intel Mac's GPU (torch 2.2 at most): only when asked for
])
def test_an_apple_silicon_macs_gpu_is_the_default_there(monkeypatch, machine, mps, expected):
    fake_mac(monkeypatch, machine, mps)
    assert pick_device(None) == default_device() == (torch.device(expected), None)


def test_a_macs_gpu_is_what_torch_says_is_available(monkeypatch):
    monkeypatch.undo()   # the tests' own setting (conftest.py): no Mac GPU
    assert devices.mps_available() == torch.backends.mps.is_available()


def test_a_macs_gpu_by_name(monkeypatch):
    fake_mac(monkeypatch, "x86_64", mps=True)
    assert pick_device("mps") == (torch.device("mps"), None)
    fake_mac(monkeypatch, "arm64", mps=False)
    with pytest.raises(DeviceError, match="--device mps: this machine has no Mac GPU PyTorch can use .*--device cpu"):
        pick_device("mps")


def test_a_macs_gpu_is_named_by_its_chip(monkeypatch):
    monkeypatch.setattr(devices, "mac_cpu_name", lambda: "Apple M2")
    assert devices.describe_device(torch.device("mps")) == "Apple M2 GPU (MPS)"
    monkeypatch.setattr(devices, "mac_cpu_name", lambda: None)
    assert devices.describe_device(torch.device("mps")) == "Mac GPU (MPS)"


@pytest.mark.parametrize("device, waits", [("cpu", []), ("mps", ["mps"]), ("cuda", ["cuda"])])
def test_synchronize_waits_for_a_gpu(monkeypatch, device, waits):
    """A GPU runs behind the Python that queues its work: a time read without waiting would be too short."""
    waited = []
    monkeypatch.setattr(torch.mps, "synchronize", lambda: waited.append("mps"))
    monkeypatch.setattr(torch.cuda, "synchronize", lambda device=None: waited.append("cuda"))
    devices.synchronize(torch.device(device))
    assert waited == waits


def test_a_macs_gpu_is_timed_by_the_wall_clock_once_its_work_is_done(monkeypatch):
    import train
    waited = []
    monkeypatch.setattr(torch.mps, "synchronize", lambda: waited.append("mps"))
    assert train.Stopwatch(torch.device("mps")).start().stop() >= 0
    assert waited == ["mps", "mps"]

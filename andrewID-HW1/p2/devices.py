"""Which device a run uses: an NVIDIA GPU where the installed PyTorch can run on it, else an Apple-silicon Mac's GPU
(PyTorch's MPS backend), else the CPU; and why not the NVIDIA GPU.

A student's GPU is often out of reach of the torch they installed: PyPI's torch for Windows and macOS has no CUDA,
a CUDA build needs a driver recent enough for its CUDA version, and torch 2.14's default Linux wheel (CUDA 13.0)
carries GPU code for compute capability 7.5 and newer only, so on a V100 (7.0), P100 (6.0) or GeForce 10xx (6.1)
every kernel would fail. Each case is named in one line, and the run goes to the CPU; asked for by name (--device
cuda), the GPU is refused with the same words.

A Mac's GPU is used by default on Apple silicon only; on an Intel Mac (whose last PyTorch is 2.2) --device mps asks
for it. Its memory is the Mac's own, and the CPU waits for its work only where a time is read (synchronize).
"""
import os
import platform
import shutil
import subprocess

import torch

CPUINFO = "/proc/cpuinfo"   # Linux's description of the CPU: its model name and instruction-set flags


class DeviceError(Exception):
    """--device names a device this machine cannot run on; the message says why."""


def pick_device(name=None):
    """(the torch device for --device `name`, a line to show or None). None: default_device()."""
    if not name:
        device, why_not_gpu = default_device()
        return device, f"{why_not_gpu}: running on the CPU" if why_not_gpu else None
    try:
        device = torch.device(name)
    except (RuntimeError, ValueError):
        raise DeviceError(f"--device {name!r}: not a device name; use cpu, cuda, cuda:N or mps") from None
    if device.type not in ("cpu", "cuda", "mps"):
        raise DeviceError(f"--device {name}: p2 runs on cpu, cuda or mps (a Mac's GPU)")
    if device.type == "mps" and not mps_available():
        raise DeviceError(f"--device {name}: this machine has no Mac GPU PyTorch can use (MPS needs macOS 12.3 or "
                          "newer and a PyTorch built for it); use --device cpu")
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise DeviceError(f"--device {name}: CUDA is not available on this machine; use --device cpu")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise DeviceError(f"--device {name}: this machine has {torch.cuda.device_count()} CUDA device(s), "
                              "numbered from 0")
        why_not = gpu_without_kernels(device)
        if why_not:
            raise DeviceError(f"--device {name}: {why_not}")
    return device, None


def default_device():
    """(cuda if this machine has an NVIDIA GPU this PyTorch build runs on, else mps on an Apple-silicon Mac, else
    cpu; why not the NVIDIA GPU, or None)."""
    why_not = unusable_nvidia_gpu() if not torch.cuda.is_available() else gpu_without_kernels(torch.device("cuda"))
    if torch.cuda.is_available() and not why_not:
        return torch.device("cuda"), None
    if platform.system() == "Darwin" and platform.machine() == "arm64" and mps_available():
        return torch.device("mps"), None
    return torch.device("cpu"), why_not


def mps_available():
    """Whether this PyTorch can run on a Mac's GPU (Metal Performance Shaders)."""
    mps = getattr(torch.backends, "mps", None)
    return bool(mps and mps.is_available())


def synchronize(device):
    """Wait until `device` has done the work queued on it (a GPU runs ahead of the Python that queues it)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


def unusable_nvidia_gpu():
    """Why an NVIDIA GPU (its driver's nvidia-smi is installed) is out of torch's reach here, or None. Not said where
    the GPUs are hidden on purpose (CUDA_VISIBLE_DEVICES set)."""
    if not shutil.which("nvidia-smi") or "CUDA_VISIBLE_DEVICES" in os.environ:
        return None
    if torch.version.cuda is None:
        return ("an NVIDIA driver is installed (nvidia-smi), but this PyTorch build has no CUDA support; to train on "
                "the GPU in seconds, install a CUDA build (pytorch.org/get-started/locally)")
    return (f"an NVIDIA driver is installed (nvidia-smi), but this PyTorch (CUDA {torch.version.cuda}) finds no GPU "
            "it can use: the driver may be older than that CUDA needs (nvidia-smi shows the CUDA version it supports)")


def gpu_without_kernels(device):
    """Why this PyTorch build has no GPU code for CUDA `device`, or None if it has. A build lists the architectures
    it carries: "sm_XY" runs on compute capability X.Y up to X.9, "compute_XY" is compiled on first use for X.Y and
    newer."""
    built_for = torch.cuda.get_arch_list()
    major, minor = torch.cuda.get_device_capability(device)
    known = [(kind, code) for kind, code in map(_arch_code, built_for) if code is not None]

    def runs_here(kind, code):
        return code[0] == major and code[1] <= minor if kind == "sm" else code <= (major, minor)

    if len(known) < len(built_for) or not built_for or any(runs_here(*arch) for arch in known):
        return None                    # a form this check does not know, or none listed: let PyTorch decide
    cuda = ("a newer CUDA, e.g. 12.8 or later" if (major, minor) > max(code for _, code in known) else
            "an older CUDA, e.g. 12.6")
    return (f"{torch.cuda.get_device_name(device)} (compute capability {major}.{minor}) is not supported by this "
            f"PyTorch build (torch {torch.__version__}, GPU code for {' '.join(built_for)}); for this GPU install "
            f"a PyTorch built for {cuda} (pytorch.org/get-started/locally)")


def _arch_code(arch):
    """("sm", (9, 0)) for "sm_90" (sm_90a, sm_100f: variants of the same capability); (kind, None) for a form
    not known here."""
    kind, _, number = arch.partition("_")
    number = number.rstrip("af")
    return kind, divmod(int(number), 10) if number.isdigit() else None


def describe_device(device):
    """The GPU's name, or the CPU's model and the threads torch uses, for the console and the report."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    if device.type == "mps":
        return f"{mac_cpu_name() or 'Mac'} GPU (MPS)"   # the chip's name ("Apple M2") names its GPU too
    cpu = cpuinfo("model name") or mac_cpu_name() or platform.processor() or platform.machine()
    return f"CPU: {cpu}, {torch.get_num_threads()} threads"


def mac_cpu_name():
    """The CPU's model on macOS ("Apple M2", where Python's platform module says only "arm"); None elsewhere."""
    if platform.system() != "Darwin":
        return None
    try:
        return subprocess.run(["sysctl", "-n", "machdep.cpu.brand_string"], capture_output=True, text=True,
                              timeout=10).stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def cpuinfo(field):
    """The value of `field` ("model name", "flags") in Linux's description of the CPU; None elsewhere, or if absent."""
    try:
        with open(CPUINFO) as f:
            return next((line.split(":", 1)[1].strip() for line in f if line.startswith(field)), None)
    except OSError:
        return None

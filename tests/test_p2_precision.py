"""The precision policy: bf16 only where the device computes it natively, float16 with loss scaling on older GPUs,
float32 on CPUs without bf16; --precision overrides. Each machine kind is faked, so every choice is checked here."""
import warnings

import pytest
import torch

import devices
import precision
from precision import Precision, choose_precision
from torch_support import CPU_SCALER

CPU = torch.device("cpu")
GPU = torch.device("cuda")


def fake_cpu(monkeypatch, capability, amx=False, avx512_bf16=False):
    monkeypatch.setattr(torch.backends.cpu, "get_cpu_capability", lambda: capability)
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: amx, raising=False)
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: avx512_bf16, raising=False)


def fake_gpu(monkeypatch, name, capability):
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: capability)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda device=None: name)


@pytest.mark.parametrize("capability, amx, avx512_bf16, expected, reason", [
    ("AVX2", False, False, "fp32", "this CPU has no native bf16: torch's kernels use AVX2"),   # most laptops
    ("AVX512", False, False, "fp32", "this CPU has no native bf16"),                          # Skylake-X, Zen 4 off
    ("AVX512", False, True, "bf16", "this CPU computes bf16 natively, with AVX512-BF16"),       # Zen 4/5
    ("AVX512", True, True, "bf16", "this CPU computes bf16 natively, with AMX, its matrix units"),   # Sapphire Rapids
    # AMX present, but torch told to use AVX2 kernels only (ATEN_CPU_CAPABILITY=avx2): bf16 would be emulated
    ("AVX2", True, True, "fp32", "this CPU has no native bf16: torch's kernels use AVX2"),
    ("DEFAULT", False, False, "fp32", "torch has no native bf16 kernels for this CPU: it runs its generic ones here"),
    ("NO AVX", False, False, "fp32", "torch has no native bf16 kernels for this CPU: it runs its generic ones here"),
    ("", False, False, "fp32", "torch has no native bf16 kernels for this CPU: it runs its generic ones here"),
    # Arm with SVE (Graviton3): torch reports SVE256 only where the CPU has bf16 instructions; float32 is kept
    ("SVE256", False, False, "fp32", "this Arm CPU computes bf16 natively, with torch's SVE256 kernels, but bf16 was "
     "measured faster than float32 only on x86 CPUs with AVX512-BF16 or AMX"),
])
def test_cpu_choice(monkeypatch, capability, amx, avx512_bf16, expected, reason):
    fake_cpu(monkeypatch, capability, amx, avx512_bf16)
    chosen = choose_precision("auto", CPU)
    assert (chosen.name, chosen.reason) == (expected, reason)


@pytest.mark.parametrize("name, capability, expected", [
    ("Tesla T4", (7, 5), "fp16"), ("Tesla V100-SXM2-16GB", (7, 0), "fp16"), ("NVIDIA GeForce RTX 2080", (7, 5), "fp16"),
    ("NVIDIA A100-SXM4-40GB", (8, 0), "bf16"), ("NVIDIA GeForce RTX 3060", (8, 6), "bf16"),
    ("NVIDIA H200", (9, 0), "bf16"),
])
def test_gpu_choice(monkeypatch, name, capability, expected):
    fake_gpu(monkeypatch, name, capability)
    chosen = choose_precision("auto", GPU)
    assert chosen.name == expected
    major, minor = capability
    native = "computes bf16 natively" if expected == "bf16" else "has no native bf16"
    assert chosen.reason.startswith(f"{name} {native}: compute capability {major}.{minor}")


SLOW = ", so expect it to run many times slower than float32"


@pytest.mark.parametrize("asked, amx, reason", [
    ("bf16", False, "asked for with --precision; this CPU has no native bf16: torch's kernels use AVX2" + SLOW),
    ("bf16", True, "asked for with --precision"),
    pytest.param("fp16", True, "asked for with --precision; torch computes float16 on a CPU mostly in software "
                 "(minutes a training step; Ctrl-C waits for it)" + SLOW,
                 marks=CPU_SCALER),
    ("fp32", False, "asked for with --precision"),
])
def test_asking_overrides_the_choice_and_warns_of_an_emulated_precision(monkeypatch, asked, amx, reason):
    fake_cpu(monkeypatch, "AVX512" if amx else "AVX2", amx=amx, avx512_bf16=amx)
    chosen = choose_precision(asked, CPU)
    assert (chosen.name, chosen.reason) == (asked, reason)


def test_bf16_asked_for_on_an_arm_cpu_with_bf16_is_not_called_slow(monkeypatch):
    fake_cpu(monkeypatch, "SVE256")
    assert choose_precision("bf16", CPU).reason == "asked for with --precision"


@pytest.mark.parametrize("asked, capability, slow", [("bf16", (7, 5), True), ("fp16", (7, 5), False),
                                                     ("bf16", (8, 0), False), ("fp16", (8, 0), False)])
def test_asking_on_a_gpu_warns_only_of_bf16_on_a_card_without_it(monkeypatch, asked, capability, slow):
    fake_gpu(monkeypatch, "Tesla T4" if capability < (8, 0) else "NVIDIA A100-SXM4-40GB", capability)
    assert (SLOW in choose_precision(asked, GPU).reason) == slow


def test_an_unknown_precision_is_refused():
    with pytest.raises(ValueError, match="--precision fp8: choose one of auto, bf16, fp16, fp32"):
        choose_precision("fp8", CPU)


@pytest.mark.parametrize("cpuinfo, expected, reason", [
    ("flags\t\t: fpu avx2 avx512f avx512_bf16 amx_bf16 amx_tile\n", "bf16", "natively, with AMX"),
    ("flags\t\t: fpu avx2 avx512f avx512_bf16\n", "bf16", "natively, with AVX512-BF16"),
    ("flags\t\t: fpu avx2 avx512f\n", "fp32", "this CPU has no native bf16"),
    (None, "fp32", "cannot tell whether this CPU computes bf16 natively"),   # no /proc/cpuinfo: not Linux
])
def test_an_older_torch_without_the_cpu_probes_reads_linuxs_cpu_flags(monkeypatch, tmp_path, cpuinfo, expected,
                                                                      reason):
    # torch 2.4 has neither probe, but its kernels do run bf16 natively where the CPU has it (3x float32's speed
    # with AMX): the choice must not fall back to float32 there
    monkeypatch.setattr(torch.backends.cpu, "get_cpu_capability", lambda: "AVX512")
    monkeypatch.delattr(torch.cpu, "_is_amx_tile_supported", raising=False)
    monkeypatch.delattr(torch.cpu, "_is_avx512_bf16_supported", raising=False)
    monkeypatch.setattr(devices, "CPUINFO", str(tmp_path / "cpuinfo"))
    if cpuinfo is not None:
        (tmp_path / "cpuinfo").write_text("processor\t: 0\n" + cpuinfo)
    chosen = choose_precision("auto", CPU)
    assert chosen.name == expected and reason in chosen.reason


def test_float16_on_a_cpu_is_refused_by_a_torch_without_cpu_loss_scaling(monkeypatch):
    # torch 2.2, the last for Intel Macs, scales losses on CUDA only; float32 still runs there
    monkeypatch.delattr(torch.amp, "GradScaler", raising=False)
    with pytest.raises(ValueError, match="--precision fp16 on the CPU needs torch 2.3 or newer .*: use fp32"):
        choose_precision("fp16", CPU)
    with warnings.catch_warnings():   # torch.cuda.amp.GradScaler is deprecated in the torch that runs the tests
        warnings.simplefilter("ignore")
        assert not choose_precision("fp32", CPU).grad_scaler(CPU).is_enabled()


@CPU_SCALER
def test_only_float16_scales_the_loss():
    assert Precision("fp16", "").grad_scaler(CPU).is_enabled()
    assert not Precision("bf16", "").grad_scaler(CPU).is_enabled()
    assert not Precision("fp32", "").grad_scaler(CPU).is_enabled()


@pytest.mark.parametrize("name, dtype", [("bf16", torch.bfloat16), ("fp16", torch.float16), ("fp32", torch.float32)])
def test_autocast_computes_the_convolutions_in_the_chosen_dtype(name, dtype):
    conv = torch.nn.Conv2d(3, 4, 3)
    with Precision(name, "").autocast(CPU):
        assert conv(torch.randn(1, 3, 8, 8)).dtype == dtype


def test_words_for_the_console_and_report():
    assert Precision("fp32", "this CPU has no native bf16").describe() == "float32 (this CPU has no native bf16)"
    assert precision.WORDS["fp16"] == "float16 autocast with loss scaling"


def test_a_macs_gpu_trains_in_float32_and_refuses_float16(monkeypatch):
    mps = torch.device("mps")
    chosen = choose_precision("auto", mps)
    assert chosen.name == "fp32" and chosen.reason == "a Mac's GPU computes float16 no faster than float32"
    monkeypatch.setattr(torch.amp, "is_autocast_available", lambda device_type: True, raising=False)
    assert choose_precision("bf16", mps).reason == "asked for with --precision"
    with pytest.raises(ValueError, match="--precision fp16 on a Mac's GPU: .* can stop the program; use fp32"):
        choose_precision("fp16", mps)   # a Metal assertion ends the process: no error to catch


def test_float32_enters_no_autocast(monkeypatch):
    """torch before 2.5 refuses autocast for a Mac's GPU (mps) even when it is off: float32 does without it."""
    def refused(device_type, **kwargs):
        raise RuntimeError(f"User specified an unsupported autocast device_type '{device_type}'")
    monkeypatch.setattr(torch, "autocast", refused)
    with Precision("fp32", "").autocast(torch.device("mps")):
        pass
    with pytest.raises(RuntimeError, match="unsupported autocast device_type 'mps'"):
        Precision("bf16", "").autocast(torch.device("mps"))


def test_bf16_on_a_macs_gpu_needs_a_torch_with_autocast_there(monkeypatch):
    monkeypatch.setattr(torch.amp, "is_autocast_available", lambda device_type: False, raising=False)
    with pytest.raises(ValueError, match=r"--precision bf16 on a Mac's GPU needs a newer torch .*; use fp32"):
        choose_precision("bf16", torch.device("mps"))

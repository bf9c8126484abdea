"""The arithmetic precision of a run, chosen from what the device computes natively.

Mixed precision (autocast) runs the convolutions and matrix products in a 16-bit format and keeps the weights, the
loss and the optimizer in float32. It pays only where the hardware has 16-bit arithmetic: elsewhere the 16-bit
values are converted back and forth in software, and a CPU without native bf16 (AVX2-only laptops, most of them)
runs 8-14x slower in bf16 than in float32. So:

- CPU: bf16 only with AVX512-BF16 or AMX instructions, which torch uses for its kernels; otherwise float32, also
  on an Arm CPU with bf16 instructions (bf16 was measured faster than float32 on those x86 CPUs only).
- CUDA: bf16 from compute capability 8.0 (Ampere) on; older cards (T4, V100, RTX 20xx) have fast float16 but no
  bf16, so float16, whose small range needs loss scaling (torch.amp.GradScaler) to keep small gradients from
  rounding to zero (Micikevicius et al., "Mixed Precision Training", ICLR 2018).
- A Mac's GPU (MPS): float32. Apple's GPUs compute float16 at the same rate as float32 (Philip Turner's
  metal-benchmarks, github.com/philipturner/metal-benchmarks), so 16-bit arithmetic would buy little there and
  would need loss scaling.
- `--precision bf16|fp16|fp32` overrides the choice, and the run says that it was asked for (and, where the
  device does not compute it natively, that it will be slow).
"""
from contextlib import nullcontext
from dataclasses import dataclass

import torch

from devices import cpuinfo

CHOICES = ("auto", "bf16", "fp16", "fp32")
DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}
WORDS = {"bf16": "bfloat16 autocast", "fp16": "float16 autocast with loss scaling", "fp32": "float32"}
# torch.backends.cpu.get_cpu_capability(): the widest vector ISA torch's own kernels run with. "AVX2" also where
# AVX-512 exists but was turned off (ATEN_CPU_CAPABILITY=avx2): then bf16 is emulated, whatever the CPU has.
WIDE_CPU_KERNELS = ("AVX512", "AVX512_BF16", "AMX")


@dataclass(frozen=True)
class Precision:
    name: str     # "bf16" | "fp16" | "fp32"
    reason: str   # why, in words, for the console and the report

    @property
    def dtype(self):
        """The dtype the convolutions compute in (float32: autocast off)."""
        return DTYPES[self.name]

    @property
    def words(self):
        return WORDS[self.name]

    def autocast(self, device):
        """Mixed precision for the forward pass; float32: none (torch before 2.5 has no autocast at all for MPS)."""
        return nullcontext() if self.name == "fp32" else torch.autocast(device.type, dtype=self.dtype)

    def grad_scaler(self, device):
        """Loss scaling, on for float16 only (bf16 has float32's range); when off, its calls pass values through."""
        if hasattr(torch.amp, "GradScaler"):
            return torch.amp.GradScaler(device.type, enabled=self.name == "fp16")
        return torch.cuda.amp.GradScaler(enabled=self.name == "fp16")   # torch 2.2 (an Intel Mac's): CUDA's only

    def describe(self):
        return f"{self.words} ({self.reason})"


def cpu_bf16_instructions():
    """(AMX, AVX512-BF16): whether this CPU has each, as torch tells; a torch too old to tell (2.4 is) leaves it to
    Linux's list of CPU flags; (None, None) where neither can say."""
    amx = getattr(torch.cpu, "_is_amx_tile_supported", None)
    avx512_bf16 = getattr(torch.cpu, "_is_avx512_bf16_supported", None)
    if amx is not None and avx512_bf16 is not None:
        return amx(), avx512_bf16()
    flags = cpuinfo("flags")
    if flags is None:
        return None, None
    flags = flags.split()
    return "amx_tile" in flags, "avx512_bf16" in flags


def cpu_has_native_bf16():
    """(yes or no, why) for this CPU and the kernels torch runs on it."""
    capability = torch.backends.cpu.get_cpu_capability()
    # no vector set torch knows: an ARM CPU such as Apple silicon ("DEFAULT"; torch 2.2 says "NO AVX", as it does
    # for an Intel Python run by Rosetta), or a name missing from torch's own table ("")
    if capability in ("DEFAULT", "NO AVX", ""):
        return False, "torch has no native bf16 kernels for this CPU: it runs its generic ones here"
    if capability == "SVE256":   # Arm: torch runs these kernels only on a CPU with bf16 instructions
        return True, f"this Arm CPU computes bf16 natively, with torch's {capability} kernels"
    if capability not in WIDE_CPU_KERNELS:
        return False, f"this CPU has no native bf16: torch's kernels use {capability}"
    amx, avx512_bf16 = cpu_bf16_instructions()
    if amx:
        return True, "this CPU computes bf16 natively, with AMX, its matrix units"
    if avx512_bf16:
        return True, "this CPU computes bf16 natively, with AVX512-BF16"
    if amx is None:
        return False, f"torch {torch.__version__} cannot tell whether this CPU computes bf16 natively"
    return False, "this CPU has no native bf16"


def cuda_has_native_bf16(device):
    major, minor = torch.cuda.get_device_capability(device)
    name = torch.cuda.get_device_name(device)
    if (major, minor) >= (8, 0):
        return True, f"{name} computes bf16 natively: compute capability {major}.{minor}"
    return False, f"{name} has no native bf16: compute capability {major}.{minor}, below 8.0"


def emulated(name, device):
    """Why precision `name` is not native on `device`, in words; "" where it is (float32 always is, float16 on every
    CUDA card; bf16 on a Mac's GPU is left to torch, which says when the macOS is too old for it). float16 on a CPU
    ran a training step over 100x slower than float32 on a Xeon with AMX."""
    if name == "fp32" or device.type == "mps" or (name == "fp16" and device.type == "cuda"):
        return ""
    if name == "fp16":
        return "torch computes float16 on a CPU mostly in software (minutes a training step; Ctrl-C waits for it)"
    native, why = cuda_has_native_bf16(device) if device.type == "cuda" else cpu_has_native_bf16()
    return "" if native else why


def choose_precision(requested, device):
    """The Precision for --precision `requested` (one of CHOICES) on torch device `device`."""
    if requested not in CHOICES:
        raise ValueError(f"--precision {requested}: choose one of {', '.join(CHOICES)}")
    if requested == "fp16" and device.type == "mps":
        raise ValueError("--precision fp16 on a Mac's GPU: PyTorch's float16 convolution gradients are not supported "
                         "there and can stop the program; use fp32 (the default) or bf16")
    if requested == "bf16" and device.type == "mps" and not getattr(torch.amp, "is_autocast_available",
                                                                      lambda device_type: False)("mps"):
        raise ValueError(f"--precision bf16 on a Mac's GPU needs a newer torch than {torch.__version__} (2.5 or "
                         "newer has mixed precision there); use fp32")
    if requested == "fp16" and device.type != "cuda" and not hasattr(torch.amp, "GradScaler"):
        raise ValueError(f"--precision fp16 on the CPU needs torch 2.3 or newer for its loss scaling; this is torch "
                         f"{torch.__version__}: use fp32")
    if requested != "auto":
        slow = emulated(requested, device)
        return Precision(requested, "asked for with --precision" + (f"; {slow}, so expect it to run many times "
                                                                    "slower than float32" if slow else ""))
    if device.type == "cuda":
        native, why = cuda_has_native_bf16(device)
        return Precision("bf16" if native else "fp16", why)
    if device.type == "mps":
        return Precision("fp32", "a Mac's GPU computes float16 no faster than float32")
    native, why = cpu_has_native_bf16()
    if native and torch.backends.cpu.get_cpu_capability() == "SVE256":
        return Precision("fp32", f"{why}, but bf16 was measured faster than float32 only on x86 CPUs with "
                                 "AVX512-BF16 or AMX")
    return Precision("bf16" if native else "fp32", why)

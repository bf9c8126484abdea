"""What the installed torch can do, as skip marks shared by the tests. p1 and the theory need only NumPy: their
tests take torch from here, so that without it the finite-difference checks still run and only the comparisons
with PyTorch are skipped."""
import pytest

try:
    import torch
except ImportError:
    torch = None

NEEDS_TORCH = pytest.mark.skipif(torch is None, reason="compares with PyTorch, which is not installed")
# Loss scaling on the CPU (torch.amp.GradScaler) is torch 2.3's; an Intel Mac's torch 2.2 has CUDA's only.
CPU_SCALER = pytest.mark.skipif(torch is None or not hasattr(torch.amp, "GradScaler"),
                                reason="loss scaling on the CPU needs torch 2.3")

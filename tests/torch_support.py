"""What the installed torch can do, as skip marks shared by the tests."""
import pytest
import torch

# Loss scaling on the CPU (torch.amp.GradScaler) is torch 2.3's; an Intel Mac's torch 2.2 has CUDA's only.
CPU_SCALER = pytest.mark.skipif(not hasattr(torch.amp, "GradScaler"), reason="loss scaling on the CPU needs torch 2.3")

"""bench/p2_step_memory.py: the activations a training step keeps grow with the batch and halve in 16 bits."""
from bench import p2_step_memory
from config import get_preset


def test_saved_activations_scale_with_the_batch_and_the_precision():
    small = get_preset("fast").override(widths=(8, 16, 16), batch_size=8)
    one, two = (p2_step_memory.step_memory(small.override(batch_size=n))["saved"] for n in (8, 16))
    assert 1.8 < two / one < 2.05   # the batch's activations, and a few batch-independent tensors
    full = p2_step_memory.step_memory(small, "fp32")
    half = p2_step_memory.step_memory(small, "bf16")
    assert half["saved"] < 0.8 * full["saved"]
    assert half["params"] == full["params"] > 0 and half["optimizer"] > 0


def test_the_command_line_prints_one_line(capsys):
    found = p2_step_memory.main(["--set", "widths=8,16,16", "--set", "batch_size=4"])
    line = capsys.readouterr().out
    assert line.startswith("fast, bf16, batch 4: activations saved for the backward pass") and found["saved"] > 0

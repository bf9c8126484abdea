"""The layer table of a network for the report: each leaf module's output shape and parameter count.

Rows are named by module path ("body.1.layers.0"), which is what the code knows; the report turns these names
into words ("group 1, convolution 1") with describe.layer_names.
"""
import copy

import torch


def _leaf_modules(model, prefix=""):
    """[(module path, module)] of the modules that hold no others, in the order they were defined."""
    children = list(model.named_children())
    if not children:
        return [(prefix or type(model).__name__, model)]
    found = []
    for name, child in children:
        found += _leaf_modules(child, f"{prefix}.{name}" if prefix else name)
    return found


def layer_table(model, input_shape=(3, 32, 32)):
    """Rows {"name", "type", "output_shape", "params"} from one dummy forward pass (batch 2, CPU, float32).

    The model's train/eval flags are restored afterwards; a model living elsewhere is probed on a CPU copy.
    Shapes are per sample ([C, H, W] or [F]); None for a module the forward pass did not call.
    """
    on_cpu = all(p.device.type == "cpu" and p.dtype == torch.float32 for p in model.parameters())
    probe = model if on_cpu else copy.deepcopy(model).to("cpu", torch.float32)
    modes = {module: module.training for module in probe.modules()}
    shapes, hooks = {}, []
    modules = _leaf_modules(probe)

    def record(name):
        def hook(module, inputs, output):  # must return None, or it would replace the module's output
            shapes.setdefault(name, list(output.shape[1:]))
        return hook

    for name, module in modules:
        hooks.append(module.register_forward_hook(record(name)))
    try:
        probe.eval()
        with torch.no_grad():
            probe(torch.zeros(2, *input_shape))
    finally:
        for hook in hooks:
            hook.remove()
        for module, training in modes.items():
            module.training = training
    return [{"name": name, "type": type(module).__name__, "output_shape": shapes.get(name),
             "params": sum(p.numel() for p in module.parameters())}
            for name, module in modules]


def total_params(model):
    return sum(p.numel() for p in model.parameters())


def learned_params(model):
    """The parameters training updates: the whitening filters and, where the config fixes it, batch norm's scale
    never learn (the whitening bias stops learning part-way, but learns: train() leaves it learnable)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)

"""The layer table of a network for the report: each reported module's output shape and parameter count.

Rows are named by module path ("body.1.layers.0"), which is what the code knows; the report turns these names
into words ("group 1, convolution 1") with describe.layer_names.
"""
import copy

import torch


def _reported_modules(model, prefix=""):
    """Leaf modules, and modules marked `report_as_block = True` (their children are not listed separately)."""
    children = list(model.named_children())
    if not children or getattr(model, "report_as_block", False):
        return [(prefix or type(model).__name__, model)]
    found = []
    for name, child in children:
        found += _reported_modules(child, f"{prefix}.{name}" if prefix else name)
    return found


def _output_shape(output):
    if isinstance(output, (tuple, list)) and output:
        output = output[0]
    return list(output.shape[1:]) if torch.is_tensor(output) else None


def layer_table(model, input_shape=(3, 32, 32)):
    """Rows {"layer", "name", "type", "output_shape", "params"} from one dummy forward pass (batch 2, CPU, float32).

    The model's train/eval flags are restored afterwards; a model living elsewhere is probed on a CPU copy.
    Shapes are per sample ([C, H, W] or [F]); None for a module the forward pass did not call.
    """
    on_cpu = all(p.device.type == "cpu" and p.dtype == torch.float32 for p in model.parameters())
    probe = model if on_cpu else copy.deepcopy(model).to("cpu", torch.float32)
    modes = {module: module.training for module in probe.modules()}
    shapes, hooks = {}, []
    modules = _reported_modules(probe)

    def record(name):
        def hook(module, inputs, output):  # must return None, or it would replace the module's output
            shapes.setdefault(name, _output_shape(output))
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
    return [{"layer": f"{name} ({type(module).__name__})", "name": name, "type": type(module).__name__,
             "output_shape": shapes.get(name), "params": sum(p.numel() for p in module.parameters())}
            for name, module in modules]


def total_params(model):
    return sum(p.numel() for p in model.parameters())


def learned_params(model):
    """The parameters training updates, counted on a freshly built network: the whitening filters and, where the
    config fixes it, batch norm's scale never learn (and the whitening bias stops learning part-way, but learns)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)

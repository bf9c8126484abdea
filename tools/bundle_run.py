"""Checks that import and run a bundle's code: `make zip` runs them on the student's own tree, `check --run` on a
zip whose author is trusted. Each runs in a fresh `python -E -B` inside the p1 or p2 folder, whose only extra
import path is that folder, so a pass proves the unpacked bundle imports its modules and loads its models without
the rest of the repository.
"""
import json
import os
import subprocess
import sys

LOAD_TIMEOUT_S = 600  # loading a full-size p2 model and importing torch on a busy 2-core machine

P1_LOAD_CHECK = r"""
import json, os, sys
sys.path.insert(0, os.getcwd())
load_model = sys.argv[1] == "1"
problems = []
try:
    import numpy as np
    import p1
except BaseException as e:
    problems.append(f"p1.py does not import from the p1 folder alone: {type(e).__name__}: {e}")
else:
    try:
        if load_model:
            mlp = p1.load_model("p1_model.npz")
            logits = np.asarray(mlp.forward(np.zeros((2, 784), dtype=np.float32)))
            if logits.shape != (2, 10) or not np.isfinite(logits).all():
                problems.append(f"p1_model.npz: the loaded MLP maps 2 images to {logits.shape} values (some not "
                                "finite?), expected (2, 10) finite logits")
    except BaseException as e:
        problems.append(f"p1_model.npz does not load with p1.load_model: {type(e).__name__}: {e}")
print(json.dumps(problems))
"""

P2_LOAD_CHECK = r"""
import importlib, json, os, sys
sys.path.insert(0, os.getcwd())
load_model = sys.argv[1] == "1"
problems = []
imported = True
for name in sys.argv[2:]:
    try:
        importlib.import_module(name)
    except BaseException as e:
        imported = False
        problems.append(f"{name}.py does not import from the p2 folder alone: {type(e).__name__}: {e}")
if load_model and imported:
    try:
        import torch
        import p2
        model, cfg, ckpt = p2.load_model("p2_model.pkl")
        with torch.no_grad():
            logits = model(torch.zeros(2, 3, 32, 32))
        if tuple(logits.shape) != (2, 10) or not torch.isfinite(logits).all():
            problems.append(f"p2_model.pkl: the loaded network maps 2 images to {tuple(logits.shape)} logits "
                            f"(all finite? {bool(torch.isfinite(logits).all())}), expected (2, 10) finite logits")
    except BaseException as e:
        problems.append(f"p2_model.pkl does not load with p2.load_model: {type(e).__name__}: {e}")
print(json.dumps(problems))
"""


def run_checks(bundle_dir, p1_model_ok, p2_model_ok, p2_modules):
    """Import p1.py and every p2 module, and load each model that passed the data-only checks with the bundle's
    own code; yield (folder, problems). Both interpreters run at once."""
    checks = []
    if os.path.isfile(os.path.join(bundle_dir, "p1", "p1.py")):
        checks.append(("p1", P1_LOAD_CHECK, ["1" if p1_model_ok else "0"]))
    if os.path.isfile(os.path.join(bundle_dir, "p2", "p2.py")):
        checks.append(("p2", P2_LOAD_CHECK, ["1" if p2_model_ok else "0", *p2_modules]))
    env = dict(os.environ, MPLBACKEND="Agg")
    running = []
    for folder, script, args in checks:
        # -E: no PYTHON* variables (no PYTHONPATH into the repository), but the user's site-packages stay, where pip
        # installs for a user who cannot write the system's; -B: no __pycache__ in the bundle.
        proc = subprocess.Popen([sys.executable, "-E", "-B", "-c", script, *args], cwd=os.path.join(bundle_dir, folder),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        running.append((folder, proc))
    for folder, proc in running:
        try:
            out, err = proc.communicate(timeout=LOAD_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            yield folder, [f"loading the model took over {LOAD_TIMEOUT_S} s; gave up"]
            continue
        try:
            yield folder, json.loads(out.strip().splitlines()[-1])
        except (IndexError, ValueError):
            tail = (err.strip() or out.strip())[-600:]
            yield folder, [f"the load check crashed (exit {proc.returncode}): {tail}"]

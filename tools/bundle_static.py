"""Checks of a hand-in bundle that never run its code: source files are parsed with `ast`, PDFs are read as bytes,
and the model files are loaded as data only (np.load(allow_pickle=False), torch.load(weights_only=True)), which
imports nothing from the bundle. Each check returns a list of problems (strings); an empty list means it passed.
"""
import ast
import importlib.machinery
import os
import re
import sys
import warnings
import zlib

P1_ALLOWED_IMPORTS = ("os", "numpy", "matplotlib")
# The names of the course template that a grader looks for in p1.py (module level), and MLP's fixed method.
P1_TEMPLATE_NAMES = ("Activation", "Identity", "Sigmoid", "Tanh", "ReLU", "Criterion", "SoftmaxCrossEntropy",
                     "random_normal_weight_init", "zeros_bias_init", "MLP", "get_training_stats", "get_one_hot",
                     "main")
P1_TEMPLATE_METHODS = {"MLP": ("save_model",)}
MNIST_PIXELS, MNIST_CLASSES = 784, 10
# What p2's checkpoint.load_checkpoint requires of a model file (its FORMAT and REQUIRED): the grader's load.
P2_FORMAT = "hw1-p2-cifar10/1"
P2_REQUIRED_KEYS = ("format", "state_dict", "config", "class_names", "mean", "std", "preset", "seed", "test_accuracy")
RUBRIC_P1_ERROR, RUBRIC_P2_ACCURACY = 0.05, 0.90   # the rubric: MNIST error under 5 %, CIFAR-10 accuracy over 90 %

# A path that names one machine: a home or work folder, a temp folder, a Windows drive, a cluster's file systems
# (CMU's AFS; PSC Bridges-2's /jet and /ocean), a data folder beside the repository (../shared/...).
# "~/.cache" or "./data/..." name no machine and pass.
MACHINE_PATH = re.compile(r"(?<![\w.~])/(?:home|Users|work|root|tmp|mnt|media|private|scratch|srv|opt|var|afs"
                          r"|jet|ocean|Volumes|content)/[\w.-]+"
                          r"|\b[A-Za-z]:\\[\w.-]+|\.\./shared\b", re.ASCII)


# ---------------------------------------------------------------------------------------------------------------
# Python sources
# ---------------------------------------------------------------------------------------------------------------
def parse(path, label):
    """(tree, problems): the module's syntax tree, or None and why it is not valid Python."""
    try:
        with open(path, "rb") as f:
            return ast.parse(f.read(), filename=os.path.basename(path)), []
    except SyntaxError as e:
        return None, [f"{label}, line {e.lineno}: not valid Python ({e.msg})"]
    except ValueError as e:  # null bytes, undecodable source
        return None, [f"{label}: not valid Python ({e})"]


def imported_modules(tree):
    """(line, module name or None for a relative import, how) for every import statement and __import__ call."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name, "import") for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            found.append((node.lineno, None if node.level else node.module, "from"))
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "__import__":
            found.append((node.lineno, None, "__import__"))
    return sorted(found, key=lambda item: item[0])


def p1_import_problems(tree, label):
    """p1.py may import only os, numpy and matplotlib (and their submodules): the assignment's rule."""
    allowed = ", ".join(P1_ALLOWED_IMPORTS)
    problems = []
    for line, module, how in imported_modules(tree):
        if how == "__import__":
            problems.append(f"{label}, line {line}: __import__() hides what is imported; p1.py may import only "
                            f"{allowed}")
        elif module is None:
            problems.append(f"{label}, line {line}: a relative import; p1.py may import only {allowed}")
        elif module.split(".")[0] not in P1_ALLOWED_IMPORTS + ("__future__",):
            problems.append(f"{label}, line {line}: imports {module}; p1.py may import only {allowed}")
    return problems


def p1_template_problems(tree, label):
    """The template's classes and functions must be defined at module level, and MLP must keep save_model."""
    defined = {}
    for node in tree.body:
        if isinstance(node, (ast.ClassDef, ast.FunctionDef)):
            defined[node.name] = node
        elif isinstance(node, ast.Assign):
            defined.update((target.id, node) for target in node.targets if isinstance(target, ast.Name))
    missing = [name for name in P1_TEMPLATE_NAMES if name not in defined]
    for cls, methods in P1_TEMPLATE_METHODS.items():
        node = defined.get(cls)
        if isinstance(node, ast.ClassDef):
            own = {item.name for item in node.body if isinstance(item, ast.FunctionDef)}
            missing += [f"{cls}.{method}" for method in methods if method not in own]
    if not missing:
        return []
    return [f"{label}: the template's {', '.join(missing)} {'is' if len(missing) == 1 else 'are'} not defined; "
            "keep every name of p1_template.py"]


def p1_source_problems(path, label):
    tree, problems = parse(path, label)
    if tree is None:
        return problems
    return p1_import_problems(tree, label) + p1_template_problems(tree, label)


def installed_elsewhere(name, local_dirs):
    """Whether top-level module `name` is part of Python or an installed package, found without importing it
    and without looking in `local_dirs` (the repository's own source folders, whose p2 modules must not stand in
    for the bundle's; a virtual environment inside the repository still counts as installed)."""
    if name in sys.builtin_module_names or name in getattr(sys, "stdlib_module_names", ()):
        return True
    local = {os.path.abspath(d) for d in local_dirs}
    paths = [p for p in sys.path if p and os.path.abspath(p) not in local]
    return importlib.machinery.PathFinder.find_spec(name, paths) is not None


def p2_source_problems(p2_dir, modules, label, local_dirs=()):
    """Every p2 module parses, and every module it imports is another module of the folder or installed."""
    problems, own = [], {name[:-3] for name in modules}
    for name in modules:
        tree, errors = parse(os.path.join(p2_dir, name), f"{label}/{name}")
        problems += errors
        if tree is None:
            continue
        for line, module, _ in imported_modules(tree):
            top = (module or "").split(".")[0]
            if top and top not in own and not installed_elsewhere(top, local_dirs):
                problems.append(f"{label}/{name}, line {line}: imports {top}, which is neither a module of the p2 "
                                "folder nor an installed package")
    return problems


# ---------------------------------------------------------------------------------------------------------------
# PDFs
# ---------------------------------------------------------------------------------------------------------------
def pdf_problem(path):
    """None for a PDF file, else what is wrong. A PDF starts with %PDF- (within its first 1024 bytes) and ends
    with %%EOF; a missing end means the file was cut short."""
    with open(path, "rb") as f:
        head = f.read(1024)
        f.seek(max(0, os.path.getsize(path) - 1024))
        tail = f.read()
    if b"%PDF-" not in head:
        return "not a PDF (no %PDF- header)"
    if b"%%EOF" not in tail:
        return "an incomplete PDF (no %%EOF at its end)"
    return None


_STREAM = re.compile(rb"stream\r?\n(.*?)\r?\n?endstream", re.S)
_SHOWN_TEXT = re.compile(rb"\[((?:[^\]\\]|\\.)*)\]\s*TJ|(\((?:[^()\\]|\\.)*\))\s*Tj", re.S)
_LITERAL = re.compile(rb"\(((?:[^()\\]|\\.)*)\)", re.S)
_ESCAPE = re.compile(rb"\\([0-7]{1,3}|.)", re.S)
_ESCAPES = {b"n": b"\n", b"r": b"\r", b"t": b"\t", b"b": b"\b", b"f": b"\f"}


def _unescape(literal):
    def one(match):
        code = match.group(1)
        return bytes([int(code, 8) & 0xFF]) if code[:1].isdigit() else _ESCAPES.get(code, code)
    return _ESCAPE.sub(one, literal)


def pdf_texts(data):
    """The PDF's bytes outside its streams (the metadata), and the text that each text-showing operator of each
    stream draws, with the kerning numbers between its pieces dropped. Streams are decompressed (matplotlib
    compresses with Flate); their other bytes (fonts, images) are left out, as binary data can look like text."""
    texts = [_STREAM.sub(b"stream endstream", data)]
    for match in _STREAM.finditer(data):
        try:
            stream = zlib.decompress(match.group(1))
        except zlib.error:
            stream = match.group(1)
        shown = [b"".join(_unescape(piece) for piece in _LITERAL.findall(match.group(1) or match.group(2)))
                 for match in _SHOWN_TEXT.finditer(stream)]
        # Each operator's text, and all of them run together: mathtext draws a line glyph by glyph.
        texts += shown + [b"".join(shown)]
    return texts


def pdf_machine_paths(path):
    """The machine paths (sorted, unique) that the PDF at `path` shows or stores."""
    with open(path, "rb") as f:
        data = f.read()
    found = set()
    for text in pdf_texts(data):
        found.update(MACHINE_PATH.findall(text.decode("latin-1")))
    return sorted(found)


def pdf_problems(path, label, hint):
    problem = pdf_problem(path)
    if problem:
        return [f"{label}: {problem}; {hint}"]
    paths = pdf_machine_paths(path)
    if paths:
        return [f"{label}: shows a path of this machine ({', '.join(paths[:3])}); a grader's copy must not; "
                f"{hint}"]
    return []


# ---------------------------------------------------------------------------------------------------------------
# Model files, loaded as data only
# ---------------------------------------------------------------------------------------------------------------
def p1_model_problems(path, label):
    """p1_model.npz: numeric arrays (strings allowed) that load without pickle, among them a finite weight
    matrix that takes the 784 MNIST pixels and one that gives the 10 classes."""
    import numpy as np
    hint = "train it with `make p1`"
    with open(path, "rb") as f:
        if f.read(4) != b"PK\x03\x04":  # an .npz is a zip file; anything else numpy would try as a pickle
            return [f"{label}: not an .npz file of arrays; {hint}"]
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {name: archive[name] for name in archive.files}
    except ValueError as e:
        if "pickle" in str(e):
            return [f"{label}: holds Python objects, which are never loaded; {hint}"]
        return [f"{label}: not a readable .npz of arrays ({e}); {hint}"]
    except Exception as e:  # BadZipFile, EOFError, OSError: whatever a damaged file raises
        return [f"{label}: not a readable .npz of arrays ({type(e).__name__}); {hint}"]
    if not all(isinstance(a, np.ndarray) for a in arrays.values()):   # a zip of other files (a torch model, say)
        return [f"{label}: not an .npz file of arrays; {hint}"]
    numeric = {name: a for name, a in arrays.items() if np.issubdtype(a.dtype, np.number)}
    bad = sorted(name for name, a in numeric.items() if np.issubdtype(a.dtype, np.inexact) and not np.isfinite(a).all())
    if bad:
        return [f"{label}: {', '.join(bad)} hold NaN or infinite values; {hint}"]
    matrices = [a for a in numeric.values() if a.ndim == 2 and np.issubdtype(a.dtype, np.floating)]
    if not any(MNIST_PIXELS in a.shape for a in matrices) or not any(MNIST_CLASSES in a.shape for a in matrices):
        return [f"{label}: no weight matrices for {MNIST_PIXELS} inputs and {MNIST_CLASSES} classes in it; {hint}"]
    return []


def refused_global(error):
    """The Python object a pickle asked for, as torch names it ('posix.system'), or None."""
    match = re.search(r"GLOBAL\s+([\w.]+)", str(error))
    return match.group(1) if match else None


def p2_model_problems(path, label):
    """p2_model.pkl: a dict of the expected keys with a state_dict of tensors, loaded with weights_only=True."""
    import pickle

    import torch
    hint = "train it with `make p2`"
    try:
        with warnings.catch_warnings():   # torch warns about old pickle protocols, inviting bug reports
            warnings.simplefilter("ignore")
            ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        # torch's own message advises loading unsafely; only the name of what was refused is passed on.
        wanted = refused_global(e)
        if wanted:
            return [f"{label}: not a p2 model file: it asks to run Python code ({wanted}), which is never loaded; "
                    f"{hint}"]
        return [f"{label}: not a p2 model file: it holds Python objects, which are never loaded; {hint}"]
    except Exception as e:
        return [f"{label}: not a readable torch model file ({type(e).__name__}); {hint}"]
    if not isinstance(ckpt, dict):
        return [f"{label}: holds a {type(ckpt).__name__}, not the dict p2 saves; {hint}"]
    missing = [key for key in P2_REQUIRED_KEYS if key not in ckpt]
    if missing:
        return [f"{label}: lacks {', '.join(missing)}; {hint}"]
    if ckpt["format"] != P2_FORMAT:
        return [f"{label}: its format is {ckpt['format']!r}, not {P2_FORMAT!r} as p2.py writes; {hint}"]
    state = ckpt["state_dict"]
    if not isinstance(state, dict) or not state or not all(torch.is_tensor(v) and v.layout == torch.strided
                                                           for v in state.values()):
        return [f"{label}: its state_dict is not a non-empty dict of (dense) tensors; {hint}"]
    bad = sorted(name for name, v in state.items() if v.is_floating_point() and not torch.isfinite(v).all())
    if bad:
        return [f"{label}: {', '.join(bad)} hold NaN or infinite values; {hint}"]
    return []


# ---------------------------------------------------------------------------------------------------------------
# The recorded results against the rubric: notes, not problems (a weaker model is still a hand-in)
# ---------------------------------------------------------------------------------------------------------------
def rubric_notes(p1_model, p2_model, label):
    """A note for each model file (a path or a file object) whose recorded test result misses the rubric's mark,
    e.g. one from a short trial run. A file with no readable result gets none: the checks above judge the file."""
    import numpy as np
    import torch
    notes = []
    try:
        with np.load(p1_model, allow_pickle=False) as archive:
            error = float(archive["meta_test_error"])
    except Exception:
        error = None
    if error is not None and not error < RUBRIC_P1_ERROR:
        notes.append(f"{label}/p1/p1_model.npz records an MNIST test error of {100 * error:.2f} %, not under the "
                     f"rubric's {100 * RUBRIC_P1_ERROR:g} %: train it with `make p1`")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ckpt = torch.load(p2_model, map_location="cpu", weights_only=True)
        accuracy, data_note = float(ckpt["test_accuracy"]), ckpt.get("data_note")
    except Exception:
        accuracy, data_note = None, None
    if accuracy is not None and not accuracy > RUBRIC_P2_ACCURACY:
        notes.append(f"{label}/p2/p2_model.pkl records a CIFAR-10 test accuracy of {100 * accuracy:.2f} %, not over "
                     f"the rubric's {100 * RUBRIC_P2_ACCURACY:g} %: train it with `make p2`")
    if isinstance(data_note, str) and data_note:   # --data-note: a run on other files than the official ones
        notes.append(f"{label}/p2/p2_model.pkl was trained on data its run described as \"{data_note}\": for a model "
                     "of the official CIFAR-10 files, train it with `make p2`")
    return notes

"""Build and check the hand-in zip.

    python3 tools/bundle.py zip ANDREW_ID     # validate andrewID-HW1/, write ANDREW_ID-HW1.zip (+ ANDREW_ID-HW1.pdf)
    python3 tools/bundle.py check PATH.zip    # validate an existing zip the same way

The zip holds exactly <id>-HW1/p1/{p1.py, p1_model.npz, p1_report.pdf} and <id>-HW1/p2/{p2.py, every other .py
module of the p2 folder, p2_model.pkl, p2_report.pdf}. Both commands validate through one function,
`validate_bundle`, on a folder holding exactly the files of the zip: a staging copy for `zip`, the extracted zip for
`check`. The model files are loaded in a fresh `python -I` whose only extra import path is the p1 or p2 folder
itself, so the check proves that the unpacked zip runs without the rest of the repository.
"""
import argparse
import ast
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SOURCE_DIR = "andrewID-HW1"
THEORY_PDF = os.path.join("theory", "HW1_theory.pdf")

P1_FILES = ("p1.py", "p1_model.npz", "p1_report.pdf")
P2_FILES = ("p2.py", "p2_model.pkl", "p2_report.pdf")
MAKE_HINT = {"p1_model.npz": "train it with `make p1`", "p1_report.pdf": "train p1 with `make p1`",
             "p2_model.pkl": "train it with `make p2`", "p2_report.pdf": "train p2 with `make p2`"}
P1_ALLOWED_IMPORTS = ("os", "numpy", "matplotlib")
ANDREW_ID = re.compile(r"[a-z][a-z0-9]{1,19}")
PLACEHOLDER_IDS = ("andrewid",)
LOAD_TIMEOUT_S = 600  # loading a full-size p2 model and importing torch on a busy 2-core machine

# Run inside the p1 folder by `python -I`: the folder is the only path added, so only the bundle's own files count.
P1_LOAD_CHECK = r"""
import json, os, sys
sys.path.insert(0, os.getcwd())
problems = []
try:
    import numpy as np
    import p1
except BaseException as e:
    problems.append(f"p1.py does not import from the p1 folder alone: {type(e).__name__}: {e}")
else:
    try:
        if os.path.isfile("p1_model.npz") and os.path.getsize("p1_model.npz") > 0:
            mlp = p1.load_model("p1_model.npz")
            logits = np.asarray(mlp.forward(np.zeros((2, 784), dtype=np.float32)))
            if logits.shape != (2, 10) or not np.isfinite(logits).all():
                problems.append(f"p1_model.npz: the loaded MLP maps 2 images to {logits.shape} values (some not "
                                "finite?), expected (2, 10) finite logits")
    except BaseException as e:
        problems.append(f"p1_model.npz does not load with p1.load_model: {type(e).__name__}: {e}")
print(json.dumps(problems))
"""

# Run inside the p2 folder by `python -I`. The safe load comes first and needs none of the bundle's code: a pickle
# that asks to run code is refused before anything from it executes.
P2_LOAD_CHECK = r"""
import importlib, json, os, sys
sys.path.insert(0, os.getcwd())
problems = []
has_model = os.path.isfile("p2_model.pkl") and os.path.getsize("p2_model.pkl") > 0
try:
    import torch
    if has_model:
        torch.load("p2_model.pkl", map_location="cpu", weights_only=True)
    safe = True
except BaseException as e:
    safe = False
    # torch's message is long; the line naming what was refused is the useful one.
    lines = [line.strip() for line in str(e).splitlines() if line.strip()] or [""]
    first = next((line for line in lines if "Unsupported global" in line), lines[0]).split(". Please use")[0]
    problems.append(f"p2_model.pkl is refused by torch.load(weights_only=True): {type(e).__name__}: {first}")
imported = True
for name in sys.argv[1:]:
    try:
        importlib.import_module(name)
    except BaseException as e:
        imported = False
        problems.append(f"{name}.py does not import from the p2 folder alone: {type(e).__name__}: {e}")
if has_model and safe and imported:
    try:
        import p2
        model, cfg, ckpt = p2.load_model("p2_model.pkl")
        with torch.no_grad():
            logits = model(torch.zeros(2, 3, 32, 32))
        if tuple(logits.shape) != (2, 10):
            problems.append(f"p2_model.pkl: the loaded network maps 2 images to {tuple(logits.shape)}, expected (2, 10)")
    except BaseException as e:
        problems.append(f"p2_model.pkl does not load with p2.load_model: {type(e).__name__}: {e}")
print(json.dumps(problems))
"""


class BundleError(Exception):
    """The command cannot start: a bad Andrew ID, no zip, an unreadable zip. The message says what to do."""


class BundleInvalid(Exception):
    """Validation found problems; `problems` lists every one of them."""

    def __init__(self, problems):
        super().__init__(f"{len(problems)} problem(s)")
        self.problems = problems


# ---------------------------------------------------------------------------------------------------------------
# Andrew ID
# ---------------------------------------------------------------------------------------------------------------
def check_andrew_id(andrew_id):
    """Raise BundleError unless `andrew_id` looks like a real Andrew ID."""
    how = "run `make zip ANDREW_ID=yourid` (your Andrew ID: lowercase letters and digits, e.g. jdoe)"
    if not andrew_id:
        raise BundleError(f"no Andrew ID given: {how}")
    if andrew_id.lower() in PLACEHOLDER_IDS:
        raise BundleError(f"{andrew_id!r} is the template's placeholder, not your Andrew ID: {how}")
    if not ANDREW_ID.fullmatch(andrew_id):
        raise BundleError(f"{andrew_id!r} is not a plausible Andrew ID (2-20 lowercase letters and digits, starting "
                          f"with a letter): {how}")


# ---------------------------------------------------------------------------------------------------------------
# What belongs in the bundle
# ---------------------------------------------------------------------------------------------------------------
def p2_modules(p2_dir):
    """Every .py directly in the p2 folder: p2.py and the modules it imports."""
    if not os.path.isdir(p2_dir):
        return []
    return sorted(name for name in os.listdir(p2_dir)
                  if name.endswith(".py") and os.path.isfile(os.path.join(p2_dir, name)))


def bundle_names(source_dir):
    """The files of the bundle that `source_dir` (a folder with p1/ and p2/) can supply, as 'p1/x' names; a
    missing required file is left out here and reported by validate_bundle."""
    names = [f"p1/{name}" for name in P1_FILES]
    p2_dir = os.path.join(source_dir, "p2")
    names += [f"p2/{name}" for name in sorted(set(P2_FILES) | set(p2_modules(p2_dir)))]
    return [name for name in names if os.path.isfile(os.path.join(source_dir, name))]


def allowed_name(name):
    """Whether 'p1/x' or 'p2/x' (relative to the top folder) may be in the zip."""
    folder, _, base = name.partition("/")
    if "/" in base:
        return False
    if folder == "p1":
        return base in P1_FILES
    return folder == "p2" and (base in P2_FILES or base.endswith(".py"))


# ---------------------------------------------------------------------------------------------------------------
# Validation: one function for both commands
# ---------------------------------------------------------------------------------------------------------------
def validate_bundle(bundle_dir, label):
    """Every problem of the bundle in `bundle_dir` (holding p1/ and p2/), as messages naming files `label`/p1/...;
    an empty list means the bundle is good."""
    problems = []
    present = {}
    for name in [f"p1/{n}" for n in P1_FILES] + [f"p2/{n}" for n in P2_FILES]:
        path = os.path.join(bundle_dir, name)
        base = os.path.basename(name)
        hint = MAKE_HINT.get(base, "restore it from the repository")
        if not os.path.isfile(path):
            problems.append(f"{label}/{name}: missing; {hint}")
        elif os.path.getsize(path) == 0:
            problems.append(f"{label}/{name}: empty; {hint}")
        else:
            present[base] = path

    if "p1.py" in present:
        problems += p1_import_problems(present["p1.py"], f"{label}/p1/p1.py")
    for report in ("p1_report.pdf", "p2_report.pdf"):
        if report in present:
            problem = pdf_problem(present[report])
            if problem:
                folder = report[:2]
                problems.append(f"{label}/{folder}/{report}: {problem}; {MAKE_HINT[report]}")

    # An empty or missing model file is already reported; the code is still checked to import.
    checks = []
    if "p1.py" in present:
        checks.append(("p1", P1_LOAD_CHECK, []))
    if "p2.py" in present:
        modules = [name[:-3] for name in p2_modules(os.path.join(bundle_dir, "p2"))]
        checks.append(("p2", P2_LOAD_CHECK, modules))
    for folder, messages in run_load_checks(bundle_dir, checks):
        problems += [f"{label}/{folder}/{message}" for message in messages]
    return problems


def p1_import_problems(path, label):
    """p1.py may import only os, numpy and matplotlib (and their submodules): the assignment's rule."""
    try:
        with open(path, encoding="utf-8") as f:
            tree = ast.parse(f.read(), filename=path)
    except (SyntaxError, UnicodeDecodeError, ValueError) as e:
        return [f"{label}: not valid Python ({e})"]
    allowed = ", ".join(P1_ALLOWED_IMPORTS)
    problems = []
    for node in sorted((n for n in ast.walk(tree) if hasattr(n, "lineno")), key=lambda n: (n.lineno, n.col_offset)):
        if isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                problems.append(f"{label}, line {node.lineno}: a relative import; p1.py may import only {allowed}")
                continue
            modules = [node.module]
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "__import__"):
            problems.append(f"{label}, line {node.lineno}: __import__() hides what is imported; p1.py may import "
                            f"only {allowed}")
            continue
        else:
            continue
        for module in modules:
            if module.split(".")[0] not in P1_ALLOWED_IMPORTS + ("__future__",):
                problems.append(f"{label}, line {node.lineno}: imports {module}; p1.py may import only {allowed}")
    return problems


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


def run_load_checks(bundle_dir, checks):
    """Run each (folder, script, args) check at once in its own isolated interpreter; yield (folder, problems).

    -I: no user site, no PYTHON* variables, no script folder on sys.path; -B: no __pycache__ in the bundle."""
    env = dict(os.environ, MPLBACKEND="Agg")
    running = []
    for folder, script, args in checks:
        proc = subprocess.Popen([sys.executable, "-I", "-B", "-c", script, *args], cwd=os.path.join(bundle_dir, folder),
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


# ---------------------------------------------------------------------------------------------------------------
# make zip
# ---------------------------------------------------------------------------------------------------------------
def make_zip(andrew_id, root=ROOT):
    """Validate the repository's andrewID-HW1/ folder and write `root`/<id>-HW1.zip. Returns the zip's path;
    raises BundleInvalid (nothing written) when the bundle has problems."""
    check_andrew_id(andrew_id)
    top = f"{andrew_id}-HW1"
    source = os.path.join(root, SOURCE_DIR)
    names = bundle_names(source)
    with tempfile.TemporaryDirectory(prefix="hw1-bundle-") as staging:
        # Validate a copy holding exactly the zip's files, and zip those very bytes.
        stage = os.path.join(staging, top)
        for name in names:
            os.makedirs(os.path.join(stage, os.path.dirname(name)), exist_ok=True)
            shutil.copy2(os.path.join(source, name), os.path.join(stage, name))
        os.makedirs(os.path.join(stage, "p1"), exist_ok=True)
        os.makedirs(os.path.join(stage, "p2"), exist_ok=True)
        problems = validate_bundle(stage, SOURCE_DIR)
        if problems:
            raise BundleInvalid(problems)
        zip_path = os.path.join(root, f"{top}.zip")
        write_zip(stage, top, names, zip_path)
    return zip_path


def write_zip(stage, top, names, zip_path):
    """Zip `names` from `stage` under `top`/ into a temp file beside `zip_path`, test it, then rename it over."""
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(zip_path)}.", suffix=".tmp",
                               dir=os.path.dirname(zip_path))
    try:
        with os.fdopen(fd, "wb") as f, zipfile.ZipFile(f, "w", zipfile.ZIP_DEFLATED, strict_timestamps=False) as z:
            for name in names:
                z.write(os.path.join(stage, name), f"{top}/{name}")
        with zipfile.ZipFile(tmp) as z:
            if z.testzip() is not None or z.namelist() != [f"{top}/{name}" for name in names]:
                raise OSError(f"{tmp}: the zip just written does not read back correctly")
        os.chmod(tmp, 0o644)  # mkstemp makes it private; a hand-in file is an ordinary file
        os.replace(tmp, zip_path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def copy_theory_pdf(andrew_id, root=ROOT):
    """Copy theory/HW1_theory.pdf to `root`/<id>-HW1.pdf (handed in separately). Returns (path or None, message)."""
    source = os.path.join(root, THEORY_PDF)
    target = os.path.join(root, f"{andrew_id}-HW1.pdf")
    if not os.path.isfile(source):
        return None, (f"theory PDF NOT copied: {THEORY_PDF} is missing; write it with `make theory`, then run "
                      f"`make zip` again")
    problem = pdf_problem(source)
    if problem:
        return None, f"theory PDF NOT copied: {THEORY_PDF} is {problem}; rewrite it with `make theory`"
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(target)}.", suffix=".tmp", dir=root)
    os.close(fd)
    try:
        shutil.copyfile(source, tmp)
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    size = os.path.getsize(target)
    return target, (f"theory PDF: copied {THEORY_PDF} -> {os.path.basename(target)} ({size:,} bytes); hand it in "
                    "separately")


def zip_listing(zip_path):
    """The zip's members with their sizes, one per line, and a total."""
    with zipfile.ZipFile(zip_path) as z:
        infos = z.infolist()
    lines = [f"{info.file_size:>12,}  {info.filename}" for info in infos]
    total = sum(info.file_size for info in infos)
    lines.append(f"{total:>12,}  total, {len(infos)} files (zip: {os.path.getsize(zip_path):,} bytes)")
    return lines


# ---------------------------------------------------------------------------------------------------------------
# make check-zip
# ---------------------------------------------------------------------------------------------------------------
def check_zip(zip_path):
    """Every problem of an existing zip: its layout (top folder <id>-HW1/, nothing extra) and, extracted to a temp
    folder, the same validation as `make zip`. Raises BundleError when the file is no zip at all."""
    if not zip_path:
        raise BundleError("no zip given: run `make check-zip ZIP=path/to/yourid-HW1.zip`")
    if not os.path.isfile(zip_path):
        raise BundleError(f"{zip_path}: no such file; pass the zip's path: `make check-zip ZIP=path/to/yourid-HW1.zip`")
    try:
        with zipfile.ZipFile(zip_path) as z:
            infos = z.infolist()
            bad_member = z.testzip()
            problems, top = layout_problems(zip_path, [info.filename for info in infos])
            if bad_member is not None:
                problems.append(f"{zip_path}: {bad_member} is corrupt (CRC mismatch); rebuild the zip")
            if top is None:
                return problems
            with tempfile.TemporaryDirectory(prefix="hw1-check-") as tmp:
                for info in infos:
                    if not info.is_dir() and info.filename.startswith(f"{top}/") and safe_name(info.filename):
                        z.extract(info, tmp)
                bundle = os.path.join(tmp, top)
                for folder in ("p1", "p2"):
                    os.makedirs(os.path.join(bundle, folder), exist_ok=True)
                return problems + validate_bundle(bundle, f"{os.path.basename(zip_path)}:{top}")
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError) as e:
        raise BundleError(f"{zip_path}: not a readable zip file ({e}); rebuild it with `make zip ANDREW_ID=yourid`") \
            from None


def safe_name(name):
    """A member that extracts inside the target folder: relative, no '..', no backslashes or drive letters."""
    parts = name.split("/")
    return not (name.startswith("/") or "\\" in name or ":" in parts[0] or ".." in parts)


def layout_problems(zip_path, names):
    """(problems, top folder to validate or None) for the member names of the zip at `zip_path`."""
    label = os.path.basename(zip_path)
    problems = [f"{label}: {name}: unsafe path (absolute or with '..'); this zip was not made by `make zip`"
                for name in names if not safe_name(name)]
    names = [name for name in names if safe_name(name)]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    problems += [f"{label}: {name} is stored more than once" for name in duplicates]

    match = re.fullmatch(r"(.+)-HW1\.zip", label)
    tops = sorted({name.split("/")[0] for name in names})
    if match:
        expected = f"{match.group(1)}-HW1"
    elif len(tops) == 1:
        expected = tops[0]
    else:
        expected = None
    expected_id = expected[:-len("-HW1")] if expected and expected.endswith("-HW1") else None
    if expected_id is None or not ANDREW_ID.fullmatch(expected_id) or expected_id in PLACEHOLDER_IDS:
        problems.append(f"{label}: the bundle must be named <andrewid>-HW1.zip with one top folder <andrewid>-HW1/ "
                        "(your Andrew ID: lowercase letters and digits); rebuild it with `make zip ANDREW_ID=yourid`")
    if expected is not None and tops != [expected]:
        found = sorted({name.split("/")[0] + ("/" if "/" in name else "") for name in names})
        problems.append(f"{label}: the top folder must be {expected}/ alone, found: {', '.join(found) or 'nothing'}")

    # Validate the expected top folder, or the only one there is if its name is wrong: report everything at once.
    top = expected if expected in tops else (tops[0] if len(tops) == 1 else None)
    if top is not None:
        for name in names:
            if name.split("/")[0] != top:
                continue
            inner = name[len(top) + 1:]
            if name == top or name.endswith("/") and inner.rstrip("/") in ("", "p1", "p2"):
                continue  # directory entries of the expected folders
            if not allowed_name(inner):
                problems.append(f"{label}: {name}: not part of the hand-in (the bundle holds only p1/{{"
                                f"{', '.join(P1_FILES)}}} and p2/{{{', '.join(P2_FILES)}, other .py modules}})")
    return problems, top


# ---------------------------------------------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------------------------------------------
def run_zip(andrew_id, root=ROOT):
    zip_path = make_zip(andrew_id, root)
    print(f"wrote {zip_path}:")
    print("\n".join(zip_listing(zip_path)))
    _, message = copy_theory_pdf(andrew_id, root)
    print(message)


def run_check(zip_path):
    problems = check_zip(zip_path)
    if problems:
        raise BundleInvalid(problems)
    print(f"{zip_path}: OK")
    print("\n".join(zip_listing(zip_path)))


def main(argv=None, root=ROOT):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("zip", help="validate and write <id>-HW1.zip").add_argument("andrew_id", nargs="?", default="")
    commands.add_parser("check", help="validate an existing zip").add_argument("zip_path", nargs="?", default="")
    args = parser.parse_args(argv)
    try:
        if args.command == "zip":
            run_zip(args.andrew_id, root)
        else:
            run_check(args.zip_path)
    except BundleError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    except BundleInvalid as e:
        what = "no zip written" if args.command == "zip" else "the zip is not ready to hand in"
        print(f"error: {len(e.problems)} problem(s), {what}:", file=sys.stderr)
        for problem in e.problems:
            print(f"  - {problem}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Build and check the hand-in zip.

    python3 tools/bundle.py zip ANDREW_ID     # validate andrewID-HW1/, write ANDREW_ID-HW1.zip (+ ANDREW_ID-HW1.pdf)
    python3 tools/bundle.py check PATH.zip    # validate an existing zip without running any of its code
    python3 tools/bundle.py check --run PATH.zip   # also import and run the zip's code (only for a trusted zip)

The zip holds exactly <id>-HW1/p1/{p1.py, p1_model.npz, p1_report.pdf} and <id>-HW1/p2/{p2.py, the modules of
the p2 folder it imports, p2_model.pkl, p2_report.pdf}. Both commands validate through one function,
`validate_bundle`, on a folder holding exactly the files of the zip: a staging copy for `zip`, the extracted zip for
`check`. The checks of tools/bundle_static.py never run the bundle's code: sources are parsed, PDFs read as bytes,
models loaded as data only. `zip` (your own tree) and `check --run` then import p1.py and every p2 module and load
both models with the bundle's own code, in a fresh interpreter that sees only the p1 or p2 folder.

`zip` also checks theory/HW1_theory.pdf, from which the PDF handed in beside the zip is made (it must answer
Problem 4 for the Fig. 5 values theory/fig5.json holds), and says where those values come from, to compare with the
student's handout; it writes that PDF again, with the Andrew ID on every page, as ANDREW_ID-HW1.pdf.
"""
import argparse
import collections
import io
import lzma
import os
import re
import shutil
import stat
import sys
import tempfile
import zipfile
import zlib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:  # run as a script: tools/ is on the path, the repository root is not
    sys.path.insert(0, ROOT)

from tools import bundle_run, bundle_static  # noqa: E402

SOURCE_DIR = "andrewID-HW1"
THEORY_PDF = os.path.join("theory", "HW1_theory.pdf")
FIG5_JSON = os.path.join("theory", "fig5.json")

# Folders of this repository that may be on sys.path (tests, `python3 tools/bundle.py`): an import of the bundle
# must be satisfied by the bundle itself or by an installed package, never by these.
LOCAL_SOURCE_DIRS = [ROOT, os.path.join(ROOT, "tools"), os.path.join(ROOT, SOURCE_DIR, "p1"),
                     os.path.join(ROOT, SOURCE_DIR, "p2")]

P1_FILES = ("p1.py", "p1_model.npz", "p1_report.pdf")
P2_FILES = ("p2.py", "p2_model.pkl", "p2_report.pdf")
MAKE_HINT = {"p1_model.npz": "train it with `make p1`", "p1_report.pdf": "train p1 with `make p1`",
             "p2_model.pkl": "train it with `make p2`", "p2_report.pdf": "train p2 with `make p2`"}
ANDREW_ID = re.compile(r"[a-z][a-z0-9]{1,19}")
PLACEHOLDER_IDS = ("andrewid", "yourid")   # the template's folder name; the README's example


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
    how = ("run `make zip ANDREW_ID=<your Andrew ID>` (without make: `python tools/bundle.py zip <your Andrew ID>`), "
           "your Andrew ID in lowercase letters and digits, e.g. jdoe")
    if not andrew_id:
        raise BundleError(f"no Andrew ID given: {how}")
    if andrew_id.lower() in PLACEHOLDER_IDS:
        raise BundleError(f"{andrew_id!r} is a placeholder, not your Andrew ID: {how}")
    if not ANDREW_ID.fullmatch(andrew_id):
        raise BundleError(f"{andrew_id!r} is not a plausible Andrew ID (2-20 lowercase letters and digits, starting "
                          f"with a letter): {how}")


# ---------------------------------------------------------------------------------------------------------------
# What belongs in the bundle
# ---------------------------------------------------------------------------------------------------------------
def folder_modules(p2_dir):
    """Every module directly in the p2 folder. A hidden ._name.py (what macOS leaves beside files on some disks) is
    no module."""
    if not os.path.isdir(p2_dir):
        return []
    return sorted(name for name in os.listdir(p2_dir)
                  if is_module_name(name) and os.path.isfile(os.path.join(p2_dir, name)))


def p2_modules(p2_dir):
    """p2.py and the modules of its folder it imports, directly or through one another, found by parsing them (never
    by running them). Where one of them is not valid Python its imports cannot be known: then every module of the
    folder, for validation to report."""
    present = folder_modules(p2_dir)
    needed, to_read = set(), ["p2.py"] if "p2.py" in present else []
    while to_read:
        name = to_read.pop()
        needed.add(name)
        tree, problems = bundle_static.parse(os.path.join(p2_dir, name), name)
        if problems:
            return present
        for _, module, _ in bundle_static.imported_modules(tree):
            local = f"{(module or '').split('.')[0]}.py"
            if local in present and local not in needed:
                to_read.append(local)
    return sorted(needed) if needed else present


def is_module_name(name):
    return name.endswith(".py") and name[:-3].isidentifier()


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
    return folder == "p2" and (base in P2_FILES or is_module_name(base))


# ---------------------------------------------------------------------------------------------------------------
# Validation: one function for both commands
# ---------------------------------------------------------------------------------------------------------------
def validate_bundle(bundle_dir, label, run_code=False):
    """Every problem of the bundle in `bundle_dir` (holding p1/ and p2/), as messages naming files `label`/p1/...;
    an empty list means the bundle is good. Only with `run_code` is any of the bundle's code imported or run."""
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

    p2_dir = os.path.join(bundle_dir, "p2")
    modules = p2_modules(p2_dir)
    if "p1.py" in present:
        problems += bundle_static.p1_source_problems(present["p1.py"], f"{label}/p1/p1.py")
    problems += bundle_static.p2_source_problems(p2_dir, modules, f"{label}/p2", local_dirs=LOCAL_SOURCE_DIRS)
    problems += unused_module_notes(p2_dir, f"{label}/p2", "should not be in the zip")
    for report in ("p1_report.pdf", "p2_report.pdf"):
        if report in present:
            problems += bundle_static.pdf_problems(present[report], f"{label}/{report[:2]}/{report}", MAKE_HINT[report])
    model_ok = {}
    for model, check in (("p1_model.npz", bundle_static.p1_model_problems),
                         ("p2_model.pkl", bundle_static.p2_model_problems)):
        if model in present:
            found = check(present[model], f"{label}/{model[:2]}/{model}")
            model_ok[model] = not found
            problems += found

    if run_code:
        # An empty, missing or refused model file is already reported; the code is still checked to import.
        for folder, messages in bundle_run.run_checks(bundle_dir, model_ok.get("p1_model.npz", False),
                                                      model_ok.get("p2_model.pkl", False),
                                                      [name[:-3] for name in modules]):
            problems += [f"{label}/{folder}/{message}" for message in messages]
    return problems


def theory_pdf_problems(root):
    """theory/HW1_theory.pdf, of which the PDF handed in beside the zip is made again with the Andrew ID: present, a
    whole PDF, no machine path in it, and written from the Fig. 5 values theory/fig5.json holds now (the PDF's
    Subject names them; file dates cannot tell, as a checkout or a copy changes them)."""
    from theory import cnn
    path = os.path.join(root, THEORY_PDF)
    if not os.path.isfile(path):
        return [f"{THEORY_PDF}: missing; write it with `make theory`"]
    problems = bundle_static.pdf_problems(path, THEORY_PDF, "rewrite it with `make theory`")
    if not problems and pdf_fig5_digest(path) != cnn.load_fig5(os.path.join(root, FIG5_JSON))["digest"]:
        problems.append(f"{THEORY_PDF}: answers Problem 4 for other Fig. 5 values than {FIG5_JSON} holds now (or "
                        "was written by older code); rewrite it with `make theory`")
    return problems


def pdf_fig5_digest(path):
    """The Fig. 5 fingerprint in the theory PDF's Subject (theory.cnn.fig5_subject), or None."""
    from theory import cnn
    subject = re.escape(cnn.fig5_subject("").encode()) + rb"([0-9a-f]{16})"
    with open(path, "rb") as f:
        found = re.search(rb"/Subject \(" + subject + rb"\)", f.read())
    return found.group(1).decode() if found else None


def fig5_source_line(root):
    """The line `make zip` prints on where Problem 4's Fig. 5 values come from; a bad fig5.json is a BundleError."""
    from theory import cnn
    try:
        fig5 = cnn.load_fig5(os.path.join(root, FIG5_JSON))
    except cnn.Fig5Error as e:
        raise BundleError(str(e).replace(os.path.join(root, ""), "")) from None
    values = f"the values of {fig5['source']}" if fig5["source"] else f"the values in {FIG5_JSON} (no source named)"
    return (f"theory: Problem 4 uses {values}; compare them with Fig. 5 of your own handout and, if they differ, "
            f"change its values and its source in {FIG5_JSON}")


# ---------------------------------------------------------------------------------------------------------------
# make zip
# ---------------------------------------------------------------------------------------------------------------
def check_target(path):
    """Refuse a target the build could not write, or would replace against its owner's will, before any work."""
    name = os.path.basename(path)
    if os.path.isdir(path):
        raise BundleError(f"{name} is a folder where the hand-in file goes; move it away, then run `make zip` again")
    if os.path.exists(path) and not os.stat(path).st_mode & stat.S_IWUSR:
        raise BundleError(f"{name} exists and is read-only, so it is not replaced; make it writable "
                          f"(chmod u+w {name}) or remove it, then run `make zip` again")
    folder = os.path.dirname(path)
    if not os.access(folder, os.W_OK):
        raise BundleError(f"cannot write {name}: its folder is not writable")


def make_zip(andrew_id, root=ROOT):
    """Validate the repository's andrewID-HW1/ folder and write `root`/<id>-HW1.zip. Returns the zip's path and the
    line on Problem 4's Fig. 5 source; raises BundleError or BundleInvalid (nothing written) when the bundle is not
    ready."""
    check_andrew_id(andrew_id)
    source_line = fig5_source_line(root)
    top = f"{andrew_id}-HW1"
    zip_path = os.path.join(root, f"{top}.zip")
    for target in (zip_path, os.path.join(root, f"{top}.pdf")):
        check_target(target)
    source = os.path.join(root, SOURCE_DIR)
    if not os.path.isdir(source) and os.path.isdir(os.path.join(root, top)):
        raise BundleError(f"{SOURCE_DIR}/ is not there but {top}/ is: name the folder {SOURCE_DIR}/ again (make zip "
                          f"names it {top}/ inside the zip)")
    names = bundle_names(source)
    with tempfile.TemporaryDirectory(prefix="hw1-bundle-") as staging:
        # Validate a copy holding exactly the zip's files, and zip those very bytes.
        stage = os.path.join(staging, top)
        for name in names:
            os.makedirs(os.path.join(stage, os.path.dirname(name)), exist_ok=True)
            # the bytes and the date only: copy2 also copies macOS's file flags, and a file on a network share (SMB)
            # carries one a user may not set, which fails the copy (EPERM)
            original, copy = os.path.join(source, name), os.path.join(stage, name)
            shutil.copyfile(original, copy)
            status = os.stat(original)
            os.utime(copy, ns=(status.st_atime_ns, status.st_mtime_ns))
        os.makedirs(os.path.join(stage, "p1"), exist_ok=True)
        os.makedirs(os.path.join(stage, "p2"), exist_ok=True)
        sizes = {name: os.path.getsize(os.path.join(stage, name)) for name in names}
        problems = (size_problems(SOURCE_DIR, sizes, "check-zip would refuse it")
                    + validate_bundle(stage, SOURCE_DIR, run_code=True) + theory_pdf_problems(root))
        if problems:
            raise BundleInvalid(problems)
        write_zip(stage, top, names, zip_path)
    return zip_path, source_line


def write_zip(stage, top, names, zip_path):
    """Zip `names` from `stage` under `top`/ into a temp file beside `zip_path`, test it, then rename it over."""
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(zip_path)}.", suffix=".tmp",
                                   dir=os.path.dirname(zip_path))
    except OSError as e:
        raise BundleError(f"cannot write {os.path.basename(zip_path)}: {e.strerror}") from None
    try:
        with os.fdopen(fd, "wb") as f, zipfile.ZipFile(f, "w", zipfile.ZIP_DEFLATED, strict_timestamps=False) as z:
            for name in names:
                z.write(os.path.join(stage, name), f"{top}/{name}")
        with zipfile.ZipFile(tmp) as z:
            if z.testzip() is not None or z.namelist() != [f"{top}/{name}" for name in names]:
                raise BundleError(f"{os.path.basename(zip_path)}: the zip just written does not read back correctly")
        os.chmod(tmp, 0o644)  # mkstemp makes it private; a hand-in file is an ordinary file
        os.replace(tmp, zip_path)
    except OSError as e:
        raise BundleError(f"cannot write {os.path.basename(zip_path)}: {e.strerror or e}") from None
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def write_theory_pdf(andrew_id, root=ROOT):
    """Write `root`/<id>-HW1.pdf, handed in separately: theory/HW1_theory.pdf made again from the same sources (the
    theory package, theory/fig5.json) with the Andrew ID in its title and on every page. Returns (path or None,
    message)."""
    source = os.path.join(root, THEORY_PDF)
    target = os.path.join(root, f"{andrew_id}-HW1.pdf")
    if not os.path.isfile(source):
        return None, (f"theory PDF NOT written: {THEORY_PDF} is missing; write it with `make theory`, then run "
                      f"`make zip` again")
    problem = bundle_static.pdf_problem(source)
    if problem:
        return None, f"theory PDF NOT written: {THEORY_PDF} is {problem}; rewrite it with `make theory`"
    from theory import answers, cnn, pdf, writeup   # matplotlib: only for this step
    try:
        writeup.write_pdf(answers.solve_all(os.path.join(root, FIG5_JSON)), target, andrew_id)
    except (cnn.Fig5Error, pdf.LayoutError, pdf.WriteError) as e:
        return None, f"theory PDF NOT written: {e}"
    return target, (f"theory PDF: wrote {os.path.basename(target)} ({THEORY_PDF} with your Andrew ID on every "
                    "page); upload it to Gradescope beside the zip")


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
def open_zip(zip_path):
    """The ZipFile at `zip_path`, or BundleError saying why it cannot be checked."""
    how = "rebuild it with `make zip ANDREW_ID=yourid`"
    if not zip_path:
        raise BundleError("no zip given: run `make check-zip ZIP=path/to/yourid-HW1.zip`")
    if os.path.isdir(zip_path):
        raise BundleError(f"{zip_path} is a folder; pass the zip's path: `make check-zip ZIP=path/to/yourid-HW1.zip`")
    if not os.path.isfile(zip_path):
        what = "not a file" if os.path.exists(zip_path) else "no such file"   # /dev/zero, a pipe
        raise BundleError(f"{zip_path}: {what}; pass the zip's path: `make check-zip ZIP=path/to/yourid-HW1.zip`")
    try:
        z = zipfile.ZipFile(zip_path)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, ValueError) as e:
        raise BundleError(f"{zip_path}: not a readable zip file ({e}); {how}") from None
    except OSError as e:
        raise BundleError(f"{zip_path}: cannot read it ({e.strerror or e})") from None
    if any(info.flag_bits & 0x1 for info in z.infolist()):
        z.close()
        raise BundleError(f"{zip_path}: encrypted (password-protected); a grader cannot open it: {how}")
    return z


# A hand-in is about 30 files and 13-16 MB (p1's default or best model); a zip far beyond that is not unpacked.
MAX_MEMBERS = 1000
MAX_UNPACKED_BYTES = 200 * 2 ** 20
MAX_SOURCE_BYTES = 2 ** 20   # one .py module


def size_problems(label, sizes, what="not unpacked"):
    """Why a bundle of files {name: bytes} is too far from a hand-in (too many files, too many bytes), or []."""
    total = sum(sizes.values())
    problems = []
    if len(sizes) > MAX_MEMBERS:
        problems.append(f"{label}: {len(sizes):,} members; a hand-in has about 30 ({what})")
    if total > MAX_UNPACKED_BYTES:
        problems.append(f"{label}: unpacks to {total / 2 ** 20:,.0f} MB; a hand-in is about 13-16 MB ({what})")
    problems += [f"{label}: {name} is {size / 2 ** 20:,.1f} MB, too large for a source module"
                 for name, size in sizes.items() if name.endswith(".py") and size > MAX_SOURCE_BYTES]
    return problems


def is_symlink(info):
    """A member stored as a symbolic link: unzip makes a link (often dangling) where a grader expects a file."""
    return (info.external_attr >> 16) & 0o170000 == 0o120000


def check_zip(zip_path, run_code=False):
    """Every problem of an existing zip: its layout (top folder <id>-HW1/, nothing extra) and, extracted to a temp
    folder, the same validation as `make zip` (the code is run only with `run_code`). Raises BundleError when the
    file cannot be read as a zip at all."""
    label = os.path.basename(zip_path)
    try:
        with open_zip(zip_path) as z:
            infos = z.infolist()
            sizes = collections.Counter()
            for info in infos:   # a name stored twice counts twice: each copy would be unpacked
                sizes[info.filename] += info.file_size
            too_large = size_problems(label, sizes) + [
                f"{label}: {info.filename} says it unpacks to {info.file_size:,} bytes but holds "
                f"{info.compress_size:,} compressed: a zip that lies about its sizes; rebuild it with `make zip`"
                for info in infos if info.compress_size > info.file_size * 1.01 + 1024]   # stored data is not larger
            if too_large:
                return too_large
            bad_member = z.testzip()
            problems, top = layout_problems(zip_path, [info.filename for info in infos])
            links = [info for info in infos if is_symlink(info)]
            problems += [f"{label}: {info.filename} is a symbolic link, not a file; rebuild the zip with `make zip`"
                         for info in links]
            problems += [f"{label}: {info.filename} is compressed with a method many unzip tools cannot open (only "
                         "stored or deflated are read everywhere); rebuild the zip with `make zip`"
                         for info in infos if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)]
            if bad_member is not None:
                problems.append(f"{zip_path}: {bad_member} is corrupt (CRC mismatch); rebuild the zip")
            if top is None:
                return problems
            with tempfile.TemporaryDirectory(prefix="hw1-check-") as tmp:
                for info in infos:   # only what belongs in a hand-in is unpacked: the rest is reported above
                    inner = info.filename[len(top) + 1:]
                    if (not info.is_dir() and info.filename.startswith(f"{top}/") and safe_name(info.filename)
                            and allowed_name(inner) and not is_symlink(info)):
                        try:
                            z.extract(info, tmp)
                        except OSError as e:   # a name too long for this file system, say
                            problems.append(f"{label}: {info.filename} cannot be unpacked ({e.strerror or e})")
                bundle = os.path.join(tmp, top)
                for folder in ("p1", "p2"):
                    os.makedirs(os.path.join(bundle, folder), exist_ok=True)
                return problems + validate_bundle(bundle, f"{label}:{top}", run_code)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, NotImplementedError, RuntimeError, zlib.error,
            lzma.LZMAError) as e:
        # RuntimeError: zipfile's word for an encrypted member; NotImplementedError: an unknown compression; zlib's
        # and lzma's errors: a member's compressed bytes damaged
        raise BundleError(f"{zip_path}: not a readable zip file ({e}); rebuild it with `make zip ANDREW_ID=yourid`") \
            from None
    except OSError as e:   # the temporary folder: a full disk, say
        raise BundleError(f"{zip_path}: cannot unpack it into a temporary folder ({e.strerror or e})") from None


def safe_name(name):
    """A member that extracts inside the target folder: relative, no '..', no backslashes or drive letters."""
    parts = name.split("/")
    return not (name.startswith("/") or "\\" in name or ":" in parts[0] or ".." in parts)


def layout_problems(zip_path, names):
    """(problems, top folder to validate or None) for the member names of the zip at `zip_path`."""
    label = os.path.basename(zip_path)
    problems = [f"{label}: {name}: " + ("folders separated by backslashes (as some Windows tools write them); "
                if "\\" in name else "unsafe path (absolute or with '..'); ") + "this zip was not made by `make zip`"
                for name in names if not safe_name(name)]
    names = [name for name in names if safe_name(name)]
    duplicates = sorted(name for name, count in collections.Counter(names).items() if count > 1)
    problems += [f"{label}: {name} is stored more than once" for name in duplicates]
    # names that differ in case only: one file replaces the other on macOS's and Windows's disks
    by_case = collections.defaultdict(set)
    for name in names:
        by_case[name.rstrip("/").lower()].add(name.rstrip("/"))
    problems += [f"{label}: {' and '.join(sorted(same))} differ only in upper and lower case; on macOS or Windows one "
                 "would replace the other" for same in by_case.values() if len(same) > 1]

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
    elif not match:
        problems.append(f"{label}: name the zip {expected}.zip, after its top folder, as `make zip` does")
    if expected is not None and tops != [expected]:
        found = sorted({name.split("/")[0] + ("/" if "/" in name else "") for name in names})
        problems.append(f"{label}: the top folder must be {expected}/ alone, found: {', '.join(found) or 'nothing'}"
                        + ("; macOS's Finder adds __MACOSX/ when it compresses a folder: build the zip with `make zip`"
                           if "__MACOSX" in tops else ""))

    # Validate the expected top folder, or the only one there is if its name is wrong: report everything at once.
    top = expected if expected in tops else (tops[0] if len(tops) == 1 else None)
    if top is not None:
        for name in names:
            if name.split("/")[0] != top:
                continue
            inner = name[len(top) + 1:]
            if name.endswith("/") and inner.rstrip("/") in ("", "p1", "p2"):
                continue  # directory entries of the expected folders
            if not allowed_name(inner):
                problems.append(f"{label}: {name}: not part of the hand-in (the bundle holds only p1/{{"
                                f"{', '.join(P1_FILES)}}} and p2/{{{', '.join(P2_FILES)}, the modules p2.py imports}})")
        # on macOS's and Windows's disks P2.py unpacks as p2.py would; on a grader's Linux one it is another file
        inside = {name[len(top) + 1:].lower(): name for name in names if name.startswith(f"{top}/")}
        problems += [f"{label}: {inside[need.lower()]} must be named {top}/{need}, in these letters exactly"
                     for need in [f"p1/{n}" for n in P1_FILES] + [f"p2/{n}" for n in P2_FILES]
                     if f"{top}/{need}" not in names and need.lower() in inside]
    return problems, top


# ---------------------------------------------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------------------------------------------
def run_zip(andrew_id, root=ROOT):
    zip_path, source_line = make_zip(andrew_id, root)
    try:   # the path from here, when run from another folder than the repository's
        shown = os.path.relpath(zip_path)
    except ValueError:   # Windows: another drive
        shown = zip_path
    print(f"wrote {zip_path if shown.startswith('..') else shown}:")
    print("\n".join(zip_listing(zip_path)))
    source = os.path.join(root, SOURCE_DIR)
    models = [os.path.join(source, folder, name) for folder, name in (("p1", "p1_model.npz"), ("p2", "p2_model.pkl"))]
    print_notes(bundle_static.rubric_notes(*models, SOURCE_DIR) + newer_code_notes(source)
                + unused_module_notes(os.path.join(source, "p2"), f"{SOURCE_DIR}/p2", "was left out of the zip"))
    path, message = write_theory_pdf(andrew_id, root)
    if path is None:
        raise BundleError(message)
    print(message)
    print(source_line)


def run_check(zip_path, run_code=False):
    if run_code:
        print(f"{zip_path}: --run imports and runs the zip's code (p1.py, every p2 module, both models)",
              file=sys.stderr)
    problems = check_zip(zip_path, run_code)
    if problems:
        raise BundleInvalid(problems)
    print(f"{zip_path}: OK" + ("" if run_code else " (static checks; its code was not run)"))
    print("\n".join(zip_listing(zip_path)))
    with open_zip(zip_path) as z:   # checked above: one top folder holding both models
        top = z.namelist()[0].split("/")[0]
        models = [io.BytesIO(z.read(f"{top}/{name}")) for name in ("p1/p1_model.npz", "p2/p2_model.pkl")]
    print_notes(bundle_static.rubric_notes(*models, f"{os.path.basename(zip_path)}:{top}"))


def newer_code_notes(source):
    """A note for each part whose code was changed after its model file was written (by more than a minute: a
    checkout or a copy writes them all at once), as when a setting was changed and the model not trained again."""
    notes = []
    for part, model, code in (("p1", "p1_model.npz", ["p1.py"]), ("p2", "p2_model.pkl", p2_modules(
            os.path.join(source, "p2")))):
        model_path = os.path.join(source, part, model)
        if not os.path.isfile(model_path):
            continue
        written = os.path.getmtime(model_path)
        newer = [name for name in code if os.path.getmtime(os.path.join(source, part, name)) > written + 60]
        if newer:
            notes.append(f"{SOURCE_DIR}/{part}/{', '.join(newer)} changed after {model} was written: if a change "
                         f"touches what is trained, train it again with `make {part}`")
    return notes


def unused_module_notes(p2_dir, label, what_happened):
    """A line for each module of the p2 folder that p2.py does not import, directly or through its modules."""
    needed = set(p2_modules(p2_dir))
    return [f"{label}/{name} {what_happened}: p2.py does not import it (directly or through its modules)"
            for name in folder_modules(p2_dir) if name not in needed]


def print_notes(notes):
    for note in notes:
        print(f"note: {note}")


def main(argv=None, root=ROOT):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    zip_cmd = commands.add_parser("zip", help="validate and write <id>-HW1.zip")
    zip_cmd.add_argument("andrew_id", nargs="?", default="")
    check_cmd = commands.add_parser("check", help="validate an existing zip without running its code")
    check_cmd.add_argument("zip_path", nargs="?", default="", type=os.path.expanduser)   # zsh leaves ~ in ZIP=~/x
    check_cmd.add_argument("--run", action="store_true",
                           help="also import and run the zip's code and load its models with it (trusted zips only)")
    args = parser.parse_args(argv)
    try:
        if args.command == "zip":
            run_zip(args.andrew_id, root)
        else:
            run_check(args.zip_path, args.run)
    except BundleError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    except OSError as e:   # a file of the tree that cannot be read, say: one line, nothing written
        print(f"error: {e.filename or 'a file'}: {e.strerror or e}", file=sys.stderr)
        return 1
    except ImportError as e:   # torch or numpy, say, from a Python outside the project's environment
        what = f"{e.name} is not installed" if isinstance(e, ModuleNotFoundError) else f"a package does not load ({e})"
        print(f"error: {what} for {sys.executable}: activate the project's environment, or install the packages "
              "with `make install`", file=sys.stderr)
        return 1
    except BundleInvalid as e:
        what = "no zip written" if args.command == "zip" else "the zip is not ready to hand in"
        print(f"error: {len(e.problems)} problem(s), {what}:", file=sys.stderr)
        for problem in e.problems:
            print(f"  - {problem}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:   # each file is written under a temporary name, then renamed
        print("interrupted (Ctrl-C); no file was left half-written", file=sys.stderr)
        sys.exit(130)

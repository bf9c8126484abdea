"""make zip / make check-zip: tiny generated bundles built from the repository's own p1 and p2 code."""
import ast
import glob
import json
import os
import shutil
import stat
import sys
import time
import zipfile

import numpy as np
import pytest

from theory import writeup
from tools import bundle, bundle_static

REAL_WRITE_PDF = writeup.write_pdf

SOURCE = os.path.join(bundle.ROOT, "andrewID-HW1")
PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"


def refusal_of(name):
    """What the check says of a model whose pickle asks to run `name`: torch before 2.4 (2.2 is an Intel Mac's)
    refuses such a file without naming what it asks for."""
    import torch
    if torch.__version__ >= "2.4":
        return f"it asks to run Python code ({name}), which is never loaded"
    return "it holds Python objects, which are never loaded"
HANDOUT_FIG5 = {"F": [[2, 0, 1], [1, 3, 0], [0, 1, 2]], "Filter1": [[0, 1, 0], [1, -4, 1], [0, 1, 0]],
                "Filter2": [[1, 0], [0, 1]]}


@pytest.fixture(autouse=True)
def quick_theory_pdf(monkeypatch):
    """make zip lays the theory PDF out again with the Andrew ID (2-3 s); the zip tests take a stand-in, and the test
    of that PDF the real writer (REAL_WRITE_PDF)."""
    def stand_in(results, path, andrew_id=None):
        with open(path, "wb") as f:
            f.write(PDF)
    monkeypatch.setattr(writeup, "write_pdf", stand_in)


def theory_pdf(fig5):
    """A minimal theory PDF whose Subject names the Fig. 5 values it answers, as theory/writeup.py writes it."""
    from theory import cnn
    return PDF.replace(b"trailer <<>>", f"trailer << /Subject (Fig. 5 values {cnn.fig5_digest(fig5)}) >>".encode())


def p1_source_with_template_names(text):
    """p1.py's text, given the course template's get_one_hot and MLP.save_model when it lacks them: the bundle
    check requires both, and p1.py gains them on its own branch."""
    if "def get_one_hot" not in text:
        text += "\n\ndef get_one_hot(labels, num_classes=10):\n    return one_hot(labels, num_classes)\n"
    if "    def save_model(self" not in text:
        text = text.replace("class MLP:\n", "class MLP:\n    def save_model(self, path):\n"
                                              "        save_model(self, path)\n\n", 1)
    return text


def write_tiny_p1_model(path, test_error=0.5):
    import p1
    np.random.seed(0)
    mlp = p1.MLP(784, 10, [8], [p1.ReLU(), p1.Identity()], p1.random_normal_weight_init, p1.zeros_bias_init,
                 p1.SoftmaxCrossEntropy(), lr=0.1)
    mlp.metadata = {"test_error": test_error}
    mlp.save_model(path)


def write_tiny_p2_model(path, test_accuracy=0.1, **facts):
    from checkpoint import save_checkpoint
    from config import Config
    from data import CLASSES
    from model import build_model
    cfg = Config(widths=(8, 16, 16))
    save_checkpoint(path, build_model(cfg), cfg, class_names=CLASSES, mean=(0, 0, 0), std=(1, 1, 1),
                    preset="test", seed=0, test_accuracy=test_accuracy, **facts)


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    """A repository root holding a complete, valid bundle and a theory PDF; tests work on copies of it."""
    root = tmp_path_factory.mktemp("template")
    p1_dir, p2_dir = root / "andrewID-HW1" / "p1", root / "andrewID-HW1" / "p2"
    p1_dir.mkdir(parents=True)
    p2_dir.mkdir()
    with open(os.path.join(SOURCE, "p1", "p1.py"), encoding="utf-8") as f:
        (p1_dir / "p1.py").write_text(p1_source_with_template_names(f.read()))
    for module in glob.glob(os.path.join(SOURCE, "p2", "*.py")):
        shutil.copy(module, p2_dir)
    write_tiny_p1_model(str(p1_dir / "p1_model.npz"))
    write_tiny_p2_model(str(p2_dir / "p2_model.pkl"))
    (p1_dir / "p1_report.pdf").write_bytes(PDF)
    (p2_dir / "p2_report.pdf").write_bytes(PDF)
    (p1_dir / "p1_training.png").write_bytes(b"not handed in")  # outputs beside the hand-in files stay out
    (p2_dir / "__pycache__").mkdir()
    (p2_dir / "__pycache__" / "model.cpython-311.pyc").write_bytes(b"cache")
    (root / "theory").mkdir()
    (root / "theory" / "HW1_theory.pdf").write_bytes(theory_pdf(HANDOUT_FIG5))
    (root / "theory" / "fig5.json").write_text(json.dumps(HANDOUT_FIG5))
    return root


@pytest.fixture
def repo(template, tmp_path):
    root = tmp_path / "repo"
    shutil.copytree(template, root)
    return root


@pytest.fixture
def without_running_the_code(monkeypatch):
    """make zip without its last check, which imports and runs the bundle in two fresh Pythons (2-3 s): for tests
    of which files go into the zip. The tests of that check itself run it."""
    from tools import bundle_run
    monkeypatch.setattr(bundle_run, "run_checks", lambda *args: iter(()))


def expected_names(top):
    p2 = sorted(["p2_model.pkl", "p2_report.pdf"] + [os.path.basename(p) for p in glob.glob(f"{SOURCE}/p2/*.py")])
    return [f"{top}/p1/{name}" for name in ("p1.py", "p1_model.npz", "p1_report.pdf")] + [f"{top}/p2/{n}" for n in p2]


def zip_folder(zip_path, folder, top, extra=(), leave_out=()):
    """A zip of the bundle in `folder` under `top`/, built by hand (no validation), with extra (name, bytes)."""
    with zipfile.ZipFile(zip_path, "w") as z:
        for path in sorted(glob.glob(f"{folder}/p[12]/*.*")):
            name = os.path.relpath(path, folder)
            if os.path.basename(name) not in leave_out and bundle.allowed_name(name):
                z.write(path, f"{top}/{name}")
        for name, data in extra:
            z.writestr(name, data)


# ----------------------------------------------------------------------------------------------------------------
# Andrew ID
# ----------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("andrew_id", ["jdoe", "ab", "jdoe2", "x" * 20])
def test_plausible_andrew_ids_pass(andrew_id):
    bundle.check_andrew_id(andrew_id)


@pytest.mark.parametrize("andrew_id, says", [
    ("", "no Andrew ID given"), ("andrewID", "placeholder"), ("andrewid", "placeholder"), ("yourid", "placeholder"),
    ("JDoe", "not a plausible"), ("j.doe", "not a plausible"), ("1abc", "not a plausible"),
    ("j", "not a plausible"), ("x" * 21, "not a plausible"), ("jdoe\n", "not a plausible")])
def test_implausible_andrew_ids_are_refused_with_the_fix(andrew_id, says):
    with pytest.raises(bundle.BundleError, match=says) as e:
        bundle.check_andrew_id(andrew_id)
    assert ("run `make zip ANDREW_ID=<your Andrew ID>` (without make: `python tools/bundle.py zip <your Andrew ID>`), "
            "your Andrew ID in lowercase letters and digits, e.g. jdoe") in str(e.value)


def test_zip_without_andrew_id_writes_nothing(repo, capsys):
    before = sorted(os.listdir(repo))
    assert bundle.main(["zip"], root=str(repo)) == 1
    assert bundle.main(["zip", "JDoe"], root=str(repo)) == 1
    err = capsys.readouterr().err
    assert "no Andrew ID given" in err and "'JDoe' is not a plausible Andrew ID" in err
    assert sorted(os.listdir(repo)) == before


# ----------------------------------------------------------------------------------------------------------------
# Single checks
# ----------------------------------------------------------------------------------------------------------------
def test_p1_import_rule_flags_every_other_module():
    tree = ast.parse("from __future__ import annotations\nimport os\nimport numpy as np\n"
                     "import matplotlib.pyplot as plt\nfrom matplotlib import cm\n"
                     "import json\nfrom torch import nn\nimport numpy, sys\n"
                     "def f():\n    import scipy.stats\nfrom . import helper\nx = __import__('pickle')\n")
    problems = bundle_static.p1_import_problems(tree, "p1.py")
    assert [p.split(":")[0] for p in problems] == [f"p1.py, line {n}" for n in (6, 7, 8, 10, 11, 12)]
    assert "imports json" in problems[0] and "imports sys" in problems[2] and "imports scipy.stats" in problems[3]
    assert all("only os, numpy, matplotlib" in p for p in problems)


def test_p1_syntax_error_is_reported_with_its_line(tmp_path):
    path = tmp_path / "p1.py"
    path.write_text("import os\ndef broken(:\n")
    assert bundle_static.p1_source_problems(str(path), "p1.py") == ["p1.py, line 2: not valid Python (invalid syntax)"]


def test_p1_must_keep_the_template_names(tmp_path):
    path = tmp_path / "p1.py"
    names = [n for n in bundle_static.P1_TEMPLATE_NAMES if n not in ("get_one_hot", "MLP")]
    path.write_text("".join(f"def {name}():\n    pass\n" for name in names) + "class MLP:\n    def forward(self):\n"
                    "        pass\n\ndef save_model():\n    pass\n")
    problems = bundle_static.p1_source_problems(str(path), "p1.py")
    assert problems == ["p1.py: the template's get_one_hot, MLP.save_model are not defined; keep every name of "
                        "p1_template.py"]


def test_the_real_p1_obeys_the_import_rule():
    with open(os.path.join(SOURCE, "p1", "p1.py"), "rb") as f:
        assert bundle_static.p1_import_problems(ast.parse(f.read()), "p1.py") == []


def test_p2_imports_must_be_in_the_folder_or_installed(tmp_path, monkeypatch):
    repo_p2 = tmp_path / "repo_p2"  # the repository's own p2 folder, on sys.path in tests
    repo_p2.mkdir()
    (repo_p2 / "helper.py").write_text("")
    monkeypatch.syspath_prepend(str(repo_p2))
    p2 = tmp_path / "p2"
    p2.mkdir()
    (p2 / "p2.py").write_text("import numpy\nimport torch.nn\nfrom model import x\nimport helper\n")
    (p2 / "model.py").write_text("x = 1\n")
    problems = bundle_static.p2_source_problems(str(p2), ["model.py", "p2.py"], "p2", local_dirs=[str(repo_p2)])
    assert problems == ["p2/p2.py, line 4: imports helper, which is neither a module of the p2 folder nor an "
                        "installed package"]
    assert bundle_static.p2_source_problems(str(p2), ["model.py", "p2.py"], "p2", local_dirs=[]) == []


def test_pdf_check(tmp_path):
    good, text, cut = tmp_path / "a.pdf", tmp_path / "b.pdf", tmp_path / "c.pdf"
    good.write_bytes(b"%PDF-1.4\n" + b"x" * 3000 + b"\n%%EOF\n")
    text.write_bytes(b"my report\n")
    cut.write_bytes(PDF[:20] + b"x" * 2000)
    assert bundle_static.pdf_problem(str(good)) is None
    assert "not a PDF" in bundle_static.pdf_problem(str(text))
    assert "incomplete" in bundle_static.pdf_problem(str(cut))


def write_matplotlib_pdf(path, *lines):
    """A one-page PDF as the reports are made: matplotlib text, Flate-compressed, kerned piece by piece."""
    from matplotlib.backends.backend_pdf import PdfPages
    from matplotlib.figure import Figure
    with PdfPages(str(path)) as pdf:
        fig = Figure()
        for i, line in enumerate(lines):
            fig.text(0.05, 0.9 - 0.1 * i, line, fontsize=8)
        pdf.savefig(fig)


def test_machine_paths_are_found_in_compressed_kerned_pdf_text(tmp_path):
    path = tmp_path / "report.pdf"
    write_matplotlib_pdf(path, "data: /work/main/data/cifar10 (binary layout)", r"$x$ read from /home/jdoe/mnist",
                         "cache C:\\Users\\jdoe\\hw1 and ../shared/data")
    assert b"/work/main" not in path.read_bytes()  # the text really is compressed
    assert bundle_static.pdf_machine_paths(str(path)) == ["../shared", "/home/jdoe", "/work/main", "C:\\Users"]


def test_andrew_psc_macos_and_colab_folders_are_machine_paths():
    text = ("/afs/andrew.cmu.edu/usr7/jdoe/hw1, /jet/home/jdoe/hw1, /ocean/projects/cis0000p/jdoe, /Volumes/USB/hw1 "
            "and /content/drive/MyDrive/hw1")
    assert bundle_static.MACHINE_PATH.findall(text) == ["/afs/andrew.cmu.edu", "/jet/home", "/ocean/projects",
                                                        "/Volumes/USB", "/content/drive"]


def test_ordinary_paths_are_not_machine_paths(tmp_path):
    path = tmp_path / "report.pdf"
    write_matplotlib_pdf(path, "data: ./data/cifar-10-batches-py, official CIFAR-10, md5-checked",
                         "MNIST CSVs parsed once, cached in ~/.cache/hw1_p1; p2/p2_model.pkl; 1/9; 3 / 4")
    assert bundle_static.pdf_machine_paths(str(path)) == []


def test_theory_pdf_is_written_with_the_andrew_id_or_the_reason_given(repo, monkeypatch):
    made = []
    monkeypatch.setattr(writeup, "write_pdf", lambda results, path, andrew_id=None: (
        made.append((results["T4"]["fig5"]["path"], andrew_id)), REAL_WRITE_PDF(results, path, andrew_id)))
    path, message = bundle.write_theory_pdf("jdoe", root=str(repo))
    assert path == str(repo / "jdoe-HW1.pdf") and "wrote jdoe-HW1.pdf" in message and "Andrew ID" in message
    assert made == [(str(repo / "theory" / "fig5.json"), "jdoe")]   # the repository's own Fig. 5 values
    assert (repo / "jdoe-HW1.pdf").read_bytes().startswith(b"%PDF")
    assert b"/Title (24789 HW1 - theory part, Andrew ID jdoe)" in (repo / "jdoe-HW1.pdf").read_bytes()
    (repo / "theory" / "HW1_theory.pdf").write_bytes(b"not a pdf")
    path, message = bundle.write_theory_pdf("ab", root=str(repo))
    assert path is None and "NOT written" in message and "not a PDF" in message
    (repo / "theory" / "HW1_theory.pdf").unlink()
    path, message = bundle.write_theory_pdf("ab", root=str(repo))
    assert path is None and "make theory" in message
    assert not (repo / "ab-HW1.pdf").exists()


# ----------------------------------------------------------------------------------------------------------------
# Whole bundles (each validation starts a torch subprocess: a few seconds)
# ----------------------------------------------------------------------------------------------------------------
def test_a_good_bundle_zips_and_checks_clean(repo, capsys):
    assert bundle.main(["zip", "jdoe"], root=str(repo)) == 0
    out = capsys.readouterr().out
    zip_path = repo / "jdoe-HW1.zip"
    with zipfile.ZipFile(zip_path) as z:
        assert z.namelist() == expected_names("jdoe-HW1")
        assert z.read("jdoe-HW1/p1/p1.py") == (repo / "andrewID-HW1" / "p1" / "p1.py").read_bytes()
    assert "jdoe-HW1/p2/p2_model.pkl" in out and "total, " in out and "wrote jdoe-HW1.pdf" in out
    assert sorted(os.listdir(repo)) == ["andrewID-HW1", "jdoe-HW1.pdf", "jdoe-HW1.zip", "theory"]
    assert not (repo / "andrewID-HW1" / "p1" / "__pycache__").exists()  # validation wrote no bytecode

    assert bundle.main(["check", str(zip_path)]) == 0
    checked = capsys.readouterr().out
    assert f"{zip_path}: OK" in checked
    # the tiny models' recorded results (50 % error, 10 % accuracy) miss the rubric: a note, not a refusal
    for said, label in ((out, "andrewID-HW1"), (checked, "jdoe-HW1.zip:jdoe-HW1")):
        notes = [line for line in said.splitlines() if line.startswith("note: ")]
        assert notes == [f"note: {label}/p1/p1_model.npz records an MNIST test error of 50.00 %, not under the "
                         "rubric's 5 %: train it with `make p1`",
                         f"note: {label}/p2/p2_model.pkl records a CIFAR-10 test accuracy of 10.00 %, not over the "
                         "rubric's 90 %: train it with `make p2`"]


def test_results_that_meet_the_rubric_get_no_note(tmp_path):
    write_tiny_p1_model(str(tmp_path / "p1_model.npz"), test_error=0.0122)
    write_tiny_p2_model(str(tmp_path / "p2_model.pkl"), test_accuracy=0.903)
    assert bundle_static.rubric_notes(str(tmp_path / "p1_model.npz"), str(tmp_path / "p2_model.pkl"), "x") == []
    (tmp_path / "broken.npz").write_bytes(b"no npz")   # an unreadable file: judged by the checks, no note here
    assert bundle_static.rubric_notes(str(tmp_path / "broken.npz"), str(tmp_path / "missing.pkl"), "x") == []


def test_a_model_trained_on_other_files_than_the_official_ones_gets_a_note(tmp_path):
    write_tiny_p1_model(str(tmp_path / "p1_model.npz"), test_error=0.0122)
    write_tiny_p2_model(str(tmp_path / "p2_model.pkl"), test_accuracy=0.903, data_note="a JPEG copy")
    assert bundle_static.rubric_notes(str(tmp_path / "p1_model.npz"), str(tmp_path / "p2_model.pkl"), "x") == [
        'x/p2/p2_model.pkl was trained on data its run described as "a JPEG copy": for a model of the official '
        "CIFAR-10 files, train it with `make p2`"]


def test_a_broken_bundle_reports_every_problem_and_writes_nothing(repo, capsys, tmp_path):
    p1_dir, p2_dir = repo / "andrewID-HW1" / "p1", repo / "andrewID-HW1" / "p2"
    marker = tmp_path / "pwned"
    with open(p1_dir / "p1.py", "a") as f:
        f.write("\nimport json  # not allowed in p1\n")
    (p1_dir / "p1_model.npz").write_bytes(b"not an npz")
    (p1_dir / "p1_report.pdf").write_bytes(b"")
    (p2_dir / "p2_report.pdf").write_text("a text file")
    (p2_dir / "augment.py").unlink()
    write_malicious_pickle(p2_dir / "p2_model.pkl", marker)
    before = sorted(os.listdir(repo))

    assert bundle.main(["zip", "jdoe"], root=str(repo)) == 1
    err = capsys.readouterr().err
    for says in ("p1/p1.py, line", "imports json", "p1/p1_model.npz: not an .npz file of arrays",
                 "p1/p1_report.pdf: empty", "p2/p2_report.pdf: not a PDF",
                 f"p2/p2_model.pkl: not a p2 model file: {refusal_of(f'{os.system.__module__}.system')}",
                 "p2/train.py, line", "imports augment, which is neither a module of the p2 folder nor an installed",
                 "train.py does not import from the p2 folder alone", "No module named 'augment'"):
        assert says in err
    assert "weights_only" not in err and "Re-running" not in err  # torch's advice to load unsafely is not passed on
    # Six problems above, plus one per p2 module that needs augment (train.py and whatever imports it).
    needs_augment = err.count("does not import from the p2 folder alone: ModuleNotFoundError: No module named "
                              "'augment'")
    assert needs_augment >= 2 and f"error: {6 + needs_augment} problem(s), no zip written" in err
    assert not marker.exists(), "the pickle's command ran"
    assert sorted(os.listdir(repo)) == before  # no zip, no temp file


def write_malicious_pickle(path, marker):
    import torch

    class RunsACommand:
        def __reduce__(self):
            return os.system, (f"touch {marker}",)
    torch.save({"format": "hw1-p2-cifar10/1", "payload": RunsACommand()}, str(path))


def test_a_missing_file_is_reported(repo, capsys):
    (repo / "andrewID-HW1" / "p2" / "p2.py").unlink()
    assert bundle.main(["zip", "jdoe"], root=str(repo)) == 1
    err = capsys.readouterr().err
    assert "andrewID-HW1/p2/p2.py: missing" in err
    assert not (repo / "jdoe-HW1.zip").exists()


def test_check_refuses_a_wrong_top_folder_extra_and_missing_files(repo, tmp_path):
    zip_path = tmp_path / "jdoe-HW1.zip"
    zip_folder(zip_path, repo / "andrewID-HW1", "andrewID-HW1", leave_out=("p1_report.pdf",),
               extra=[("andrewID-HW1/notes.txt", "hi"), ("andrewID-HW1/p2/__pycache__/model.pyc", "x")])
    problems = bundle.check_zip(str(zip_path))
    assert len(problems) == 4, problems
    assert "top folder must be jdoe-HW1/ alone, found: andrewID-HW1/" in problems[0]
    assert "andrewID-HW1/notes.txt: not part of the hand-in" in problems[1]
    assert "andrewID-HW1/p2/__pycache__/model.pyc: not part of the hand-in" in problems[2]
    assert "andrewID-HW1/p1/p1_report.pdf: missing" in problems[3]


def test_check_refuses_files_outside_a_top_folder_and_unsafe_paths(tmp_path):
    zip_path = tmp_path / "jdoe-HW1.zip"
    with zipfile.ZipFile(zip_path, "w") as z:
        z.writestr("p1/p1.py", "import os\n")
        z.writestr("../evil.py", "x")
    problems = bundle.check_zip(str(zip_path))
    assert any("../evil.py: unsafe path" in p for p in problems)
    assert any("top folder must be jdoe-HW1/ alone, found: p1/" in p for p in problems)
    assert not (tmp_path.parent / "evil.py").exists()


def test_check_refuses_a_compression_method_many_unzip_tools_cannot_open(tmp_path):
    """Python reads an LZMA-compressed member; `unzip` skips it ("unsupported compression")."""
    zip_path = tmp_path / "jdoe-HW1.zip"
    with zipfile.ZipFile(zip_path, "w") as z:
        z.writestr("jdoe-HW1/p1/p1.py", "import os\n", compress_type=zipfile.ZIP_LZMA)
        z.writestr("jdoe-HW1/p1/notes.txt", "x", compress_type=zipfile.ZIP_DEFLATED)
    problems = [p for p in bundle.check_zip(str(zip_path)) if "compressed with a method" in p]
    assert problems == ["jdoe-HW1.zip: jdoe-HW1/p1/p1.py is compressed with a method many unzip tools cannot open "
                        "(only stored or deflated are read everywhere); rebuild the zip with `make zip`"]


def test_check_names_backslashed_folders_and_finders_macosx_folder_for_what_they_are(repo, tmp_path):
    zip_path = tmp_path / "jdoe-HW1.zip"
    zip_folder(zip_path, repo / "andrewID-HW1", "jdoe-HW1",
               extra=[("jdoe-HW1\\p1\\notes.py", "x"), ("__MACOSX/jdoe-HW1/p1/._p1.py", "\0")])
    problems = bundle.check_zip(str(zip_path))
    assert any("jdoe-HW1\\p1\\notes.py: folders separated by backslashes (as some Windows tools write them)" in p
               for p in problems), problems
    assert any(p.endswith("macOS's Finder adds __MACOSX/ when it compresses a folder: build the zip with `make zip`")
               for p in problems), problems


def test_check_refuses_what_would_unpack_badly_on_a_graders_disk(repo, tmp_path):
    zip_path = tmp_path / "jdoe-HW1.zip"
    zip_folder(zip_path, repo / "andrewID-HW1", "jdoe-HW1",
               extra=[("jdoe-HW1/p2/Data.py", "x = 1\n"), ("jdoe-HW1/p2/._model.py", "\0\5"), ("jdoe-HW1", "a file")])
    problems = bundle.check_zip(str(zip_path))
    assert any("jdoe-HW1/p2/Data.py and jdoe-HW1/p2/data.py differ only in upper and lower case" in p
               for p in problems), problems
    assert any("jdoe-HW1/p2/._model.py: not part of the hand-in" in p for p in problems)   # macOS's ._ files
    assert any(p.endswith("jdoe-HW1: not part of the hand-in (the bundle holds only p1/{p1.py, p1_model.npz, "
                          "p1_report.pdf} and p2/{p2.py, p2_model.pkl, p2_report.pdf, the modules p2.py imports})")
               for p in problems)   # a file where the top folder must be: unzip would stop there


def test_check_refuses_a_member_that_understates_its_size_before_unpacking_it(tmp_path):
    import struct
    zip_path = tmp_path / "jdoe-HW1.zip"
    with zipfile.ZipFile(zip_path, "w") as z:   # stored: the data is as large as it unpacks
        z.writestr("jdoe-HW1/p2/pad.py", os.urandom(50_000))
    data = bytearray(zip_path.read_bytes())
    entry = data.find(b"PK\x01\x02")
    struct.pack_into("<I", data, entry + 24, 8)   # the central directory now says it unpacks to 8 bytes
    zip_path.write_bytes(bytes(data))
    problems = bundle.check_zip(str(zip_path))
    assert problems == ["jdoe-HW1.zip: jdoe-HW1/p2/pad.py says it unpacks to 8 bytes but holds 50,000 compressed: a "
                        "zip that lies about its sizes; rebuild it with `make zip`"]


@pytest.mark.filterwarnings("ignore:Duplicate name")   # zipfile's, while the test writes the copies
def test_a_name_stored_many_times_counts_each_copy_towards_the_size_limit(tmp_path, monkeypatch):
    monkeypatch.setattr(bundle, "MAX_UNPACKED_BYTES", 100_000)
    zip_path = tmp_path / "jdoe-HW1.zip"
    with zipfile.ZipFile(zip_path, "w") as z:
        for _ in range(3):
            z.writestr("jdoe-HW1/p2/p2_model.pkl", b"\0" * 40_000)
    problems = bundle.check_zip(str(zip_path))
    assert len(problems) == 1 and "unpacks to 0 MB; a hand-in is about 13-16 MB (not unpacked)" in problems[0]


def test_make_zip_leaves_out_the_hidden_files_macos_writes_beside_modules(repo, capsys, without_running_the_code):
    (repo / "andrewID-HW1" / "p2" / "._data.py").write_bytes(b"\0\5\x16\x07")   # AppleDouble, not Python
    assert bundle.main(["zip", "jdoe"], root=str(repo)) == 0, capsys.readouterr().err
    with zipfile.ZipFile(repo / "jdoe-HW1.zip") as z:
        assert z.namelist() == expected_names("jdoe-HW1")


def test_make_zip_takes_only_the_modules_p2_py_imports_and_says_what_it_left_out(repo, capsys):
    p2_dir = repo / "andrewID-HW1" / "p2"
    (p2_dir / "scratch_try.py").write_text("import torch\n")   # a student's own experiment, imported by nothing
    (p2_dir / "helper.py").write_text("X = 1\n")
    with open(p2_dir / "report.py", "a") as f:   # imported lazily, inside a function, by a module p2.py imports
        f.write("\n\ndef _later():\n    import helper\n    return helper.X\n")
    assert bundle.main(["zip", "jdoe"], root=str(repo)) == 0, capsys.readouterr().err
    with zipfile.ZipFile(repo / "jdoe-HW1.zip") as z:
        names = z.namelist()
    assert "jdoe-HW1/p2/helper.py" in names and "jdoe-HW1/p2/scratch_try.py" not in names
    assert sorted(set(names) - {"jdoe-HW1/p2/helper.py"}) == expected_names("jdoe-HW1")
    assert ("note: andrewID-HW1/p2/scratch_try.py was left out of the zip: p2.py does not import it (directly or "
            "through its modules)") in capsys.readouterr().out.splitlines()


def test_check_refuses_a_module_p2_py_does_not_import(repo, tmp_path):
    zip_path = tmp_path / "jdoe-HW1.zip"
    zip_folder(zip_path, repo / "andrewID-HW1", "jdoe-HW1", extra=[("jdoe-HW1/p2/scratch_try.py", "x = 1\n")])
    assert bundle.check_zip(str(zip_path)) == [
        f"{zip_path.name}:jdoe-HW1/p2/scratch_try.py should not be in the zip: p2.py does not import it (directly or "
        "through its modules)"]


def test_when_a_p2_module_does_not_parse_every_module_is_kept_for_the_checks_to_report(tmp_path):
    (tmp_path / "p2.py").write_text("import model\n")
    (tmp_path / "model.py").write_text("def broken(:\n")
    (tmp_path / "other.py").write_text("x = 1\n")
    assert bundle.p2_modules(str(tmp_path)) == ["model.py", "other.py", "p2.py"]


def test_a_file_make_zip_cannot_read_is_one_line(repo, capsys, monkeypatch):
    def unreadable(*args, **kwargs):
        raise PermissionError(13, "Permission denied", "andrewID-HW1/p2/p2_model.pkl")
    monkeypatch.setattr(bundle.shutil, "copyfile", unreadable)
    assert bundle.main(["zip", "jdoe"], root=str(repo)) == 1
    assert capsys.readouterr().err == "error: andrewID-HW1/p2/p2_model.pkl: Permission denied\n"


def test_check_names_a_required_file_whose_letters_differ_in_case(repo, tmp_path):
    """macOS or Windows would unpack P2.py where p2.py is looked for; a grader's Linux disk would not."""
    zip_path = tmp_path / "jdoe-HW1.zip"
    zip_folder(zip_path, repo / "andrewID-HW1", "jdoe-HW1", leave_out=("p2.py",),
               extra=[("jdoe-HW1/p2/P2.py", (repo / "andrewID-HW1" / "p2" / "p2.py").read_bytes())])
    problems = bundle.check_zip(str(zip_path))
    assert "jdoe-HW1.zip: jdoe-HW1/p2/P2.py must be named jdoe-HW1/p2/p2.py, in these letters exactly" in problems


def test_check_refuses_a_symbolic_link_member(repo, tmp_path):
    zip_path = tmp_path / "jdoe-HW1.zip"
    zip_folder(zip_path, repo / "andrewID-HW1", "jdoe-HW1", leave_out=("p1_report.pdf",))
    with zipfile.ZipFile(zip_path, "a") as z:
        link = zipfile.ZipInfo("jdoe-HW1/p1/p1_report.pdf")
        link.external_attr = (0o120777 << 16)   # how zip -y stores a symlink: its target as the member's data
        z.writestr(link, "%PDF-1.4 x %%EOF")
    problems = bundle.check_zip(str(zip_path))
    assert any("jdoe-HW1/p1/p1_report.pdf is a symbolic link, not a file" in p for p in problems), problems
    assert any("p1/p1_report.pdf: missing" in p for p in problems)   # the link was not unpacked as the report


@pytest.mark.parametrize("members, says", [
    ([(f"jdoe-HW1/p2/m{i}.py", "") for i in range(1001)], "1,001 members; a hand-in has about 30 (not unpacked)"),
    ([("jdoe-HW1/p2/big.py", "#" * (2 ** 20 + 1))], "jdoe-HW1/p2/big.py is 1.0 MB, too large for a source module"),
])
def test_check_does_not_unpack_a_zip_far_from_a_hand_in(tmp_path, members, says, monkeypatch):
    zip_path = tmp_path / "jdoe-HW1.zip"
    with zipfile.ZipFile(zip_path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in members:
            z.writestr(name, data)
    monkeypatch.setattr(zipfile.ZipFile, "extract", lambda *args: pytest.fail("unpacked"))
    problems = bundle.check_zip(str(zip_path))
    assert len(problems) == 1 and says in problems[0], problems


def test_check_refuses_a_zip_not_named_after_its_top_folder(repo, tmp_path):
    zip_path = tmp_path / "submission.zip"
    zip_folder(zip_path, repo / "andrewID-HW1", "jdoe-HW1")
    problems = bundle.check_zip(str(zip_path))
    assert problems == ["submission.zip: name the zip jdoe-HW1.zip, after its top folder, as `make zip` does"]


def test_check_explains_a_zip_whose_compressed_bytes_are_damaged(tmp_path, capsys):
    zip_path = tmp_path / "jdoe-HW1.zip"
    with zipfile.ZipFile(zip_path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("jdoe-HW1/p1/p1.py", "".join(f"x{i} = {i * i}\n" for i in range(5000)))
    data = bytearray(zip_path.read_bytes())
    data[200:220] = bytes(20)   # inside the member's deflate stream, after its local header
    zip_path.write_bytes(bytes(data))
    assert bundle.main(["check", str(zip_path)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not a readable zip file" in err and "Traceback" not in err


def test_check_explains_a_file_that_is_no_zip(tmp_path, capsys):
    (tmp_path / "jdoe-HW1.zip").write_text("not a zip")
    assert bundle.main(["check", str(tmp_path / "jdoe-HW1.zip")]) == 1
    assert bundle.main(["check"]) == 1
    err = capsys.readouterr().err
    assert "not a readable zip file" in err and "make check-zip ZIP=" in err


# ----------------------------------------------------------------------------------------------------------------
# check-zip never runs the zip's code; only `check --run` does, and says so
# ----------------------------------------------------------------------------------------------------------------
def zip_that_writes_on_import(repo, tmp_path):
    """A zip whose p1.py and an extra p2 module each create a marker file when imported."""
    markers = tmp_path / "p1_ran", tmp_path / "p2_ran"
    p1_dir, p2_dir = repo / "andrewID-HW1" / "p1", repo / "andrewID-HW1" / "p2"
    with open(p1_dir / "p1.py", "a") as f:
        f.write(f"\nopen({str(markers[0])!r}, 'w').close()\n")
    (p2_dir / "extra.py").write_text(f"open({str(markers[1])!r}, 'w').close()\n")
    with open(p2_dir / "p2.py", "a") as f:   # a module p2.py imports belongs in the zip
        f.write("\nimport extra  # noqa: E402,F401\n")
    zip_path = tmp_path / "jdoe-HW1.zip"
    zip_folder(zip_path, repo / "andrewID-HW1", "jdoe-HW1")
    return zip_path, markers


def test_check_never_imports_or_runs_the_zip(repo, tmp_path, capsys):
    zip_path, markers = zip_that_writes_on_import(repo, tmp_path)
    assert bundle.main(["check", str(zip_path)]) == 0
    assert "OK (static checks; its code was not run)" in capsys.readouterr().out
    assert not any(marker.exists() for marker in markers)


def test_check_run_says_it_runs_the_zip(repo, tmp_path, capsys):
    zip_path, markers = zip_that_writes_on_import(repo, tmp_path)
    assert bundle.main(["check", "--run", str(zip_path)]) == 0
    assert "--run imports and runs the zip's code" in capsys.readouterr().err
    assert all(marker.exists() for marker in markers)


def test_check_refuses_a_malicious_model_without_loading_it(repo, tmp_path):
    marker = tmp_path / "pwned"
    write_malicious_pickle(repo / "andrewID-HW1" / "p2" / "p2_model.pkl", marker)
    zip_path = tmp_path / "jdoe-HW1.zip"
    zip_folder(zip_path, repo / "andrewID-HW1", "jdoe-HW1")
    problems = bundle.check_zip(str(zip_path))
    assert problems == [f"jdoe-HW1.zip:jdoe-HW1/p2/p2_model.pkl: not a p2 model file: {refusal_of(f'{os.system.__module__}.system')}; "
                        "train it with `make p2`"]
    assert not marker.exists()


@pytest.mark.parametrize("arrays, says", [
    ({"W0": np.array([object()], dtype=object)}, "holds Python objects"),
    ({"W0": np.zeros((784, 8), np.float32)}, "no weight matrices for 784 inputs and 10 classes"),
    ({"W0": np.full((784, 10), np.nan, np.float32)}, "W0 hold NaN or infinite values"),
])
def test_p1_model_is_checked_as_data(tmp_path, arrays, says):
    path = tmp_path / "p1_model.npz"
    np.savez(path, **arrays)
    assert says in bundle_static.p1_model_problems(str(path), "p1_model.npz")[0]


GOOD_FIELDS = dict(format="hw1-p2-cifar10/1", config={}, class_names=["a"], mean=[0.0], std=[1.0], preset="cpu",
                   seed=0, test_accuracy=0.5)


@pytest.mark.parametrize("payload, says", [   # each payload made with torch, imported only by the test
    (lambda torch: [1, 2, 3], "holds a list, not the dict p2 saves"),
    (lambda torch: {"format": "hw1-p2-cifar10/1"},
     "lacks state_dict, config, class_names, mean, std, preset, seed, test_accuracy"),
    (lambda torch: dict(GOOD_FIELDS, format="x", state_dict={"w": torch.ones(2)}),
     "its format is 'x', not 'hw1-p2-cifar10/1'"),
    (lambda torch: dict(GOOD_FIELDS, state_dict={"w": 1}), "not a non-empty dict of (dense) tensors"),
    (lambda torch: dict(GOOD_FIELDS, state_dict={"w": torch.eye(2).to_sparse()}), "not a non-empty dict of (dense)"),
    (lambda torch: dict(GOOD_FIELDS, state_dict={"w": torch.full((2,), float("nan"))}), "w hold NaN or infinite"),
])
def test_p2_model_is_checked_as_data(tmp_path, payload, says):
    """As p2's checkpoint.load_checkpoint will check it, without loading the bundle's code."""
    import torch
    path = tmp_path / "p2_model.pkl"
    torch.save(payload(torch), str(path))
    assert says in bundle_static.p2_model_problems(str(path), "p2_model.pkl")[0]


def test_the_static_check_asks_of_a_p2_model_what_p2_loads():
    import checkpoint
    assert bundle_static.P2_FORMAT == checkpoint.FORMAT and bundle_static.P2_REQUIRED_KEYS == checkpoint.REQUIRED


def test_a_plain_pickle_is_refused_without_advice_to_load_it_unsafely(tmp_path):
    import pickle
    path = tmp_path / "p2_model.pkl"
    path.write_bytes(pickle.dumps({"a": {1, 2}}, protocol=2))
    problems = bundle_static.p2_model_problems(str(path), "p2_model.pkl")
    assert len(problems) == 1 and problems[0].startswith("p2_model.pkl: not a ")
    assert "weights_only" not in problems[0]


def test_a_report_showing_a_machine_path_is_refused(repo, tmp_path):
    write_matplotlib_pdf(repo / "andrewID-HW1" / "p2" / "p2_report.pdf", "data: /work/main/data/cifar10")
    zip_path = tmp_path / "jdoe-HW1.zip"
    zip_folder(zip_path, repo / "andrewID-HW1", "jdoe-HW1")
    problems = bundle.check_zip(str(zip_path))
    assert len(problems) == 1 and "p2/p2_report.pdf: shows a path of this machine (/work/main)" in problems[0]


def test_make_zip_refuses_a_theory_pdf_with_a_machine_path(repo, capsys, monkeypatch):
    monkeypatch.setattr(bundle, "validate_bundle", lambda *args, **kwargs: [])  # only the theory PDF is at issue
    write_matplotlib_pdf(repo / "theory" / "HW1_theory.pdf", "values read from /home/jdoe/hw1/theory/fig5.json")
    assert bundle.main(["zip", "jdoe"], root=str(repo)) == 1
    assert "theory/HW1_theory.pdf: shows a path of this machine (/home/jdoe)" in capsys.readouterr().err
    assert not (repo / "jdoe-HW1.zip").exists()


@pytest.mark.parametrize("pdf", ["other values", "no fingerprint"])
def test_make_zip_refuses_a_theory_pdf_written_from_other_fig5_values(repo, capsys, monkeypatch, pdf):
    """A PDF newer than fig5.json may still answer other values (a checkout or a copy changes the dates)."""
    monkeypatch.setattr(bundle, "validate_bundle", lambda *args, **kwargs: [])
    other = dict(HANDOUT_FIG5, F=[[9, 9], [9, 9]])
    (repo / "theory" / "HW1_theory.pdf").write_bytes(theory_pdf(other) if pdf == "other values" else PDF)
    assert bundle.main(["zip", "jdoe"], root=str(repo)) == 1
    err = capsys.readouterr().err
    assert "theory/HW1_theory.pdf: answers Problem 4 for other Fig. 5 values than theory/fig5.json holds now" in err
    assert "rewrite it with `make theory`" in err
    assert not (repo / "jdoe-HW1.zip").exists() and not (repo / "jdoe-HW1.pdf").exists()


def test_the_committed_theory_pdf_answers_the_committed_fig5_values():
    from theory import cnn
    assert bundle.theory_pdf_problems(bundle.ROOT) == []
    assert bundle.pdf_fig5_digest(os.path.join(bundle.ROOT, bundle.THEORY_PDF)) == cnn.load_fig5()["digest"]


def test_the_committed_theory_pdf_shows_no_machine_path():
    assert bundle_static.pdf_machine_paths(os.path.join(bundle.ROOT, bundle.THEORY_PDF)) == []


# ----------------------------------------------------------------------------------------------------------------
# make zip says where Problem 4's Fig. 5 values come from
# ----------------------------------------------------------------------------------------------------------------
def use_committed_fig5(repo, source=True):
    """The repository's own fig5.json (optionally without its source field) and a theory PDF answering it."""
    with open(os.path.join(bundle.ROOT, bundle.FIG5_JSON), encoding="utf-8") as f:
        data = json.load(f)
    if not source:
        del data["source"]
    (repo / "theory" / "fig5.json").write_text(json.dumps(data))
    (repo / "theory" / "HW1_theory.pdf").write_bytes(theory_pdf(data))
    return data


def test_make_zip_builds_on_the_committed_values_and_names_their_source(repo, capsys, monkeypatch):
    monkeypatch.setattr(bundle, "validate_bundle", lambda *args, **kwargs: [])  # the bundle itself is tested above
    data = use_committed_fig5(repo)
    assert bundle.main(["zip", "jdoe"], root=str(repo)) == 0
    out, err = capsys.readouterr()
    assert err == ""
    lines = [line for line in out.splitlines() if "Fig. 5" in line]
    assert lines == [f"theory: Problem 4 uses the values of {data['source']}; compare them with Fig. 5 of your own "
                     "handout and, if they differ, change its values and its source in theory/fig5.json"]
    assert "Spring 2020" in lines[0] and (repo / "jdoe-HW1.zip").exists() and (repo / "jdoe-HW1.pdf").exists()


def test_make_zip_without_a_named_source_says_so(repo, capsys, monkeypatch):
    monkeypatch.setattr(bundle, "validate_bundle", lambda *args, **kwargs: [])
    use_committed_fig5(repo, source=False)
    assert bundle.main(["zip", "jdoe"], root=str(repo)) == 0
    assert "theory: Problem 4 uses the values in theory/fig5.json (no source named); compare them" in \
        capsys.readouterr().out


def test_make_zip_refuses_the_committed_pdf_once_fig5_json_holds_other_values(repo, capsys, monkeypatch):
    """The student changed fig5.json to their handout's values but the PDF still answers the committed ones."""
    monkeypatch.setattr(bundle, "validate_bundle", lambda *args, **kwargs: [])
    data = use_committed_fig5(repo)
    data["F"][0][0] += 1
    (repo / "theory" / "fig5.json").write_text(json.dumps(data))
    assert bundle.main(["zip", "jdoe"], root=str(repo)) == 1
    assert "answers Problem 4 for other Fig. 5 values than theory/fig5.json holds now" in capsys.readouterr().err
    assert not (repo / "jdoe-HW1.zip").exists()


def test_make_zip_with_a_broken_fig5_json_is_one_line(repo, capsys):
    (repo / "theory" / "fig5.json").write_text("{")
    assert bundle.main(["zip", "jdoe"], root=str(repo)) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: theory/fig5.json, line 1: not valid JSON")
    assert not (repo / "jdoe-HW1.zip").exists()


def test_no_setting_or_flag_builds_from_other_values():
    """Building with values the PDF does not answer needs no switch any more: there is none."""
    with open(bundle.__file__, encoding="utf-8") as f:
        assert "allow_example" not in f.read().lower()


# ----------------------------------------------------------------------------------------------------------------
# Targets and zips that cannot be used: one line each, nothing replaced
# ----------------------------------------------------------------------------------------------------------------
def test_a_bundle_folder_renamed_to_the_zips_name_is_named_as_such(repo, capsys):
    (repo / "andrewID-HW1").rename(repo / "jdoe-HW1")
    assert bundle.main(["zip", "jdoe"], root=str(repo)) == 1
    assert capsys.readouterr().err == ("error: andrewID-HW1/ is not there but jdoe-HW1/ is: name the folder "
                                       "andrewID-HW1/ again (make zip names it jdoe-HW1/ inside the zip)\n")


@pytest.mark.parametrize("error, says", [
    (ModuleNotFoundError("No module named 'torch'", name="torch"), "torch is not installed"),
    (ImportError("DLL load failed while importing _C", name="torch._C"),   # a broken install on Windows
     "a package does not load (DLL load failed while importing _C)")])
def test_a_python_without_the_projects_packages_is_one_line(monkeypatch, capsys, error, says):
    def fails(*args):
        raise error
    monkeypatch.setattr(bundle, "run_check", fails)
    assert bundle.main(["check", "jdoe-HW1.zip"]) == 1
    assert capsys.readouterr().err == (f"error: {says} for {sys.executable}: activate the project's environment, or "
                                       "install the packages with `make install`\n")


def test_code_changed_after_its_model_is_a_note_and_the_zip_is_named_from_here(repo, tmp_path, monkeypatch, capsys,
                                                                               without_running_the_code):
    source = repo / "andrewID-HW1"
    written = os.path.getmtime(source / "p1" / "p1_model.npz")
    os.utime(source / "p1" / "p1.py", (written + 120, written + 120))       # a setting changed, not trained again
    os.utime(source / "p2" / "model.py", (written + 30, written + 30))      # within a minute: as a checkout writes
    os.utime(source / "p2" / "p2_model.pkl", (written, written))
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    assert bundle.main(["zip", "jdoe"], root=str(repo)) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"wrote {repo / 'jdoe-HW1.zip'}:\n")   # run from outside the repository: the whole path
    assert [line for line in out.splitlines() if "changed after" in line] == [
        "note: andrewID-HW1/p1/p1.py changed after p1_model.npz was written: if a change touches what is trained, "
        "train it again with `make p1`"]


def test_zip_target_that_is_a_folder(repo, capsys):
    (repo / "jdoe-HW1.zip").mkdir()
    assert bundle.main(["zip", "jdoe"], root=str(repo)) == 1
    err = capsys.readouterr().err
    assert err == "error: jdoe-HW1.zip is a folder where the hand-in file goes; move it away, then run `make zip` " \
                  "again\n"


@pytest.mark.parametrize("name", ["jdoe-HW1.zip", "jdoe-HW1.pdf"])
def test_a_read_only_existing_target_is_not_replaced(repo, capsys, name):
    target = repo / name
    target.write_bytes(b"the student's own copy")
    target.chmod(stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)
    assert bundle.main(["zip", "jdoe"], root=str(repo)) == 1
    assert f"error: {name} exists and is read-only, so it is not replaced" in capsys.readouterr().err
    assert target.read_bytes() == b"the student's own copy"
    assert sorted(os.listdir(repo)) == sorted(["andrewID-HW1", "theory", name])


def test_a_read_only_folder_is_one_line(repo, capsys, monkeypatch):
    monkeypatch.setattr(bundle.os, "access", lambda path, mode: False)  # root may write anywhere; pretend not
    assert bundle.main(["zip", "jdoe"], root=str(repo)) == 1
    assert capsys.readouterr().err == "error: cannot write jdoe-HW1.zip: its folder is not writable\n"


def test_an_encrypted_zip_is_one_line(repo, tmp_path, capsys):
    zip_path = tmp_path / "jdoe-HW1.zip"
    zip_folder(zip_path, repo / "andrewID-HW1", "jdoe-HW1")
    data = bytearray(zip_path.read_bytes())
    # Set bit 0 (encrypted) of the general-purpose flags in every local and central header, as zip -e does.
    for signature, offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        start = data.find(signature)
        while start != -1:
            data[start + offset] |= 0x1
            start = data.find(signature, start + 4)
    zip_path.write_bytes(bytes(data))
    assert bundle.main(["check", str(zip_path)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "encrypted (password-protected)" in err and "Traceback" not in err


def test_check_of_a_folder_is_one_line(tmp_path, capsys):
    assert bundle.main(["check", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "is a folder" in err


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes as on Linux and macOS")
def test_check_of_something_that_is_no_file_says_so_not_that_it_is_missing(tmp_path, capsys):
    os.mkfifo(tmp_path / "pipe")   # like /dev/zero
    assert bundle.main(["check", str(tmp_path / "pipe")]) == 1
    assert capsys.readouterr().err.startswith(f"error: {tmp_path / 'pipe'}: not a file; pass the zip's path")
    assert bundle.main(["check", str(tmp_path / "none.zip")]) == 1
    assert capsys.readouterr().err.startswith(f"error: {tmp_path / 'none.zip'}: no such file; pass the zip's path")


@pytest.mark.parametrize("andrew_id", ['x"; touch f; echo "', "jdoe; rm -rf x", "$(touch f)"])
def test_shell_text_in_the_andrew_id_is_refused_with_what_is_allowed(repo, capsys, andrew_id):
    assert bundle.main(["zip", andrew_id], root=str(repo)) == 1
    err = capsys.readouterr().err
    assert "is not a plausible Andrew ID (2-20 lowercase letters and digits, starting with a letter)" in err
    assert sorted(os.listdir(repo)) == ["andrewID-HW1", "theory"]


def test_a_zip_that_unpacks_to_far_more_than_a_hand_in_is_not_unpacked():
    sizes = {"jdoe-HW1/p2/data.bin": 2 * 2 ** 30}   # a few MB of zeros can say this
    assert bundle.size_problems("jdoe-HW1.zip", sizes) == [
        "jdoe-HW1.zip: unpacks to 2,048 MB; a hand-in is about 13-16 MB (not unpacked)"]


def test_make_zip_refuses_what_check_zip_would(repo, capsys, without_running_the_code):
    (repo / "andrewID-HW1" / "p2" / "tables.py").write_text("#" * (2 ** 20 + 1) + "\n")
    with open(repo / "andrewID-HW1" / "p2" / "p2.py", "a") as f:   # a module the zip takes
        f.write("\nimport tables  # noqa: E402,F401\n")
    assert bundle.main(["zip", "jdoe"], root=str(repo)) == 1
    assert "andrewID-HW1: p2/tables.py is 1.0 MB, too large for a source module" in capsys.readouterr().err
    assert not (repo / "jdoe-HW1.zip").exists()


def test_a_member_that_cannot_be_unpacked_is_one_problem_among_the_others(repo, tmp_path):
    zip_path = tmp_path / "jdoe-HW1.zip"
    long_name = "a" * 300 + ".py"   # longer than a file name may be
    zip_folder(zip_path, repo / "andrewID-HW1", "jdoe-HW1", extra=[(f"jdoe-HW1/p2/{long_name}", "x = 1\n")])
    problems = bundle.check_zip(str(zip_path))
    assert problems == [f"jdoe-HW1.zip: jdoe-HW1/p2/{long_name} cannot be unpacked (File name too long)"], problems


def test_make_zip_copies_bytes_and_dates_but_no_file_flags(repo, monkeypatch, without_running_the_code):
    # macOS: copy2 would copy a network share's file flags too, and a user may not set one of them (EPERM)
    monkeypatch.setattr(bundle.shutil, "copy2", lambda *a, **k: pytest.fail("copy2 copies file flags"))
    monkeypatch.setattr(bundle.shutil, "copystat", lambda *a, **k: pytest.fail("copystat copies file flags"))
    model = repo / "andrewID-HW1" / "p1" / "p1_model.npz"
    os.utime(model, (1_700_000_000, 1_700_000_000))
    assert bundle.main(["zip", "jdoe"], root=str(repo)) == 0
    with zipfile.ZipFile(repo / "jdoe-HW1.zip") as z:
        info = z.getinfo("jdoe-HW1/p1/p1_model.npz")
        assert z.read(info) == model.read_bytes()
        assert info.date_time == time.localtime(1_700_000_000)[:6]


def test_a_p2_model_in_place_of_p1s_is_refused_in_one_line(tmp_path):
    """torch saves a zip too: np.load opens it and hands back its members as bytes, not arrays."""
    import torch
    path = tmp_path / "p1_model.npz"
    torch.save({"w": torch.ones(2)}, str(path))
    assert bundle_static.p1_model_problems(str(path), "p1_model.npz") == [
        "p1_model.npz: not an .npz file of arrays; train it with `make p1`"]


def test_more_machine_folders_are_machine_paths_but_home_relative_ones_are_not():
    found = bundle_static.MACHINE_PATH.findall("/Users/jdoe/hw1 and /tmp/hw1-run")
    assert found == ["/Users/jdoe", "/tmp/hw1-run"]
    assert bundle_static.MACHINE_PATH.findall("cached in ~/work/hw1 and ~/tmp/x") == []


def test_machine_paths_in_pdf_metadata_and_uncompressed_streams_are_found(tmp_path):
    meta = tmp_path / "meta.pdf"
    meta.write_bytes(b"%PDF-1.4\n1 0 obj << /Title (/home/jdoe/hw1/report) >> endobj\ntrailer <<>>\n%%EOF\n")
    assert bundle_static.pdf_machine_paths(str(meta)) == ["/home/jdoe"]
    plain = tmp_path / "plain.pdf"
    plain.write_bytes(b"%PDF-1.4\n1 0 obj << /Length 30 >>\nstream\nBT (data: /work/jdoe/x) Tj ET\nendstream\n"
                      b"endobj\n%%EOF\n")
    assert bundle_static.pdf_machine_paths(str(plain)) == ["/work/jdoe"]


def test_p2_model_with_an_empty_state_dict_is_refused(tmp_path):
    import torch
    path = tmp_path / "p2_model.pkl"
    torch.save(dict(format="hw1-p2-cifar10/1", state_dict={}, config={}, class_names=["a"], mean=[0.0], std=[1.0],
                    preset="cpu", seed=0, test_accuracy=0.5), str(path))
    assert "not a non-empty dict of (dense) tensors" in bundle_static.p2_model_problems(str(path), "m")[0]


def test_results_exactly_at_the_rubrics_mark_get_a_note(tmp_path):
    import torch
    np.savez(tmp_path / "p1_model.npz", meta_test_error=np.float64(0.05))
    torch.save({"test_accuracy": 0.90}, str(tmp_path / "p2_model.pkl"))
    notes = bundle_static.rubric_notes(str(tmp_path / "p1_model.npz"), str(tmp_path / "p2_model.pkl"), "x")
    assert len(notes) == 2 and "not under the rubric's 5 %" in notes[0] and "not over the rubric's 90 %" in notes[1]


def test_layout_flags_drive_letters_placeholder_ids_and_twice_stored_names():
    assert not bundle.safe_name("C:/evil.py")
    problems, _ = bundle.layout_problems("andrewid-HW1.zip", ["andrewid-HW1/p1/p1.py"])
    assert any("must be named <andrewid>-HW1.zip" in p for p in problems)
    problems, _ = bundle.layout_problems("jdoe-HW1.zip", ["jdoe-HW1/p1/p1.py"] * 2)
    assert "jdoe-HW1.zip: jdoe-HW1/p1/p1.py is stored more than once" in problems


def test_the_written_zip_is_readable_by_everyone(tmp_path):
    stage = tmp_path / "stage"
    (stage / "p1").mkdir(parents=True)
    (stage / "p1" / "p1.py").write_text("import os\n")
    bundle.write_zip(str(stage), "jdoe-HW1", ["p1/p1.py"], str(tmp_path / "jdoe-HW1.zip"))
    assert stat.S_IMODE(os.stat(tmp_path / "jdoe-HW1.zip").st_mode) == 0o644
    with zipfile.ZipFile(tmp_path / "jdoe-HW1.zip") as z:
        assert z.namelist() == ["jdoe-HW1/p1/p1.py"]

"""make zip / make check-zip: tiny generated bundles built from the repository's own p1 and p2 code."""
import glob
import os
import shutil
import zipfile

import numpy as np
import pytest

from tools import bundle

SOURCE = os.path.join(bundle.ROOT, "andrewID-HW1")
PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"


def write_tiny_p1_model(path, test_error=0.5):
    import p1
    np.random.seed(0)
    mlp = p1.MLP(784, 10, [8], [p1.ReLU(), p1.Identity()], p1.random_normal_weight_init, p1.zeros_bias_init,
                 p1.SoftmaxCrossEntropy(), lr=0.1)
    mlp.metadata = {"test_error": test_error}
    mlp.save_model(path)


def write_tiny_p2_model(path, test_accuracy=0.1):
    from checkpoint import save_checkpoint
    from config import Config
    from data import CLASSES
    from model import build_model
    cfg = Config(widths=(8, 16, 16))
    save_checkpoint(path, build_model(cfg), cfg, class_names=CLASSES, mean=(0, 0, 0), std=(1, 1, 1),
                    preset="test", seed=0, test_accuracy=test_accuracy)


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    """A repository root holding a complete, valid bundle and a theory PDF; tests work on copies of it."""
    root = tmp_path_factory.mktemp("template")
    p1_dir, p2_dir = root / "andrewID-HW1" / "p1", root / "andrewID-HW1" / "p2"
    p1_dir.mkdir(parents=True)
    p2_dir.mkdir()
    shutil.copy(os.path.join(SOURCE, "p1", "p1.py"), p1_dir)
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
    (root / "theory" / "HW1_theory.pdf").write_bytes(PDF)
    return root


@pytest.fixture
def repo(template, tmp_path):
    root = tmp_path / "repo"
    shutil.copytree(template, root)
    return root


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
    ("", "no Andrew ID given"), ("andrewID", "placeholder"), ("andrewid", "placeholder"),
    ("JDoe", "not a plausible"), ("j.doe", "not a plausible"), ("1abc", "not a plausible"),
    ("j", "not a plausible"), ("x" * 21, "not a plausible"), ("jdoe\n", "not a plausible")])
def test_implausible_andrew_ids_are_refused_with_the_fix(andrew_id, says):
    with pytest.raises(bundle.BundleError, match=says) as e:
        bundle.check_andrew_id(andrew_id)
    assert "make zip ANDREW_ID=yourid" in str(e.value)


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
def test_p1_import_rule_flags_every_other_module(tmp_path):
    path = tmp_path / "p1.py"
    path.write_text("from __future__ import annotations\nimport os\nimport numpy as np\n"
                    "import matplotlib.pyplot as plt\nfrom matplotlib import cm\n"
                    "import json\nfrom torch import nn\nimport numpy, sys\n"
                    "def f():\n    import scipy.stats\nfrom . import helper\nx = __import__('pickle')\n")
    problems = bundle.p1_import_problems(str(path), "p1.py")
    assert [p.split(":")[0] for p in problems] == [f"p1.py, line {n}" for n in (6, 7, 8, 10, 11, 12)]
    assert "imports json" in problems[0] and "imports sys" in problems[2] and "imports scipy.stats" in problems[3]
    assert all("only os, numpy, matplotlib" in p for p in problems)


def test_p1_import_rule_reports_a_syntax_error(tmp_path):
    path = tmp_path / "p1.py"
    path.write_text("def broken(:\n")
    assert "not valid Python" in bundle.p1_import_problems(str(path), "p1.py")[0]


def test_the_real_p1_obeys_the_import_rule():
    assert bundle.p1_import_problems(os.path.join(SOURCE, "p1", "p1.py"), "p1.py") == []


def test_pdf_check(tmp_path):
    good, text, cut = tmp_path / "a.pdf", tmp_path / "b.pdf", tmp_path / "c.pdf"
    good.write_bytes(b"%PDF-1.4\n" + b"x" * 3000 + b"\n%%EOF\n")
    text.write_bytes(b"my report\n")
    cut.write_bytes(PDF[:20] + b"x" * 2000)
    assert bundle.pdf_problem(str(good)) is None
    assert "not a PDF" in bundle.pdf_problem(str(text))
    assert "incomplete" in bundle.pdf_problem(str(cut))


def test_theory_pdf_is_copied_or_the_reason_given(repo):
    path, message = bundle.copy_theory_pdf("jdoe", root=str(repo))
    assert path == str(repo / "jdoe-HW1.pdf") and "copied" in message
    assert (repo / "jdoe-HW1.pdf").read_bytes() == (repo / "theory" / "HW1_theory.pdf").read_bytes()
    (repo / "theory" / "HW1_theory.pdf").write_bytes(b"not a pdf")
    path, message = bundle.copy_theory_pdf("ab", root=str(repo))
    assert path is None and "NOT copied" in message and "not a PDF" in message
    (repo / "theory" / "HW1_theory.pdf").unlink()
    path, message = bundle.copy_theory_pdf("ab", root=str(repo))
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
    assert "jdoe-HW1/p2/p2_model.pkl" in out and "total, " in out and "copied theory" in out
    assert sorted(os.listdir(repo)) == ["andrewID-HW1", "jdoe-HW1.pdf", "jdoe-HW1.zip", "theory"]
    assert not (repo / "andrewID-HW1" / "p1" / "__pycache__").exists()  # validation wrote no bytecode

    assert bundle.main(["check", str(zip_path)]) == 0
    assert f"{zip_path}: OK" in capsys.readouterr().out


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
    for says in ("p1/p1.py, line", "imports json", "p1/p1_model.npz does not load with p1.load_model",
                 "p1/p1_report.pdf: empty", "p2/p2_report.pdf: not a PDF",
                 "p2/p2_model.pkl is refused by torch.load(weights_only=True)",
                 "train.py does not import from the p2 folder alone", "No module named 'augment'"):
        assert says in err
    assert "7 problem(s), no zip written" in err  # p2.py and train.py both need augment
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


def test_check_explains_a_file_that_is_no_zip(tmp_path, capsys):
    (tmp_path / "jdoe-HW1.zip").write_text("not a zip")
    assert bundle.main(["check", str(tmp_path / "jdoe-HW1.zip")]) == 1
    assert bundle.main(["check"]) == 1
    err = capsys.readouterr().err
    assert "not a readable zip file" in err and "make check-zip ZIP=" in err

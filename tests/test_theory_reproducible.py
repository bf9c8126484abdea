"""The committed theory PDF is what today's sources make, byte for byte, and make zip in a fresh clone keeps it:
staleness is the sources' fingerprint inside the PDF, never the file dates a checkout leaves."""
import os
import re
import shutil
import subprocess
import sys

import matplotlib
import pytest

from theory import cnn, fingerprint

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COMMITTED = os.path.join(ROOT, "theory", "HW1_theory.pdf")
# Settings a student's matplotlibrc might hold; none may reach the PDF.
HOSTILE_RC = """font.size: 20
font.family: serif
font.sans-serif: DejaVu Serif
mathtext.fontset: cm
pdf.fonttype: 42
pdf.compression: 0
lines.linewidth: 5
axes.grid: True
"""


def committed_bytes():
    with open(COMMITTED, "rb") as f:
        return f.read()


def test_the_committed_pdf_records_todays_sources():
    assert fingerprint.recorded_digest(COMMITTED) == fingerprint.sources_digest(cnn.FIG5_PATH), \
        "theory/HW1_theory.pdf is older than its sources: re-make it with `make theory`"


def test_the_fingerprint_follows_content_not_line_endings(tmp_path):
    fig5 = tmp_path / "fig5.json"
    with open(cnn.FIG5_PATH, "rb") as f:
        text = f.read()
    fig5.write_bytes(text.replace(b"\n", b"\r\n"))
    assert fingerprint.sources_digest(str(fig5)) == fingerprint.sources_digest(cnn.FIG5_PATH)
    fig5.write_bytes(text.replace(b"[3, 5, 2, 3]", b"[3, 5, 2, 4]"))
    assert fingerprint.sources_digest(str(fig5)) != fingerprint.sources_digest(cnn.FIG5_PATH)
    assert fingerprint.sources_digest(str(tmp_path / "missing.json")) is None
    assert fingerprint.recorded_digest(str(tmp_path / "missing.pdf")) is None


def test_a_fresh_clone_keeps_the_committed_pdf(tmp_path):
    """A checkout gives the sources newer dates than the PDF (and Windows, CRLF line endings); make zip's
    `python -m theory --pdf ... --if-stale` must leave the PDF's bytes as they are."""
    clone = tmp_path / "clone"
    shutil.copytree(os.path.join(ROOT, "theory"), clone / "theory",
                    ignore=shutil.ignore_patterns("__pycache__"))
    for name in os.listdir(clone / "theory"):
        if name.endswith(".py"):
            path = clone / "theory" / name
            path.write_bytes(path.read_bytes().replace(b"\n", b"\r\n"))
    os.utime(clone / "theory" / "HW1_theory.pdf", (1, 1))
    result = subprocess.run([sys.executable, "-m", "theory", "--pdf", os.path.join("theory", "HW1_theory.pdf"),
                             "--if-stale"], cwd=clone, capture_output=True, text=True, timeout=120,
                            env=dict(os.environ, PYTHONDONTWRITEBYTECODE="1"))
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"{os.path.join('theory', 'HW1_theory.pdf')} is up to date with its sources\n"
    assert (clone / "theory" / "HW1_theory.pdf").read_bytes() == committed_bytes()


def make_pdf(target, **env):
    result = subprocess.run([sys.executable, "-m", "theory", "--pdf", str(target)], cwd=ROOT, capture_output=True,
                            text=True, timeout=300, env=dict(os.environ, PYTHONDONTWRITEBYTECODE="1", **env))
    assert result.returncode == 0, result.stderr
    return target.read_bytes()


def test_make_theory_rewrites_the_committed_bytes_exactly(tmp_path):
    """Same sources, same bytes: no creation date or ID, and neither the user's matplotlibrc nor the hash seed
    changes a byte. A different matplotlib version may (skipped). So may a CPU whose vector maths rounds some last
    bits otherwise (AVX2 against AVX-512, or Arm; the PDF records a fingerprint of it): there the PDF made with the
    hostile settings is held to one made here without them instead of to the committed bytes."""
    made_by = re.search(rb"/Producer \(Matplotlib pdf backend v([^)]+)\)", committed_bytes())
    if not made_by or made_by.group(1).decode() != matplotlib.__version__:
        pytest.skip("the committed PDF was made with another matplotlib version")
    (tmp_path / "rc").mkdir()
    (tmp_path / "rc" / "matplotlibrc").write_text(HOSTILE_RC)
    made = make_pdf(tmp_path / "again.pdf", MATPLOTLIBRC=str(tmp_path / "rc"), PYTHONHASHSEED="12345",
                    SOURCE_DATE_EPOCH="0")
    same_maths = fingerprint.recorded_maths_digest(COMMITTED) == fingerprint.maths_digest()
    assert made == (committed_bytes() if same_maths else make_pdf(tmp_path / "plain.pdf"))
    assert b"/CreationDate" not in made and b"/ID" not in made

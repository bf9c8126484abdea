"""What a theory PDF was made from, as short fingerprints the PDF records in its Keywords.

`make zip` rewrites the PDF only when the fingerprint of today's sources differs from the recorded one. File dates
cannot decide that: a fresh clone or a copy gives every file a new date, and a PDF written again by another
matplotlib can differ in its bytes while saying the same thing.

The second fingerprint is of the machine's vector maths. NumPy computes exp and log with code chosen for the CPU
(AVX-512, AVX2, Arm), and the last bits differ between them; a plotted curve then moves by a millionth of a point,
enough to change the PDF's bytes. The same sources give the same bytes where this fingerprint is the same too.
"""
import glob
import hashlib
import os
import re

import numpy as np

THEORY_DIR = os.path.dirname(os.path.abspath(__file__))
_KEYWORDS = "theory sources "
_MATHS = ", vector maths "


def sources_digest(fig5_path):
    """16 hex digits over the theory code (every theory/*.py) and the Fig. 5 file, or None when the Fig. 5 file
    cannot be read. Line endings are normalised, so a Windows checkout has the same fingerprint."""
    digest = hashlib.sha256()
    paths = sorted(glob.glob(os.path.join(THEORY_DIR, "*.py")))
    try:
        for name, path in [(os.path.basename(p), p) for p in paths] + [("fig5", fig5_path)]:
            with open(path, "rb") as handle:
                text = handle.read().replace(b"\r\n", b"\n")
            digest.update(f"{name} {len(text)}\n".encode() + text)
    except OSError:
        return None
    return digest.hexdigest()[:16]


def maths_digest():
    """16 hex digits over NumPy's float64 exp and log of fixed numbers: the same wherever they round alike."""
    x = np.linspace(-40.0, 40.0, 100_001)
    return hashlib.sha256(np.exp(x).tobytes() + np.log(np.abs(x) + 1e-3).tobytes()).hexdigest()[:16]


def keywords(digest):
    """The PDF's Keywords entry for a sources fingerprint, with this machine's vector-maths fingerprint."""
    return _KEYWORDS + digest + _MATHS + maths_digest()


def recorded_digest(pdf_path):
    """The sources fingerprint a PDF records, or None (no such file, unreadable, or written without one)."""
    return _recorded(pdf_path, _KEYWORDS)


def recorded_maths_digest(pdf_path):
    """The vector-maths fingerprint of the machine that wrote the PDF, or None."""
    return _recorded(pdf_path, _MATHS)


def _recorded(pdf_path, label):
    if not os.path.isfile(pdf_path):   # a pipe or device is never read: it could block, and it is no PDF
        return None
    try:
        with open(pdf_path, "rb") as handle:
            data = handle.read()
    except OSError:
        return None
    found = re.search(rb"/Keywords \([^)]*?" + re.escape(label.encode()) + rb"([0-9a-f]{16})[,)]", data)
    return found.group(1).decode() if found else None


def is_current(pdf_path, fig5_path):
    """True when the PDF at pdf_path was written from exactly today's sources."""
    digest = sources_digest(fig5_path)
    return digest is not None and recorded_digest(pdf_path) == digest

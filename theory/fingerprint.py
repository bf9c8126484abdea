"""What a theory PDF was made from, as a short fingerprint the PDF records in its Keywords.

`make zip` rewrites the PDF only when the fingerprint of today's sources differs from the recorded one. File dates
cannot decide that: a fresh clone or a copy gives every file a new date, and a PDF written again by another
matplotlib can differ in its bytes while saying the same thing.
"""
import glob
import hashlib
import os
import re

THEORY_DIR = os.path.dirname(os.path.abspath(__file__))
_KEYWORDS = "theory sources "


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


def keywords(digest):
    """The PDF's Keywords entry for a sources fingerprint."""
    return _KEYWORDS + digest


def recorded_digest(pdf_path):
    """The sources fingerprint a PDF records, or None (no such file, unreadable, or written without one)."""
    if not os.path.isfile(pdf_path):   # a pipe or device is never read: it could block, and it is no PDF
        return None
    try:
        with open(pdf_path, "rb") as handle:
            data = handle.read()
    except OSError:
        return None
    found = re.search(rb"/Keywords \(" + re.escape(_KEYWORDS.encode()) + rb"([0-9a-f]{16})\)", data)
    return found.group(1).decode() if found else None


def is_current(pdf_path, fig5_path):
    """True when the PDF at pdf_path was written from exactly today's sources."""
    digest = sources_digest(fig5_path)
    return digest is not None and recorded_digest(pdf_path) == digest

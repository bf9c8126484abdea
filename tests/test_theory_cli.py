"""The command line: text, --json with the issue's keys, --fig5, --pdf, and clean errors."""
import json
import os

import pytest

from theory import writeup
from theory.__main__ import main


@pytest.fixture
def short_pdf(monkeypatch):
    """For tests of where and when the PDF is written: the write-up's first block stands for all of it (with the
    real Subject and Keywords), drawn in a tenth of the time."""
    real_build = writeup.build

    def first_block_only(results, andrew_id=None):
        doc = real_build(results, andrew_id)
        doc.blocks = doc.blocks[:1]
        return doc
    monkeypatch.setattr(writeup, "build", first_block_only)


def test_json_has_every_key(capsys):
    assert main(["--json"]) == 0
    answers = json.loads(capsys.readouterr().out)
    assert set(answers) == {"T1", "T2", "T3", "T4"}
    assert {"a", "b", "c_gd", "c_momentum"} <= set(answers["T1"])
    assert set(answers["T2"]) == {"AND", "OR", "XOR", "XNOR"}
    assert set(answers["T4"]) == {"a", "b", "c", "d"}
    assert {"padding", "map"} <= set(answers["T4"]["a"])
    assert {"possible", "stride", "map", "reason"} <= set(answers["T4"]["b"])
    assert {"filter", "stride", "padding"} <= set(answers["T4"]["d"])


def test_text_output_lists_every_problem(capsys):
    assert main([]) == 0
    out = capsys.readouterr().out
    for heading in ("Problem 1", "Problem 2", "Problem 3", "Problem 4", "values: Fig. 5 of"):
        assert heading in out


def test_other_fig5_file(tmp_path, capsys):
    path = tmp_path / "mine.json"
    path.write_text(json.dumps({"F": [[1, 2, 3], [4, 5, 6], [7, 8, 9]], "Filter1": [[1]], "Filter2": [[1, 1, 1]] * 3}))
    assert main(["--json", "--fig5", str(path)]) == 0
    t4 = json.loads(capsys.readouterr().out)["T4"]
    assert t4["a"] == {"padding": 0, "map": [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 9.0]]}
    assert t4["b"]["possible"] is True and t4["b"]["stride"] == 1


def test_bad_fig5_prints_one_message_and_fails(tmp_path, capsys):
    path = tmp_path / "broken.json"
    path.write_text("{")
    assert main(["--fig5", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and str(path) in err and "Traceback" not in err


def test_pdf_is_written_atomically(tmp_path, capsys, short_pdf):
    target = tmp_path / "theory.pdf"
    assert main(["--pdf", str(target)]) == 0
    assert target.read_bytes().startswith(b"%PDF")
    assert os.listdir(tmp_path) == ["theory.pdf"]


def test_json_answers_problem_4_on_the_handouts_values(capsys):
    assert main(["--json"]) == 0
    t4 = json.loads(capsys.readouterr().out)["T4"]
    assert t4["a"]["padding"] == 1 and len(t4["a"]["map"]) == 4 and t4["c"]["map"] == [[17.75, 16.75], [2.0, 3.5]]
    assert t4["b"]["possible"] is False and "which no integer stride satisfies" in t4["b"]["reason"]


def test_if_stale_keeps_an_up_to_date_pdf_whatever_its_date(tmp_path, capsys, short_pdf):
    """make zip's staleness test: the sources' fingerprint in the PDF, never the file dates."""
    fig5 = write_fig5(tmp_path, json.dumps({"F": [[1, 2], [3, 4]], "Filter1": [[1]], "Filter2": [[1]]}))
    target = tmp_path / "theory.pdf"
    assert main(["--pdf", str(target), "--fig5", fig5, "--if-stale"]) == 0
    assert "wrote" in capsys.readouterr().out
    written = target.read_bytes()
    os.utime(target, (1, 1))  # far older than every source, as a checkout may leave it
    assert main(["--pdf", str(target), "--fig5", fig5, "--if-stale"]) == 0
    assert capsys.readouterr().out == f"{target} is up to date with its sources\n"
    assert target.read_bytes() == written and os.stat(target).st_mtime == 1

    # with --json too: the JSON on stdout, the up-to-date PDF left alone
    assert main(["--pdf", str(target), "--fig5", fig5, "--if-stale", "--json"]) == 0
    said = capsys.readouterr()
    assert json.loads(said.out)["T4"] and said.err == f"{target} is up to date with its sources\n"
    assert target.read_bytes() == written and os.stat(target).st_mtime == 1

    write_fig5(tmp_path, json.dumps({"F": [[1, 2], [3, 5]], "Filter1": [[1]], "Filter2": [[1]]}))
    assert main(["--pdf", str(target), "--fig5", fig5, "--if-stale"]) == 0
    assert "wrote" in capsys.readouterr().out and target.read_bytes() != written


def test_a_matrix_too_wide_for_the_page_is_one_line_and_no_pdf(tmp_path, capsys):
    """Fig. 5's limits (cnn.MAX_SIDE) allow a 32-column F, whose rows would run off the page's right edge."""
    wide = [[(i * j) % 7 - 3.25 for j in range(32)] for i in range(32)]
    fig5 = write_fig5(tmp_path, json.dumps({"F": wide, "Filter1": [[0, 1, 0], [1, -4, 1], [0, 1, 0]],
                                            "Filter2": [[1, 0], [0, 1]]}))
    assert main(["--pdf", str(tmp_path / "out.pdf"), "--fig5", fig5]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: the matrix F is ") and err.count("\n") == 1
    assert os.listdir(tmp_path) == ["fig5.json"]


def test_if_stale_needs_pdf(capsys):
    with pytest.raises(SystemExit) as info:
        main(["--if-stale"])
    assert info.value.code == 2 and "--if-stale needs --pdf PATH" in capsys.readouterr().err


def test_pdf_into_a_missing_folder_fails_cleanly(tmp_path, capsys):
    assert main(["--pdf", str(tmp_path / "no" / "such" / "x.pdf")]) == 2
    assert "error: cannot write" in capsys.readouterr().err


def write_fig5(tmp_path, text):
    path = tmp_path / "fig5.json"
    path.write_text(text)
    return str(path)


def test_pdf_onto_a_file_that_is_no_pdf_is_refused_and_the_file_kept(tmp_path, capsys):
    """--pdf theory/fig5.json (or a source file) by mistake: the values would have been replaced by the PDF."""
    fig5 = tmp_path / "fig5.json"
    fig5.write_text('{"F": [[1]], "Filter1": [[1]], "Filter2": [[1]]}')
    assert main(["--pdf", str(fig5), "--fig5", str(fig5)]) == 2
    assert capsys.readouterr().err == (f"error: cannot write {fig5}: it holds something other than a PDF, which would "
                                       "be lost; give a PDF's name, e.g. HW1_theory.pdf\n")
    assert fig5.read_text().startswith('{"F"')


def test_pdf_into_a_folder_is_one_line_and_writes_nothing(tmp_path, capsys):
    assert main(["--pdf", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "is a folder" in err and "Traceback" not in err
    assert os.listdir(tmp_path) == []


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes and links as on Linux and macOS")
def test_pdf_onto_something_other_than_a_file_is_refused_and_a_link_is_written_through(tmp_path, capsys,
                                                                                       short_pdf):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)   # like /dev/null: the rename of a finished PDF would replace it, as root even a device
    for stale in ([], ["--if-stale"]):   # --if-stale reads the old PDF's fingerprint first: never a pipe's (it blocks)
        assert main(["--pdf", str(fifo), *stale]) == 2
        assert capsys.readouterr().err == f"error: cannot write {fifo}: it is not a plain file; give a file name\n"
    assert sorted(os.listdir(tmp_path)) == ["pipe"] and not (tmp_path / "pipe").is_file()
    link = tmp_path / "link.pdf"
    link.symlink_to(tmp_path / "real.pdf")
    assert main(["--pdf", str(link)]) == 0
    assert link.is_symlink() and (tmp_path / "real.pdf").read_bytes().startswith(b"%PDF")


def test_an_empty_pdf_path_is_refused(capsys):
    with pytest.raises(SystemExit) as exited:
        main(["--pdf", ""])
    assert exited.value.code == 2 and "--pdf needs a file name" in capsys.readouterr().err


@pytest.mark.parametrize("value", ["1e308", "-1e7", "1" + "0" * 400, "NaN", "Infinity", "1e999"])
@pytest.mark.parametrize("mode", ["--json", "--pdf"])
def test_huge_or_non_finite_fig5_values_are_refused_up_front(tmp_path, capsys, value, mode):
    path = write_fig5(tmp_path, '{"F": [[1, %s], [0, 1]], "Filter1": [[1]], "Filter2": [[1]]}' % value)
    args = ["--fig5", path] + (["--json"] if mode == "--json" else ["--pdf", str(tmp_path / "out.pdf")])
    assert main(args) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1
    assert "'F' row 1 holds" in err and "magnitude at most 1e+06" in err
    assert not (tmp_path / "out.pdf").exists()


def test_json_is_strict_json(capsys):
    def refuse(constant):
        raise ValueError(f"{constant} is not JSON")
    assert main(["--json"]) == 0
    json.loads(capsys.readouterr().out, parse_constant=refuse)


def test_a_failed_pdf_write_keeps_the_old_pdf_and_leaves_no_temporary_file(tmp_path, monkeypatch):
    import errno
    import re

    from theory import pdf

    def disk_full(self, figure):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    monkeypatch.setattr(pdf.PdfPages, "savefig", disk_full)
    target = tmp_path / "theory.pdf"
    target.write_bytes(b"%PDF- the old PDF")
    doc = pdf.Document("a test")
    doc.add(pdf.Paragraph("one line"))
    with pytest.raises(pdf.WriteError, match=f"^{re.escape(f'cannot write {target}: {os.strerror(errno.ENOSPC)}')}$"):
        doc.save(str(target))
    assert os.listdir(tmp_path) == ["theory.pdf"] and target.read_bytes() == b"%PDF- the old PDF"


def test_a_ctrl_c_while_the_pdf_is_written_stays_a_ctrl_c_and_leaves_no_file(tmp_path, monkeypatch):
    """matplotlib's PDF writer, closed while a Ctrl-C unwinds, can fail with a zlib error of its own: that error
    took the Ctrl-C's place and showed as a traceback."""
    import zlib

    from theory import answers, pdf

    def interrupted(self, figure):
        raise KeyboardInterrupt

    def broken_close(self):
        raise zlib.error("Error -2 while flushing: inconsistent stream state")
    results = answers.solve_all()
    monkeypatch.setattr(pdf.PdfPages, "savefig", interrupted)
    monkeypatch.setattr(pdf.PdfPages, "close", broken_close)
    with pytest.raises(KeyboardInterrupt):
        writeup.write_pdf(results, str(tmp_path / "HW1_theory.pdf"))
    assert os.listdir(tmp_path) == []


def test_text_answers_show_the_right_iterates_checks_and_step_count(capsys):
    assert main([]) == 0
    out = capsys.readouterr().out
    assert "x1..x3       = -0.500000, -0.620778, -0.676497" in out   # b): x1..x3, not x0..x2
    assert "(WRONG)" not in out and "truth table: 00->0 01->0 10->0 11->1" in out
    assert "b = [+10] matches NOT: True; with b = -10: False" in out
    assert "long run (800 steps)" in out

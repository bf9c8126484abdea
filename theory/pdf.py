"""A small page-layout engine on matplotlib: headings, wrapped paragraphs with mathtext, display formulas, tables,
matrices and figures, flowed top to bottom onto A4 pages of a multi-page PDF. No LaTeX installation needed."""
import functools
import os
import tempfile

import matplotlib

matplotlib.use("Agg")
from matplotlib.backends.backend_agg import RendererAgg  # noqa: E402
from matplotlib.backends.backend_pdf import PdfPages  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.font_manager import FontProperties  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402

PAGE_W, PAGE_H = 8.27, 11.69  # A4 in inches
MARGIN_X, MARGIN_TOP, MARGIN_BOTTOM = 0.8, 0.75, 0.8
TEXT_W = PAGE_W - 2 * MARGIN_X
USABLE_H = PAGE_H - MARGIN_TOP - MARGIN_BOTTOM  # the height blocks flow into on each page
BODY_SIZE = 9.5
LEADING = 1.35  # line height as a multiple of the font size

# Text is measured with a high-resolution renderer so wrapping and column widths follow the real glyph widths
# (at 72 dpi, hinting makes plain text measure up to 4% wider than it prints).
_MEASURE_DPI = 720
_RENDERER = RendererAgg(10, 10, _MEASURE_DPI)


class LayoutError(RuntimeError):
    """A block does not fit on a page (too tall, or a matrix too wide)."""


class WriteError(RuntimeError):
    """The PDF could not be written where it was asked for."""


def _font(size, weight="normal"):
    return FontProperties(size=size, weight=weight, family="sans-serif")


@functools.lru_cache(maxsize=None)
def text_size(text, size, weight="normal"):
    """(width, height, descent) of a string in inches; strings with $...$ are measured as mathtext."""
    ismath = text.count("$") >= 2 and text.count("$") % 2 == 0
    w, h, d = _RENDERER.get_text_width_height_descent(text or " ", _font(size, weight), ismath=ismath)
    return w / _MEASURE_DPI, h / _MEASURE_DPI, d / _MEASURE_DPI


def _words(text):
    """Split at spaces outside $...$, so a formula is never broken across lines."""
    words, current, in_math = [], "", False
    for char in text:
        if char == "$":
            in_math = not in_math
        if char == " " and not in_math:
            if current:
                words.append(current)
            current = ""
        else:
            current += char
    if current:
        words.append(current)
    return words


@functools.lru_cache(maxsize=None)
def _space_width(size, weight):
    return text_size("x x", size, weight)[0] - text_size("xx", size, weight)[0]


def line_size(line, size, weight="normal"):
    """(width, ascent, descent) of a line, summed word by word: parsing each formula once instead of every
    candidate line keeps wrapping fast, and the error is only the kerning across spaces."""
    words = _words(line) or [" "]
    sizes = [text_size(word, size, weight) for word in words]
    width = sum(w for w, _, _ in sizes) + _space_width(size, weight) * (len(words) - 1)
    return width, max(h - d for _, h, d in sizes), max(d for _, _, d in sizes)


def wrap(text, size, width, first_indent=0.0, weight="normal"):
    """Greedy line breaking by measured width; the first line may start after an indent."""
    lines, line = [], ""
    for word in _words(text):
        candidate = f"{line} {word}" if line else word
        limit = width - (first_indent if not lines else 0.0)
        if line and line_size(candidate, size, weight)[0] > limit:
            lines.append(line)
            line = word
        else:
            line = candidate
    lines.append(line)
    return lines


def _line_metrics(line, size, weight="normal"):
    """(ascent, height) of one line in inches: at least the font's own, more for tall mathtext."""
    _, ascent, descent = line_size(line, size, weight)
    ascent, descent = max(ascent, 0.78 * size / 72.0), max(descent, 0.24 * size / 72.0)
    return ascent, ascent + descent + (LEADING - 1.0) * size / 72.0


class Block:
    """Something placed at a height on the page; subclasses say how tall it is and how to draw it."""
    keep_with_next = False
    space_after = 0.08

    def height(self):
        raise NotImplementedError

    def draw(self, fig, top):
        raise NotImplementedError


def _put(fig, x, top, text, size, weight="normal", ha="left", color="black", va="top"):
    """Draw text `top` inches below the page top (its top edge, or its baseline with va="baseline")."""
    fig.text(x / PAGE_W, 1.0 - top / PAGE_H, text, fontsize=size, fontweight=weight, ha=ha, va=va,
             family="sans-serif", color=color)


class Paragraph(Block):
    """Wrapped text with optional $mathtext$, an optional bold lead-in and a left indent; lines share baselines
    with the lead so mixed text and formulas line up."""

    def __init__(self, text, size=BODY_SIZE, lead="", indent=0.0, weight="normal", color="black",
                 keep_with_next=False):
        self.text, self.size, self.lead, self.indent = text, size, lead, indent
        self.weight, self.color, self.keep_with_next = weight, color, keep_with_next
        self.lead_w = text_size(lead + " ", size, "bold")[0] if lead else 0.0
        self.lines = wrap(text, size, TEXT_W - indent, self.lead_w, weight) if text else [""]

    def _metrics(self):
        metrics = [_line_metrics(line, self.size, self.weight) for line in self.lines]
        if self.lead:
            lead_ascent, lead_h = _line_metrics(self.lead, self.size, "bold")
            metrics[0] = (max(metrics[0][0], lead_ascent), max(metrics[0][1], lead_h))
        return metrics

    def height(self):
        return sum(h for _, h in self._metrics())

    def draw(self, fig, top):
        x = MARGIN_X + self.indent
        for i, (line, (ascent, h)) in enumerate(zip(self.lines, self._metrics())):
            baseline = top + ascent
            if i == 0 and self.lead:
                _put(fig, x, baseline, self.lead, self.size, "bold", va="baseline")
            _put(fig, x + (self.lead_w if i == 0 else 0.0), baseline, line, self.size, self.weight,
                 color=self.color, va="baseline")
            top += h


class Heading(Paragraph):
    space_after = 0.06

    def __init__(self, text, level=1):
        super().__init__(text, size={0: 16, 1: 13, 2: 11}[level], weight="bold", keep_with_next=True)
        self.level = level

    def height(self):
        return super().height() + (0.12 if self.level == 1 else 0.04)

    def draw(self, fig, top):
        super().draw(fig, top + (0.12 if self.level == 1 else 0.04))


class Formula(Block):
    """One or more display lines of mathtext, centred."""

    def __init__(self, *lines, size=BODY_SIZE + 2):
        self.lines, self.size = lines, size

    def height(self):
        return sum(text_size(line, self.size)[1] + 0.09 for line in self.lines)

    def draw(self, fig, top):
        for line in self.lines:
            _put(fig, PAGE_W / 2, top + 0.03, line, self.size, ha="center")
            top += text_size(line, self.size)[1] + 0.09


class Table(Block):
    """A ruled table: bold header, one row per list, cell widths measured; the font shrinks to fit the page."""

    def __init__(self, header, rows, size=BODY_SIZE - 0.5, align=None):
        self.header, self.rows = [str(h) for h in header], [[str(c) for c in row] for row in rows]
        self.align = align or ["left"] + ["right"] * (len(header) - 1)
        self.size = size
        while self._widths(self.size, 0.18)[1] > TEXT_W and self.size > 5:
            self.size -= 0.5
        self.col_w, self.total_w = self._widths(self.size, 0.18)

    def _widths(self, size, pad):
        cols = list(zip(self.header, *self.rows))
        widths = [max(text_size(c, size, "bold" if i == 0 else "normal")[0] for i, c in enumerate(col)) + pad
                  for col in cols]
        return widths, sum(widths)

    def _row_metrics(self, row):
        """(ascent, height) shared by every cell of a row, so plain and mathtext cells share a baseline."""
        metrics = [_line_metrics(c, self.size) for c in row]
        return max(a for a, _ in metrics), max(h for _, h in metrics) + 0.02

    def height(self):
        return sum(self._row_metrics(r)[1] for r in [self.header] + self.rows) + 0.08

    def draw(self, fig, top):
        left = MARGIN_X + 0.1

        def rule(y):
            fig.add_artist(Line2D([left / PAGE_W, (left + self.total_w) / PAGE_W], [1 - y / PAGE_H] * 2,
                                  color="black", linewidth=0.6))

        rule(top)
        for r, row in enumerate([self.header] + self.rows):
            ascent, h = self._row_metrics(row)
            x, baseline = left, top + 0.04 + ascent
            weight = "bold" if r == 0 else "normal"
            for c, cell in enumerate(row):
                if self.align[c] == "right":
                    _put(fig, x + self.col_w[c] - 0.09, baseline, cell, self.size, weight, "right", va="baseline")
                else:
                    _put(fig, x + 0.09, baseline, cell, self.size, weight, va="baseline")
                x += self.col_w[c]
            top += h
            if r == 0:
                rule(top + 0.02)
        rule(top + 0.04)


def format_number(value, digits=6):
    """Integers without a decimal point, other numbers with `digits` significant digits; a minus sign, not a hyphen."""
    value = float(value)
    text = str(int(value)) if value == int(value) and abs(value) < 1e15 else f"{value:.{digits}g}"
    return text.replace("-", "\u2212")


class Matrices(Block):
    """Labelled matrices side by side, each a grid of numbers between brackets; wraps to a new row when the
    next one would pass the right margin."""
    GAP = 0.4

    def __init__(self, items, size=BODY_SIZE, digits=4):
        self.items = [(label, [[format_number(v, digits) for v in row] for row in m]) for label, m in items]
        self.size = size
        self.row_h = size / 72.0 * 1.45
        self.rows = self._arrange()

    def _cell_w(self, cells):
        return max(text_size(c, self.size)[0] for row in cells for c in row) + 0.14

    def _width(self, label, cells):
        return max(len(cells[0]) * self._cell_w(cells) + 0.12, text_size(label, self.size, "bold")[0])

    def _arrange(self):
        """Group the items into rows that fit the text width."""
        rows, row, used = [], [], 0.0
        for label, cells in self.items:
            w = self._width(label, cells)
            if w > TEXT_W - 0.1:   # it would run off the page's right edge
                raise LayoutError(f"the matrix {label} is {w:.2f} in wide; a page holds {TEXT_W - 0.1:.2f} in")
            if row and used + w > TEXT_W - 0.1:
                rows.append(row)
                row, used = [], 0.0
            row.append((label, cells))
            used += w + self.GAP
        rows.append(row)
        return rows

    def _row_height(self, row):
        return max(len(cells) for _, cells in row) * self.row_h + 0.34

    def height(self):
        return sum(self._row_height(row) for row in self.rows)

    def draw(self, fig, top):
        for row in self.rows:
            self._draw_row(fig, top, row)
            top += self._row_height(row)

    def _draw_row(self, fig, top, row):
        x = MARGIN_X + 0.1
        for label, cells in row:
            cell_w = self._cell_w(cells)
            _put(fig, x, top, label, self.size, "bold")
            grid_top = top + 0.24
            for i, cells_row in enumerate(cells):
                for j, c in enumerate(cells_row):
                    _put(fig, x + 0.08 + (j + 1) * cell_w - 0.06, grid_top + i * self.row_h, c, self.size, ha="right")
            bottom = grid_top + len(cells) * self.row_h
            for side, sx in ((1, x + 0.02), (-1, x + 0.1 + len(cells[0]) * cell_w)):
                xs = [sx + side * 0.05, sx, sx, sx + side * 0.05]
                ys = [grid_top - 0.03, grid_top - 0.03, bottom - 0.03, bottom - 0.03]
                fig.add_artist(Line2D([v / PAGE_W for v in xs], [1 - v / PAGE_H for v in ys],
                                      color="black", linewidth=0.8))
            x += self._width(label, cells) + self.GAP


class FigureBlock(Block):
    """A plot area of the given height; draw(fig, rect) adds axes inside rect = [left, bottom, width, height]
    (figure fractions). An optional caption goes underneath."""

    def __init__(self, draw, height, caption=""):
        self.draw_fn, self.fig_h = draw, height
        self.caption = Paragraph(caption, size=BODY_SIZE - 1, color="0.25") if caption else None

    def height(self):
        return self.fig_h + (self.caption.height() + 0.05 if self.caption else 0.0)

    def draw(self, fig, top):
        rect = [MARGIN_X / PAGE_W, 1 - (top + self.fig_h) / PAGE_H, TEXT_W / PAGE_W, self.fig_h / PAGE_H]
        self.draw_fn(fig, rect)
        if self.caption:
            self.caption.draw(fig, top + self.fig_h + 0.05)


class PageBreak(Block):
    """Start a new page unless at least `room` inches are left on the current one."""

    def __init__(self, room):
        self.room = room

    def height(self):
        return 0.0


class Document:
    """Blocks added in reading order; save() flows them onto pages and writes the PDF atomically."""

    def __init__(self, title_footer, subject=None, keywords=None):
        self.blocks, self.footer, self.subject, self.keywords = [], title_footer, subject, keywords

    def add(self, block):
        self.blocks.append(block)
        return block

    def _pages(self):
        """Group blocks into pages; a block marked keep_with_next (every heading) moves to the next page together
        with the block after it."""
        usable = USABLE_H
        pages, page, used = [], [], 0.0
        for i, block in enumerate(self.blocks):
            if isinstance(block, PageBreak):
                if page and used + block.room > usable:
                    pages.append(page)
                    page, used = [], 0.0
                continue
            need = block.height()
            if need > usable:
                raise LayoutError(f"a {type(block).__name__} is {need:.2f} in tall; a page holds {usable:.2f} in")
            chain, j = need, i
            while self.blocks[j].keep_with_next and j + 1 < len(self.blocks):
                chain += self.blocks[j].space_after + self.blocks[j + 1].height()
                j += 1
            if chain <= usable:  # a chain longer than a page cannot move as a whole; it flows instead
                need = chain
            if page and used + need > usable:
                pages.append(page)
                page, used = [], 0.0
            page.append(block)
            used += block.height() + block.space_after
        if page:
            pages.append(page)
        return pages

    def save(self, path):
        """Render every page to `path` via a temporary file in the same folder, so a failure leaves no half PDF.
        No creation date is written, so the same pages give the same bytes on every run."""
        if os.path.isdir(path):
            raise WriteError(f"cannot write {path}: it is a folder; give a file name, e.g. "
                             f"{os.path.join(path, 'HW1_theory.pdf')}")
        if os.path.exists(path) and not os.path.isfile(path):   # the rename below would replace /dev/null itself
            raise WriteError(f"cannot write {path}: it is not a plain file; give a file name")
        if os.path.isfile(path) and os.path.getsize(path):
            with open(path, "rb") as existing:
                if existing.read(5) != b"%PDF-":   # theory/fig5.json or a source file, named by mistake
                    raise WriteError(f"cannot write {path}: it holds something other than a PDF, which would be "
                                     "lost; give a PDF's name, e.g. HW1_theory.pdf")
        target = os.path.realpath(path)   # a link is written through, not replaced
        folder = os.path.dirname(target)
        try:
            handle, tmp = tempfile.mkstemp(suffix=".pdf", dir=folder)
        except OSError as error:
            raise WriteError(f"cannot write {path}: {error.strerror}; check that the folder exists and is "
                             "writable") from None
        os.close(handle)
        try:
            metadata = {"CreationDate": None, "Title": self.footer}
            if self.subject:
                metadata["Subject"] = self.subject
            if self.keywords:
                metadata["Keywords"] = self.keywords
            with PdfPages(tmp, metadata=metadata) as pdf:
                pages = self._pages()
                for number, blocks in enumerate(pages, start=1):
                    fig = Figure(figsize=(PAGE_W, PAGE_H))
                    top = MARGIN_TOP
                    for block in blocks:
                        block.draw(fig, top)
                        top += block.height() + block.space_after
                    _put(fig, PAGE_W / 2, PAGE_H - 0.5, f"{self.footer}  -  page {number} of {len(pages)}",
                         BODY_SIZE - 1.5, ha="center", color="0.4")
                    pdf.savefig(fig)
            os.chmod(tmp, 0o644)  # mkstemp makes the file private; the PDF is a shared hand-in
            os.replace(tmp, target)
        except OSError as error:
            raise WriteError(f"cannot write {path}: {error.strerror or error}") from None
        except Exception as error:
            if isinstance(error.__context__, KeyboardInterrupt):   # the PDF writer failing to close after a Ctrl-C
                raise KeyboardInterrupt from None
            raise
        finally:
            if os.path.exists(tmp):
                os.remove(tmp)

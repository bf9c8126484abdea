"""How the report's text and tables flow over letter pages: lines wrapped at spaces, long values shortened, a table
continued on as many pages as its rows need, and headed paragraphs continued on a new page when one is full.

These helpers know nothing of what a page says: report.py decides that (the summary, the tables' rows, the Method
section's paragraphs) and calls them. They are kept apart so that report.py reads as the report's pages, and the
measuring of rows and lines against the page lives in one place. As in report.py, figures are matplotlib Figure
objects made without pyplot.
"""
import textwrap

from matplotlib.figure import Figure
from matplotlib.table import Table

from curves import PAGE

TABLE_FONT_PT = 8
ROW_SCALE = 1.05          # stretch of matplotlib's default table row height
# matplotlib sizes table rows from Table.FONTSIZE (10 pt), whatever font size the cells use
ROW_HEIGHT_IN = Table.FONTSIZE / 72 * 1.2 * ROW_SCALE
BOTTOM = 0.05             # bottom margin of table pages (figure fraction)
TABLE_WIDTH = 0.86        # of the page; a table's columns share it (their widths: fractions of this)
CELL_PAD = 0.03           # a cell's text starts this fraction of its width from the left; it is not wrapped


def wrap(text, width):
    """Lines of at most `width` characters, broken at spaces only: "--batch-size" split at its hyphen would no
    longer read as one option, and a line must not start with the "%" of the number before it (a no-break space)."""
    return textwrap.wrap(text.replace(" %", "\u00a0%"), width, break_on_hyphens=False, break_long_words=False)


def shorten(value, width=70):
    text = str(value)
    return text if len(text) <= width else text[:width // 2 - 1] + " ... " + text[-(width // 2 - 4):]


# ----- tables -----

def rows_fitting(top):
    """How many table rows fit between `top` (figure fraction) and the bottom margin, header row excluded."""
    return max(1, int((top - BOTTOM) * PAGE[1] / ROW_HEIGHT_IN) - 2)


def table_pages(pdf, heading, columns, rows, widths, first_page=None):
    """Add `rows` as a table, continued on as many pages as needed; the first page may be given as (fig, top)."""
    fig, top = first_page or (Figure(figsize=PAGE), 0.95)
    remaining, title = list(rows), heading
    while True:
        chunk, remaining = remaining[:rows_fitting(top)], remaining[rows_fitting(top):]
        fig.text(0.08, top, title, fontsize=13, weight="bold", va="top")
        ax = fig.add_axes((0.08, BOTTOM, TABLE_WIDTH, top - 0.03 - BOTTOM))
        ax.axis("off")
        if chunk:
            table = ax.table(cellText=chunk, colLabels=columns, colWidths=widths, loc="upper center",
                             cellLoc="left")
            table.auto_set_font_size(False)
            table.set_fontsize(TABLE_FONT_PT)
            table.scale(1, ROW_SCALE)
            for (row, _), cell in table.get_celld().items():
                cell.PAD = CELL_PAD  # matplotlib's 0.1 of the column width indents wide columns too far
                if row == 0:
                    cell.set_facecolor("#dde4ee")
        pdf.savefig(fig)
        if not remaining:
            return
        fig, top, title = Figure(figsize=PAGE), 0.95, heading + " (continued)"


# ----- headed paragraphs -----

def paragraph_pages(title, paragraphs):
    """Pages titled `title` holding (heading, text) `paragraphs`: a bold heading and a wrapped paragraph each,
    continued on a new page ("<title> (continued)") when full."""
    figures, y = [], None
    for heading, text in paragraphs:
        parts = [wrap(part, 100) for part in text.split("\n\n")]   # "\n\n": parts a page may end between
        while parts:
            fit = _parts_fitting(parts, y) if figures else 0
            if not fit:   # not even its first part fits: a new page, which takes the parts that fit (one at least)
                figures.append(Figure(figsize=PAGE))
                page_title = title if len(figures) == 1 else f"{title} (continued)"
                figures[-1].text(0.08, 0.95, page_title, fontsize=13, weight="bold", va="top")
                y = 0.915
                fit = _parts_fitting(parts, y) or 1
            lines = [line for part in parts[:fit] for line in part + [""]][:-1]   # a blank line between parts
            figures[-1].text(0.08, y, heading, fontsize=10, weight="bold", va="top")
            figures[-1].text(0.08, y - 0.018, "\n".join(lines), fontsize=9, va="top", linespacing=1.35)
            y -= _paragraph_height(parts[:fit])
            heading, parts = heading.removesuffix(" (continued)") + " (continued)", parts[fit:]
    return figures


def _parts_fitting(parts, y):
    """How many of `parts`, from the first, fit with their heading between height `y` and the bottom margin."""
    return next((n for n in range(len(parts), 0, -1) if y - _paragraph_height(parts[:n]) >= BOTTOM), 0)


def _paragraph_height(parts):
    """Page height (figure fraction) of a heading and these wrapped parts, a blank line between them."""
    return 0.018 + 0.0165 * (sum(len(part) for part in parts) + len(parts) - 1) + 0.016

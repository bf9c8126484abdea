"""Print the theory answers (default), print them as JSON (--json), or write the PDF (--pdf PATH)."""
import argparse
import json
import sys

from theory import answers, cnn, fingerprint, writeup
from theory.pdf import LayoutError, WriteError


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m theory", description=__doc__)
    parser.add_argument("--json", action="store_true", help="print the machine-readable answers T1..T4")
    parser.add_argument("--pdf", metavar="PATH", help="write the theory write-up to PATH")
    parser.add_argument("--fig5", metavar="PATH", default=cnn.FIG5_PATH,
                        help="Fig. 5 values (F, Filter1, Filter2) for Problem 4 (default: theory/fig5.json)")
    parser.add_argument("--if-stale", action="store_true",
                        help="with --pdf: write only when the PDF is missing or was made from other sources than "
                             "today's (make zip uses this)")
    args = parser.parse_args(argv)
    if args.pdf is not None and not args.pdf.strip():
        parser.error("--pdf needs a file name, e.g. --pdf HW1_theory.pdf")
    if args.if_stale and not args.pdf:
        parser.error("--if-stale needs --pdf PATH")
    said = sys.stderr if args.json else sys.stdout   # with --json, stdout holds the JSON alone
    up_to_date = args.if_stale and fingerprint.is_current(args.pdf, args.fig5)
    if up_to_date:
        print(f"{args.pdf} is up to date with its sources", file=said)
        if not args.json:
            return 0
    try:
        results = answers.solve_all(args.fig5)
        if args.pdf and not up_to_date:
            writeup.write_pdf(results, args.pdf)
            print(f"wrote {args.pdf}", file=said)
        if args.json:
            # allow_nan=False: bare NaN or Infinity is not JSON; load_fig5's limits keep every answer finite
            print(json.dumps(answers.to_json(results), indent=2, allow_nan=False))
        elif not args.pdf:
            print(answers.format_text(results))
    except (cnn.Fig5Error, LayoutError, WriteError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BrokenPipeError:  # e.g. python -m theory --json | head: the reader left, nothing is wrong
        sys.stderr.close()
        sys.exit(0)
    except KeyboardInterrupt:   # the PDF is written under a temporary name, then renamed
        print("interrupted (Ctrl-C); no file was left half-written", file=sys.stderr)
        sys.exit(130)

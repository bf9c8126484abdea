"""The one table of bench/gpu_p2.sh: each finished run is a JSON line in a results file, and the markdown table
(every run, then per row the mean accuracy and median training time, then ours against theirs with the targets of
issue 24) is rewritten from that file after every run, so a call cut short keeps what it measured.

    python bench/gpu_table.py info --out INFO.json     (the card, driver, torch and the clocks it was found at)
    python bench/gpu_table.py table --results R.jsonl --info INFO.json --table T.md
    python bench/gpu_table.py add --results R.jsonl --info INFO.json --table T.md --row NAME --note "not run: ..."

A result line: {"row": "fast", "seed": 0, "acc": 0.9068, "plain": 0.8972, "train_s": 1.49,
"device": "NVIDIA H200", ...}; optional "with_tta_s" (airbench94_muon's own total, its final TTA included),
"warmup_s", "precision", "note". acc null: the run did not finish (its note says why).
"""
import argparse
import datetime
import json
import math
import os
import platform
import statistics
import subprocess
import sys

import torch

# Ours against theirs, in the order the table lists them: (ours, theirs, the target, its check).
COMPARISONS = (
    ("fast", "airbench94_muon", "mean >= theirs, median time <= 0.75x theirs",
     lambda d, r, ours: d >= 0 and r <= 0.75),
    ("best", "airbench96", "mean >= 93.5 %, median time <= 0.75x theirs",
     lambda d, r, ours: ours >= 93.5 and r <= 0.75),
    ("fast fp16", "fast", "fp16 mean >= 90.4 %", lambda d, r, ours: ours >= 90.4),
    ("fast fp16", "airbench94_muon", "", None),
    ("fast candidates", "fast", "", None),
    ("fast candidates", "airbench94_muon", "", None),
)


def record(results, row, table=None, info=None):
    """Append one run (a dict, as the module docstring says) to `results`; rewrite `table` from it."""
    with open(results, "a") as f:
        f.write(json.dumps(row) + "\n")
    if table:
        write_table(results, info, table)


def read_results(results):
    if not os.path.isfile(results):
        return []
    with open(results) as f:
        return [json.loads(line) for line in f if line.strip()]


def machine_info():
    """The card, its driver and state (nvidia-smi), torch and CUDA versions; the CPU on a dry run."""
    info = dict(date=datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
                torch=torch.__version__, cuda=torch.version.cuda, python=platform.python_version())
    # P2_COMMIT first: the device machine's copy can carry git metadata older than the files that run there
    info["commit"] = os.environ.get("P2_COMMIT")
    if not info["commit"]:
        try:
            info["commit"] = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                                            check=True).stdout.strip()
        except (OSError, subprocess.CalledProcessError):
            info["commit"] = "unknown (no git here; pass P2_COMMIT)"
    if torch.cuda.is_available():
        info["card"] = torch.cuda.get_device_name()
        props = torch.cuda.get_device_properties(0)
        info["card"] += f", compute capability {props.major}.{props.minor}, {props.total_memory / 2**30:.0f} GiB"
        query = "driver_version,clocks.sm,clocks.max.sm,clocks.mem,power.limit,temperature.gpu"
        try:
            out = subprocess.run(["nvidia-smi", f"--query-gpu={query}", "--format=csv,noheader"],
                                 capture_output=True, text=True, check=True, timeout=30).stdout.strip()
            driver, sm, sm_max, mem, power, temp = [v.strip() for v in out.splitlines()[0].split(",")]
            info["driver"] = driver
            info["state"] = f"found at SM {sm} (max {sm_max}), memory {mem}, power limit {power}, {temp} C"
        except (OSError, subprocess.SubprocessError, ValueError) as e:
            info["driver"] = f"unknown (nvidia-smi: {type(e).__name__})"
    else:
        info["card"] = "none: a dry run on the CPU (no GPU figure here)"
        info["driver"] = "none"
    return info


def _fmt(value, spec=".2f", unit=""):
    return "-" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:{spec}}{unit}"


def summaries(rows):
    """{row name: (accuracies in %, training times)} over the runs that finished."""
    out = {}
    for r in rows:
        if r.get("acc") is not None and r.get("train_s") is not None:
            accs, times = out.setdefault(r["row"], ([], []))
            accs.append(100 * r["acc"])
            times.append(r["train_s"])
    return out


def table_text(rows, info):
    info = info or {}
    lines = [f"# p2 against the public airbench trainers on one card: {info.get('card', '?')}", "",
             f"- card: {info.get('card', '?')}; driver {info.get('driver', '?')}; "
             f"{info.get('state', 'state not read')}",
             f"- torch {info.get('torch', '?')} (CUDA {info.get('cuda', '?')}), Python {info.get('python', '?')}; "
             f"commit {info.get('commit', '?')}; {info.get('date', '?')}",
             "- data: the JPEG-q75 copy of CIFAR-10 (`build.py --format bin`), the same files for every row",
             "- training s: CUDA events from the first step to the final weights; ours excludes the whitening fit "
             "(milliseconds), airbench94_muon's includes it (its own timer, its per-epoch test evaluation left out, "
             "as it does); airbench94_muon's own total with its final TTA is in its note. Compilation and "
             "warm-up are never counted. Accuracy: each trainer's own test-time augmentation.", "",
             "| row | seed | accuracy (TTA) | without TTA | training s | precision | note |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        note = r.get("note", "")
        if r.get("with_tta_s") is not None:
            note = (note + "; " if note else "") + f"{r['with_tta_s']:.2f} s with its final TTA"
        lines.append(f"| {r['row']} | {r.get('seed', '')} | {_fmt(r.get('acc') and 100 * r['acc'], unit=' %')} | "
                     f"{_fmt(r.get('plain') and 100 * r['plain'], unit=' %')} | {_fmt(r.get('train_s'))} | "
                     f"{r.get('precision', '')} | {note} |")
    stats = summaries(rows)
    lines += ["", "| row | runs | mean accuracy (min-max) | median training s (min-max) |", "|---|---|---|---|"]
    for name, (accs, times) in stats.items():
        lines.append(f"| {name} | {len(accs)} | {statistics.mean(accs):.2f} % ({min(accs):.2f}-{max(accs):.2f}) | "
                     f"{statistics.median(times):.2f} ({min(times):.2f}-{max(times):.2f}) |")
    lines += ["", "| ours / theirs | accuracy, points (means) | time (medians) | target (issue 24) | met |",
              "|---|---|---|---|---|"]
    for ours, theirs, target, check in COMPARISONS:
        if ours in stats and theirs in stats:
            mine, rival = stats[ours], stats[theirs]
            d = statistics.mean(mine[0]) - statistics.mean(rival[0])
            ratio = statistics.median(mine[1]) / statistics.median(rival[1])
            met = "" if check is None else ("yes" if check(d, ratio, statistics.mean(mine[0])) else "no")
            runs = f" ({len(mine[0])} against {len(rival[0])} runs)"
            lines.append(f"| {ours} / {theirs}{runs} | {d:+.2f} | x{ratio:.2f} | {target} | {met} |")
    return "\n".join(lines) + "\n"


def write_table(results, info, table):
    if isinstance(info, str):
        with open(info) as f:
            info = json.load(f)
    text = table_text(read_results(results), info)
    tmp = table + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, table)   # never a half-written table, even if the call is killed here


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    i = sub.add_parser("info", help="write the machine's description as JSON")
    i.add_argument("--out", required=True)
    for name, what in (("table", "rewrite the table from the results"), ("add", "add a row that did not run")):
        t = sub.add_parser(name, help=what)
        t.add_argument("--results", required=True)
        t.add_argument("--info")
        t.add_argument("--table", required=True)
        if name == "add":
            t.add_argument("--row", required=True)
            t.add_argument("--note", required=True)
    args = p.parse_args(argv)
    if args.command == "info":
        info = machine_info()
        with open(args.out, "w") as f:
            json.dump(info, f, indent=1)
        print("\n".join(f"{k}: {v}" for k, v in info.items()))
    elif args.command == "add":
        record(args.results, dict(row=args.row, seed="", acc=None, train_s=None, note=args.note), args.table,
               args.info)
    else:
        write_table(args.results, args.info, args.table)
        with open(args.table) as f:
            sys.stdout.write(f.read())


if __name__ == "__main__":
    main()

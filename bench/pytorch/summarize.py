#!/usr/bin/python3
"""Mean/std table of census.py JSON lines: python3 bench/pytorch/summarize.py results.jsonl"""
import json
import statistics as st
import sys

ORDER = ["single", "shared-bottom", "esmm", "omoe", "mmoe", "ple", "aitm", "nse", "resflow-logit", "resflow"]
rows = {}
for path in sys.argv[1:] or ["-"]:
    f = sys.stdin if path == "-" else open(path)
    for line in f:
        line = line.strip()
        if line.startswith("{"):
            r = json.loads(line)
            rows.setdefault(r["model"], []).append(r)


def ms(xs, nd=4):
    return f"{st.mean(xs):.{nd}f} ± {st.stdev(xs):.{nd}f}" if len(xs) > 1 else f"{xs[0]:.{nd}f}"


print("| model | seeds | AUC income (mean ± std) | AUC marital (mean ± std) | samples/s (mean) | epochs (best) | params |")
print("|---|---|---|---|---|---|---|")
for m in sorted(rows, key=lambda m: ORDER.index(m) if m in ORDER else 99):
    rs = rows[m]
    print(f"| {m} | {','.join(str(r['seed']) for r in rs)} | {ms([r['auc']['income'] for r in rs])} | "
          f"{ms([r['auc']['marital'] for r in rs])} | {st.mean(r['samples_per_s'] for r in rs):,.0f} | "
          f"{'/'.join(str(r['epochs']) for r in rs)} ({'/'.join(str(r['best_epoch']) for r in rs)}) | {rs[0]['params']:,} |")

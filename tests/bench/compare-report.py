#!/usr/bin/python3
"""tests/bench/compare's report: RAW (what compare-guest.sh measured) into
OUT/report.md and OUT/summary.json.  Every ratio is the median over runs of
the ratio within a run (the builds took turns in each run, in one boot)."""
import json
import os
import random
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import report as bench  # noqa: E402  (fio parsing and tables are shared)

SYSTEMS = {"vlbqsd": "vloopback + qemu-storage-daemon", "vlbc": "vloopback C RAM disk"}
EVENTS = bench.CORE_LABELS


class NoCpu:
    """compare does not sample /proc/stat: no CPU figures"""

    def window(self, start, end):
        return None


def interval(ratios):
    """95 % bootstrap interval of the median of ratios (fixed seed: the
    same raw data gives the same report), or None with fewer than 3"""
    if len(ratios) < 3:
        return None
    rng = random.Random(0)
    meds = sorted(statistics.median(rng.choices(ratios, k=len(ratios)))
                  for _ in range(2000))
    return meds[50], meds[1949]


def fmt_rel(ratios):
    """the median ratio and, in brackets, its 95 % interval"""
    if not ratios:
        return "–"
    iv = interval(ratios)
    med = bench.fmt_ratio(statistics.median(ratios))
    return med if iv is None else f"{med} ({iv[0]:.2f}–{iv[1]:.2f})"


def read_sides(raw):
    with open(os.path.join(raw, "sides.tsv")) as f:
        return [line.rstrip("\n").split("\t") for line in f if line.strip()]


def counts(raw, name):
    """{event: per-I/O median over runs} of counts/NAME.RUN.csv"""
    d = os.path.join(raw, "counts")
    files = sorted(os.listdir(d)) if os.path.isdir(d) else []
    per_run = [bench.counts_per_io(os.path.join(d, f[:-4])) for f in files
               if f.startswith(name + ".") and f.endswith(".csv")]
    per_run = [r for r in per_run if r]
    return {k: statistics.median(r[k] for r in per_run if k in r)
            for k in per_run[0]} if per_run else {}


def main(raw, out):
    sides = read_sides(raw)
    labels = [s[0] for s in sides]
    env = bench.read_kv(os.path.join(raw, "env.txt"))
    host = bench.read_kv(os.path.join(raw, "host.txt"))
    names = ["vduse." + j for j in bench.JOBS]
    names += [f"{lab}-{sys}.{j}" for lab in labels for sys in SYSTEMS for j in bench.JOBS]
    res = bench.collect(raw, "block", names, NoCpu())
    runs = max((s["runs"] for s in res.values()), default=0)
    md = [f"# vloopback builds compared in one boot ({host.get('date', '?')})", ""]
    md += [f"Guest kernel {env.get('kernel', '?')}; host: {host.get('host_cpu', '?')}, "
           f"{host.get('host_cores', '?')} cores, load {host.get('load_before', '?')} before, "
           f"{host.get('load_after', '?')} after; {runs} runs of {host.get('runtime', '?')} s "
           f"(ramp {host.get('ramp', '?')} s) per job, the builds in turn (order reversed every "
           "other run), VDUSE with the same qemu-storage-daemon once per run.  Figures are "
           "medians over runs; ratios are medians of the ratios within each run, and "
           "against the first build with a 95 % bootstrap interval of that median in "
           "brackets: a difference inside it is not one this boot can show.", ""]
    md += ["| build | commit |", "|---|---|"]
    md += [f"| {s[0]} | {s[2] if len(s) > 2 else '?'} |" for s in sides] + [""]
    summary = {"host": host, "env": env, "sides": sides, "block": {}, "events": {}}
    base = labels[0]
    for sys, title in SYSTEMS.items():
        header = ["job", "VDUSE"] + labels
        header += [f"{lab} / {base}" for lab in labels[1:]]
        header += [f"{lab} / VDUSE" for lab in labels]
        rows = []
        for job, (jdesc, unit, key) in bench.JOBS.items():
            cells = [res.get(f"{lab}-{sys}.{job}") for lab in labels]
            if not any(cells):
                continue
            vd = res.get("vduse." + job)
            row = [f"{jdesc} ({unit})", bench.fmt(vd and vd[key])]
            row += [bench.fmt(c and c[key]) for c in cells]
            rel = [bench.paired_ratios(c, cells[0], key) for c in cells[1:]]
            vs = [bench.paired_ratio(c, vd, key) for c in cells]
            row += [fmt_rel(r) for r in rel] + [bench.fmt_ratio(r) for r in vs]
            rows.append(row)
            summary["block"][f"{sys}.{job}"] = {
                "unit": unit, "vduse": vd and vd[key],
                "builds": {lab: c and c[key] for lab, c in zip(labels, cells)},
                "vs_first": {lab: statistics.median(r) if r else None
                             for lab, r in zip(labels[1:], rel)},
                "vs_first_runs": dict(zip(labels[1:], rel)),
                "vs_vduse": dict(zip(labels, vs))}
        if rows:  # a system compare was not asked to measure has none
            md += [f"## {title}", "", bench.table(header, rows), ""]
    cols = ["vduse"] + [f"{lab}-{sys}" for sys in SYSTEMS for lab in labels]
    data = {c: counts(raw, c) for c in cols}
    cols = [c for c in cols if data[c]]
    if cols:
        rows = [[desc] + [bench.fmt(data[c].get(ev)) for c in cols]
                for ev, desc in EVENTS if any(ev in data[c] for c in cols)]
        md += ["## Events per I/O (4k random read, QD32)", "",
               "Counted system-wide (perf stat) over a fixed number of reads, median over runs.",
               "", bench.table(["event"] + cols, rows), ""]
        summary["events"] = data
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "report.md"), "w") as f:
        f.write("\n".join(md))
    with open(os.path.join(out, "summary.json"), "w") as f:
        json.dump(summary, f, indent=1, default=str)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: compare-report.py RAW OUT")
    main(sys.argv[1], sys.argv[2])

"""Tables of module-time.md from guest.sh's cost.txt.

usage: report.py COST_TXT LABEL,LABEL... [JOB,JOB...]
The first label is the reference of the IOPS ratios (run-by-run medians).
"""
import sys, statistics as st
from collections import defaultdict
names = ["notify", "kick", "take", "map", "unmap", "chains", "zero", "harvest", "arm"]
JOBS = {"rr4k-qd1": "4k random read, QD1", "rr4k-qd32": "4k random read, QD32",
        "rw4k-qd32": "4k random write, QD32", "sr1m-qd4": "1M sequential read, QD4",
        "sw1m-qd4": "1M sequential write, QD4"}
SYS = {"vlbqsd": "vloopback + qemu-storage-daemon", "vlbc": "vloopback C RAM disk"}
order = sys.argv[2].split(",")
only = sys.argv[3].split(",") if len(sys.argv) > 3 else None
rows = defaultdict(dict)  # (sys, job) -> label -> run -> r
for line in open(sys.argv[1]):
    head, c0, c1 = line.split("|")
    label, sysn, job, run, ios, busy = head.split()
    if only and job not in only: continue
    a = list(map(int, c0.split())); b = list(map(int, c1.split()))
    d = {names[i]: tuple(b[3*i+k] - a[3*i+k] for k in range(3)) for i in range((len(a) - 1) // 3)}
    ios = int(ios); cpu = int(busy) * 1e7
    r = {"ios": ios, "cpu": cpu / ios / 1e3, "clk": b[-1], "slow": 0, "spans": 0}
    tot = 0
    for k in ["notify", "take", "map", "unmap", "kick", "zero", "harvest", "arm"]:
        cnt, ns, slow = d.get(k, (0, 0, 0))
        r[k + "/io"] = cnt / ios
        r[k] = ns / ios / 1e3
        if k in ("notify", "take", "map", "unmap"):
            tot += ns; r["slow"] += slow; r["spans"] += cnt + slow
    r["module"] = tot / ios / 1e3
    r["share"] = 100 * tot / cpu
    rows[(sysn, job)].setdefault(label, {})[int(run)] = r
med = lambda xs: st.median(xs) if xs else float("nan")
def f(x, p=2):
    return f"{x:,.{p}f}"
ref = order[0]
for sysn in SYS:
    print(f"\n### {SYS[sysn]}\n")
    for job in JOBS:
        if (sysn, job) not in rows: continue
        g = rows[(sysn, job)]
        print(f"**{JOBS[job]}**\n")
        print("| build | IOPS | vs " + ref + " | guest CPU µs/I/O | notifies/I/O | takes/I/O | notify µs/I/O | take µs/I/O | map µs/I/O | unmap µs/I/O | module µs/I/O | share of CPU | slow spans |")
        print("|---|" + "---:|" * 12)
        for lab in order:
            if lab not in g: continue
            rs = g[lab]
            runs = sorted(rs)
            iops = med([rs[k]["ios"] / 5 for k in runs])
            ratio = med([rs[k]["ios"] / g[ref][k]["ios"] for k in runs if k in g[ref]])
            m = lambda key: med([rs[k][key] for k in runs])
            slow = sum(rs[k]["slow"] for k in runs) / max(sum(rs[k]["spans"] for k in runs), 1) * 100
            print(f"| {lab} | {iops:,.0f} | {ratio:.2f}× | {m('cpu'):,.1f} | {m('notify/io'):.2f} | {m('take/io'):.2f} | {f(m('notify'))} | {f(m('take'))} | {f(m('map'))} | {f(m('unmap'))} | {f(m('module'))} | {m('share'):.1f} % | {slow:.2f} % |")
        print()
# sub-spans of the instrumented new builds
print("\n### Inside the new module's spans (µs per I/O, medians)\n")
print("| system | job | build | zeroing (in map) | harvest (in take) | timer start/stop (in take) | kicks/I/O | kick µs/I/O |")
print("|---|---|---|---:|---:|---:|---:|---:|")
for (sysn, job), g in sorted(rows.items()):
    for lab in order:
        # builds without these spans (old) count none of them
        if lab not in g or not any(r["zero/io"] or r["arm/io"] for r in g[lab].values()): continue
        rs = g[lab]; m = lambda key: med([r[key] for r in rs.values()])
        print(f"| {sysn} | {job} | {lab} | {f(m('zero'))} | {f(m('harvest'))} | {f(m('arm'))} | {m('kick/io'):.2f} | {f(m('kick'))} |")
clks = [r["clk"] for g in rows.values() for rs in g.values() for r in rs.values()]
print(f"\nClock read: {med(clks):.0f} ns (median of every sample).")

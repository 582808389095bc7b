#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""report.py RAW OUT: turn what the bench guest measured (RAW, see guest.sh)
into OUT/report.md, OUT/chart.png (gnuplot) and OUT/summary.json.

Every figure is a median over runs, with its spread ((max - min) / median),
and its ratio to VDUSE and to null_blk measured in the same boot: under TCG
only such ratios mean something.  The targets of issue 7 are reported as met
or not; they never make this fail.  It fails (exit 1) only when the results
are unusable: no fio result at all, or an input or chart step that broke.
"""
import json
import os
import re
import statistics
import subprocess
import sys

SYSTEMS = {
    "nullblk": "null_blk (in-kernel, no user space): the ceiling",
    "vduse": "VDUSE + qemu-storage-daemon vduse-blk (null-co)",
    "nbd": "NBD: qemu-nbd --connect (null-co), one unix socket",
    "ublk": "ublk, the kernel's selftest server kublk with its null target (7.x guest)",
    "vlbqsd": "vloopback + qemu-storage-daemon vhost-user-blk (null-co)",
    "vlbc": "vloopback, in-process C RAM disk (examples/ramdisk)",
    "vlbct": "the same with a thread per queue (examples/ramdisk --thread-per-queue; "
             "scaling only)",
    "vlbpy": "vloopback, Python RAM disk (examples/python/ramdisk.py)",
    "vlbnull": "vloopback, in-process C device storing nothing (examples/ramdisk --null)",
    "vlbnullpoll": "the same, polling its ring for 500 µs after each request "
                   "(examples/ramdisk --null --poll 500)",
    "veth": "virtio-net ceiling: a veth pair between two network namespaces",
    "vlbnet": "virtio-net: two vloopback ports forwarded by dpdk-testpmd (vhost-user, io mode)",
}
# The systems of the main boot, and of the ublk anchor's boot (guest.sh --kublk)
MAIN_SYSTEMS = ["nullblk", "vduse", "nbd", "ublk", "vlbqsd", "vlbc", "vlbpy"]
ANCHOR_SYSTEMS = ["ublk", "vlbnull", "vlbnullpoll", "nullblk"]
SHORT = {
    "nullblk": "null_blk", "vduse": "VDUSE+qsd", "nbd": "NBD qemu-nbd",
    "ublk": "ublk", "vlbqsd": "vloopback+qsd", "vlbc": "vloopback C",
    "vlbct": "vloopback C, thread per queue", "vlbpy": "vloopback Python", "vlbnull": "vloopback C null",
    "vlbnullpoll": "vloopback C null, polling",
}
# name: (title, unit, what to take from fio)
JOBS = {
    "rr4k-qd1": ("4k random read, QD1", "IOPS", "iops"),
    "rr4k-qd32": ("4k random read, QD32", "IOPS", "iops"),
    "rw4k-qd32": ("4k random write, QD32", "IOPS", "iops"),
    "sr1m-qd4": ("1M sequential read, QD4", "MB/s", "mbps"),
    "sw1m-qd4": ("1M sequential write, QD4", "MB/s", "mbps"),
}
SCALE_SYSTEMS = ["nullblk", "vduse", "vlbqsd", "vlbc", "vlbct"]
# virtio-net: the ceiling first; figures: (key, title, unit)
NETS = ["veth", "vlbnet"]
NET_SHORT = {"veth": "veth pair", "vlbnet": "vloopback + testpmd"}
NET_FIGS = [
    ("tcp_gbps", "TCP, namespace 0 → 1", "Gbit/s"),
    ("rev_gbps", "TCP, 1 → 0 (iperf3 -R)", "Gbit/s"),
    ("rtt_p50_us", "ping rtt, median", "µs"),
    ("rtt_p90_us", "ping rtt, p90", "µs"),
    ("rtt_mean_us", "ping rtt, mean", "µs"),
]
# chart colours: the alternatives cool, vloopback warm
COLOURS = {
    "nullblk": "#9e9e9e", "vduse": "#1f5fa8", "nbd": "#6fb3d9", "ublk": "#3a9e8f",
    "vlbqsd": "#d9480f", "vlbc": "#f08c00", "vlbct": "#ffb84d", "vlbpy": "#f5c542", "vlbnull": "#c2255c",
    "vlbnullpoll": "#e64980",
}


def read_kv(path):
    """key=value lines (values may hold spaces and '=')"""
    out = {}
    if os.path.exists(path):
        with open(path) as f:
            for line in f:
                if "=" in line:
                    k, v = line.rstrip("\n").split("=", 1)
                    out[k] = v
    return out


def read_systems(raw):
    """systems.tsv -> {(sys, queues): (status, device or note)}"""
    out = {}
    with open(os.path.join(raw, "systems.tsv")) as f:
        for line in f:
            parts = line.rstrip("\n").split("\t")
            if len(parts) == 4:
                out[(parts[0], parts[2])] = (parts[1], parts[3])
    return out


class CpuLog:
    """/proc/stat samples: time, busy and idle ticks, context switches, interrupts"""

    def __init__(self, path, hz):
        self.hz = hz
        self.rows = []
        if os.path.exists(path):
            with open(path) as f:
                for line in f:
                    p = line.split()
                    if len(p) == 5:
                        self.rows.append([float(p[0])] + [int(x) for x in p[1:]])

    def window(self, start, end):
        """(seconds, busy CPU seconds, context switches, interrupts) between
        the first sample after start and the last before end, or None"""
        inside = [r for r in self.rows if start <= r[0] <= end]
        if len(inside) < 2:
            return None
        a, b = inside[0], inside[-1]
        return (b[0] - a[0], (b[1] - a[1]) / self.hz, b[3] - a[3], b[4] - a[4])


def fio_result(path, cpu):
    """The figures of one fio JSON file, or None if fio wrote none"""
    try:
        with open(path) as f:
            text = f.read()
        # fio may print a warning line before the JSON
        d = json.loads(text[text.index("{"):])
    except (OSError, ValueError):
        return None
    j = d["jobs"][0]
    rd, wr = j["read"], j["write"]
    iops = rd["iops"] + wr["iops"]
    runtime_ms = max(rd["runtime"], wr["runtime"])
    if runtime_ms == 0 or iops == 0:
        return None
    main = rd if rd["iops"] >= wr["iops"] else wr
    pct = main.get("clat_ns", {}).get("percentile", {})
    r = {
        "iops": iops,
        "mbps": (rd["bw_bytes"] + wr["bw_bytes"]) / 1e6,
        "clat_p50_us": pct.get("50.000000", 0) / 1000,
        "clat_p99_us": pct.get("99.000000", 0) / 1000,
        "fio_cpu_pct": j["usr_cpu"] + j["sys_cpu"],
    }
    # The measured phase ended when the report was written: leave a margin
    end = d["timestamp_ms"] / 1000 - 0.15
    w = cpu.window(end - runtime_ms / 1000 + 0.1, end)
    if w and w[0] > 0:
        ios = iops * w[0]
        r["cpu_us_per_io"] = w[1] / ios * 1e6
        r["ctx_per_io"] = w[2] / ios
        r["irq_per_io"] = w[3] / ios
        r["cpu_busy_pct"] = 100 * w[1] / w[0]
    return r


def summarize(results):
    """Median and spread of each figure over the runs"""
    if not results:
        return None
    s = {"runs": len(results)}
    for key in results[0]:
        vals = [r[key] for r in results if key in r]
        if len(vals) < len(results):
            continue
        med = statistics.median(vals)
        s[key] = med
        s[key + "_min"] = min(vals)
        s[key + "_max"] = max(vals)
        s[key + "_spread"] = (max(vals) - min(vals)) / med if med else 0
    return s


def collect(raw, sub, names, cpu):
    """{name: summary} for RAW/sub/NAME.RUN.json"""
    out = {}
    d = os.path.join(raw, sub)
    files = sorted(os.listdir(d)) if os.path.isdir(d) else []
    for name in names:
        runs = {int(f[len(name) + 1:-5]): fio_result(os.path.join(d, f), cpu)
                for f in files
                if f.startswith(name + ".") and f[len(name) + 1:-5].isdigit()}
        runs = {n: r for n, r in runs.items() if r}
        s = summarize(list(runs.values()))
        if s:
            s["by_run"] = runs
            out[name] = s
    return out


def paired_ratios(a, b, key):
    """a's figure / b's figure within each run both have"""
    if not a or not b:
        return []
    common = sorted(set(a["by_run"]) & set(b["by_run"]))
    return [a["by_run"][n][key] / b["by_run"][n][key] for n in common
            if key in a["by_run"][n] and b["by_run"][n].get(key)]


def paired_ratio(a, b, key):
    """Median over runs of a's figure / b's figure in the same run: runs of
    all systems are interleaved, so this cancels the host's drift, which
    dividing the medians would not.  None if they share no run."""
    vals = paired_ratios(a, b, key)
    return statistics.median(vals) if vals else None


def iperf_gbps(path):
    """Gbit/s that the receiving end counted, from one iperf3 -J file, or None"""
    try:
        with open(path) as f:
            bps = json.load(f)["end"]["sum_received"]["bits_per_second"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return bps / 1e9 if bps else None


def ping_rtts(path):
    """The rtt (µs) of every reply in one ping output, and the loss (%)"""
    rtts, loss = [], None
    if os.path.exists(path):
        with open(path) as f:
            for line in f:
                m = re.search(r" time=([0-9.]+) ms", line)
                if m:
                    rtts.append(float(m.group(1)) * 1000)
                m = re.search(r"([0-9.]+)% packet loss", line)
                if m:
                    loss = float(m.group(1))
    return rtts, loss


def net_collect(raw):
    """{net: summary} for RAW/net/NET.{tcp,tcp-rev,ping}.RUN.*"""
    d = os.path.join(raw, "net")
    files = os.listdir(d) if os.path.isdir(d) else []
    out = {}
    for net in NETS:
        runs = sorted({int(f.split(".")[2]) for f in files
                       if f.startswith(net + ".") and f.split(".")[2].isdigit()})
        by_run = {}
        for n in runs:
            r = {}
            for key, name in (("tcp_gbps", "tcp"), ("rev_gbps", "tcp-rev")):
                v = iperf_gbps(os.path.join(d, f"{net}.{name}.{n}.json"))
                if v:
                    r[key] = v
            rtts, loss = ping_rtts(os.path.join(d, f"{net}.ping.{n}.txt"))
            if rtts:
                r["rtt_p50_us"] = statistics.median(rtts)
                r["rtt_p90_us"] = statistics.quantiles(rtts, n=10)[-1] \
                    if len(rtts) > 1 else rtts[0]
                r["rtt_mean_us"] = statistics.fmean(rtts)
                r["pings"] = len(rtts)
            if loss is not None:
                r["loss_pct"] = loss
            if r:
                by_run[n] = r
        s = summarize(list(by_run.values()))
        if s:
            s["by_run"] = by_run
            out[net] = s
    return out


def read_input(path):
    """input_latency's lines -> {way: {key: value}}"""
    out = {}
    if os.path.exists(path):
        with open(path) as f:
            for line in f:
                kv = dict(p.split("=", 1) for p in line.split())
                way = kv.pop("via", None)
                if way:
                    out[way] = {k: float(v) for k, v in kv.items()}
    return out


MEM_KEYS = ["MemFree", "Slab", "SUnreclaim", "Shmem", "VmallocUsed", "Percpu",
            "PageTables", "KernelStack", "AnonPages"]


def meminfo(path):
    out = {}
    with open(path) as f:
        for line in f:
            k, v = line.split(":", 1)
            out[k] = int(v.split()[0])
    return out


def mem_delta(raw, sys):
    before = os.path.join(raw, "mem", sys + ".block.q1.before")
    after = os.path.join(raw, "mem", sys + ".block.q1.after")
    if not (os.path.exists(before) and os.path.exists(after)):
        return None
    b, a = meminfo(before), meminfo(after)
    return {k: a.get(k, 0) - b.get(k, 0) for k in MEM_KEYS}


def rss(raw, name):
    """mem/NAME: [(comm, {VmRSS: kB, ...})]"""
    path = os.path.join(raw, "mem", name)
    out = []
    if os.path.exists(path):
        with open(path) as f:
            for line in f:
                if line.startswith("pid="):
                    out.append((line.split("comm=", 1)[1].strip(), {}))
                elif out and ":" in line:
                    k, v = line.split(":", 1)
                    out[-1][1][k] = int(v.split()[0])
    return out


# ---- formatting ----

# The events counted per I/O (lib.sh's COUNT_EVENTS and the bench's
# probes), as the tables name them
COUNT_LABELS = [
    ("vring_interrupt", "interrupts (vring_interrupt)"),
    ("vlb_call_wakeup", "call eventfd writes seen by vloopback"),
    ("vduse_vq_irq_inject", "VDUSE interrupt injections"),
    ("irq_work_entry", "irq_work interrupts"),
    ("call_function_single_entry", "IPIs (function call)"),
    ("sched_wakeup", "task wakeups"),
    ("sched_switch", "context switches"),
    ("workqueue_execute_start", "work items run"),
    ("sys_enter", "system calls"),
    ("vlb_map_page", "DMA mappings (vloopback bounce)"),
    ("vduse_domain_map_page", "DMA mappings (VDUSE bounce)"),
    ("block_split", "bios split (block_split)"),
    ("io_uring_queue_async_work", "io_uring requests punted to io-wq"),
]
# events a 4k request rarely has: its table shows them only when it does
LARGE_ONLY = ["block_split", "io_uring_queue_async_work"]
# those the 1 MiB counts show
LARGE_COUNTS = LARGE_ONLY + ["vring_interrupt", "sched_switch", "vlb_map_page",
                             "vduse_domain_map_page"]
# those every block system has (no probe of one transport's functions), as
# labelled: the scaling part's table and compare's
CORE_LABELS = [(k, label) for k, label in COUNT_LABELS
               if k in {"vring_interrupt", "irq_work_entry", "call_function_single_entry",
                        "sched_wakeup", "sched_switch", "sys_enter"}]


def counts_per_io(base):
    """{event: count per I/O} of BASE.csv (perf stat -x,) over the reads
    and writes fio made in BASE.json, or None when either is missing"""
    vals = {}
    try:
        with open(base + ".csv") as f:
            for line in f:
                p = line.strip().split(",")
                if len(p) > 2 and p[0].replace(".", "").isdigit():
                    vals[p[2].split(":")[-1]] = float(p[0])
        with open(base + ".json") as f:
            text = f.read()
        job = json.loads(text[text.index("{"):])["jobs"][0]
        ios = job["read"]["total_ios"] + job["write"]["total_ios"]
    except (OSError, ValueError, KeyError, IndexError):
        return None
    return {k: v / ios for k, v in vals.items()} if ios else None


def fmt(v, unit=""):
    if v is None:
        return "–"
    if abs(v) >= 100:
        s = f"{v:,.0f}"
    elif abs(v) >= 10:
        s = f"{v:.1f}"
    else:
        s = f"{v:.2f}"
    return s + unit


def ratio(a, b):
    if a is None or not b:
        return None
    return a / b


def fmt_ratio(r):
    return "–" if r is None else f"{r:.2f}×"


def table(header, rows):
    lines = ["| " + " | ".join(header) + " |",
             "|" + "|".join("---" if i == 0 else "---:" for i in range(len(header))) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


# ---- the report ----

class Report:
    def __init__(self, raw, out, systems=MAIN_SYSTEMS):
        self.raw, self.out, self.order = raw, out, systems
        self.host = read_kv(os.path.join(raw, "host.txt"))
        self.env = read_kv(os.path.join(raw, "env.txt"))
        self.systems = read_systems(raw)
        self.cpu = CpuLog(os.path.join(raw, "cpu.log"), int(self.env.get("user_hz", 100)))
        names = [f"{s}.{j}" for s in systems for j in JOBS]
        self.block = collect(raw, "block", names, self.cpu)
        levels = sorted({int(f.split(".")[1][1:]) for f in
                         os.listdir(os.path.join(raw, "scale"))}) \
            if os.path.isdir(os.path.join(raw, "scale")) else []
        self.levels = levels
        self.scale = collect(raw, "scale",
                             [f"{s}.q{n}" for s in SCALE_SYSTEMS for n in levels], self.cpu)
        self.input = read_input(os.path.join(raw, "input.txt"))
        self.input1 = read_input(os.path.join(raw, "input-1cpu.txt"))
        self.net = net_collect(raw)
        self.net_ran = os.path.isdir(os.path.join(raw, "net"))
        self.jobs = [j for j in JOBS if any(f"{s}.{j}" in self.block for s in systems)]
        self.measured = [s for s in systems if any(f"{s}.{j}" in self.block for j in JOBS)]
        path = os.path.join(raw, "anchor")
        self.anchor = Report(path, out, ANCHOR_SYSTEMS) if os.path.isdir(path) else None

    def fig(self, sys, job, key=None):
        s = self.block.get(f"{sys}.{job}")
        if not s:
            return None
        return s.get(key or JOBS[job][2])

    def vs(self, sys, base, job):
        """sys's figure in job relative to base's, run by run"""
        return paired_ratio(self.block.get(f"{sys}.{job}"),
                            self.block.get(f"{base}.{job}"), JOBS[job][2])

    # -- sections --

    def header(self):
        h, e = self.host, self.env
        quick = h.get("quick") == "1"
        lines = [
            "# vloopback benchmark" + (" (quick pass: figures are not meaningful)" if quick else ""),
            "",
            f"- **Date**: {h.get('date', '?')}; commit `{h.get('commit', '?')}`",
            f"- **Guest**: Linux {e.get('kernel', '?')}, {e.get('vcpus', '?')} vCPUs, "
            f"{int(e.get('guest_mem_kb', 0)) // 1024} MiB, QEMU TCG (no KVM: the host kernel cannot "
            "load modules, so everything runs emulated)",
            f"- **Machine**: {h.get('host_cpu', '?')}, {h.get('host_cores', '?')} cores shared with "
            f"other users; {h.get('host_os', '?')}, host kernel {h.get('host_kernel', '?')}; "
            f"{h.get('qemu', '?')}",
            f"- **Host load** (1/5/15 min) before: {h.get('load_before', '?')}, after: "
            f"{h.get('load_after', '?')}",
            f"- **Method**: {h.get('runs', '?')} run(s) of {h.get('runtime', '?')} s "
            f"(after {h.get('ramp', '?')} s of ramp) per figure; fio {e.get('fio', '?')}, io_uring, O_DIRECT, "
            f"no I/O scheduler, first {h.get('span', '?')} of each 1 GiB disk; qemu-storage-daemon "
            f"{e.get('qsd', '?').replace('qemu-storage-daemon version ', '')}",
            "",
            "Emulation makes absolute figures meaningless; what this report compares is "
            "**ratios measured in the same guest boot**, runs of all systems interleaved "
            "(run 1 of every job on every system, then run 2, ...). Each figure is the "
            "median of the runs; *spread* is (max − min) / median.",
        ]
        return "\n".join(lines)

    def targets(self):
        rows = []

        def target(what, value, goal, detail):
            result = "not measured" if value is None else \
                "**met**" if value >= goal else "not met"
            rows.append([what, fmt_ratio(value), f"≥ {goal}×", result,
                         detail if value is not None else ""])

        for job, goal in (("rr4k-qd1", 2.5), ("rr4k-qd32", 2.0), ("rw4k-qd32", 2.0)):
            target(f"vloopback+qsd vs VDUSE, {JOBS[job][0]} IOPS",
                   self.vs("vlbqsd", "vduse", job), goal,
                   f"{fmt(self.fig('vlbqsd', job))} vs {fmt(self.fig('vduse', job))}")
        for job in ("sr1m-qd4", "sw1m-qd4"):
            target(f"vloopback+qsd vs VDUSE, {JOBS[job][0]} MB/s",
                   self.vs("vlbqsd", "vduse", job), 1.2,
                   f"{fmt(self.fig('vlbqsd', job))} vs {fmt(self.fig('vduse', job))}")
        for job in ("rr4k-qd32", "rw4k-qd32"):
            target(f"C RAM disk vs null_blk, {JOBS[job][0]} IOPS",
                   self.vs("vlbc", "nullblk", job), 0.5,
                   f"{fmt(self.fig('vlbc', job))} vs {fmt(self.fig('nullblk', job))}")
        counts = self.count_data()
        for sys in ("vlbqsd", "vlbc"):
            v = counts.get(sys, {}).get("vring_interrupt")
            rows.append([f"{SHORT[sys]}: interrupts (vring_interrupt) per I/O, 4k random read QD32",
                         fmt(v), "≤ 0.5",
                         "not measured" if v is None else ("**met**" if v <= 0.5 else "not met"),
                         "" if v is None else "see Events per I/O"])
        if self.scale and len(self.levels) > 1:
            n = self.levels[1]
            for sys in ("vlbqsd", "vlbc"):
                one = self.scale.get(f"{sys}.q{self.levels[0]}", {}).get("iops")
                more = self.scale.get(f"{sys}.q{n}", {}).get("iops")
                target(f"{SHORT[sys]}: {n} queues / {n} jobs vs 1, 4k random read QD32",
                       ratio(more, one), 1.0, f"{fmt(more)} vs {fmt(one)}")
        for name, data in (("spread over both vCPUs", self.input),
                           ("all on one vCPU", self.input1)):
            v, u = data.get("vloopback"), data.get("uinput")
            # the target is an upper bound: report uinput / vloopback against 1/1.2
            r = ratio(v["p50_us"], u["p50_us"]) if v and u else None
            rows.append([f"input latency p50 vs uinput ({name})", fmt_ratio(r), "≤ 1.2×",
                         "not measured" if r is None else ("**met**" if r <= 1.2 else "not met"),
                         f"{fmt(v['p50_us'], ' µs')} vs {fmt(u['p50_us'], ' µs')}" if r else ""])
        return ("## Targets (goals of issue 13; input latency: issue 7; not pass/fail)\n\n"
                "*measured* is the median of the run-by-run ratios (see Block I/O); "
                "*medians* are the two systems' own medians, for context.\n\n" + table(
                    ["target", "measured", "goal", "result", "medians"], rows))

    def block_tables(self):
        out = ["## Block I/O",
               "",
               "One table per fio job. *vs VDUSE* and *vs null_blk* are the medians of the "
               "run-by-run ratios (run r of each system against run r of VDUSE or "
               "null_blk, taken minutes apart at most). "
               "*CPU/IO* is the CPU time of the whole guest (both vCPUs, from /proc/stat) "
               "per I/O during the run, *ctx/IO* the context switches per I/O: both include "
               "fio itself, so they compare systems, not absolute costs."]
        out += self.job_tables(("vduse", "nullblk"))
        return "\n".join(out)

    def job_tables(self, bases):
        """One table per job: each system's figure and its ratios to bases'"""
        out = []
        for job in self.jobs:
            title, unit, key = JOBS[job]
            rows = []
            for sys in self.measured:
                s = self.block.get(f"{sys}.{job}")
                if not s:
                    rows.append([SHORT[sys]] + ["–"] * (6 + len(bases)))
                    continue
                rows.append([SHORT[sys], fmt(s[key]), f"{100 * s[key + '_spread']:.0f}%"] +
                            [fmt_ratio(self.vs(sys, b, job)) for b in bases] +
                            [fmt(s.get("clat_p50_us"), " µs"),
                             fmt(s.get("cpu_us_per_io"), " µs"),
                             fmt(s.get("ctx_per_io"))])
            out += ["", f"### {title} ({unit})", "",
                    table(["system", unit, "spread"] + [f"vs {SHORT[b]}" for b in bases] +
                          ["latency p50", "CPU/IO", "ctx/IO"], rows)]
        return out

    def not_measured(self):
        rows = []
        for (sys, q), (status, note) in sorted(self.systems.items()):
            if status != "ok":
                rows.append([SYSTEMS.get(sys, sys), q, status, note])
        for sys in self.order:
            if sys not in self.measured and not any(k[0] == sys for k in self.systems):
                rows.append([SYSTEMS[sys], "1", "not measured", "no result"])
        if not rows:
            return ""
        return "## Not measured\n\n" + table(["system", "queues", "status", "why"], rows)

    def systems_list(self):
        lines = ["## Systems", ""]
        for sys in self.order:
            title = SYSTEMS[sys]
            st = self.systems.get((sys, "1"))
            dev = f" — `{st[1]}`" if st and st[0] == "ok" else ""
            lines.append(f"- **{SHORT[sys]}**: {title}{dev}")
        return "\n".join(lines)

    def scaling(self):
        if not self.scale:
            return ""
        rows = []
        for sys in SCALE_SYSTEMS:
            row = [SHORT[sys]]
            base = self.scale.get(f"{sys}.q{self.levels[0]}", {}).get("iops")
            for n in self.levels:
                s = self.scale.get(f"{sys}.q{n}")
                if not s:
                    row += ["–", "–"]
                    continue
                rel = f" ({fmt_ratio(ratio(s['iops'], base))})" if n != self.levels[0] else ""
                row += [fmt(s["iops"]) + rel, fmt(s.get("cpu_us_per_io"), " µs")]
            rows.append(row)
        header = ["system"]
        for n in self.levels:
            header += [f"IOPS, {n} queue(s)/job(s)", f"CPU/IO ({n})"]
        return ("## Scaling: 4k random read, QD32 per job\n\n"
                "N queues on the device (null_blk submit_queues, qemu-storage-daemon "
                "num-queues, vloopback --queues) and N fio jobs. The guest has "
                f"{self.env.get('vcpus', '?')} vCPUs, so blk-mq uses at most that many "
                "queues. In brackets: the ratio to the first column.\n\n" + table(header, rows)
                + self.scaling_counts())

    def scaling_counts(self):
        """events per I/O at each queue count (counts/scale/SYS.qN)"""
        events = CORE_LABELS
        rows = []
        for sys in SCALE_SYSTEMS:
            for n in self.levels:
                c = counts_per_io(os.path.join(self.raw, "counts", "scale", f"{sys}.q{n}"))
                if c:
                    rows.append([SHORT[sys], n] + [fmt(c.get(k)) for k, _ in events])
        if not rows:
            return ""
        return ("\n\nEvents per I/O over 10000 4k random reads at QD32 per job, "
                "N queues and N jobs (perf stat -a, as in \"Events per I/O\"):\n\n"
                + table(["system", "queues/jobs"] + [label for _, label in events], rows))

    def input_section(self):
        if not self.input:
            return ""
        rows = []
        for name, data in (("spread over both vCPUs", self.input),
                           ("all threads on one vCPU", self.input1)):
            for way in ("vloopback", "uinput"):
                d = data.get(way)
                if not d:
                    continue
                u = data.get("uinput", {})
                rows.append([f"{way} ({name})", int(d["count"]), fmt(d["p50_us"], " µs"),
                             fmt(d["p90_us"], " µs"), fmt(d["p99_us"], " µs"),
                             fmt(d["mean_us"], " µs"),
                             fmt_ratio(ratio(d["p50_us"], u.get("p50_us")))])
        return ("## Input latency\n\n"
                "From the device process sending a relative-motion event and SYN_REPORT "
                "to a thread reading them from /dev/input/eventN "
                "(tests/bench/input_latency.c): vloopback's virtio-input (buffers the "
                "virtio_input driver posted, completed with one interrupt) against uinput "
                "(one write()). The two ways take turns event by event in one process, "
                "1 ms apart. On one vCPU the reader needs no cross-CPU wakeup, which under "
                "TCG is a host thread wakeup and dominates.\n\n" +
                table(["way", "events", "p50", "p90", "p99", "mean", "p50 vs uinput"], rows))

    def net_ratio(self, key):
        """vloopback's figure relative to veth's, run by run"""
        return paired_ratio(self.net.get("vlbnet"), self.net.get("veth"), key)

    def net_section(self):
        title = "## virtio-net (dpdk-testpmd)\n\n"
        if not self.net_ran:
            return title + "Not measured: this guest ran no net part (guest.sh --parts)."
        cols, notes = [], []
        for net in NETS:
            st = self.systems.get((net, "1"))
            s = self.net.get(net)
            if s:
                cols.append(s)
            else:
                why = f"{st[0]}: {st[1]}" if st and st[0] != "ok" else "no result (see log.txt)"
                cols.append(None)
                notes.append(f"**{NET_SHORT[net]}**: {why}.")
        rows = []
        for key, name, unit in NET_FIGS:
            # iperf3 -R is not in the quick pass
            if not any(s and key in s for s in cols):
                continue
            row = [f"{name} ({unit})"]
            for s in cols:
                if s is None:
                    row += ["unavailable", ""]
                elif key in s:
                    # TCG's Gbit/s are small: keep three digits
                    v = f"{s[key]:.3g}" if unit == "Gbit/s" else fmt(s[key])
                    row += [v, f"{100 * s[key + '_spread']:.0f}%"]
                else:
                    row += ["–", ""]
            rows.append(row + [fmt_ratio(self.net_ratio(key))])
        some = next((s for s in cols if s), {})
        pings = some.get("pings")
        loss = ", ".join(f"{NET_SHORT[n]} {fmt(self.net[n]['loss_pct'], '%')}"
                         for n in NETS if "loss_pct" in self.net.get(n, {}))
        text = (
            "Two vloopback virtio-net ports (`vloopbackctl attach --type net`, MTU 1500) "
            "on the two vhost-user ports of one dpdk-testpmd (`--no-huge --no-pci`, "
            "io forwarding: each packet out of one port goes into the other), each port "
            "in a network namespace of its own, so that the kernel's TCP/IP stack sends "
            "through one virtio-net device and receives from the other. The ceiling is a "
            "veth pair (MTU 1500) between two namespaces: the same stack, no device and "
            "no user space between the ends. Measured from namespace 0: iperf3 TCP "
            f"({self.host.get('runtime', '?')} s per run, the receiver's count), and ping "
            f"every 10 ms ({int(pings) if pings else '?'} replies a run; the median, p90 "
            "and mean of every reply's rtt). The runs of the two are interleaved and "
            "*vloopback / veth* is the median of the run-by-run ratios: above 1 for rtts "
            "means slower. testpmd polls its ports, which takes a vCPU whole, so it is "
            "stopped (SIGSTOP) while veth is measured: the ceiling has both vCPUs.")
        if loss:
            text += f" Ping loss (median of runs): {loss}."
        header = ["figure"]
        for net in NETS:
            header += [NET_SHORT[net], "spread"]
        out = title + text + "\n\n" + table(header + ["vloopback / veth"], rows)
        if notes:
            out += "\n\nNot measured: " + " ".join(notes)
        return out

    def memory(self):
        rows = []
        shm = self.env.get("shm_default_mb")
        for sys in self.measured:
            d = mem_delta(self.raw, sys)
            idle = rss(self.raw, f"{sys}.block.q1.rss-idle")
            busy = rss(self.raw, f"{sys}.block.q1.rss-busy")
            procs = ", ".join(f"{c} {fmt(m.get('VmRSS', 0) / 1024, ' MiB')}" for c, m in idle) or "–"
            procs_busy = ", ".join(f"{c} {fmt(m.get('VmRSS', 0) / 1024, ' MiB')}"
                                   for c, m in busy) or "–"
            if not d:
                continue
            kernel = d["Slab"] + d["Shmem"] + d["VmallocUsed"] + d["Percpu"] + d["PageTables"] \
                + d["KernelStack"]
            rows.append([SHORT[sys], fmt(-d["MemFree"] / 1024, " MiB"),
                         fmt(kernel / 1024, " MiB"), fmt(d["Slab"] / 1024, " MiB"),
                         fmt(d["Shmem"] / 1024, " MiB"), procs, procs_busy])
        if not rows:
            return ""
        return ("## Memory per device\n\n"
                "Deltas of /proc/meminfo across bringing one device up (before any I/O), "
                "and the resident size of its processes then and after the block runs. "
                "*Kernel* adds Slab, Shmem, VmallocUsed, Percpu, PageTables and "
                "KernelStack. vloopback pins its shared area (module parameter "
                f"shm_default_mb = {shm} MiB) when the device is created: it is the Shmem "
                "column, mapped by the device process (so it also shows in its RSS once "
                "touched). VDUSE allocates its bounce pages as I/O needs them, so its "
                "figure before I/O is low. RAM disks hold the "
                f"{self.host.get('span', '?')} the runs wrote, hence their RSS after "
                "the runs.\n\n" +
                table(["system", "MemFree drop", "kernel", "Slab", "Shmem",
                       "process RSS (idle)", "process RSS (after runs)"], rows))

    def count_data(self, job=""):
        """counts/SYS.csv, or SYS.JOB.csv (perf stat -x,) per I/O, by system
        and event"""
        data = {}
        for sys in self.measured:
            per_io = counts_per_io(os.path.join(self.raw, "counts",
                                                f"{sys}.{job}" if job else sys))
            if per_io:
                data[sys] = per_io
        return data

    def count_table(self):
        """the same, as a table"""
        data = self.count_data()
        if not data:
            return ""
        systems = list(data)
        rows = []
        for key, label in COUNT_LABELS:
            # events only large requests have are left to their own table
            if key in LARGE_ONLY and not any(data[s].get(key) for s in systems):
                continue
            if not any(key in data[s] for s in systems):
                continue
            rows.append([label] + [fmt(data[s][key]) if key in data[s] else "–"
                                   for s in systems])
        return table(["per I/O"] + [SHORT[s] for s in systems], rows)

    def large_count_table(self, job):
        """counts/SYS.JOB (sr1m, sw1m) per request, by system"""
        data = self.count_data(job)
        labels = dict(COUNT_LABELS)
        rows = [[labels[key]] + [fmt(data[s].get(key)) for s in data]
                for key in LARGE_COUNTS if any(key in c for c in data.values())]
        if not rows:
            return ""
        return table(["per 1 MiB request"] + [SHORT[s] for s in data], rows)

    def counts(self):
        t = self.count_table()
        if not t:
            return ""
        out = ("## Events per I/O\n\n"
               "Counted over the whole guest (perf stat -a, kprobes and tracepoints) "
               "during 10000 4k random reads at QD32 on each system: what a "
               "request costs in interrupts, wakeups and system calls, independent of "
               "how fast the emulated CPUs happen to be.\n\n" + t)
        reads, writes = self.large_count_table("sr1m"), self.large_count_table("sw1m")
        if reads or writes:
            out += ("\n\nThe same over one pass of 1 MiB requests at QD4 over the span, "
                    "read, then written: a request is split when it needs more segments "
                    "than the device allows (its seg_max) or a segment longer than it "
                    "allows (its size_max, or the transport's largest mapping), and a "
                    "split request that io_uring issued without blocking is issued "
                    "again from an io-wq worker.\n\n"
                    "**1M sequential read**\n\n" + reads +
                    "\n\n**1M sequential write**\n\n" + writes)
        return out

    def anchor_section(self):
        a = self.anchor
        if not a or not a.block:
            return ""
        kernel = a.env.get("kernel", "?")
        series = ".".join(kernel.split(".")[:2])
        rows = []
        for job in a.jobs:
            r = a.vs("vlbnull", "ublk", job)
            goal = job in ("rr4k-qd32", "rw4k-qd32")
            rows.append([JOBS[job][0], fmt_ratio(r),
                         fmt_ratio(a.vs("vlbnullpoll", "ublk", job)),
                         "≥ 1.0×" if goal else "–",
                         "not measured" if r is None else
                         ("**met**" if r >= 1.0 else "not met") if goal else "",
                         f"{fmt(a.fig('vlbnull', job))} vs {fmt(a.fig('ublk', job))}"])
        out = [f"## ublk anchor ({series} guest)", "",
               f"A second boot, of Linux {kernel}: Debian 12 has no ublk server, so the "
               "kernel's own is used, kublk from tools/testing/selftests/ublk of "
               f"linux-source-{series} (built by tests/vm/install-deps in the Debian 13 "
               "root). Its null target (`kublk add -t null -q 1 -d 256`, no zero copy) "
               "completes each request without touching the data, though ublk_drv still "
               "copies it between the request's pages and kublk's buffer; vloopback's C "
               "device in null mode (`examples/ramdisk --null`) drops writes and fills "
               "reads with zeroes, and the module bounces both ways; *polling* is the "
               "same device serving with `--poll 500` (it looks at its ring for 500 µs "
               "after each request before it sleeps: no kick and no wakeup while "
               "requests keep coming, a vCPU while they do). The goal is the "
               "device's default, not polling. null_blk "
               "(irqmode=0, no memory) is the in-kernel ceiling. The same fio jobs, runs "
               "interleaved, in that one boot; the ratios are run by run, as above.", "",
               table(["job", "vloopback C null / ublk null", "polling / ublk null",
                      "goal (issue 13)", "result", "medians"], rows)]
        out += a.job_tables(("ublk", "nullblk"))
        t = a.count_table()
        if t:
            out += ["", f"### Events per I/O ({series} guest)", "",
                    "As in *Events per I/O*, in this boot. vring_interrupt also counts "
                    "the guest's own virtio devices (the 9p root), so a system that "
                    "has no virtqueue shows that background.", "", t]
        return "\n".join(out)

    def profiles(self):
        out = []
        for sys in ("vlbqsd", "vduse", "vlbc"):
            path = os.path.join(self.raw, "perf", sys + ".txt")
            comm = os.path.join(self.raw, "perf", sys + ".comm.txt")
            if not os.path.exists(path):
                continue
            with open(path) as f:
                lines = [l.rstrip() for l in f if l.strip() and not l.startswith("#")][:25]
            with open(comm) as f:
                comms = [l.rstrip() for l in f if l.strip() and not l.startswith("#")][:8]
            out += [f"<details><summary>{SHORT[sys]}: where the CPU went "
                    "(perf, whole guest, 4k random read QD32)</summary>", "", "```",
                    *comms, "", *lines, "```", "", "</details>", ""]
        for way in ("vloopback", "uinput"):
            path = os.path.join(self.raw, "perf", f"input-{way}.txt")
            if not os.path.exists(path):
                continue
            with open(path) as f:
                lines = [l.rstrip() for l in f if l.strip() and not l.startswith("#")][:25]
            out += [f"<details><summary>input events via {way}: where the CPU went "
                    "(perf, one vCPU, events back to back)</summary>", "", "```",
                    *lines, "```", "", "</details>", ""]
        if not out:
            return ""
        return "## Profiles\n\n" + "\n".join(out)

    def analysis(self):
        path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "analysis.md")
        if not os.path.exists(path):
            return ""
        with open(path) as f:
            return f.read().strip()

    def chart(self):
        """chart.png: IOPS of the 4k jobs, MB/s of the 1M jobs, per system"""
        data = os.path.join(self.out, "chart.dat")
        systems = self.measured
        panels = [(title, unit, [j for j in self.jobs if JOBS[j][1] == unit])
                  for title, unit in (("4k I/O", "IOPS"), ("1M sequential I/O", "MB/s"))]
        panels = [p for p in panels if p[2]]
        with open(data, "w") as f:
            for title, unit, jobs in panels:
                f.write(f"# {title}\n")
                for job in jobs:
                    label = JOBS[job][0].replace(", ", "\\n")
                    cols = [f'"{label}"']
                    for sys in systems:
                        s = self.block.get(f"{sys}.{job}")
                        k = JOBS[job][2]
                        cols += [f"{s[k]:.3f} {s[k + '_min']:.3f} {s[k + '_max']:.3f}"
                                 if s else "NaN NaN NaN"]
                    f.write(" ".join(cols) + "\n")
                f.write("\n\n")
        script = [
            "set terminal pngcairo size 1400,560 font 'sans,10'",
            f"set output '{os.path.join(self.out, 'chart.png')}'",
            f"set multiplot layout 1,{len(panels)} title \"vloopback vs the alternatives — "
            f"{self.env.get('kernel', '')}, TCG guest, {self.host.get('date', '')} "
            "(median, bars: min–max)\"",
            "set termoption noenhanced", "set bmargin 4",
            "set style data histogram", "set style histogram errorbars gap 1 lw 1",
            "set style fill solid 0.85 border -1", "set boxwidth 0.9",
            "set logscale y", "set grid ytics", "set key top right font ',9'",
        ]
        for idx, (title, unit, _) in enumerate(panels):
            plots = ", ".join(
                f"'{data}' index {idx} using {2 + 3 * i}:{3 + 3 * i}:{4 + 3 * i}"
                f"{':xtic(1)' if i == 0 else ''} title '{SHORT[s]}' lc rgb '{COLOURS[s]}'"
                for i, s in enumerate(systems))
            script += [f"set ylabel '{unit} (log scale)'", f"set title '{title}'",
                       "plot " + plots]
        script.append("unset multiplot")
        subprocess.run(["gnuplot"], input="\n".join(script) + "\n", text=True, check=True)

    def summary(self):
        return {"host": self.host, "env": self.env, "block": self.block,
                "scale": self.scale, "input": self.input, "input_1cpu": self.input1,
                "net": dict(self.net, ratios={k: self.net_ratio(k) for k, _, _ in NET_FIGS},
                            status={n: self.systems.get((n, "1")) for n in NETS}),
                "memory": {s: mem_delta(self.raw, s) for s in self.measured},
                "anchor": {"env": self.anchor.env, "block": self.anchor.block}
                if self.anchor else None}

    def write(self):
        if not (self.block or self.scale or self.net or self.input):
            sys.exit("report: no results in " + self.raw)
        self.chart()
        parts = [self.header(), self.targets(),
                 "![IOPS and throughput per system](chart.png)",
                 self.systems_list(), self.block_tables(), self.scaling(),
                 self.input_section(), self.net_section(), self.memory(), self.counts(), self.anchor_section(),
                 self.analysis(),
                 self.profiles(),
                 self.not_measured()]
        with open(os.path.join(self.out, "report.md"), "w") as f:
            f.write("\n\n".join(p for p in parts if p) + "\n")
        with open(os.path.join(self.out, "summary.json"), "w") as f:
            json.dump(self.summary(), f, indent=1, sort_keys=True)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: report.py RAW OUT")
    Report(sys.argv[1], sys.argv[2]).write()

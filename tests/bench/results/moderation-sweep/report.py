#!/usr/bin/python3
"""The moderation sweep's table, from guest.sh's raw dir.

usage: report.py RAW   (RAW/block/pP-SYS.JOB.RUN.json and .csv)

Per system, job and profile P: the median IOPS, the median run-by-run
ratio to profile 1, and the events per I/O.  The events were counted over
the whole fio run, its 1 s ramp included, while fio's I/Os leave the ramp
out: they are divided by fio's I/Os times 5/4 (4 s measured + 1 s ramp).
"""
import collections
import glob
import json
import os
import re
import statistics as st
import sys

raw = sys.argv[1]
rows = collections.defaultdict(list)
for f in sorted(glob.glob(raw + '/block/*.json')):
    p, system, job, run = re.match(r'p(-?\d)-(\w+)\.(\w+-\w+)\.(\d+)\.json',
                                   os.path.basename(f)).groups()
    if not os.path.exists(f[:-5] + '.csv'):
        continue
    j = json.load(open(f))['jobs'][0]
    ios = (j['read']['total_ios'] + j['write']['total_ios']) * 5 / 4
    counts = {}
    for line in open(f[:-5] + '.csv'):
        parts = line.strip().split(',')
        if len(parts) >= 3 and parts[0]:
            counts[parts[2]] = float(parts[0])
    rows[(system, job, p)].append((
        int(run), j['read']['iops'] + j['write']['iops'],
        counts.get('kprobes:vring_interrupt', 0) / ios,
        counts.get('irq_vectors:irq_work_entry', 0) / ios,
        counts.get('raw_syscalls:sys_enter', 0) / ios))
print('system  job        profile   IOPS  /p1  interrupts irq_work syscalls'
      '  runs: IOPS')
for key in sorted(rows):
    r = rows[key]
    ref = {x[0]: x[1] for x in rows[(key[0], key[1], '1')]}
    ratio = st.median(x[1] / ref[x[0]] for x in r if x[0] in ref)
    print('%-7s %-10s %4s %8.0f %5.2f %7.2f %8.2f %8.2f    %s' % (
        key[0], key[1], key[2], st.median(x[1] for x in r), ratio,
        st.median(x[2] for x in r), st.median(x[3] for x in r),
        st.median(x[4] for x in r),
        ' '.join('%.0f' % x[1] for x in sorted(r))))

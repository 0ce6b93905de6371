#!/usr/bin/env python3
"""Reads the benchmark history in bench-results/ and writes, for each benchmark, a data file and a gnuplot script
that draws it (rate or latency by run, with the comparison's line). Used by Benchmarks/report.sh; standard library only.

    report_data.py RESULTS_DIR WORK_DIR OUT_DIR   -> prints the gnuplot script paths, one per line

Each result line is `TIMESTAMP key=value ...`; a run is labelled with its date and, when the line records one, its
commit. Lines of an older format simply lack some keys: a series is drawn where its key is present.
"""
import os
import re
import sys

NUMBER = r"(-?[0-9]+(?:\.[0-9]+)?)"


def field(line, key, unit=""):
    """The number after `key=` (optionally followed by `unit`), or None."""
    m = re.search(r"(?:^|\s)" + re.escape(key) + "=" + NUMBER + re.escape(unit), line)
    return float(m.group(1)) if m else None


def word(line, key):
    m = re.search(r"(?:^|\s)" + re.escape(key) + r"=(\S+)", line)
    return m.group(1) if m else None


def label(line, extra=None):
    date = line.split()[0][:16].replace("T", " ")
    parts = [date]
    commit = word(line, "commit")
    if commit:
        parts.append(commit[:7])
    if extra:
        parts.append(extra)
    return "\\n".join(parts)


def read(path):
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [l.strip() for l in f if re.match(r"^\d{4}-\d\d-\d\dT", l.strip())]


def write_table(work, name, header, rows):
    path = os.path.join(work, name + ".dat")
    with open(path, "w") as f:
        f.write("# " + "\t".join(header) + "\n")
        for i, row in enumerate(rows):
            cells = [str(i), '"' + row[0] + '"'] + ["NaN" if v is None else repr(v) for v in row[1:]]
            f.write("\t".join(cells) + "\n")
    return path


# The legend goes below the plot so that the plot has the chart's whole width; with many runs only every few runs are
# labelled on the x axis (see LABELS), so that the labels do not overlap.
COMMON = """set terminal pngcairo size 1200,640 font "DejaVu Sans,10"
set output "{png}"
set title "{title}" font ",13"
set key below horizontal maxcols 3 spacing 1.2
set grid ytics
set xtics rotate by -35 font ",8" nomirror
set ylabel "{ylabel}"
set rmargin 14
set offsets 0.4, 0.9, 0, 0
set datafile missing "NaN"
set style data linespoints
"""


# At most this many runs are labelled on a chart's x axis: every run up to this many, else every n-th and the last.
LABELS = 16


def script(work, out, name, title, ylabel, dat, series, extra=""):
    """series: list of (column, title, style) drawn against the run index, labelled by column 2."""
    png = os.path.join(out, name + ".png")
    lines = [COMMON.format(png=png, title=title, ylabel=ylabel), extra]
    with open(dat) as f:
        runs = sum(1 for row in f if not row.startswith("#"))
    step = -(-runs // LABELS)
    label = f'xtic(int($1) % {step} == 0 || int($1) == {runs - 1} ? stringcolumn(2) : "")'
    plots = []
    for k, (col, t, style) in enumerate(series):
        xt = ":" + label if k == 0 else ""
        plots.append(f'"{dat}" using 1:{col}{xt} title "{t}" {style}')
    lines.append("plot " + ", \\\n     ".join(plots) + "\n")
    path = os.path.join(work, name + ".gp")
    with open(path, "w") as f:
        f.write("\n".join(lines))
    return path


def main(results, work, out):
    scripts = []

    # Mapping engine vs jq (one core): records per second, log scale; the ratio is in the run labels.
    rows = []
    for l in read(os.path.join(results, "mapping.txt")):
        ratio = field(l, "ratio", "x")
        extra = f"{int(field(l, 'count') or 0) // 1000}k rec" + (f", {ratio:g}x jq" if ratio else "")
        rss = field(l, "crmhub_rss", "KiB")
        if rss:
            extra += f", {rss / 1024:.0f} MiB"
        rows.append((label(l, extra), field(l, "crmhub", " rec/s"), field(l, "jq", " rec/s"),
                     field(l, "crmhub_cpu", " rec/s"), 200000.0))
    if rows:
        dat = write_table(work, "mapping", ["run", "label", "crmhub", "jq", "crmhub_cpu", "goal"], rows)
        scripts.append(script(work, out, "mapping", "Mapping engine (crm-customer-import, one core) vs jq", "records/s (log)",
                              dat, [(3, "crmhub (wall clock)", "lw 2 pt 7"), (5, "crmhub (CPU time)", "lw 1 pt 6 dt 2"),
                                    (4, "jq (same transformation)", "lw 2 pt 5"), (6, "goal 200k rec/s", "lw 1 dt 3 pt -1")],
                              "set logscale y\nset format y \"%.0s%c\"\n"))

    # Route: crmhub passthrough route vs plain librdkafka loop.
    # From a678925 on, also the plain loop doing the route's per-message work (envelope headers, commit after ack).
    rows = [(label(l, f"{int(field(l, 'size') or 0)} B"), field(l, "crmhub", " msg/s"), field(l, "plain", " msg/s"),
             field(l, "plain_envelope", " msg/s"))
            for l in read(os.path.join(results, "route.txt"))]
    if rows:
        dat = write_table(work, "route", ["run", "label", "crmhub", "plain", "plain_envelope"], rows)
        scripts.append(script(work, out, "route", "Route throughput vs plain librdkafka loop", "messages/s", dat,
                              [(3, "crmhub route", "lw 2 pt 7"), (4, "plain librdkafka C loop", "lw 2 pt 5"),
                               (5, "plain loop with the route's headers and commit-after-ack", "lw 1 pt 4")],
                              "set yrange [0:*]\n"))

    # Batch import (Benchmarks/batch-bench.sh): mapped and unmapped rows/s vs kcat producing the same messages, log scale;
    # the goal is 0.7 of kcat's rate in the same run.
    rows = []
    for l in read(os.path.join(results, "batch.txt")):
        ratio = field(l, "ratio")
        rss = field(l, "mapped_rss", "KiB")
        extra = f"{int(field(l, 'rows') or 0) // 1000}k rows" + (f", {ratio:.3f} of kcat" if ratio is not None else "")
        if rss:
            extra += f", {rss / 1024:.0f} MiB"
        headers_ratio = field(l, "ratio_headers")
        if headers_ratio is not None:
            extra += f", {headers_ratio:.3f} like for like"
        kcat = field(l, "kcat", " msg/s")
        rows.append((label(l, extra), field(l, "mapped", " rows/s"), field(l, "mapped_cpu", " rows/s"),
                     field(l, "unmapped", " rows/s"), kcat, 0.7 * kcat if kcat else None,
                     field(l, "kcat_headers", " msg/s")))
    if rows:
        dat = write_table(work, "batch", ["run", "label", "mapped", "mapped_cpu", "unmapped", "kcat", "goal",
                                          "kcat_headers"], rows)
        scripts.append(script(work, out, "batch", "Batch import (CSV customers) vs kcat producing the same messages",
                              "rows or messages/s (log)", dat,
                              [(3, "crmhub mapped (wall clock)", "lw 2 pt 7"), (4, "crmhub mapped (CPU time)", "lw 1 pt 6 dt 2"),
                               (5, "crmhub unmapped (wall clock)", "lw 2 pt 9"), (6, "kcat -P, same messages", "lw 2 pt 5"),
                               (7, "goal 0.7 x kcat", "lw 1 dt 3 pt -1"),
                               (8, "kcat -P, same messages with the same seven headers", "lw 1 pt 4")],
                              "set logscale y\nset format y \"%.0s%c\"\n"))

    # Mapped route vs passthrough route (Benchmarks/mapped-route-bench.sh), rates from the routes' own counters.
    rows = []
    for l in read(os.path.join(results, "mapped-route.txt")):
        ratio = field(l, "ratio")
        extra = f"{int(field(l, 'records') or 0) // 1000}k rec" + (f", ratio {ratio:.2f}" if ratio is not None else "")
        passthrough = field(l, "passthrough", " rec/s")
        rows.append((label(l, extra), field(l, "mapped", " rec/s"), passthrough, 0.8 * passthrough if passthrough else None))
    if rows:
        dat = write_table(work, "mapped-route", ["run", "label", "mapped", "passthrough", "goal"], rows)
        scripts.append(script(work, out, "mapped-route", "Mapped route (crm-customer-import) vs passthrough route",
                              "records/s", dat,
                              [(3, "mapped route", "lw 2 pt 7"), (4, "passthrough route", "lw 2 pt 5"),
                               (5, "goal 0.8 x passthrough", "lw 1 dt 3 pt -1")],
                              "set yrange [0:*]\n"))

    # Ingress: latency percentiles at the offered rate (achieved rate in the label).
    rows = []
    for l in read(os.path.join(results, "ingress.txt")):
        load = word(l, "load") or "hey-c50"
        extra = f"{word(l, 'build') or ''} {load} {word(l, 'target') or ''} got {int(field(l, 'achieved') or 0)}/s"
        rows.append((label(l, extra), field(l, "p50", "ms"), field(l, "p99", "ms"), 10.0,
                     field(l, "kafka_ack_p99", "ms")))
    if rows:
        dat = write_table(work, "ingress", ["run", "label", "p50", "p99", "goal", "kafka_ack_p99"], rows)
        scripts.append(script(work, out, "ingress", "Web-form ingress: 202 after Kafka ack", "latency ms (log)", dat,
                              [(3, "p50", "lw 2 pt 7"), (4, "p99", "lw 2 pt 5"), (5, "goal p99 10 ms", "lw 1 dt 3 pt -1"),
                               (6, "Kafka's own ack p99", "lw 2 pt 9")],
                              "set logscale y\n"))

    # CTI: event -> screen-pop acknowledged latency.
    rows = []
    for l in read(os.path.join(results, "cti.txt")):
        extra = " ".join(x for x in [word(l, "mode") or "", word(l, "config") or "", word(l, "rate") or ""] if x)
        rows.append((label(l, extra), field(l, "p50", "ms"), field(l, "p99", "ms"), field(l, "max", "ms")))
    if rows:
        dat = write_table(work, "cti", ["run", "label", "p50", "p99", "max"], rows)
        scripts.append(script(work, out, "cti", "CTI event to screen-pop (acknowledged)", "latency ms (log)", dat,
                              [(3, "p50", "lw 2 pt 7"), (4, "p99", "lw 2 pt 5"), (5, "max", "lw 1 pt 6 dt 2")],
                              "set logscale y\n"))

    # IMAP: mails per second from the first to the last ticket, with the peak RSS of the hub.
    rows = []
    for l in read(os.path.join(results, "imap.txt")):
        rss = field(l, "hub_max_rss", "KiB")
        extra = " ".join(x for x in [word(l, "config") or "", f"in_flight={word(l, 'in_flight')}" if word(l, "in_flight") else "",
                                     f"{rss / 1024:.0f} MiB" if rss else ""] if x)
        rows.append((label(l, extra), field(l, "rate_first_to_last", "mails/s"), field(l, "rate_from_start", "mails/s")))
    if rows:
        dat = write_table(work, "imap", ["run", "label", "first_to_last", "from_start"], rows)
        scripts.append(script(work, out, "imap", "IMAP ingestion to tickets", "mails/s", dat,
                              [(3, "first to last ticket", "lw 2 pt 7"), (4, "from start", "lw 1 pt 6 dt 2")],
                              "set yrange [0:*]\n"))

    # Chaos: every sent message delivered (lost must stay 0); duplicates by idempotency key.
    rows = []
    for l in read(os.path.join(results, "chaos.txt")):
        extra = f"seed {word(l, 'seed')}, {word(l, 'kills')} kills, lost {word(l, 'lost')}"
        rows.append((label(l, extra), field(l, "sent"), field(l, "delivered_distinct"), field(l, "duplicates_by_idempotency_key"),
                     field(l, "lost")))
    if rows:
        dat = write_table(work, "chaos", ["run", "label", "sent", "delivered", "duplicates", "lost"], rows)
        scripts.append(script(work, out, "chaos", "Chaos (kill -9): delivered vs sent", "messages", dat,
                              [(4, "delivered (distinct)", "lw 2 pt 7"), (3, "sent", "lw 1 pt 5 dt 2"),
                               (5, "duplicates", "lw 1 pt 6"), (6, "lost", "lw 2 pt 4")],
                              "set yrange [0:*]\n"))

    # Master data: resolve rate per data set (batch resolve and streaming), peak RSS in the labels.
    rows = []
    mdm = os.path.join(results, "mdm")
    for kind in ("resolve", "stream"):
        for size in ("100000", "1000000"):
            p = os.path.join(mdm, f"{kind}-{size}.txt")
            if not os.path.exists(p):
                continue
            text = open(p).read()
            m = re.search(r"\((\d+) records/s\)", text)
            rss = re.search(r"peak_rss=(\d+)MiB", text)
            p99 = re.search(r"latency_us\[all \d+\] p50=([0-9.]+) p99=([0-9.]+)", text)
            lab = f"{kind} {int(size) // 1000}k" + (f"\\n{rss.group(1)} MiB" if rss else "") + \
                  (f"\\np99 {p99.group(2)} us" if p99 else "")
            rows.append((lab, float(m.group(1)) if m else None))
    if rows:
        dat = write_table(work, "mdm", ["run", "label", "records_per_s"], rows)
        scripts.append(script(work, out, "mdm", "Master data: identity resolution", "records/s", dat,
                              [(3, "records/s", "with boxes")],
                              "set key inside top right\nset style fill solid 0.6\nset boxwidth 0.6\nset yrange [0:*]\nset xrange [-0.6:*]\nset xtics norotate\n"))
    return scripts


if __name__ == "__main__":
    for s in main(*sys.argv[1:4]):
        print(s)

#!/usr/bin/env python3
"""Drives bench/load.sh: starts the sink and the servers, runs wrk, prints the table."""

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

CLK = os.sysconf("SC_CLK_TCK")


def parse_args():
    p = argparse.ArgumentParser()
    p.add_argument("--bin", required=True)
    p.add_argument("--smoke", action="store_true")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--duration", type=int, default=10)
    p.add_argument("--connections", type=int, default=0,
                   help="default: 64 for the users' shape, 32 for the single-worker one")
    p.add_argument("--shape", default="users", choices=["users", "single", "all"],
                   help="users: a #[tokio::main] multi-thread runtime, 64 connections, an "
                        "unsampled W3C traceparent on every request (the app users write); "
                        "single: one Tokio worker, 32 connections, no traceparent (the earlier "
                        "rounds); all: both, one table each")
    p.add_argument("--modes", default="traced,sampled_out,excluded,peer,outage",
                   help="also: null_layer (a pass-through tower layer: the floor under any middleware), "
                        "floor (a hand-made minimal tracer: an upper bound on any tracer's ratio), "
                        "floor_context (the incoming trace handed to the handler, nothing recorded)")
    p.add_argument("--outage", type=int, default=0,
                   help="the soak instead: full load with ingestion down this many seconds, the "
                        "server SIGKILLed halfway and restarted, then recovery; exactly-once check")
    a = p.parse_args()
    if a.smoke:
        a.rounds, a.duration, a.modes = 1, 2, "traced"
    return a


SHAPES = {
    # runtime, connections, header
    "users": ("multi", 64, "traceparent: 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00"),
    "single": ("single", 32, None),
}


def read_line_with(proc, prefix):
    while True:
        line = proc.stdout.readline()
        if not line:
            raise RuntimeError(f"process ended before printing {prefix}")
        line = line.decode().strip()
        if line.startswith(prefix):
            return line[len(prefix):]


def sink_count(port):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/count", timeout=10) as r:
        return int(r.read().decode())


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK


def peak_rss_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    return 0.0


def to_us(text):
    m = re.match(r"([\d.]+)(us|ms|s)", text)
    value, unit = float(m.group(1)), m.group(2)
    return value * {"us": 1, "ms": 1000, "s": 1_000_000}[unit]


def wrk(port, path, seconds, connections, header=None):
    extra = ["-H", header] if header else []
    out = subprocess.run(
        ["taskset", "-c", "1", "wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency"]
        + extra + [f"http://127.0.0.1:{port}{path}"],
        check=True, capture_output=True, text=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    total = int(re.search(r"(\d+) requests in", out).group(1))
    p50 = to_us(re.search(r"50%\s+([\d.]+\w+)", out).group(1))
    p99 = to_us(re.search(r"99%\s+([\d.]+\w+)", out).group(1))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if errors:
        raise RuntimeError(f"wrk saw errors:\n{out}")
    return rps, total, p50, p99


def thread_cpu(pid):
    """CPU seconds per thread kind: (export threads, everything else)."""
    export, other = 0.0, 0.0
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/comm") as f:
                name = f.read().strip()
            with open(f"/proc/{pid}/task/{tid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        secs = (int(fields[11]) + int(fields[12])) / CLK
        if name.startswith("opencensus-"):
            export += secs
        else:
            other += secs
    return export, other


def path_of(mode):
    return "/healthz" if mode == "excluded" else "/"


def run(args, mode, sink_port, shape, path=None):
    """One server in `mode` under load; `path`: what wrk requests (default: the mode's own; an
    untraced baseline requests the path of the mode it is compared with)."""
    runtime, connections, header = SHAPES[shape]
    connections = args.connections or connections
    path = path or path_of(mode)
    sink = f"http://127.0.0.1:{sink_port}" if mode != "outage" else "http://127.0.0.1:1"
    with tempfile.TemporaryDirectory() as storage:
        before = sink_count(sink_port)
        proc = subprocess.Popen(
            ["taskset", "-c", "0", args.bin, "server", "--mode", mode, "--sink", sink,
             "--storage", storage, "--runtime", runtime],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        port = int(read_line_with(proc, "PORT="))
        wrk(port, path, 1, connections, header)  # warm-up
        cpu0 = cpu_seconds(proc.pid)
        export0, other0 = thread_cpu(proc.pid)
        delivered0 = sink_count(sink_port)
        rps, total, p50, p99 = wrk(port, path, args.duration, connections, header)
        cpu1 = cpu_seconds(proc.pid)
        export1, other1 = thread_cpu(proc.pid)
        delivered_during = sink_count(sink_port) - delivered0
        rss = peak_rss_mib(proc.pid)
        proc.stdin.close()
        served = int(read_line_with(proc, "SERVED "))
        stderr = proc.stderr.read().decode()
        proc.wait(timeout=120)
        delivered = sink_count(sink_port) - before
        stored = sum(len(files) for _, _, files in os.walk(storage))
    return {
        "mode": mode, "rps": rps, "p50": p50, "p99": p99,
        "cpu_us": (cpu1 - cpu0) * 1e6 / max(total, 1), "rss": rss,
        "worker_us": (other1 - other0) * 1e6 / max(total, 1),
        "export_us_per_span": (export1 - export0) * 1e6 / max(delivered_during, 1)
        if delivered_during else 0.0,
        "served": served, "delivered": delivered, "stored_files": stored, "stats": stderr.strip(),
    }


def sink_get(port, path):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=30) as r:
        return int(r.read().decode() or 0)


def soak(args):
    """Ingestion down for --outage seconds under full load; the server is SIGKILLed halfway
    through the outage and a new one started on the same storage; then ingestion recovers (load
    still on) and the second server stops gracefully. Every request served must arrive once."""
    conns = args.connections or 32
    sink = subprocess.Popen(["taskset", "-c", "1", args.bin, "sink", "--track-ids"],
                            stdout=subprocess.PIPE)
    try:
        sink_port = int(read_line_with(sink, "SINK_PORT="))
        sink_url = f"http://127.0.0.1:{sink_port}"
        sink_get(sink_port, "/fail")
        half = max(args.outage // 2, 1)
        recovery = max(args.outage // 3, 10)
        with tempfile.TemporaryDirectory() as storage:
            def start():
                proc = subprocess.Popen(
                    ["taskset", "-c", "0", args.bin, "server", "--mode", "traced", "--sink",
                     sink_url, "--storage", storage],
                    stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
                return proc, int(read_line_with(proc, "PORT="))

            def files():
                return sum(1 for _, _, fs in os.walk(storage) for f in fs if f.endswith(".blob"))

            def waiting_items():
                # `<nanos>-<count>-<pid>-<seq>.blob|lease`: what storage still holds.
                return sum(int(f.split("-")[1]) for _, _, fs in os.walk(storage) for f in fs
                           if f.endswith((".blob", ".lease")))

            a, port = start()
            _, served_a, _, _ = wrk(port, "/", half, conns)
            rss_a = peak_rss_mib(a.pid)
            a.kill()  # SIGKILL, in the middle of the outage
            a.wait()
            files_at_kill = files()
            b, port = start()
            _, served_b, _, _ = wrk(port, "/", half, conns)
            files_at_end = files()
            sink_get(sink_port, "/ok")
            _, served_c, _, _ = wrk(port, "/", recovery, conns)
            recovered_at = time.time()
            # Load off; the server keeps running until it has resent what storage holds (its
            # backoff may wait up to 60 s before the first resend), 300 s at most.
            while waiting_items() > 0 and time.time() - recovered_at < 300:
                time.sleep(1)
            drained_in = time.time() - recovered_at
            rss_b = peak_rss_mib(b.pid)
            b.stdin.close()
            read_line_with(b, "SERVED ")
            stats = b.stderr.read().decode().strip()
            b.wait(timeout=120)
            left = files()
            left_items = waiting_items()
        served = served_a + served_b + served_c
        unique = sink_get(sink_port, "/unique")
        dups = sink_get(sink_port, "/dups")
        print()
        print(f"soak: ingestion down {2 * half} s under load ({conns} connections), "
              f"server SIGKILLed after {half} s and restarted, then {recovery} s of recovery")
        print()
        print("| served | delivered (unique) | duplicates | still stored | lost | stored files at kill / end of outage / after | storage drained in | peak RSS first / second server |")
        print("|---|---|---|---|---|---|---|---|")
        print(f"| {served} | {unique} | {dups} | {left_items} | {served - unique - left_items} | "
              f"{files_at_kill} / {files_at_end} / {left} | {drained_in:.0f} s after recovery | "
              f"{rss_a:.1f} / {rss_b:.1f} MiB |")
        print()
        print(f"second server's counters: {stats}")
    finally:
        sink.kill()


def main():
    args = parse_args()
    if args.outage:
        return soak(args)
    modes = [m for m in args.modes.split(",") if m]
    shapes = list(SHAPES) if args.shape == "all" else [args.shape]
    sink = subprocess.Popen(["taskset", "-c", "1", args.bin, "sink"], stdout=subprocess.PIPE)
    ok = True
    try:
        sink_port = int(read_line_with(sink, "SINK_PORT="))
        for shape in shapes:
            ok = table(args, modes, sink_port, shape) and ok
    finally:
        sink.kill()
    if not ok:
        print("error: some traced requests were not delivered", file=sys.stderr)
        sys.exit(1)


def table(args, modes, sink_port, shape):
    results = {m: [] for m in ["untraced"] + modes}
    ratios = {m: [] for m in modes}
    p99_ratios = {m: [] for m in modes}
    for r in range(args.rounds):
        for mode in modes:
            base = run(args, "untraced", sink_port, shape, path_of(mode))
            res = run(args, mode, sink_port, shape)
            results["untraced"].append(base)
            results[mode].append(res)
            ratios[mode].append(res["rps"] / base["rps"])
            p99_ratios[mode].append(res["p99"] / base["p99"])
            print(f"{shape} round {r + 1} {mode:12} {res['rps']:10.0f} req/s  vs untraced "
                  f"{base['rps']:10.0f}  ratio {res['rps'] / base['rps']:.3f}  "
                  f"delivered {res['delivered']}/{res['served']}", file=sys.stderr)
            if res["stats"]:
                print(f"           {res['stats']}", file=sys.stderr)
    med = statistics.median
    runtime, connections, header = SHAPES[shape]
    print()
    print(f"shape `{shape}`: {'#[tokio::main] multi-thread runtime' if runtime == 'multi' else 'one Tokio worker'}, "
          f"{args.connections or connections} connections, "
          f"{'an unsampled traceparent on every request' if header else 'no traceparent'}; "
          f"{args.rounds} interleaved rounds of {args.duration} s, server pinned to core 0, "
          "wrk and the sink to core 1; medians")
    print()
    print("| mode | req/s | vs untraced (per round) | p50 us | p99 us | p99 vs untraced | CPU us/req (worker) | export thread us/span | peak RSS MiB | delivered / served |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    ok = True
    for mode in ["untraced"] + modes:
        rs = results[mode]
        if mode in ratios:
            per_round = " / ".join(f"{x:.3f}" for x in ratios[mode])
            ratio = f"{med(ratios[mode]):.2f}x ({per_round})"
        else:
            ratio = "1.00x"
        p99r = f"{med(p99_ratios[mode]):.2f}x" if mode in p99_ratios else "1.00x"
        if mode in ("traced", "peer", "floor"):
            fractions = [x["delivered"] / max(x["served"], 1) for x in rs]
            delivered = f"{min(fractions) * 100:.1f}% (min)"
            if mode == "traced" and min(fractions) < 1.0:
                ok = False
        elif mode == "outage":
            delivered = f"0 sent, {med([x['stored_files'] for x in rs]):.0f} files stored"
        else:
            delivered = "-"
        export = med([x["export_us_per_span"] for x in rs])
        export = f"{export:.2f}" if export else "-"
        print(f"| {mode} | {med([x['rps'] for x in rs]):.0f} | {ratio} | {med([x['p50'] for x in rs]):.0f} | "
              f"{med([x['p99'] for x in rs]):.0f} | {p99r} | {med([x['cpu_us'] for x in rs]):.1f} "
              f"({med([x['worker_us'] for x in rs]):.1f}) | {export} | "
              f"{med([x['rss'] for x in rs]):.1f} | {delivered} |")
    return ok


if __name__ == "__main__":
    main()

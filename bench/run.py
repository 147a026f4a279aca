"""Run the benchmarks of the change as interleaved A/B pairs.

usage: python3 run.py --baseline PYTHON --patched PYTHON [--out FILE]
                      [--runs-factor F] [NAME ...]

Each benchmark compares a reference (the unpatched interpreter, or the
daemon-thread workaround on the patched interpreter) with the change.  The
two sides run alternately, in fresh processes and in ABBA order (so that
running second in a pair favours neither side), and the result is the
median of each side; ratio = patched median / baseline median, so below 1
means the change is faster (or smaller).  The table also gives a 95%
bootstrap interval of the ratio, stored in the JSON as ci_low and ci_high: a
ratio whose interval contains 1 is a tie within the noise.  Whole-process
benchmarks time the process from spawn to reaping; the others print their
own per-operation time.

Timing is never asserted here: the numbers are reported, and read against
the goals in the README.
"""

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import time

CASES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "cases")


def case(name):
    return os.path.join(CASES, name)


# name, reference, unit, kind, runs, baseline side, patched side.  A side is
# (interpreter, arguments); kind "wall" times the process, "printed" reads
# the per-operation seconds it prints.
def benchmarks():
    exit_loops = [
        (f"exit-loops-{n}", "workaround", "ms", "wall", runs,
         ("patched", [case("exit_loops.py"), str(n), "workaround"]),
         ("patched", [case("exit_loops.py"), str(n), "background"]))
        for n, runs in ((1, 120), (100, 60), (1000, 20))
    ]
    return [
        ("thread-start-join", "unpatched", "us", "printed", 20,
         ("baseline", [case("thread_start_join.py")]),
         ("patched", [case("thread_start_join.py")])),
        ("exit-empty", "unpatched", "ms", "wall", 100,
         ("baseline", ["-c", "pass"]),
         ("patched", ["-c", "pass"])),
        *exit_loops,
        # Exit with threads that each need 0.2 s to stop: asked all at
        # once, it takes about one of them (issue 22, R2).
        ("exit-workers", "workaround", "ms", "wall", 40,
         ("patched", [case("exit_workers.py"), "workaround"]),
         ("patched", [case("exit_workers.py"), "terminate"])),
        ("exit-loops-close", "workaround", "ms", "wall", 40,
         ("patched", [case("exit_loops_close.py"), "workaround"]),
         ("patched", [case("exit_loops_close.py"), "background"])),
        # The report of the threads exit waits for, in development mode,
        # when there is nothing to report.
        ("exit-report-dev", "no-report", "ms", "wall", 100,
         ("patched", ["-X", "dev", case("exit_report.py"), "no-report"]),
         ("patched", ["-X", "dev", case("exit_report.py"), "report"])),
        ("call-roundtrip", "workaround", "us", "printed", 20,
         ("patched", [case("call_roundtrip.py"), "workaround"]),
         ("patched", [case("call_roundtrip.py"), "background"])),
        ("terminate-latency", "workaround", "us", "printed", 60,
         ("patched", [case("terminate_latency.py"), "workaround"]),
         ("patched", [case("terminate_latency.py"), "background"])),
        # Not a goal: the same as terminate-latency against a workaround
        # that also cancels the task, to separate the cost of cancellation.
        ("terminate-latency-cancel", "workaround-cancel", "us", "printed", 60,
         ("patched", [case("terminate_latency.py"), "workaround-cancel"]),
         ("patched", [case("terminate_latency.py"), "background"])),
    ]


SCALE = {"us": 1e6, "ms": 1e3}

# The benchmarks run without the caller's PYTHON* variables: for instance
# PYTHONDONTWRITEBYTECODE would make every run compile the modules whose
# cached bytecode is stale, which is not what is measured.
ENV = {key: value for key, value in os.environ.items()
       if not key.startswith("PYTHON")}


def ratio_interval(baseline, patched, resamples=2000):
    """95% bootstrap interval of median(patched) / median(baseline)."""
    rng = random.Random(0)
    ratios = sorted(
        statistics.median(rng.choices(patched, k=len(patched)))
        / statistics.median(rng.choices(baseline, k=len(baseline)))
        for _ in range(resamples))
    return ratios[int(0.025 * resamples)], ratios[int(0.975 * resamples) - 1]


def abba(i, pair):
    """The two items of pair in the order of run i of an ABBA sequence:
    whichever side runs second (with warmer caches, or right after the
    other's exit) alternates."""
    pair = list(pair)
    return pair if i % 2 == 0 else pair[::-1]


def report(name, reference, unit, base, patched, interval, runs):
    low, high = interval
    print(f"{name:<24} {reference:<17} {base:>10.3f} {patched:>10.3f} "
          f"{unit:<3} {patched / base:>6.3f} {low:>6.3f}-{high:<6.3f} "
          f"{runs:>5}", flush=True)


def result(name, reference, unit, base, patched, interval, runs, digits):
    """One entry of the results JSON: the medians (rounded to *digits*),
    their ratio and its 95% bootstrap interval (ci_low, ci_high)."""
    low, high = interval
    return dict(name=name, reference=reference,
                baseline_median=round(base, digits),
                patched_median=round(patched, digits),
                unit=unit, ratio=round(patched / base, 3),
                ci_low=round(low, 3), ci_high=round(high, 3),
                runs=runs)


def run_once(cmd, timeout=120):
    """Run cmd; return (wall seconds, stdout).  Exit on any failure."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=ENV)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        sys.exit(f"bench: timeout: {' '.join(cmd)}")
    wall = time.perf_counter() - t0
    if proc.returncode or err:
        sys.exit(f"bench: {' '.join(cmd)} failed (exit code "
                 f"{proc.returncode}):\n{err.decode(errors='replace')}")
    return wall, out.decode()


def peak_rss(cmd):
    """Peak RSS of cmd, in KiB (ru_maxrss of the reaped child)."""
    pid = os.posix_spawn(cmd[0], cmd, ENV)
    _, status, rusage = os.wait4(pid, 0)
    if os.waitstatus_to_exitcode(status):
        sys.exit(f"bench: {' '.join(cmd)} failed")
    return rusage.ru_maxrss


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--baseline", required=True,
                        help="the unpatched interpreter")
    parser.add_argument("--patched", required=True,
                        help="the patched interpreter")
    parser.add_argument("--out", help="write the results as JSON here")
    parser.add_argument("--runs-factor", type=float, default=1.0,
                        help="multiply the number of pairs (default 1)")
    parser.add_argument("names", nargs="*", help="only these benchmarks")
    args = parser.parse_args()
    pythons = {"baseline": args.baseline, "patched": args.patched}

    results = []
    print(f"{'benchmark':<24} {'reference':<17} {'baseline':>10} "
          f"{'patched':>10} {'':<3} {'ratio':>6} {'95% interval':<13} "
          f"{'runs':>5}", flush=True)
    for name, reference, unit, kind, runs, a, b in benchmarks():
        if args.names and name not in args.names:
            continue
        runs = max(3, round(runs * args.runs_factor))
        for side in a, b:
            # Warm up: writes the bytecode caches, fills the page cache.
            run_once([pythons[side[0]], *side[1]])
        samples = ([], [])
        for i in range(runs):
            for side, values in abba(i, zip((a, b), samples)):
                wall, out = run_once([pythons[side[0]], *side[1]])
                values.append(wall if kind == "wall" else float(out))
        base = statistics.median(samples[0]) * SCALE[unit]
        patched = statistics.median(samples[1]) * SCALE[unit]
        interval = ratio_interval(*samples)
        results.append(result(name, reference, unit, base, patched,
                              interval, runs, digits=3))
        report(name, reference, unit, base, patched, interval, runs)

    if not args.names or "exit-loops-1000" in args.names:
        name = "exit-loops-1000-rss"
        runs = max(3, round(10 * args.runs_factor))
        samples = ([], [])
        for i in range(runs):
            for variant, values in abba(i, zip(("workaround", "background"),
                                               samples)):
                values.append(peak_rss([args.patched, case("exit_loops.py"),
                                        "1000", variant]) / 1024)
        base = statistics.median(samples[0])
        patched = statistics.median(samples[1])
        interval = ratio_interval(*samples)
        results.append(result(name, "workaround", "MiB", base, patched,
                              interval, runs, digits=1))
        report(name, "workaround", "MiB", base, patched, interval, runs)

    if args.out:
        with open(args.out, "w") as f:
            json.dump(results, f, indent=2)
            f.write("\n")


if __name__ == "__main__":
    main()

"""The shutdown torture suite: many randomized interpreter exits.

usage: python3 run.py --python PYTHON [--runs N] [--seed S] [--jobs J]
                      [--timeout SECONDS] [--failures DIR]

Run i executes scenario.py with the seed S + i in a fresh process, lets the
process exit, and checks what it logged and printed.  A run fails on a hang
(timeout: the process gets SIGABRT first, so that faulthandler shows where
every thread was), a death by signal, a nonzero exit status, an actor whose
cleanup did not complete, a termination request lost or made twice (but
for one that raised, which is made again with the services), a call or
record that a service did not serve, a job or queued item lost, a pool
of threads that took far longer to stop than its slowest member
(SLOW_SLACK), or output other than the tracebacks the scenario asked for.

In half of the runs, the scenario runs in the development mode
(-X dev, warnings ignored), where interpreter exit reports the threads it
still waits for at its deadline (5 s), which some scenarios reach; its
lines are accepted in the output.

In about one run in seven, SIGINT is sent at a random moment during
interpreter exit (once interpreter exit has asked the first thread to
terminate), and sometimes a second one.  Those runs must still exit without
a crash, and no thread may be asked more than twice (a request that Ctrl-C
interrupted is made again); as documented, a Ctrl-C during exit stops the
wait for the threads, so their cleanup may be cut short.

Prints one line per failing seed, then "stress: N passed, N failed".  A
run that fails only by an upstream bug known and fixed on CPython's main
branch (KNOWN_UPSTREAM) is printed as KNOWN and counted apart, not passed:
"stress: N passed, N failed, N known upstream".
"""

import argparse
import concurrent.futures
import os
import random
import re
import select
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict

SCENARIO = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                        "scenario.py")
ENV = {key: value for key, value in os.environ.items()
       if not key.startswith("PYTHON")}


class Failure(Exception):
    pass


# scenario.py reports unraisable exceptions in one line each, "unraisable
# TYPE: MESSAGE [WHERE]".  After SIGINT, KeyboardInterrupt may be reported
# from anywhere, or interrupt a report, or come out as a traceback; and an
# atexit function may fail in other ways, for KeyboardInterrupt interrupted
# its "with lock:" block (logging.shutdown() does that, with an RLock).  So
# may a terminate callback: scenario.py marks such reports "(after
# KeyboardInterrupt)" (seed 5008751: "release unlocked lock" in the
# Event.wait() of a Thread.start() called by the callback).
# And a SIGINT that arrives while finalization restores the default
# handlers is reported by CPython itself as "Signal 2 ignored due to race
# condition" (Modules/signalmodule.c, bpo-43406; seed 9100408).
SIGINT_LINE = re.compile(
    r"unraisable KeyboardInterrupt: "
    r"|unraisable OSError: Signal 2 ignored due to race condition \[.*\]$"
    # A thread whose cleanup uses an executor after Ctrl-C let them shut
    # down (the documented "cleanup may be cut short").
    r"|Exception in thread \S+:$"
    r"|RuntimeError: cannot schedule new futures after "
    r"(interpreter )?shutdown$"
    # ... raised in the task's cleanup, once cancelled (seed 12001102).
    r"|asyncio\.exceptions\.CancelledError$"
    r"|During handling of the above exception, another exception occurred:$"
    r"|$"
    r"|unraisable \w+: .* \[Exception ignored in atexit callback .*\]$"
    r"|unraisable \w+: .* \(after KeyboardInterrupt\) \[.*\]$"
    r"|KeyboardInterrupt: ?$"
    r"|Traceback \(most recent call last\):$"
    r"|  File .*"
    r"|    .*"
    r"|Exception ignored .*")


# The development mode's report of the threads that exit waits for: the
# threads, whether they were asked, then faulthandler's stacks.
REPORT_LINE = re.compile(
    r"threading: interpreter exit still waits for threads "
    r"[0-9.]+ seconds after it began \(-X dev\):$"
    r"|<.*>:? (not )?asked\b.*$"
    r"|\(no stacks: faulthandler cannot write them here\)$"
    r"|(Current thread|Thread) 0x[0-9a-f]+ \(most recent call first\):$"
    r"|  File .* line \d+ in .*$"
    r"|  \.\.\.$"
    r"|\.\.\.$"
    r"|  plus \d+ frames$"
    # A thread that has not run Python code yet, or no longer runs it
    # (seed 686), and what faulthandler reports on odd states.  It takes
    # the state of a thread that is starting (its thread_id still 0) for a
    # freed one, and stops its dump there (seed 599; Python/traceback.c,
    # tstate_is_freed()).
    r"|  <no Python frame>$"
    r"|  Garbage-collecting$"
    r"|  <(freed|invalid) frame>$"
    r"|  <freed thread state>$"
    r"|<freed thread state>$"
    r"|$")
# faulthandler writes a line in pieces: another thread's report (one
# os.write() from scenario.py's hook) can land inside one (seed 1089), and
# the rest of the line then follows it.
REPORT_FRAGMENT = re.compile(r'.*", line \d+ in \S*$'
                             r"|.* \(most recent call first\):$")
# Callbacks of threads started during exit may raise KeyboardInterrupt,
# reported as any other error outside the thread running the exit; a
# request made while a thread starts up fails (scenario.py, stop_loop()).
RAISED = re.compile(r"unraisable (?:(?:RuntimeError|KeyboardInterrupt): "
                    r"stress-raise |AttributeError: '\w+' object has no "
                    r"attribute 'loop' \[Exception ignored while asking )")


def check_output(stderr, sigint, raises, report=False):
    """Every report in stderr must be one the scenario asked for: the
    callbacks that raised on purpose, after SIGINT, KeyboardInterrupt, and
    in the development mode, the report of the threads exit waits for."""
    reported = len(RAISED.findall(stderr)) if report else 0
    for line in stderr.splitlines():
        if RAISED.match(line):
            reported += not report
        elif report and (REPORT_LINE.match(line) or RAISED.search(line)
                         or REPORT_FRAGMENT.match(line)):
            pass
        elif not (sigint and SIGINT_LINE.match(line)):
            raise Failure(f"unexpected output: {line!r}")
    # SIGINT may interrupt a report.
    if reported > raises or not sigint and reported != raises:
        raise Failure(f"{raises} callbacks raised, {reported} were reported")


# How much longer than its slowest member a pool of threads that each need
# DELAY to stop may take to stop at exit (slow_pool() in scenario.py): all
# asked at once, they stop in about DELAY; asked one after another, in
# COUNT * DELAY, at least 8 * 0.3 s.  Generous, for a loaded machine.
SLOW_SLACK = 1.5


def check_log(text, sigint):
    plans = {}
    events = defaultdict(Counter)
    # {(name, event): [time.monotonic() of each]}, for events ending in @T.
    times = defaultdict(list)
    raises = 0
    for line in text.splitlines():
        event, *words = line.split()
        if words and words[-1].startswith("@"):
            when = float(words.pop()[1:])
            times[words[0] if words else None, event].append(when)
        if event == "plan":
            name, kind, *options = words
            plans[name] = (kind, dict(o.split("=") for o in options))
        elif words:
            events[words[0]][event] += 1
            if event == "raise":
                raises += 1
        else:
            events[None][event] += 1

    for name, (kind, options) in plans.items():
        seen = events[name]
        # A request that raised, or that Ctrl-C interrupted, is made again
        # with the rest (the services), once.
        if seen["term"] > (2 if sigint or seen["raise"] else 1):
            raise Failure(f"{name} asked to terminate {seen['term']} times")
        if sigint:
            # After one Ctrl-C the waiting stops, but every thread is still
            # asked (a late one may start once exit has given up, and is
            # then not asked).
            # A worker may end on another's sentinel before it is asked.
            if (sigint == 1 and kind in ("plain", "worker")
                    and not name.startswith("late")
                    and options.get("late") != "1" and not seen["term"]
                    and not (kind == "worker" and seen["end"])):
                raise Failure(f"{name}: termination request lost after "
                              f"Ctrl-C")
            continue  # the wait was interrupted: cleanup may be cut short
        if kind == "plain":
            # Runs until asked: asked at exit (twice at most, see above).
            if not seen["term"]:
                raise Failure(f"{name}: termination request lost")
            if options["daemon"] == "0" and not seen["end"]:
                raise Failure(f"{name}: cleanup did not complete")
        elif kind == "short":
            if not seen["end"]:
                raise Failure(f"{name}: did not complete")
        elif kind == "bg":
            if options["when"] in ("running", "own-loop") and not seen["start"]:
                raise Failure(f"{name}: task did not start")
            if options["when"] == "before-start" and seen["start"]:
                raise Failure(f"{name}: task started after terminate()")
            if seen["start"]:
                if seen["term"] != 1:
                    raise Failure(f"{name}: task not cancelled")
                if not seen["cleanup"]:
                    raise Failure(f"{name}: cleanup did not complete")
                if options["to_thread"] == "1" and not seen["to-thread"]:
                    raise Failure(f"{name}: to_thread() cleanup did not run")
        elif kind == "call":
            if seen["start"] and not seen["cleanup"]:
                raise Failure(f"{name}: call cleanup did not complete")
        elif kind == "fork":
            if not seen["child"] or seen["child-exit"] != 1:
                raise Failure(f"{name}: fork child failed")
        elif kind == "portal":
            pass
        elif kind in ("user", "lazy"):
            # Its cleanup used a portal started before it or by its first job
            # (user), or that it started itself during exit (lazy): the
            # portal, a service, served it.
            if seen["refused"]:
                raise Failure(f"{name}: portal refused its calls")
            jobs = int(options.get("jobs", 1))
            if seen["term"] != 1 or seen["served"] != jobs or not seen["end"]:
                raise Failure(f"{name}: cleanup did not complete")
        elif kind == "tmain":
            # Its threads, started and joined during exit, are not kept.
            if seen["kept"]:
                raise Failure(f"{name}: threads kept after their end")
            if seen["term"] != 1 or not seen["end"]:
                raise Failure(f"{name}: did not complete")
        elif kind == "exitcall":
            # Both futures completed: the process got there.
            if not seen["end"]:
                raise Failure(f"{name}: a call was left pending")
        elif kind == "atexit":
            # Started by an atexit function: not asked, runs to its end.
            if seen["term"]:
                raise Failure(f"{name}: asked to terminate")
            if not seen["end"]:
                raise Failure(f"{name}: did not complete")
            # A portal stopped at exit refuses its call at once (so does the
            # parent's portal in a fork child, which runs atexit functions
            # too).
            if options["portal"] == "1" and (seen["accepted"]
                                             or not seen["refused"]):
                raise Failure(f"{name}: a stopped portal accepted a call")
        elif kind == "worker":
            # One of a pool sharing a queue: asked by a sentinel of its own.
            if not seen["term"]:
                raise Failure(f"{name}: termination request lost")
            if not seen["end"]:
                raise Failure(f"{name}: cleanup did not complete")
        elif kind == "pool":
            # Every job queued before exit was done.
            if seen["served"] != int(options["jobs"]):
                raise Failure(f"{name}: {seen['served']} of "
                              f"{options['jobs']} jobs done")
        elif kind in ("clients", "service"):
            # Calls of clients that outlive main, executor jobs and cleanups
            # (clients), records of the same (service): a service is asked
            # only once they are done, and serves every one.
            if seen["refused"]:
                raise Failure(f"{name}: a call was refused")
            expected = int(options.get("calls", options.get("records", 0)))
            if seen["served"] != expected:
                raise Failure(f"{name}: {seen['served']} of {expected} "
                              f"served")
            if kind == "service" and (seen["term"] != 1 or not seen["end"]):
                raise Failure(f"{name}: did not complete")
        elif kind == "startup":
            # Asked while starting up, its request may fail: the one made
            # again with the rest stops it.
            if seen["term"] != seen["raise"] + 1 or not seen["end"]:
                raise Failure(f"{name}: not stopped ({seen['term']} "
                              f"requests, {seen['raise']} failed)")
        elif kind == "pipe":
            # Queue.shutdown() lets the consumers drain what was put.
            if seen["got"] != seen["put"]:
                raise Failure(f"{name}: {seen['put']} items put, "
                              f"{seen['got']} consumed")
        elif kind == "slow":
            count = int(options["count"])
            stops = times[name, "stopped"]
            if len(stops) != count:
                raise Failure(f"{name}: {len(stops)} of {count} stopped")
            if options["loops"] == "1":
                # Services, asked all at once.
                begin = min((when for i in range(count)
                             for when in times[f"{name}.{i}", "term"]),
                            default=None)
            else:
                begin = min(times[None, "exiting"], default=None)
            if begin is None:
                raise Failure(f"{name}: stopped without a request")
            delay = float(options["delay"])
            took = max(stops) - begin
            if took > delay + SLOW_SLACK:
                raise Failure(f"{name}: {count} threads needing {delay} s "
                              f"each took {took:.2f} s to stop (one after "
                              f"another: {count * delay:.1f} s)")
    for name, seen in events.items():
        if seen["child-exit"] and not any(
                line == f"child-exit {name} 0" for line in text.splitlines()):
            raise Failure(f"{name}: fork child exited with an error")
        if seen["child-error"]:
            raise Failure(f"{name}: fork child failed")
    if not events[None]["main-done"]:
        raise Failure("the main module did not complete")
    return raises


# Crashes of CPython 3.13.15 that main has since fixed, in the runs where
# they are expected: (how the process died, a test of its stderr, SIGINT
# runs only, the issue).
#
# gh-143424 (fixed by gh-143439, not in 3.13.15): a threading.Lock
# released again while the thread it was handed off to wakes up trips a
# debug-build assertion that "does not necessarily hold for
# threading.Lock".  Condition.notify() interrupted by Ctrl-C between
# releasing a waiter's lock and forgetting it, then called again (a request
# that Ctrl-C interrupted is made again: Event.set() twice), releases that
# lock twice (seeds 12008710, 13001920, free-threaded build; reproduced
# without interpreter exit by releasing an Event waiter's lock twice, on
# both builds).
#
# gh-124878 (fixed on main by gh-130649, which gives thread states a
# reference count; 3.13.15 has no _Py_THREAD_SHUTTING_DOWN): on the
# free-threaded build, Py_FinalizeEx() stops the world, deletes the thread
# states of the threads still running and starts the world again; a thread
# that was stopped while running Python code then re-attaches through its
# freed thread state and dies with SIGSEGV in tstate_try_attach(), and
# faulthandler, reading that thread state, faults in turn: its report ends
# after its first line.  Threads still run at finalization after Ctrl-C
# skipped the final join, as in 3.13.15 without the change (seed 13005277;
# core dump of a replay: the crashing thread in _Py_HandlePending() ->
# _PyThreadState_Attach() -> tstate_wait_attach(), the main thread in
# Py_FinalizeEx()'s PyGC_Collect()).
KNOWN_UPSTREAM = [
    ("killed by SIGABRT",
     lambda stderr: "_PyMutex_LockTimed: Assertion `_Py_atomic_load_uint8_"
                    "relaxed(&m->_bits) & _Py_LOCKED' failed." in stderr,
     True, "gh-143424"),
    ("killed by SIGSEGV",
     lambda stderr: stderr.endswith("Fatal Python error: Segmentation "
                                    "fault\n\n"),
     True, "gh-124878"),
]


def known_upstream(reason, stderr, sigints):
    for died, matches, needs_sigint, issue in KNOWN_UPSTREAM:
        if (reason == died and matches(stderr)
                and (sigints or not needs_sigint)):
            return issue
    return None


def run_one(python, seed, timeout, failures):
    rng = random.Random(f"sigint {seed}")
    sigints = 0
    if rng.random() < 0.15:
        sigints = 2 if rng.random() < 0.3 else 1
    report = random.Random(f"report {seed}").random() < 0.5
    with tempfile.NamedTemporaryFile("w+", prefix="stress-",
                                     suffix=".log") as logfile:
        cmd = [python, "-X", "faulthandler", SCENARIO, str(seed),
               logfile.name]
        if report:
            cmd[1:1] = ["-X", "dev", "-W", "ignore"]
            cmd.append("dev")
        proc = subprocess.Popen(
            cmd,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=ENV,
            # Its own process group: a hung fork child, which holds the
            # pipes too, is signalled with it.
            start_new_session=True)
        deadline = time.monotonic() + timeout
        stderr = b""
        try:
            if sigints:
                # "exiting" is written when interpreter exit asks the first
                # thread to terminate; a run that hangs before has not.
                ready, _, _ = select.select(
                    [proc.stdout], [], [], max(0, deadline - time.monotonic()))
                line = proc.stdout.readline() if ready else b""
                if line == b"exiting\n":
                    for _ in range(sigints):
                        time.sleep(rng.choice([0, 0.0005, 0.002, 0.01, 0.05]))
                        proc.send_signal(signal.SIGINT)
            if sigints:
                # As documented, the first Ctrl-C stops the wait for the
                # threads but executors still finish their queued work, which
                # may wait on a thread whose request Ctrl-C broke; a second
                # Ctrl-C interrupts that wait.  A user who sees the exit
                # still waiting presses it again: so does this driver, once.
                try:
                    _, stderr = proc.communicate(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.send_signal(signal.SIGINT)
                    sigints += 1
            if proc.returncode is None:
                _, stderr = proc.communicate(
                    timeout=max(1, deadline - time.monotonic()))
            stderr = stderr.decode(errors="replace")
            logfile.seek(0)
            log = logfile.read()
            if proc.returncode < 0:
                sig = signal.Signals(-proc.returncode).name
                if not (sigints and sig == "SIGINT"):
                    raise Failure(f"killed by {sig}")
            elif proc.returncode:
                raise Failure(f"exit status {proc.returncode}")
            raises = check_log(log, sigints)
            check_output(stderr, sigints, raises, report)
        except subprocess.TimeoutExpired:
            # faulthandler dumps the threads.
            os.killpg(proc.pid, signal.SIGABRT)
            try:
                _, stderr = proc.communicate(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                _, stderr = proc.communicate()
            stderr = stderr.decode(errors="replace")
            logfile.seek(0)
            log = logfile.read()
            reason = f"hang (timeout {timeout} s)"
        except Failure as exc:
            reason = str(exc)
        else:
            return None
    issue = known_upstream(reason, stderr, sigints)
    if sigints:
        reason += f" [{sigints} SIGINT]"
    if issue is not None:
        reason = f"KNOWN {issue}: {reason}"
    if report:
        reason += " [-X dev]"
    if failures:
        os.makedirs(failures, exist_ok=True)
        with open(os.path.join(failures, f"{seed}.txt"), "w") as f:
            f.write(f"seed {seed}: {reason}\n\n--- log\n{log}\n"
                    f"--- stderr\n{stderr}\n")
    return reason


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--python", required=True)
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0,
                        help="seed of the first run (default 0)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--timeout", type=float, default=60)
    parser.add_argument("--failures", help="write failure details here")
    args = parser.parse_args()
    if args.runs < 1:
        parser.error("--runs must be at least 1")

    # Children must start with SIGINT at its default disposition, which
    # exec() gives them only if this process does not ignore it (as a
    # shell's background job does).
    signal.signal(signal.SIGINT, signal.default_int_handler)

    passed = failed = known = 0
    start = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(args.jobs) as executor:
        seeds = range(args.seed, args.seed + args.runs)
        for seed, reason in zip(seeds, executor.map(
                lambda seed: run_one(args.python, seed, args.timeout,
                                     args.failures), seeds)):
            if reason is None:
                passed += 1
            elif reason.startswith("KNOWN "):
                known += 1
                print(f"KNOWN seed {seed}: {reason[6:]}", flush=True)
            else:
                failed += 1
                print(f"FAIL seed {seed}: {reason}", flush=True)
    elapsed = time.monotonic() - start
    apart = f", {known} known upstream" if known else ""
    print(f"stress: {passed} passed, {failed} failed{apart} "
          f"({elapsed:.0f} s, {args.python})", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

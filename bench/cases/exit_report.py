"""exit-report-dev: under -X dev, start one thread that ends when asked to
terminate, wait until it runs, then return from the main module.

usage: python -X dev exit_report.py report|no-report

"report" is the patched interpreter as it is: in development mode, exit
starts a thread that would report threads still running after five seconds,
and joins it once they have ended.  "no-report" replaces that step with a
no-op, to measure what the report costs when nothing is reported.
"""

import sys
import threading

if not sys.flags.dev_mode:
    sys.exit("exit_report.py: run it with -X dev")
if sys.argv[1] == "no-report":
    threading._exit_watch_start = lambda: None

stop = threading.Event()
running = threading.Event()


def run():
    running.set()
    stop.wait()


threading.Thread(target=run, terminate=stop.set).start()
running.wait()

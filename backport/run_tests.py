"""Run the backport's tests against the installed thread_terminate.

usage: python run_tests.py [--label LABEL] [--log FILE] [TEST...]

Runs tests/ with unittest (TEST: test names, as unittest takes them), writes
the verbose log to FILE (default: standard error), prints the tests that
failed and the skipped ones with their reasons, and ends with the line
"LABEL: N passed, N failed, N skipped".  The exit status is 1 if a test
failed.
"""

import argparse
import contextlib
import os
import signal
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
TESTS = os.path.join(HERE, 'tests')


class Result(unittest.TextTestResult):
    passed = 0

    def addSuccess(self, test):
        super().addSuccess(test)
        self.passed += 1


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--label', default='tests')
    parser.add_argument('--log')
    parser.add_argument('tests', nargs='*')
    options = parser.parse_args()
    # The Ctrl-C tests need SIGINT, which a shell ignores for the commands
    # that it starts in the background: their interpreters inherit that.
    signal.signal(signal.SIGINT, signal.default_int_handler)

    sys.path.insert(0, TESTS)
    import thread_terminate
    # The installed wheel, never the source tree.
    source = os.path.join(HERE, 'src')
    if os.path.abspath(thread_terminate.__file__).startswith(source + os.sep):
        sys.exit(f"run_tests.py: {thread_terminate.__file__} is the source "
                 f"tree: install the wheel")

    loader = unittest.TestLoader()
    if options.tests:
        suite = loader.loadTestsFromNames(options.tests)
    else:
        suite = loader.discover(TESTS, top_level_dir=TESTS)
    if options.log:
        log = open(options.log, 'w')
        # Also what C code writes to the standard error (for instance the
        # reports of a subinterpreter's shutdown).
        sys.stderr.flush()
        os.dup2(log.fileno(), 2)
    else:
        log = contextlib.nullcontext(sys.stderr)
    with log as log:
        print(f"{sys.executable}: Python {sys.version}", file=log)
        print(f"thread_terminate from {thread_terminate.__file__}, "
              f"NATIVE={thread_terminate.NATIVE}", file=log)
        result = unittest.TextTestRunner(stream=log, verbosity=2,
                                         resultclass=Result).run(suite)

    # Counted from the outcomes: testsRun leaves out skipped tests on some
    # versions.
    failed = [test for test, _ in result.failures + result.errors]
    failed += result.unexpectedSuccesses
    skipped = len(result.skipped)
    passed = result.passed
    for test in failed:
        print(f"{options.label}: FAILED {test.id()}")
    reasons = {}
    for test, reason in result.skipped:
        reasons.setdefault(reason, []).append(test.id().split('.')[-1])
    for reason, names in reasons.items():
        print(f"{options.label}: skipped {len(names)} ({reason}): "
              f"{', '.join(names)}")
    print(f"{options.label}: {passed} passed, {len(failed)} failed, "
          f"{skipped} skipped")
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())

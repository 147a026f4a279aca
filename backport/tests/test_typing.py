"""The stubs: typing_example.py passes mypy --strict, and mypy's stubtest
finds the stubs in agreement with the installed package (with the standard
library's threading.Thread where it defers to it); the example runs."""

import os
import subprocess
import sys
import unittest

import thread_terminate
from support import run_script

HERE = os.path.dirname(os.path.abspath(__file__))
EXAMPLE = os.path.join(HERE, 'typing_example.py')

try:
    import mypy  # noqa: F401
except ImportError:
    mypy = None

requires_mypy = unittest.skipIf(
    mypy is None, "mypy is not installed here (./build.sh backport installs "
    "it for the newest release and the patched interpreter)")


def run_mypy(*args):
    return subprocess.run([sys.executable, '-m', *args],
                          capture_output=True, text=True, cwd=HERE)


class TypingTests(unittest.TestCase):

    def test_py_typed(self):
        package = os.path.dirname(thread_terminate.__file__)
        for name in ['py.typed', '__init__.pyi', '_background.pyi']:
            self.assertTrue(os.path.exists(os.path.join(package, name)), name)

    def test_example_runs(self):
        with open(EXAMPLE, encoding='utf-8') as f:
            out, err = run_script(f.read())
        self.assertEqual(out, ["3"])
        self.assertEqual(err, "")

    @requires_mypy
    def test_mypy_strict(self):
        proc = run_mypy('mypy', '--strict', '--no-incremental', EXAMPLE)
        self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)

    @requires_mypy
    def test_stubtest(self):
        # Against the backport's classes, and on an interpreter with the
        # upstream change against its threading.Thread, which
        # thread_terminate re-exports there (BackgroundThread's stub is
        # checked against the module generated from the same source): the
        # stubs are those typeshed would need.
        allowlist = os.path.join(HERE, 'stubtest_allowlist.txt')
        proc = run_mypy('mypy.stubtest', '--concise',
                        '--allowlist', allowlist, '--ignore-unused-allowlist',
                        'thread_terminate')
        self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)

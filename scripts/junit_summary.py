"""Print regrtest's results from its --junit-xml files as one line.

usage: python3 scripts/junit_summary.py [--failed-run FILE.xml ...]
                                        FILE.xml [FILE.xml ...]

Prints "regrtest: N passed, N failed, N skipped" over all test cases in the
files; "failed" counts failures and errors.  --failed-run names the file of
a regrtest run that exited with an error status: if no test case of it
failed (a reference leak found by -R, an environment change), the run counts
as one failed test, so that the line never reads "0 failed" for a failed
run.  Exits 1 if a file is missing or unreadable (regrtest did not get far
enough to write it), or if anything failed.
"""

import sys
import xml.etree.ElementTree as ET


def count(path):
    passed = failed = skipped = 0
    for case in ET.parse(path).iter('testcase'):
        tags = {child.tag for child in case}
        if tags & {'failure', 'error'}:
            failed += 1
        elif 'skipped' in tags:
            skipped += 1
        else:
            passed += 1
    return passed, failed, skipped


def main(args):
    failed_runs = set()
    paths = []
    args = iter(args)
    for arg in args:
        if arg == '--failed-run':
            failed_runs.add(next(args))
        else:
            paths.append(arg)
    totals = [0, 0, 0]
    status = 0
    for path in paths:
        try:
            counts = count(path)
        except (OSError, ET.ParseError) as exc:
            print(f'junit_summary: cannot read {path}: {exc}', file=sys.stderr)
            status = 1
            continue
        if path in failed_runs and not counts[1]:
            print(f'junit_summary: the run of {path} failed without a '
                  f'failing test case (reference leak? environment '
                  f'changed?): counted as one failure', file=sys.stderr)
            counts = (counts[0], 1, counts[2])
        totals = [t + c for t, c in zip(totals, counts)]
    passed, failed, skipped = totals
    print(f'regrtest: {passed} passed, {failed} failed, {skipped} skipped')
    return 1 if failed else status


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))

"""Print regrtest's results from its --junit-xml files as one line.

usage: python3 scripts/junit_summary.py FILE.xml [FILE.xml ...]

Prints "regrtest: N passed, N failed, N skipped" over all test cases in the
files; "failed" counts failures and errors.  Exits 1 if a file is missing or
unreadable (regrtest did not get far enough to write it), or if any test
case failed.
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


def main(paths):
    totals = [0, 0, 0]
    status = 0
    for path in paths:
        try:
            counts = count(path)
        except (OSError, ET.ParseError) as exc:
            print(f'junit_summary: cannot read {path}: {exc}', file=sys.stderr)
            status = 1
            continue
        totals = [t + c for t, c in zip(totals, counts)]
    passed, failed, skipped = totals
    print(f'regrtest: {passed} passed, {failed} failed, {skipped} skipped')
    return 1 if failed else status


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))

"""Check that NEWS entries are valid blurb files.

usage: python3 scripts/check_news.py Misc/NEWS.d/next/SECTION/NAME.rst ...

Run from the CPython tree.  Each file must be named as blurb names it
(date, gh-issue number, nonce) in a known section, and hold one
non-empty reST paragraph.  Prints a line per problem; exits 1 if any.
"""

import pathlib
import re
import sys

SECTIONS = {'Security', 'Core_and_Builtins', 'Library', 'Documentation',
            'Tests', 'Build', 'Windows', 'macOS', 'IDLE', 'Tools-Demos',
            'C_API'}
NAME = re.compile(r'\d{4}-\d{2}-\d{2}-\d{2}-\d{2}-\d{2}'
                  r'\.gh-issue-\d+\.[A-Za-z0-9_-]+\.rst')


def problems(path):
    parts = pathlib.PurePosixPath(path).parts
    if len(parts) != 5 or parts[:3] != ('Misc', 'NEWS.d', 'next'):
        yield 'not in Misc/NEWS.d/next/SECTION/'
        return
    if parts[3] not in SECTIONS:
        yield f'unknown section {parts[3]!r}'
    if not name_ok(parts[4]):
        yield 'name does not match YYYY-MM-DD-HH-MM-SS.gh-issue-N.NONCE.rst'
    text = pathlib.Path(path).read_text(encoding='utf-8').strip()
    if not text:
        yield 'empty'
    elif '\n\n' in text:
        yield 'more than one paragraph'


def name_ok(name):
    return NAME.fullmatch(name) is not None


def main(paths):
    status = 0
    for path in paths:
        for problem in problems(path):
            print(f'{path}: {problem}')
            status = 1
    return status


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))

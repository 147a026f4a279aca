"""Write the pull-request description for the exported series.

usage: python3 scripts/pr_description.py ROOT >dist/PR.md

Fills scripts/PR.md.in with the patches in ROOT/dist (subject, body,
diffstat), the new tests (from the prepared tree build/src), and the latest
benchmark table (ROOT/build/bench/results.json, else ROOT/bench/results.json)
with each ratio's 95% interval (ci_low, ci_high) and whether it is a tie.
"""

import ast
import email
import email.policy
import json
import pathlib
import sys

# Test module -> the classes of new tests in it.
NEW_TESTS = {
    'Lib/test/test_threading.py': ('ThreadTerminateTests',
                                   'TerminateAtExitTests',
                                   'ExitReportTests'),
    'Lib/test/test_asyncio/test_threading.py': None,  # all of it
}


def changes(dist):
    out = []
    for path in sorted(dist.glob('*.patch')):
        msg = email.message_from_bytes(path.read_bytes(),
                                       policy=email.policy.default)
        subject = ' '.join(str(msg['Subject']).split())
        subject = subject.removeprefix('[PATCH] ')
        text = path.read_text(encoding='utf-8')
        body = text.split('\n\n', 1)[1].split('\n---\n', 1)[0].strip()
        stat = text.split('\n---\n', 1)[1].split('\n\n', 1)[0].strip('\n')
        out.append(f'### {subject}\n\n{body}\n\n```\n{stat}\n```\n')
    return '\n'.join(out)


def tests(tree):
    out = []
    for name, classes in NEW_TESTS.items():
        module = ast.parse((tree / name).read_text(encoding='utf-8'))
        for node in module.body:
            if not isinstance(node, ast.ClassDef):
                continue
            if classes is not None and node.name not in classes:
                continue
            methods = [f.name for f in node.body
                       if isinstance(f, ast.FunctionDef)
                       and f.name.startswith('test')]
            if methods:
                out.append(f'* `{name}`, `{node.name}`: '
                           + ', '.join(f'`{m}`' for m in methods))
    out.append('\nEvery new test fails on the unpatched interpreter; the new '
               'test classes are clean under `-R 3:3`.')
    return '\n'.join(out)


def interval(row):
    """The ratio's 95% interval and how to read it, or a dash for a run
    recorded before the intervals were stored."""
    low, high = row.get('ci_low'), row.get('ci_high')
    if low is None or high is None:
        return '–', 'no interval recorded'
    if low <= 1 <= high:
        reading = 'tie'
    elif high < 1:
        reading = 'patched lower'
    else:
        reading = 'patched higher'
    return f'{low:.3f}–{high:.3f}', reading


def bench(*candidates):
    # The latest local run, else the one recorded in bench/results.json.
    results = next((c for c in candidates if c.exists()), None)
    if results is None:
        return 'Not measured yet (`./build.sh bench`).'
    rows = ['| benchmark | reference | baseline | patched | ratio '
            '| 95% interval | reading |',
            '|---|---|---|---|---|---|---|']
    for row in json.loads(results.read_text()):
        ci, reading = interval(row)
        rows.append(f"| {row['name']} | {row['reference']} "
                    f"| {row['baseline_median']:.4g} {row['unit']} "
                    f"| {row['patched_median']:.4g} {row['unit']} "
                    f"| {row['ratio']:.3f} | {ci} | {reading} |")
    return '\n'.join(rows)


def main(root):
    root = pathlib.Path(root)
    template = (root / 'scripts' / 'PR.md.in').read_text(encoding='utf-8')
    text = (template
            .replace('@CHANGES@', changes(root / 'dist'))
            .replace('@TESTS@', tests(root / 'build' / 'src'))
            .replace('@BENCH@', bench(root / 'build' / 'bench' / 'results.json',
                                   root / 'bench' / 'results.json')))
    sys.stdout.write(text)


if __name__ == '__main__':
    main(sys.argv[1])

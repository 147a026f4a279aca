"""Check that the rendered documentation shows the change.

usage: python3 scripts/check_docs.py Doc/build/html

The new sections and API entries must be present, and every internal link
on the touched pages must point to a page and anchor that exist.  Prints a
line per problem; exits 1 if any.
"""

import html.parser
import pathlib
import sys
import urllib.parse

# page -> ids (anchors) it must define
REQUIRED = {
    'library/threading.html': [
        'threading-exit', 'threading.Thread', 'threading.Thread.__terminate__',
    ],
    'library/asyncio-background-thread.html': [
        'module-asyncio.threading', 'asyncio.threading.BackgroundThread',
        'asyncio.threading.BackgroundThread.terminate',
        'asyncio.threading.BackgroundThread.run_coroutine_threadsafe',
    ],
}
# page -> pages it must link to
LINKS = {
    'library/asyncio.html': ['library/asyncio-background-thread.html'],
    'library/asyncio-background-thread.html': ['library/threading.html',
                                               'library/devmode.html'],
    # The exit report of the development mode.
    'library/threading.html': ['library/devmode.html'],
    'library/devmode.html': ['library/threading.html'],
}


class Page(html.parser.HTMLParser):
    def __init__(self, path):
        super().__init__()
        self.ids = set()
        self.links = []
        self.feed(path.read_text(encoding='utf-8'))

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if 'id' in attrs:
            self.ids.add(attrs['id'])
        if tag == 'a' and 'href' in attrs and 'internal' in attrs.get('class', ''):
            self.links.append(attrs['href'])


def main(root):
    root = pathlib.Path(root)
    pages = {}

    def page(name):
        if name not in pages:
            path = root / name
            pages[name] = Page(path) if path.exists() else None
        return pages[name]

    problems = []
    for name, ids in REQUIRED.items():
        if page(name) is None:
            problems.append(f'{name}: missing')
            continue
        problems += [f'{name}: no #{i}' for i in ids if i not in page(name).ids]
    for name, targets in LINKS.items():
        if page(name) is None:
            problems.append(f'{name}: missing')
            continue
        base = pathlib.PurePosixPath(name).parent
        linked = {_normalize(str(base / urllib.parse.urlsplit(href).path))
                  for href in page(name).links}
        problems += [f'{name}: no link to {t}' for t in targets
                     if t not in linked]
    # Every internal link of the touched pages resolves.
    for name in REQUIRED:
        if page(name) is None:
            continue
        base = pathlib.PurePosixPath(name).parent
        for href in page(name).links:
            url = urllib.parse.urlsplit(href)
            target = _normalize(str(base / url.path)) if url.path else name
            if page(target) is None:
                problems.append(f'{name}: broken link {href}')
            elif url.fragment and url.fragment not in page(target).ids:
                problems.append(f'{name}: broken anchor {href}')
    for problem in problems:
        print(problem)
    return 1 if problems else 0


def _normalize(path):
    parts = []
    for part in pathlib.PurePosixPath(path).parts:
        if part == '..':
            parts.pop()
        elif part != '.':
            parts.append(part)
    return '/'.join(parts)


if __name__ == '__main__':
    sys.exit(main(sys.argv[1]))

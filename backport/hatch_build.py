"""Build hook: generate thread_terminate/_background.py from CPython's file.

BackgroundThread has one source, the change's Lib/asyncio/threading.py, two
directories up from here.  Each build turns its imports into ones that work
outside the asyncio package:

    from . import X      ->  from asyncio import X
    from . import runners -> from . import _runners as runners
                             (asyncio.Runner is new in 3.11: _runners.py has
                             a fallback for 3.9 and 3.10)
    import threading     ->  from . import _threading_shim as threading
                             (threading with this package's Thread, so that
                             BackgroundThread is one on every version)

and writes the result into the distribution, never into the source tree.
An sdist carries the generated file; a wheel built from that sdist, where
the CPython tree is absent, uses it as it is.
"""

import ast
import hashlib
import os
import tempfile

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

SOURCE = os.path.join("Lib", "asyncio", "threading.py")
GENERATED = "thread_terminate/_background.py"

# Relative imports of the source that need more than "from asyncio import".
COMPAT = {"runners": "_runners"}
# Absolute imports replaced by a module of this package.
REPLACED = {"threading": "_threading_shim"}


def generate(source, origin=SOURCE):
    """Return the backport's module for the text of the source."""
    tree = ast.parse(source, origin)
    lines = source.splitlines(keepends=True)
    edits = []
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.level:
            if node.level != 1:
                raise ValueError(f"{origin}:{node.lineno}: unexpected import "
                                 f"from {'.' * node.level}{node.module}")
            new = []
            for alias in node.names:
                bound = alias.asname or alias.name
                if node.module:
                    new.append(f"from asyncio.{node.module} import "
                               f"{alias.name} as {bound}")
                elif alias.name in COMPAT:
                    new.append(f"from . import {COMPAT[alias.name]} "
                               f"as {bound}")
                else:
                    new.append(f"from asyncio import {alias.name} as {bound}"
                               if bound != alias.name else
                               f"from asyncio import {alias.name}")
            edits.append((node, new))
        elif isinstance(node, ast.Import):
            if any(alias.name in REPLACED for alias in node.names):
                new = []
                for alias in node.names:
                    bound = alias.asname or alias.name
                    if alias.name in REPLACED:
                        new.append(f"from . import "
                                   f"{REPLACED[alias.name]} as {bound}")
                    else:
                        new.append(f"import {alias.name}" + (
                            f" as {alias.asname}" if alias.asname else ""))
                edits.append((node, new))
    for node, new in reversed(edits):
        lines[node.lineno - 1:node.end_lineno] = [line + "\n" for line in new]
    digest = hashlib.sha256(source.encode()).hexdigest()
    header = (f"# Generated from CPython's {SOURCE.replace(os.sep, '/')} "
              f"(sha256 {digest[:16]}) by the backport's\n"
              f"# hatch_build.py, at build time: do not edit.\n")
    text = header + "".join(lines)
    # Nested functions and classes may import too: none may stay relative
    # to asyncio.  The syntax must be that of the oldest supported Python.
    for node in ast.walk(ast.parse(text, GENERATED, feature_version=(3, 9))):
        if not (isinstance(node, ast.ImportFrom) and node.level):
            continue
        if node.module is None:
            names = {alias.name for alias in node.names}
            if not names <= set(COMPAT.values()) | set(REPLACED.values()):
                raise ValueError(f"{origin}: relative import left at line "
                                 f"{node.lineno - 2}")
        else:
            raise ValueError(f"{origin}: relative import left at line "
                             f"{node.lineno - 2}")
    return text


class CustomBuildHook(BuildHookInterface):

    def initialize(self, version, build_data):
        source = os.path.join(os.path.dirname(self.root), SOURCE)
        shipped = os.path.join(self.root, "src", GENERATED)
        if not os.path.isfile(source):
            # Building a wheel from an sdist, which carries the file.
            if not os.path.isfile(shipped):
                raise RuntimeError(f"{SOURCE} not found next to the backport "
                                   f"directory, and no generated {GENERATED}")
            return
        if os.path.exists(shipped):
            raise RuntimeError(f"src/{GENERATED} exists in the source tree: "
                               f"it is generated, delete it")
        with open(source, encoding="utf-8") as f:
            text = generate(f.read())
        self._tmp = tempfile.TemporaryDirectory()
        path = os.path.join(self._tmp.name, "_background.py")
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        if self.target_name == "wheel":
            target = GENERATED
        else:
            target = "src/" + GENERATED
        build_data["force_include"][path] = target

    def finalize(self, version, build_data, artifact_path):
        tmp = getattr(self, "_tmp", None)
        if tmp is not None:
            tmp.cleanup()

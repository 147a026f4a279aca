#!/usr/bin/env bash
# build.sh: build, test and export the thread-termination change to CPython.
#
# usage: ./build.sh [--disable-gil] [COMMAND [ARGS...]]
#
#   (none), build   fetch and verify the pinned CPython release, prepare the
#                   build tree (base + patches/ + new files), build a debug
#                   interpreter and link it as ./python (./python-ft with
#                   --disable-gil).  Incremental: unchanged inputs rebuild
#                   nothing.
#   test [ARGS]     run regrtest on the affected test modules (or on ARGS,
#                   passed to regrtest as they are); ends with the line
#                   "regrtest: N passed, N failed, N skipped".
#   refresh         turn the commits made in the build tree (build/src) back
#                   into patches/ and the new files at their CPython paths.
#   export          write dist/: the whole change as a git format-patch series
#                   on top of v3.13.15, and a pull-request description draft.
#   docs            build the HTML documentation (build/src/Doc/build/html)
#                   with the release's Doc/requirements.txt; fail on warnings
#                   in the pages the change touches, check that the new
#                   sections and their links are there, and take screenshots
#                   if chromium is installed.
#   check           CPython's checks: make patchcheck, sphinx-lint on the
#                   touched docs and NEWS entries, blurb file names,
#                   git diff --check, test___all__ and test_sundry.
#   bench [OPTIONS] [NAME...]
#                   build release interpreters of the unpatched release and
#                   of the patched tree, run the benchmarks in bench/ as
#                   interleaved pairs, print a table and write
#                   build/bench/results.json (not part of CI: it takes
#                   minutes; OPTIONS: --runs-factor F scales the pairs).
#   stress [--runs N] [--seed S] [--jobs J] [--timeout T]
#                   the shutdown torture suite (stress/): N randomized
#                   interpreter exits (default 1000) from seed S, each in a
#                   fresh process; prints failing seeds, then
#                   "stress: N passed, N failed".  Details of failures go to
#                   build/default/stress-failures/ (build/ft/ with
#                   --disable-gil).  --seed S --runs 1 replays one seed.
#   backport        the pure-Python backport (backport/): build its wheel
#                   (python -m build), install it in a fresh venv of each
#                   interpreter found (CPython 3.9 to 3.13 from pyenv or
#                   PATH, the unpatched release built as for bench, and
#                   ./python, where it defers to the standard library), run
#                   its tests there and the type check (mypy --strict,
#                   stubtest) on one; prints each interpreter's counts, then
#                   "backport: N passed, N failed, N skipped".
#   selftest        check the pipeline itself: the export applied with git am
#                   to the pristine release reproduces the build tree, and
#                   refresh of an unchanged tree changes nothing.
#   deps            list the Debian packages missing to build and test.
#   help            show this text.
#
#   --disable-gil   work on the free-threaded build (build/ft, ./python-ft).
#
# Environment: CPYTHON_TARBALL=/path/to/Python-3.13.15.tar.xz uses that file
# (it must still match the pinned checksum); XDG_CACHE_HOME locates the cache.
set -euo pipefail

readonly PROG=build.sh
readonly VERSION=3.13.15
readonly TARBALL=Python-$VERSION.tar.xz
readonly TARBALL_SIZE=23160540
readonly TARBALL_SHA256=1e66a7945a48390ee4c2a4268a0e4185884059a13c4aab6d148aa208deea4a76
readonly TARBALL_URL=https://www.python.org/ftp/python/$VERSION/$TARBALL
# Debian's source package whose .orig.tar.xz is the same file, and the suite
# that carries it.
readonly DEB_SOURCE=python3.13
readonly DEB_VERSION=3.13.15-1
readonly DEB_SUITE=forky
readonly BASE_TAG=v$VERSION
# Bump when the way the build tree is prepared changes, so that existing
# trees are prepared again.
readonly PREPARE_VERSION=1

# Top-level CPython directories: files of ours below them are new CPython
# files ("overlay"), copied into the build tree at the same path.
readonly OVERLAY_ROOTS=(Doc Include Lib Misc Modules Objects Parser PC Programs Python Tools)

# Tests run by "./build.sh test" without arguments, and the new test classes
# that are also run under -R 3:3 (class names are regrtest -m patterns).
readonly TESTS=(test_threading test_thread test_threading_local test_atexit
                test_concurrent_futures test_asyncio test___all__)
readonly REFLEAK_TESTS=(test_threading test_asyncio.test_threading)
readonly REFLEAK_MATCH=('*Terminate*' '*BackgroundThread*' '*ExitReport*')

# Debian packages needed to build and test the interpreter, with a file or
# command that shows each is installed.
readonly BUILD_DEPS=(
    "gcc:cmd:gcc" "make:cmd:make" "git:cmd:git" "xz-utils:cmd:xz"
    "pkg-config:cmd:pkg-config"
    "libffi-dev:h:ffi.h" "libssl-dev:h:openssl/ssl.h" "zlib1g-dev:h:zlib.h"
    "libbz2-dev:h:bzlib.h" "liblzma-dev:h:lzma.h" "libsqlite3-dev:h:sqlite3.h"
    "libreadline-dev:h:readline/readline.h" "libncurses-dev:h:ncurses.h"
    "uuid-dev:h:uuid/uuid.h"
)

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
readonly ROOT
readonly BUILD=$ROOT/build
readonly SRC=$BUILD/src
readonly CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/cpython-thread-terminate
readonly STAMP_NAME=build.sh-stamp

# Fixed identities and dates make the base commit and the applied series the
# same on every machine.
export GIT_COMMITTER_NAME=build.sh GIT_COMMITTER_EMAIL=build.sh@localhost
export GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null

FREE_THREADED=0

die() { echo "$PROG: $*" >&2; exit 1; }
say() { echo "$PROG: $*" >&2; }
usage() { sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; }

variant_dir() { if ((FREE_THREADED)); then echo "$BUILD/ft"; else echo "$BUILD/default"; fi; }
python_link() { if ((FREE_THREADED)); then echo "$ROOT/python-ft"; else echo "$ROOT/python"; fi; }
configure_args() {
    echo --with-pydebug
    if ((FREE_THREADED)); then echo --disable-gil; fi
}

git_src() { git -C "$SRC" "$@"; }

# --- fetching the release ------------------------------------------------

# verify FILE: true if FILE has the pinned size and SHA-256.
verify() {
    [[ -f $1 ]] || return 1
    [[ $(stat -c %s "$1") == "$TARBALL_SIZE" ]] || return 1
    [[ $(sha256sum "$1" | cut -d' ' -f1) == "$TARBALL_SHA256" ]]
}

# install_verified CANDIDATE: move CANDIDATE into the cache if it verifies,
# otherwise delete it and fail with how to update the pin.
install_verified() {
    local candidate=$1
    if ! verify "$candidate"; then
        local size sum
        size=$(stat -c %s "$candidate")
        sum=$(sha256sum "$candidate" | cut -d' ' -f1)
        rm -f "$candidate"
        die "checksum mismatch for $TARBALL: got $size bytes, sha256 $sum (pinned: $TARBALL_SIZE, $TARBALL_SHA256); if the release really changed, update TARBALL_SIZE and TARBALL_SHA256 in build.sh and SPEC.md"
    fi
    mv -f "$candidate" "$CACHE/$TARBALL"
}

# debian_mirror: the first Debian archive URI in this machine's apt sources.
debian_mirror() {
    local f
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
        [[ -f $f ]] || continue
        awk '
            /^[[:space:]]*#/ { next }
            $1 == "URIs:" { for (i = 2; i <= NF; i++) print $i; next }
            $1 == "deb" { for (i = 2; i <= NF; i++) if ($i !~ /^\[/ && $i !~ /\]$/) { print $i; break } }
        ' "$f"
    done | grep -E '/debian/?$' | head -n 1
}

fetch_debian() {
    command -v apt-get >/dev/null || return 1
    local mirror tmp
    mirror=$(debian_mirror) || true
    [[ -n $mirror ]] || { say "no Debian archive in the apt sources"; return 1; }
    tmp=$(mktemp -d "$CACHE/apt.XXXXXX")
    mkdir -p "$tmp/lists/partial" "$tmp/cache/archives/partial" "$tmp/dl"
    echo "deb-src $mirror $DEB_SUITE main" >"$tmp/sources.list"
    local apt=(apt-get -q -o "Dir::Etc::SourceList=$tmp/sources.list"
               -o Dir::Etc::SourceParts=/dev/null -o "Dir::State::Lists=$tmp/lists"
               -o "Dir::Cache=$tmp/cache" -o APT::Sandbox::User=root)
    say "fetching $TARBALL from Debian's source package $DEB_SOURCE=$DEB_VERSION"
    if "${apt[@]}" update >"$tmp/log" 2>&1 &&
       (cd "$tmp/dl" && "${apt[@]}" source --download-only "$DEB_SOURCE=$DEB_VERSION") >>"$tmp/log" 2>&1 &&
       [[ -f $tmp/dl/${DEB_SOURCE}_$VERSION.orig.tar.xz ]]; then
        mv "$tmp/dl/${DEB_SOURCE}_$VERSION.orig.tar.xz" "$CACHE/$TARBALL.part"
        rm -rf "$tmp"
        return 0
    fi
    say "apt-get source failed (log: $tmp/log)"
    return 1
}

# fetch: print the path of a verified copy of the release tarball.
fetch() {
    mkdir -p "$CACHE"
    if [[ -n ${CPYTHON_TARBALL:-} ]]; then
        verify "$CPYTHON_TARBALL" ||
            die "CPYTHON_TARBALL=$CPYTHON_TARBALL does not match the pinned size and sha256 of $TARBALL"
        echo "$CPYTHON_TARBALL"
        return
    fi
    if verify "$CACHE/$TARBALL"; then
        echo "$CACHE/$TARBALL"
        return
    fi
    rm -f "$CACHE/$TARBALL" "$CACHE/$TARBALL.part"
    say "fetching $TARBALL_URL"
    if curl -fsSL --connect-timeout 10 -o "$CACHE/$TARBALL.part" "$TARBALL_URL" 2>/dev/null; then
        install_verified "$CACHE/$TARBALL.part"
    elif fetch_debian; then
        install_verified "$CACHE/$TARBALL.part"
    else
        rm -f "$CACHE/$TARBALL.part"
        die "cannot fetch $TARBALL: download it by hand and set CPYTHON_TARBALL=/path/to/$TARBALL"
    fi
    echo "$CACHE/$TARBALL"
}

# --- the build tree ------------------------------------------------------

# overlay_files: our new CPython files, relative to ROOT, one per line.
overlay_files() {
    (cd "$ROOT" && git ls-files --cached --others --exclude-standard -- "${OVERLAY_ROOTS[@]}" |
        while read -r f; do if [[ -f $f ]]; then echo "$f"; fi; done | LC_ALL=C sort -u)
}

# inputs_hash: one hash of everything the prepared tree is made of.
inputs_hash() {
    {
        echo "prepare $PREPARE_VERSION $TARBALL_SHA256"
        (cd "$ROOT" && for f in patches/*.patch; do if [[ -f $f ]]; then sha256sum "$f"; fi; done)
        (cd "$ROOT" && overlay_files | while read -r f; do
            sha256sum "$f"
            if [[ -x $f ]]; then echo "executable $f"; fi
        done)
    } | sha256sum | cut -d' ' -f1
}

stamp_get() { sed -n "s/^$1 //p" "$SRC/.git/$STAMP_NAME" 2>/dev/null; }
stamp_write() {
    printf 'inputs %s\ntree %s\n' "$(inputs_hash)" "$(git_src rev-parse 'HEAD^{tree}')" \
        >"$SRC/.git/$STAMP_NAME"
}

# tree_is_pristine: true if build/src holds exactly what was prepared (or
# last refreshed), so that preparing it again loses nothing.
tree_is_pristine() {
    [[ -z $(git_src status --porcelain) ]] &&
        [[ $(git_src rev-parse 'HEAD^{tree}') == "$(stamp_get tree)" ]]
}

# exclude_outputs DIR: tell git about what builds write into the source
# tree (bytecode, the documentation), which is not part of the change.
exclude_outputs() {
    local pattern
    for pattern in '__pycache__/' '*.py[co]' '/Doc/build/'; do
        grep -qxF "$pattern" "$1/.git/info/exclude" 2>/dev/null ||
            echo "$pattern" >>"$1/.git/info/exclude"
    done
}

# make_base DIR: DIR becomes a git repository whose one commit, tagged
# v3.13.15, is the pristine release.
make_base() {
    local dir=$1 tarball
    tarball=$(fetch)
    rm -rf "$dir"
    mkdir -p "$dir"
    tar -xJf "$tarball" -C "$dir" --strip-components=1
    git -C "$dir" init -q -b main
    exclude_outputs "$dir"
    git -C "$dir" add -A -f
    GIT_AUTHOR_NAME="CPython release" GIT_AUTHOR_EMAIL=release@localhost \
    GIT_AUTHOR_DATE="2000-01-01T00:00:00Z" GIT_COMMITTER_DATE="2000-01-01T00:00:00Z" \
        git -C "$dir" commit -q -m "Python $VERSION release"
    git -C "$dir" tag "$BASE_TAG"
}

# apply_change DIR: apply patches/ and commit the overlay files on the base
# checked out in DIR.
apply_change() {
    local dir=$1 p f
    for p in "$ROOT"/patches/*.patch; do
        [[ -f $p ]] || continue
        git -C "$dir" am -q --committer-date-is-author-date "$p" >/dev/null 2>&1 || {
            # Back to the base, which the stamp records as pristine, so that
            # the next run prepares the tree again.
            git -C "$dir" am --abort >/dev/null 2>&1 || true
            git -C "$dir" reset -q --hard "$BASE_TAG"
            die "patch does not apply: patches/${p##*/}; to resolve: cd ${dir#"$ROOT"/} && git am -3 ../../patches/*.patch, fix the conflict, git am --continue, then ./build.sh refresh"
        }
    done
    local files
    mapfile -t files < <(overlay_files)
    ((${#files[@]})) || return 0
    for f in "${files[@]}"; do
        if git -C "$dir" cat-file -e "$BASE_TAG:$f" 2>/dev/null; then
            die "new file $f already exists in CPython $VERSION: edit it through a patch instead"
        fi
        mkdir -p "$dir/$(dirname "$f")"
        cp -p "$ROOT/$f" "$dir/$f"
    done
    git -C "$dir" add -f -- "${files[@]}"
    # The commit takes its author and date from our last commit of these
    # files, so the export is the same for the same repository state.
    local who when
    who=$(cd "$ROOT" && git log -1 --format='%an%x00%ae%x00%aI' -- "${files[@]}" 2>/dev/null | tr '\0' '\n') || true
    if [[ -z $who ]]; then who=$'build.sh\nbuild.sh@localhost\n2000-01-01T00:00:00Z'; fi
    { read -r GIT_AUTHOR_NAME; read -r GIT_AUTHOR_EMAIL; read -r GIT_AUTHOR_DATE; } <<<"$who"
    GIT_AUTHOR_NAME=$GIT_AUTHOR_NAME GIT_AUTHOR_EMAIL=$GIT_AUTHOR_EMAIL \
    GIT_AUTHOR_DATE=$GIT_AUTHOR_DATE GIT_COMMITTER_DATE=$GIT_AUTHOR_DATE \
        git -C "$dir" commit -q -m "Add the new files of the change" \
            -m "$(printf '%s\n' "${files[@]}")"
}

# prepare: make build/src match patches/ and the overlay files.
prepare() {
    local want
    want=$(inputs_hash)
    if [[ -d $SRC/.git ]]; then
        exclude_outputs "$SRC"
        if [[ $(stamp_get inputs) == "$want" ]]; then
            return 0
        fi
        tree_is_pristine ||
            die "build/src has edits that are not in patches/: run ./build.sh refresh (or discard them with rm -rf build/src)"
        say "inputs changed: preparing build/src again"
        # Reset in place rather than re-extracting, so that only the files
        # the change touches get new mtimes and are rebuilt.
        git_src am --abort >/dev/null 2>&1 || true
        git_src checkout -q -f -B main "$BASE_TAG"
    else
        say "preparing build/src from $TARBALL"
        make_base "$SRC"
    fi
    printf 'inputs none\ntree %s\n' "$(git_src rev-parse "$BASE_TAG^{tree}")" >"$SRC/.git/$STAMP_NAME"
    apply_change "$SRC"
    stamp_write
}

# cmd_deps: print the Debian packages that are missing to build and test.
cmd_deps() {
    local dep pkg kind what multiarch
    multiarch=$(gcc -print-multiarch 2>/dev/null) || true
    for dep in "${BUILD_DEPS[@]}"; do
        IFS=: read -r pkg kind what <<<"$dep"
        case $kind in
            cmd) command -v "$what" >/dev/null || echo "$pkg" ;;
            h) [[ -f /usr/include/$what || -f /usr/include/$multiarch/$what ]] || echo "$pkg" ;;
        esac
    done
}

check_deps() {
    local missing
    missing=$(cmd_deps | tr '\n' ' ')
    [[ -z $missing ]] || die "missing build dependencies; install them with: apt-get install ${missing% }"
}

# build_interpreter OBJDIR [CONFIGURE_ARGS...]: configure (again if the
# arguments changed) and make the prepared tree in OBJDIR.  SOURCE_DIR
# overrides the tree (the unpatched one, for the benchmarks).
build_interpreter() {
    local obj=$1 args src=${SOURCE_DIR:-$SRC}
    shift
    args="$*"
    mkdir -p "$obj"
    if [[ ! -f $obj/Makefile || $(cat "$obj/.configure-args" 2>/dev/null) != "$args" ]]; then
        say "configuring ${obj#"$ROOT"/} ($args)"
        (cd "$obj" && "$src/configure" -q "$@" >configure.log 2>&1) ||
            die "configure failed, see ${obj#"$ROOT"/}/configure.log"
        echo "$args" >"$obj/.configure-args"
    fi
    say "building ${obj#"$ROOT"/}"
    make -C "$obj" -s -j"$(nproc)" >"$obj/make.log" 2>&1 ||
        { tail -n 30 "$obj/make.log" >&2; die "make failed, see ${obj#"$ROOT"/}/make.log"; }
}

cmd_build() {
    check_deps
    prepare
    local obj args=()
    obj=$(variant_dir)
    mapfile -t args < <(configure_args)
    build_interpreter "$obj" "${args[@]}"
    ln -sfn "${obj#"$ROOT"/}/python" "$(python_link)"
    say "ready: ./$(basename "$(python_link)") is $("$(python_link)" -c 'import sys; print(sys.version)' | head -n 1)"
}

cmd_test() {
    local py obj
    py=$(python_link)
    obj=$(variant_dir)
    [[ -x $py ]] || die "no ${py##*/}: run ./build.sh${FREE_THREADED:+} first"
    local xml=$obj/junit rc=0 failed=()
    rm -rf "$xml"
    mkdir -p "$xml"
    if (($#)); then
        (cd "$obj" && ./python -m test --junit-xml "$xml/run.xml" "$@") ||
            { rc=$?; failed+=(--failed-run "$xml/run.xml"); }
    else
        (cd "$obj" && ./python -m test -j0 --fail-env-changed --junit-xml "$xml/all.xml" "${TESTS[@]}") ||
            { rc=$?; failed+=(--failed-run "$xml/all.xml"); }
        local match=() m
        for m in "${REFLEAK_MATCH[@]}"; do match+=(-m "$m"); done
        (cd "$obj" && ./python -m test -R 3:3 --fail-env-changed --junit-xml "$xml/refleak.xml" \
            "${REFLEAK_TESTS[@]}" "${match[@]}") ||
            { rc=$?; failed+=(--failed-run "$xml/refleak.xml"); }
    fi
    python3 "$ROOT/scripts/junit_summary.py" "${failed[@]}" "$xml"/*.xml || rc=1
    return "$rc"
}

# format_series TREE OUT [PATHSPEC...]: TREE's commits since the base as a
# git format-patch series in OUT; the same commits give the same bytes.
format_series() {
    local tree=$1 out=$2
    shift 2
    git -C "$tree" -c core.abbrev=12 format-patch -q --zero-commit --no-signature -N --no-renames \
        -o "$out" "$BASE_TAG..HEAD" -- "$@" >/dev/null
}

# write_series TREE OUT: write TREE's change since the base into OUT as
# patches/ and overlay files (the inverse of apply_change).
write_series() {
    local tree=$1 out=$2 added=() f
    mapfile -t added < <(git -C "$tree" diff --no-renames --name-only --diff-filter=A "$BASE_TAG" HEAD)
    local exclude=()
    for f in "${added[@]}"; do exclude+=(":(exclude)$f"); done
    mkdir -p "$out/patches"
    rm -f "$out"/patches/*.patch
    format_series "$tree" "$out/patches" . "${exclude[@]}"
    for f in "${added[@]}"; do
        mkdir -p "$out/$(dirname "$f")"
        git -C "$tree" show "HEAD:$f" >"$out/$f"
    done
    printf '%s\n' "${added[@]}"
}

cmd_refresh() {
    [[ -d $SRC/.git ]] || die "no build tree: run ./build.sh first"
    [[ -z $(git_src status --porcelain) ]] ||
        die "build/src has uncommitted changes: commit them there (one commit per logical change), then refresh"
    git_src merge-base --is-ancestor "$BASE_TAG" HEAD || die "build/src HEAD does not descend from $BASE_TAG"
    local added=() f
    mapfile -t added < <(write_series "$SRC" "$ROOT")
    # Overlay files that the tree no longer has are deleted here too.
    overlay_files | while read -r f; do
        printf '%s\n' "${added[@]}" | grep -qxF "$f" || { rm -f "$ROOT/$f"; say "removed $f"; }
    done
    stamp_write
    (cd "$ROOT" && git status --short -- patches "${OVERLAY_ROOTS[@]}")
}

# export_series OUT: the whole change as a format-patch series in OUT.
export_series() {
    local out=$1 tree=$BUILD/export-tree
    make_base "$tree"
    apply_change "$tree"
    rm -rf "$out"
    mkdir -p "$out"
    format_series "$tree" "$out"
}

cmd_export() {
    export_series "$ROOT/dist"
    python3 "$ROOT/scripts/pr_description.py" "$ROOT" >"$ROOT/dist/PR.md"
    say "wrote dist/: $(cd "$ROOT/dist" && ls ./*.patch | wc -l) patches and PR.md"
}

cmd_selftest() {
    local tmp failed=0
    [[ -d $SRC/.git ]] && tree_is_pristine && [[ $(stamp_get inputs) == "$(inputs_hash)" ]] ||
        die "selftest needs a prepared build tree in sync with the repository: run ./build.sh (and refresh) first"
    tmp=$(mktemp -d "$BUILD/selftest.XXXXXX")
    # 1. The export, applied with plain git am onto a git repository of the
    #    pristine release, gives exactly the prepared tree.
    export_series "$tmp/dist"
    make_base "$tmp/base"
    if git -C "$tmp/base" am -q "$tmp"/dist/*.patch >/dev/null 2>&1 &&
       [[ $(git -C "$tmp/base" rev-parse 'HEAD^{tree}') == "$(git_src rev-parse 'HEAD^{tree}')" ]]; then
        echo "selftest: export reproduces build/src: ok"
    else
        echo "selftest: export reproduces build/src: FAILED"; failed=1
    fi
    # 2. Refreshing an unchanged tree rewrites patches/ and the overlay
    #    files byte for byte.
    write_series "$SRC" "$tmp/refresh" >/dev/null
    if diff -r "$ROOT/patches" "$tmp/refresh/patches" >/dev/null &&
       (cd "$tmp/refresh" && find . -type f -not -path './patches/*' | sed 's|^\./||') |
           while read -r f; do cmp -s "$ROOT/$f" "$tmp/refresh/$f" || exit 1; done; then
        echo "selftest: refresh is deterministic: ok"
    else
        echo "selftest: refresh is deterministic: FAILED"; failed=1
    fi
    rm -rf "$tmp" "$BUILD/export-tree"
    return "$failed"
}

# touched_files [PATHSPEC...]: files the change adds or modifies.
touched_files() {
    git_src diff --no-renames --name-only --diff-filter=AM "$BASE_TAG" HEAD -- "$@"
}

# docs_venv: build/docs-venv with the documentation requirements.
docs_venv() {
    local venv=$BUILD/docs-venv want
    want=$({ echo release; cat "$SRC/Doc/requirements.txt" "$SRC/Doc/constraints.txt"; } |
        sha256sum | cut -d' ' -f1)
    # Sphinx runs several times faster on a release build than on the
    # debug ./python: build/release is the patched tree without
    # --with-pydebug.
    build_interpreter "$BUILD/release"
    [[ $(cat "$venv/.requirements" 2>/dev/null) == "$want" ]] && return 0
    say "creating build/docs-venv from Doc/requirements.txt"
    rm -rf "$venv"
    # The real path: a venv made through a link to the uninstalled
    # interpreter does not find its standard library.
    "$BUILD/release/python" -m venv "$venv" || die "cannot create build/docs-venv"
    "$venv/bin/python" -W ignore -m pip install -q -r "$SRC/Doc/requirements.txt" sphinx-lint \
        >"$BUILD/docs-venv.log" 2>&1 ||
        { tail -n 20 "$BUILD/docs-venv.log" >&2; die "cannot install the documentation requirements"; }
    echo "$want" >"$venv/.requirements"
}

cmd_docs() {
    prepare
    docs_venv
    local warnings=$BUILD/docs-warnings.txt pages
    rm -f "$warnings"
    say "building the HTML documentation (log: build/docs.log)"
    make -C "$SRC/Doc" html VENVDIR="$BUILD/docs-venv" JOBS="$(nproc)" \
        SPHINXOPTS="--nitpicky --warning-file=$warnings" SPHINXERRORHANDLING= \
        >"$BUILD/docs.log" 2>&1 ||
        { tail -n 20 "$BUILD/docs.log" >&2; die "documentation build failed, see build/docs.log"; }
    # None of the touched pages is in Doc/tools/.nitignore, so upstream has
    # no warning in them: any warning there is new.
    pages=$(touched_files Doc | sed 's|^Doc/||' | paste -sd'|')
    if grep -E "/Doc/($pages)" "$warnings" >&2; then
        die "new documentation warnings (above)"
    fi
    python3 "$ROOT/scripts/check_docs.py" "$SRC/Doc/build/html" || die "the rendered pages lack the change (above)"
    local browser page shots=$BUILD/docs-screenshots name
    browser=$(command -v chromium || command -v chromium-browser || true)
    if [[ -n $browser ]]; then
        mkdir -p "$shots"
        for page in library/threading.html#threading-exit library/asyncio-background-thread.html; do
            # Headless screenshots ignore the #fragment of the address, but
            # an iframe scrolls to it.
            name=$(basename "${page%%#*}" .html)
            printf '<body style="margin:0"><iframe src="file://%s" style="border:0;width:1200px;height:2400px"></iframe>\n' \
                "$SRC/Doc/build/html/$page" >"$shots/$name.html"
            timeout 120 "$browser" --headless --no-sandbox --disable-gpu --no-first-run \
                --disable-background-networking --disable-component-update --disable-sync \
                --user-data-dir="$(mktemp -d)" --hide-scrollbars --allow-file-access-from-files \
                --window-size=1200,2400 --screenshot="$shots/$name.png" "file://$shots/$name.html" \
                >/dev/null 2>&1 || say "screenshot of $page failed"
        done
        say "screenshots in build/docs-screenshots/"
    fi
    say "documentation: build/src/Doc/build/html/index.html"
}

# stress [OPTIONS]: stress/run.py on the interpreter of this variant.
cmd_stress() {
    local py obj
    py=$(python_link)
    obj=$(variant_dir)
    [[ -x $py ]] || die "no ${py##*/}: run ./build.sh first"
    rm -rf "$obj/stress-failures"
    python3 "$ROOT/stress/run.py" --python "$py" --failures "$obj/stress-failures" "$@"
}

# bench [NAME...]: release builds of the unpatched release (build/bench/base,
# from a clean export of the base tag) and of the patched tree
# (build/release), then bench/run.py.
cmd_bench() {
    prepare
    local base_src=$BUILD/bench/base-src tree
    tree=$(git_src rev-parse "$BASE_TAG^{tree}")
    if [[ $(cat "$base_src/.tree" 2>/dev/null) != "$tree" ]]; then
        say "exporting $BASE_TAG to build/bench/base-src"
        rm -rf "$base_src" "$BUILD/bench/base"
        mkdir -p "$base_src"
        git_src archive "$BASE_TAG" | tar -x -C "$base_src"
        echo "$tree" >"$base_src/.tree"
    fi
    # Release builds, with the same configure options on both sides.
    SOURCE_DIR=$base_src build_interpreter "$BUILD/bench/base"
    build_interpreter "$BUILD/release"
    say "benchmarking (interleaved pairs; several minutes)"
    python3 "$ROOT/bench/run.py" --baseline "$BUILD/bench/base/python" \
        --patched "$BUILD/release/python" --out "$BUILD/bench/results.json" "$@" ||
        die "benchmarks failed"
    say "results: build/bench/results.json"
}

# backport: build the backport's wheel, then test it on each interpreter
# in build/backport/venv-NAME (logs: build/backport/NAME.log).
cmd_backport() {
    local out=$BUILD/backport wheel name py version v
    local names=() pythons=() typed=""
    mkdir -p "$out"
    # The unpatched release, as cmd_bench builds it (incremental).
    local base_src=$BUILD/bench/base-src
    if [[ ! -f $base_src/.tree ]]; then
        prepare
        say "exporting $BASE_TAG to build/bench/base-src"
        rm -rf "$base_src" "$BUILD/bench/base"
        mkdir -p "$base_src"
        git_src archive "$BASE_TAG" | tar -x -C "$base_src"
        git_src rev-parse "$BASE_TAG^{tree}" >"$base_src/.tree"
    fi
    SOURCE_DIR=$base_src build_interpreter "$BUILD/bench/base"
    # python -m build makes the sdist and, from it, the wheel; the build
    # backend comes from the package index into build's own environment.
    if ! "$out/tools/bin/python" -c 'import build' 2>/dev/null; then
        rm -rf "$out/tools"
        { python3 -m venv "$out/tools" && "$out/tools/bin/python" -m pip install build; } \
            >"$out/tools.log" 2>&1 || die "cannot install build (log: build/backport/tools.log)"
    fi
    rm -rf "$out/dist"
    say "building the backport's wheel (log: build/backport/build.log)"
    "$out/tools/bin/python" -m build -o "$out/dist" "$ROOT/backport" >"$out/build.log" 2>&1 ||
        { tail -n 20 "$out/build.log" >&2; die "the backport's wheel does not build"; }
    wheel=$(ls "$out"/dist/*.whl)
    # The interpreters; mypy goes to the newest released one.  A missing
    # one counts as a failure: the backport is for all of them.
    local missing=()
    for v in 3.9 3.10 3.11 3.12 3.13; do
        py=$(ls -d "${PYENV_ROOT:-$HOME/.pyenv}"/versions/$v.*/bin/python$v 2>/dev/null | sort -V | tail -n 1) || true
        if [[ -z $py ]]; then py=$(command -v "python$v") || true; fi
        if [[ -n $py ]] && "$py" -c '' 2>/dev/null; then
            names+=("$v"); pythons+=("$py"); typed=$v
        else
            missing+=("backport: no CPython $v found (pyenv or python$v)")
        fi
    done
    names+=("$VERSION"); pythons+=("$BUILD/bench/base/python")
    if [[ -x $(variant_dir)/python ]]; then
        names+=(patched); pythons+=("$(variant_dir)/python")
    else
        missing+=("backport: no ./$(basename "$(python_link)") (run ./build.sh first)")
    fi
    [[ -n $typed ]] || typed=$VERSION
    local i venv log status result=$out/summary.txt
    : >"$result"
    for i in "${missing[@]}"; do echo "$i" | tee -a "$result"; done
    for i in "${!names[@]}"; do
        name=${names[i]} py=${pythons[i]}
        venv=$out/venv-$name log=$out/$name.log
        version=$("$py" -c 'import platform; print(platform.python_version())') || version=$name
        if [[ $name == patched ]]; then version+=" patched"; fi
        rm -rf "$venv"
        if ! { "$py" -m venv "$venv" &&
               "$venv/bin/python" -m pip install --no-deps --no-index "$wheel"; } >"$log" 2>&1; then
            echo "backport: $version: cannot install the wheel (log: build/backport/$name.log)" |
                tee -a "$result"
            continue
        fi
        # mypy on the newest release, and on the patched interpreter, where
        # stubtest checks the stubs against the standard library's classes.
        if [[ $name == "$typed" || $name == patched ]] &&
               ! "$venv/bin/python" -m pip install mypy >>"$log" 2>&1; then
            echo "backport: $version: cannot install mypy (log: build/backport/$name.log)" |
                tee -a "$result"
        fi
        status=0
        env -u PYTHONPATH -u PYTHONHOME timeout 900 "$venv/bin/python" "$ROOT/backport/run_tests.py" \
            --label "backport: $version" --log "$log.tests" | tee -a "$result" || status=${PIPESTATUS[0]}
        cat "$log.tests" >>"$log" 2>/dev/null && rm -f "$log.tests"
        # 1 is "a test failed"; anything else (a crash, the timeout) counts
        # as one more failure.
        if ((status > 1)) || ! grep -q "^backport: $version: [0-9]* passed" "$result"; then
            echo "backport: $version: the tests did not complete, status $status (log: build/backport/$name.log)" |
                tee -a "$result"
        fi
    done
    awk '/: [0-9]+ passed, [0-9]+ failed, [0-9]+ skipped$/ { p += $(NF-5); f += $(NF-3); s += $(NF-1) }
         /: (cannot install the wheel|cannot install mypy|the tests did not complete)/ { f += 1 }
         /^backport: no / { f += 1 }
         END { printf "backport: %d passed, %d failed, %d skipped\n", p, f, s; exit (f > 0) }' "$result"
}

cmd_check() {
    prepare
    docs_venv
    local failed=0 log=$BUILD/patchcheck.log
    # make patchcheck compares with the upstream branch of the release: a
    # remote named after python/cpython (never fetched) provides it.
    git_src remote get-url upstream >/dev/null 2>&1 ||
        git_src remote add upstream https://github.com/python/cpython
    git_src update-ref refs/remotes/upstream/3.13 "$BASE_TAG"
    make -C "$(variant_dir)" patchcheck >"$log" 2>&1 || failed=1
    if grep -E 'whitespace \.\.\. [1-9]|updated with `blurb` \.\.\. NO|Docs modified \.\.\. NO' "$log"; then
        failed=1
    fi
    [[ -z $(git_src status --porcelain) ]] || { git_src status --short; echo "check: patchcheck rewrote files"; failed=1; }
    echo "check: make patchcheck: $( ((failed)) && echo FAILED || echo ok) (log: build/patchcheck.log)"
    local rst=()
    mapfile -t rst < <(touched_files 'Doc/*.rst' 'Misc/NEWS.d/*.rst')
    if (cd "$SRC" && "$BUILD/docs-venv/bin/sphinx-lint" "${rst[@]}"); then
        echo "check: sphinx-lint ${#rst[@]} files: ok"
    else
        echo "check: sphinx-lint: FAILED"; failed=1
    fi
    if (cd "$SRC" && python3 "$ROOT/scripts/check_news.py" $(touched_files 'Misc/NEWS.d')); then
        echo "check: NEWS entries: ok"
    else
        echo "check: NEWS entries: FAILED"; failed=1
    fi
    if git_src diff --check "$BASE_TAG" HEAD; then
        echo "check: git diff --check: ok"
    else
        echo "check: git diff --check: FAILED"; failed=1
    fi
    cmd_test test___all__ test_sundry || failed=1
    return "$failed"
}

main() {
    while (($#)); do
        case $1 in
            --disable-gil) FREE_THREADED=1; shift ;;
            -h|--help) usage; exit 0 ;;
            *) break ;;
        esac
    done
    local cmd=${1:-build}
    if (($#)); then shift; fi
    case $cmd in
        build) cmd_build "$@" ;;
        test) cmd_test "$@" ;;
        refresh) cmd_refresh "$@" ;;
        export) cmd_export "$@" ;;
        selftest) cmd_selftest "$@" ;;
        docs) cmd_docs "$@" ;;
        check) cmd_check "$@" ;;
        bench) cmd_bench "$@" ;;
        stress) cmd_stress "$@" ;;
        backport) cmd_backport "$@" ;;
        deps) cmd_deps "$@" ;;
        help) usage ;;
        *) usage >&2; die "unknown command: $cmd" ;;
    esac
}

main "$@"

#!/bin/sh
# Install ShitShovela from wheels into a new virtual environment. The container
# recipe (Dockerfile) runs exactly this, and so does the test that proves it
# (tests/deploy/test_container.py), so the two cannot drift.
#
#   sh install-wheels.sh VENV WHEELS [DISTRIBUTION...]
#
# VENV         the virtual environment to create (it must not exist yet)
# WHEELS       a folder with the wheels and constraints.txt (build-wheels.sh)
# DISTRIBUTION the plugins to install besides the core, by distribution name
#              (shitshovela-imap shitshovela-s3 shitshovela-graph shitshovela-jira
#              shitshovela-github shitshovela-prometheus, or an in-house one)
#
# Our own distributions are installed from their wheel files, by path, never by
# name from an index (no dependency confusion), with the libraries of ours they
# require (shitshovela-mail, for the mail sources); every third-party dependency is
# pinned, hash-checked, by WHEELS/constraints.txt. Byte code is compiled here,
# once, because the container's root filesystem is read-only at run time.
# Needs uv on PATH; PYTHON names the interpreter (default: python3).
set -eu
if [ "$#" -lt 2 ]; then
    echo "usage: install-wheels.sh VENV WHEELS [DISTRIBUTION...]" >&2
    exit 2
fi
venv=$1
wheels=$2
shift 2
if [ -e "$venv" ]; then
    echo "install-wheels.sh: $venv exists; give a new path" >&2
    exit 2
fi
if [ ! -f "$wheels/constraints.txt" ]; then
    echo "install-wheels.sh: $wheels/constraints.txt is missing; run build-wheels.sh" >&2
    exit 2
fi

wheel_of() {
    # The one wheel of a distribution: file names use '_' where the name has '-'.
    stem=$(printf '%s' "$1" | tr -- '-.' '__')
    found=""
    for file in "$wheels/$stem"-*.whl; do
        [ -f "$file" ] || continue
        if [ -n "$found" ]; then
            echo "install-wheels.sh: more than one wheel of $1 in $wheels" >&2
            exit 2
        fi
        found=$file
    done
    if [ -z "$found" ]; then
        echo "install-wheels.sh: no wheel of $1 in $wheels" >&2
        exit 2
    fi
    printf '%s\n' "$found"
}

# Replace the distribution names by their wheel files (the core first).
set -- shitshovela "$@"
names=$#
for dist do
    file=$(wheel_of "$dist")
    set -- "$@" "$file"
done
shift "$names"

# Add the wheels of our own libraries the chosen ones require (shitshovela-mail, for
# the mail sources), from WHEELS too: a distribution of ours is never looked up by
# name in an index. One path a line (wheel names hold no spaces or wildcards).
libraries=$("${PYTHON:-python3}" - "$wheels" "$@" <<'PYTHON'
import re
import sys
import zipfile
from pathlib import Path

folder, chosen = Path(sys.argv[1]), [Path(p) for p in sys.argv[2:]]
ours = {p.name.split("-", 1)[0].lower(): p for p in folder.glob("*.whl")}
todo, seen = list(chosen), {p.name.split("-", 1)[0].lower() for p in chosen}
while todo:
    with zipfile.ZipFile(todo.pop()) as wheel:
        metadata = next(n for n in wheel.namelist() if n.endswith(".dist-info/METADATA"))
        lines = wheel.read(metadata).decode("utf-8").splitlines()
    for line in lines:
        if not line.startswith("Requires-Dist:") or "extra ==" in line:
            continue
        name = re.split(r"[^A-Za-z0-9._-]", line.split(":", 1)[1].strip(), maxsplit=1)[0]
        stem = re.sub(r"[-.]+", "_", name).lower()
        if stem in ours and stem not in seen:
            seen.add(stem)
            todo.append(ours[stem])
            print(ours[stem])
PYTHON
)
saved_ifs=$IFS
IFS='
'
set -f
for file in $libraries; do
    set -- "$@" "$file"
done
set +f
IFS=$saved_ifs

UV_PYTHON_DOWNLOADS=never uv venv --quiet --python "${PYTHON:-python3}" "$venv"
uv pip install --quiet --python "$venv/bin/python" --no-config \
    --constraint "$wheels/constraints.txt" --verify-hashes --compile-bytecode \
    "$@"

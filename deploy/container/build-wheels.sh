#!/bin/sh
# Build the wheels the container recipe installs, and the pins of their dependencies.
#
#   sh deploy/container/build-wheels.sh [OUT]      (OUT defaults to dist/)
#
# Run from anywhere inside a clone, with uv on PATH. Writes OUT/*.whl (the core and
# every plugin of the workspace) and OUT/constraints.txt: the exact versions and
# hashes of every third-party dependency, exported from uv.lock, so that an image
# gets the dependencies the tests ran with. An in-house plugin's wheel can be
# dropped into OUT as well.
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:-"$root/dist"}
mkdir -p "$out"
out=$(cd "$out" && pwd)
cd "$root"
uv build --all-packages --wheel --out-dir "$out"
uv export --frozen --no-dev --all-packages --no-emit-workspace --no-header \
    --output-file "$out/constraints.txt" >/dev/null

#!/bin/sh
# Build the wheels the container recipe installs, and the pins of their dependencies.
#
#   sh deploy/container/build-wheels.sh [OUT]      (OUT defaults to dist/)
#
# Run from anywhere inside a clone, with uv on PATH. Writes OUT/*.whl (the core and
# every plugin of the workspace) and OUT/constraints.txt: the exact versions and
# hashes of every third-party dependency, exported from uv.lock, so that an image
# gets the dependencies the tests ran with. An in-house plugin's wheel can be
# dropped into OUT as well. The dev-only distributions under testing/ (test kit,
# emulators, server launchers) are workspace members too, but no part of an image:
# neither their wheels nor their dependencies are written.
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:-"$root/dist"}
mkdir -p "$out"
out=$(cd "$out" && pwd)
cd "$root"
packages=""
for project in . plugins/*/ examples/*/; do
    [ -f "$project/pyproject.toml" ] || continue
    name=$(sed -n 's/^name = "\(.*\)"$/\1/p' "$project/pyproject.toml" | head -n 1)
    uv build --quiet --wheel --out-dir "$out" --package "$name"
    packages="$packages --package $name"
done
# shellcheck disable=SC2086 # one --package option per distribution
uv export --frozen --no-dev --no-emit-workspace --no-header $packages \
    --output-file "$out/constraints.txt" >/dev/null

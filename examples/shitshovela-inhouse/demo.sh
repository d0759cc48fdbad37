#!/usr/bin/env bash
# Runs the real job with the example in-house plugin: text files in a
# spool folder become tickets in a JSON-lines file, through the example
# in-house plugin (examples/shitshovela-inhouse). Leaves nothing behind.
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/ensure-uv
uv sync --quiet --all-packages

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir "$work/spool"
printf 'Disk almost full on db1\nFrom: monitor@db.example.com\n/var is at 97%%.\n' > "$work/spool/001-disk.txt"
printf 'Packet loss on uplink 2\nFrom: probe@net.example.com\n3%% loss since 04:10 UTC.\n' > "$work/spool/002-net.txt"
printf 'Weekly backup report\nAll 41 jobs finished.\n' > "$work/spool/003-backup.txt"
printf '\xff\xfe not text' > "$work/spool/004-garbage.bin"

export SHITSHOVELA_SOURCE=spool SHITSHOVELA_TICKET_SYSTEM=jsonl SHITSHOVELA_INSTANCE=demo
export SHITSHOVELA_SPOOL__PATH="$work/spool" SHITSHOVELA_JSONL__PATH="$work/tickets.jsonl"
export SHITSHOVELA_MAX_RUNTIME=30s SHITSHOVELA_LOG_FORMAT="${SHITSHOVELA_LOG_FORMAT:-console}"

echo "== shitshovela plan (a dry run: touches nothing)"
uv run --quiet shitshovela plan
echo
echo "== shitshovela run"
uv run --quiet shitshovela run
echo
echo "== tickets created ($work/tickets.jsonl)"
python3 - "$work/tickets.jsonl" <<'PY'
import json, sys
for line in open(sys.argv[1]):
    t = json.loads(line)
    print(f"  {t['key']}: {t['title']!r} labels={t['labels']} fields={t['fields']}")
PY
echo "== left in the spool: $(ls "$work/spool" | grep -v set-aside | wc -l) file(s); set aside: $(ls "$work/spool/set-aside" | grep -vc reason)"

#!/usr/bin/env bash
# Start the MongoDB stand-in (nx-27017, a wire-protocol server on SQLite) unless something
# already listens on the port; wait until it accepts connections. Idempotent.
#   scripts/mongo-standin.sh            -> mongodb://127.0.0.1:27018/worldline
#   WORLDLINE_MONGO_PORT=27019 WORLDLINE_MONGO_DATA=/tmp/x scripts/mongo-standin.sh
# Runs with --data-dir (one SQLite file per database): the world's namespace is the
# database, and nx-27017's default single-file mode shares collections across databases.
# With WORLDLINE_MONGO_URL set (a genuine server) it does nothing.
set -euo pipefail
cd "$(dirname "$0")/.."

PORT="${WORLDLINE_MONGO_PORT:-27018}"
DATA="${WORLDLINE_MONGO_DATA:-${TMPDIR:-/tmp}/worldline-mongo-standin-$PORT}"
LOG="${TMPDIR:-/tmp}/worldline-mongo-standin-$PORT.log"
PY=.venv/bin/python
[ -x "$PY" ] || PY=python3

log() { printf 'mongo-standin: %s\n' "$*" >&2; }
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; }
isolated() {  # does the server keep databases apart?
  "$PY" - "$PORT" <<'PY'
import sys, uuid
from pymongo import MongoClient
c = MongoClient(f"mongodb://127.0.0.1:{sys.argv[1]}/", serverSelectionTimeoutMS=3000)
a, b = (f"wl_probe_{uuid.uuid4().hex[:8]}" for _ in range(2))
try:
    c[a]["probe"].insert_one({"x": 1})
    sys.exit(0 if c[b]["probe"].count_documents({}) == 0 else 1)
finally:
    c.drop_database(a); c.drop_database(b)
PY
}

if [ -n "${WORLDLINE_MONGO_URL:-}" ]; then log "WORLDLINE_MONGO_URL is set; not starting"; exit 0; fi
if ! port_open; then
  bin=.venv/bin/nx-27017
  [ -x "$bin" ] || bin=$(command -v nx-27017)
  mkdir -p "$DATA"
  nohup "$bin" --data-dir "$DATA" --host 127.0.0.1 -p "$PORT" --log-file "$LOG" \
    --pid-file "${TMPDIR:-/tmp}/worldline-mongo-standin-$PORT.pid" >>"$LOG" 2>&1 &
  for _ in $(seq 1 100); do port_open && break; sleep 0.1; done
  port_open || { log "stand-in did not start on $PORT (see $LOG)"; exit 1; }
fi
if ! isolated; then
  log "the server on 127.0.0.1:$PORT shares collections between databases (nx-27017 in"
  log "single-file mode?). Restart it with --data-dir, or pick another WORLDLINE_MONGO_PORT."
  exit 1
fi
log "up: mongodb://127.0.0.1:$PORT/worldline"

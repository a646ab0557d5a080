#!/usr/bin/env bash
# Make sure the database servers the test suite needs are up on loopback; start what is not.
#   scripts/services.sh [postgres] [redis] [mongo]     (no argument: all three)
# PostgreSQL 15 and Redis 7 come with the machine (see shared/SERVICES.md); the MongoDB
# stand-in (nx-27017, a wire-protocol server) is a pinned dev dependency run from the venv.
set -euo pipefail
cd "$(dirname "$0")/.."

wanted=("$@")
[ ${#wanted[@]} -eq 0 ] && wanted=(postgres redis mongo)

log() { printf 'services: %s\n' "$*" >&2; }

wait_for() {  # name, command...
  local name=$1; shift
  for _ in $(seq 1 100); do
    if "$@" >/dev/null 2>&1; then log "$name is up"; return 0; fi
    sleep 0.1
  done
  log "$name did not come up"; return 1
}


ensure_postgres() {
  if command -v pg_isready >/dev/null && pg_isready -q -h 127.0.0.1 -p 5432; then
    log "postgres is up"; return 0
  fi
  if ! command -v pg_ctlcluster >/dev/null; then
    log "installing postgresql from Debian"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
  fi
  local version
  version=$(ls /etc/postgresql | sort -V | tail -n 1)
  pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
  wait_for postgres pg_isready -q -h 127.0.0.1 -p 5432
  psql -h 127.0.0.1 -U postgres -tAc "SELECT 1 FROM pg_database WHERE datname = 'test'" 2>/dev/null \
    | grep -q 1 || createdb -h 127.0.0.1 -U postgres test 2>/dev/null || true
}

ensure_redis() {
  if command -v redis-cli >/dev/null && redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null | grep -q PONG; then
    log "redis is up"; return 0
  fi
  if ! command -v redis-server >/dev/null; then
    log "installing redis-server from Debian"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null
  fi
  mkdir -p /var/lib/redis /var/log/redis
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log
  wait_for redis redis-cli -h 127.0.0.1 -p 6379 ping
}

ensure_mongo() {  # one SQLite file per database, so each namespace is isolated
  bash scripts/mongo-standin.sh
}

for service in "${wanted[@]}"; do
  case "$service" in
    postgres) ensure_postgres ;;
    redis) ensure_redis ;;
    mongo) ensure_mongo ;;
    local|turso|memory) ;;
    *) log "unknown service $service"; exit 2 ;;
  esac
done

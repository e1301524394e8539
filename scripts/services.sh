#!/usr/bin/env bash
# Installs (apt, when root) and starts what lamina needs on a Debian machine:
# the Docker engine, and for tests a throw-away PostgreSQL cluster and Redis server.
# Usage: scripts/services.sh docker|postgres|redis|chromium|go|all   (prints export lines for URLs)
set -euo pipefail
STATE=${LAMINA_SERVICES_DIR:-/tmp/lamina-services}
mkdir -p "$STATE"

need_pkg() {  # need_pkg BINARY PACKAGE...
  command -v "$1" >/dev/null 2>&1 && return 0
  [ -x "$1" ] && return 0
  if [ "$(id -u)" != 0 ]; then
    echo "lamina: '$1' is missing; install it with: sudo apt-get install -y ${*:2}" >&2
    exit 1
  fi
  echo "lamina: installing ${*:2} with apt-get" >&2
  if [ ! -f "$STATE/apt-updated" ]; then apt-get update -q >&2 && touch "$STATE/apt-updated"; fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${@:2}" >&2
}

# gVisor's runsc as the Docker runtime "runsc" (functions with Isolation "gvisor"). --network=host:
# runsc 2022 (Debian 12) refuses its own network stack on kernels that namespace
# net.core.rmem_default (6.x), so it uses the kernel's, inside the container's own network namespace;
# --host-uds=all: the agent of a function without a network listens on a socket in a bind mount.
register_runsc() {
  [ "$(id -u)" = 0 ] || return 0   # not root: lamina runs without gVisor (Isolation "gvisor" is refused)
  need_pkg runsc runsc
  mkdir -p /etc/docker
  python3 - "$(command -v runsc)" <<'PY'
import json, pathlib, sys
path = pathlib.Path("/etc/docker/daemon.json")
conf = json.loads(path.read_text() or "{}") if path.exists() else {}
want = {"path": sys.argv[1], "runtimeArgs": ["--network=host", "--host-uds=all"]}
if conf.get("runtimes", {}).get("runsc") != want:
    conf.setdefault("runtimes", {})["runsc"] = want
    path.write_text(json.dumps(conf, indent=2) + "\n")
PY
}

start_docker() {
  need_pkg dockerd docker.io
  need_pkg mmdebstrap mmdebstrap
  need_pkg npm npm   # the Node.js runtime images' AWS SDK is installed with npm ci at build
  need_pkg docker-compose docker-compose   # docker-compose.yml (tests/deploy brings the stack up)
  register_runsc
  if docker info >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && ! docker info --format '{{json .Runtimes}}' 2>/dev/null | grep -q '"runsc"'; then
      kill -HUP "$(cat /var/run/docker.pid)" 2>/dev/null || true   # dockerd reloads its runtimes
      sleep 1
    fi
    return 0
  fi
  rm -f /var/run/docker.pid
  nohup dockerd >"$STATE/dockerd.log" 2>&1 &
  for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && return 0; sleep 0.5; done
  echo "lamina: dockerd did not start; see $STATE/dockerd.log" >&2; tail -20 "$STATE/dockerd.log" >&2; exit 1
}

pg_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1; }

start_postgres() {
  [ -n "$(pg_bin)" ] || need_pkg /usr/lib/postgresql/15/bin/initdb postgresql
  local bin; bin=$(pg_bin)
  local dir="$STATE/pg" port=${LAMINA_TEST_PG_PORT:-55432}
  if [ ! -f "$dir/PG_VERSION" ]; then
    mkdir -p "$dir"; chown postgres "$dir" "$STATE" 2>/dev/null || true
    su postgres -s /bin/sh -c "$bin/initdb -D $dir -A trust -U postgres" >/dev/null
  fi
  if ! su postgres -s /bin/sh -c "$bin/pg_ctl -D $dir status" >/dev/null 2>&1; then
    su postgres -s /bin/sh -c "$bin/pg_ctl -D $dir -l $dir/log -w -o '-p $port -k /tmp -c fsync=off -c max_connections=300' start" >/dev/null
  fi
  echo "export LAMINA_TEST_DATABASE_URL=postgresql+psycopg2://postgres@127.0.0.1:$port/postgres"
}

start_redis() {
  need_pkg redis-server redis-server
  local port=${LAMINA_TEST_REDIS_PORT:-56379}
  if ! redis-cli -p "$port" ping >/dev/null 2>&1; then
    mkdir -p "$STATE/redis-$port"
    redis-server --port "$port" --bind 127.0.0.1 --daemonize yes --dir "$STATE/redis-$port" \
      --appendonly yes --logfile "$STATE/redis-$port/redis.log" >/dev/null
    for _ in $(seq 1 40); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.25; done
  fi
  echo "export LAMINA_TEST_REDIS_URL=redis://127.0.0.1:$port/0"
}

start_go() {  # Debian's Go toolchain: a test builds a provided.al2023 bootstrap from a Go program
  need_pkg go golang-go
}

start_chromium() {  # the console tests' browser (Playwright drives it; never `playwright install`)
  need_pkg /usr/bin/chromium chromium
}

case "${1:-all}" in
  docker) start_docker ;;
  postgres) start_postgres ;;
  redis) start_redis ;;
  chromium) start_chromium ;;
  go) start_go ;;
  all) start_docker; start_postgres; start_redis ;;
  *) echo "usage: $0 docker|postgres|redis|chromium|go|all" >&2; exit 2 ;;
esac

#!/usr/bin/env bash
# Runs every test. Finds (or, as root, installs) PostgreSQL and Redis, starts throwaway instances
# on free ports in a temporary directory, runs the whole suite against them, and stops them.
# Usage: scripts/test.sh [extra cargo test arguments]
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '==> %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

command -v cargo >/dev/null || die "cargo is not installed: install Rust from https://rustup.rs"

as_root() { [ "$(id -u)" = 0 ]; }
apt_updated=""
apt_install() {
  as_root || die "$1 is missing. Install it (Debian/Ubuntu: sudo apt-get install $2) and run again."
  command -v apt-get >/dev/null || die "$1 is missing and this is not a Debian-like system: install $2."
  if [ -z "$apt_updated" ]; then say "apt-get update"; apt-get update -qq >/dev/null; apt_updated=1; fi
  say "installing $2"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2" >/dev/null
}

pg_bindir() {
  local d
  for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    [ -x "$d/initdb" ] && { echo "$d"; return; }
  done
  if command -v pg_config >/dev/null && [ -x "$(pg_config --bindir)/initdb" ]; then pg_config --bindir; return; fi
  command -v initdb >/dev/null && dirname "$(command -v initdb)"
}

PGBIN=$(pg_bindir || true)
[ -n "$PGBIN" ] || { apt_install "PostgreSQL" postgresql; PGBIN=$(pg_bindir); }
command -v redis-server >/dev/null || apt_install "Redis" redis-server
# Schema checks of the WSDL/XSD use xmllint; the HTTP/2 lock-out is replayed with curl; the
# metrics are checked by Prometheus's own promtool.
command -v xmllint >/dev/null || apt_install "xmllint" libxml2-utils
command -v curl >/dev/null || apt_install "curl" curl
command -v promtool >/dev/null || apt_install "promtool" prometheus
export DTR_TEST_PROMTOOL="$(command -v promtool)"

# A SOAP client from another ecosystem (Python's zeep) is generated from the WSDLs in the tests;
# it lives in a virtual environment under target/, made once.
command -v python3 >/dev/null || apt_install "Python" python3
python3 -c 'import venv, ensurepip' 2>/dev/null || apt_install "Python venv" python3-venv
ZEEP_VENV="$PWD/target/zeep-venv"
if ! "$ZEEP_VENV/bin/python" -c 'import zeep' 2>/dev/null; then
  say "installing zeep into $ZEEP_VENV"
  rm -rf "$ZEEP_VENV"
  python3 -m venv "$ZEEP_VENV"
  "$ZEEP_VENV/bin/pip" install -q zeep==4.3.3 || die "could not install zeep from PyPI"
fi
export DTR_TEST_PYTHON="$ZEEP_VENV/bin/python"

# People's pages are tested in a real browser: Debian's headless Chromium driven through its
# ChromeDriver, with axe-core (npm) injected for the accessibility check.
command -v chromium >/dev/null || apt_install "Chromium" chromium
command -v chromedriver >/dev/null || apt_install "ChromeDriver" chromium-driver
command -v npm >/dev/null || apt_install "npm" npm
AXE="$PWD/target/npm/node_modules/axe-core/axe.min.js"
if [ ! -f "$AXE" ]; then
  say "installing axe-core into target/npm"
  mkdir -p target/npm
  npm install --silent --no-audit --no-fund --prefix target/npm axe-core@4.10.3 >/dev/null \
    || die "could not install axe-core from npm"
fi
export DTR_TEST_CHROMIUM="$(command -v chromium)" DTR_TEST_CHROMEDRIVER="$(command -v chromedriver)" DTR_TEST_AXE="$AXE"

# The portal's OpenID Connect login is tested against a real OpenID provider: the npm package
# oidc-provider (9.x needs Node 20 or later; on Debian 12's Node 18 the 8.x line, same API).
OP="$PWD/target/npm/node_modules/oidc-provider"
if [ ! -f "$OP/package.json" ]; then
  if [ "$(node -p 'process.versions.node.split(".")[0]')" -ge 20 ]; then OP_VERSION=9.13.3; else OP_VERSION=8.8.1; fi
  say "installing oidc-provider $OP_VERSION into target/npm"
  npm install --silent --no-audit --no-fund --prefix target/npm "oidc-provider@$OP_VERSION" >/dev/null \
    || die "could not install oidc-provider from npm"
fi
export DTR_TEST_OIDC_PROVIDER="$OP"

# `dtr bench lookup` is run short in the suite: it drives the gateway with wrk and compares it
# with npm's `soap` answering from memory (the version the benchmark pins).
command -v wrk >/dev/null || apt_install "wrk" wrk
if [ ! -f target/npm/node_modules/soap/package.json ]; then
  say "installing soap into target/npm"
  npm install --silent --no-audit --no-fund --prefix target/npm soap@1.13.0 >/dev/null \
    || die "could not install soap from npm"
fi
export DTR_TEST_BENCH_NPM="$PWD/target/npm"

free_port() {
  local p
  for _ in $(seq 1 50); do
    p=$(( (RANDOM % 20000) + 30000 ))
    (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return; }
  done
  die "no free port found"
}

TMP=$(mktemp -d "${TMPDIR:-/tmp}/dtr-test.XXXXXX")
PGPORT=$(free_port); REDISPORT=$(free_port)
run_pg() { if as_root; then runuser -u postgres -- "$@"; else "$@"; fi; }

cleanup() {
  run_pg "$PGBIN/pg_ctl" -D "$TMP/pg" -m immediate stop >/dev/null 2>&1 || true
  [ -f "$TMP/redis.pid" ] && kill "$(cat "$TMP/redis.pid")" 2>/dev/null || true
  rm -rf "$TMP"
}
trap cleanup EXIT

if as_root; then chown postgres "$TMP"; chmod 755 "$TMP"; fi
say "starting PostgreSQL ($PGBIN) on port $PGPORT"
run_pg "$PGBIN/initdb" -D "$TMP/pg" -A trust -U postgres >"$TMP/initdb.log" 2>&1 || { cat "$TMP/initdb.log"; die "initdb failed"; }
# fsync off: these databases are thrown away after the run.
run_pg "$PGBIN/pg_ctl" -D "$TMP/pg" -l "$TMP/pg.log" -w \
  -o "-p $PGPORT -k $TMP -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=300" start >/dev/null \
  || { cat "$TMP/pg.log"; die "PostgreSQL did not start"; }

say "starting Redis on port $REDISPORT"
redis-server --port "$REDISPORT" --bind 127.0.0.1 --save '' --appendonly no --daemonize yes \
  --pidfile "$TMP/redis.pid" --dir "$TMP" --logfile "$TMP/redis.log"
for _ in $(seq 1 50); do (exec 3<>"/dev/tcp/127.0.0.1/$REDISPORT") 2>/dev/null && break; sleep 0.1; done

export DTR_TEST_POSTGRES_URL="postgres://postgres@127.0.0.1:$PGPORT/postgres"
# Fault tests start (and stop) PostgreSQL servers of their own with these binaries.
export DTR_TEST_PGBIN="$PGBIN"
export DTR_TEST_REDIS_URL="redis://127.0.0.1:$REDISPORT/"

# The compose file must stay valid for ops (docker-compose v1 from Debian, or compose v2).
if ! command -v docker-compose >/dev/null && as_root && command -v apt-get >/dev/null; then
  apt_install "docker-compose" docker-compose
fi
# It has no working default secrets: without them it must not even configure.
compose_check() {
  say "$* config -q"
  env -u DTR_DB_PASSWORD -u DTR_REDIS_PASSWORD "$@" -f docker-compose.yml config -q >/dev/null 2>&1 \
    && die "docker-compose.yml configures without DTR_DB_PASSWORD/DTR_REDIS_PASSWORD (a default secret)"
  DTR_DB_PASSWORD=compose-check DTR_REDIS_PASSWORD=compose-check "$@" -f docker-compose.yml config -q \
    || die "docker-compose.yml is invalid"
}
if command -v docker-compose >/dev/null; then
  compose_check docker-compose
elif docker compose version >/dev/null 2>&1; then
  compose_check docker compose
else
  say "docker-compose not installed: docker-compose.yml not checked (install docker-compose to check it)"
fi

say "cargo test --workspace"
set +e
cargo test --workspace --locked --no-fail-fast "$@" 2>&1 | tee "$TMP/test.log"
status=${PIPESTATUS[0]}
set -e
# One closing line for the whole run (cargo prints one per test binary).
awk '/^test result:/ { p += $4; f += $6 } END { printf "tests: %d passed, %d failed\n", p, f }' "$TMP/test.log"
exit "$status"

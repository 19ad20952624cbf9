#!/usr/bin/env bash
# Local AWS for demos and tests: moto server from a project-local virtualenv, on 127.0.0.1.
#   scripts/local-aws.sh start    install if needed, start (idempotent), register SES senders
#   scripts/local-aws.sh stop     stop the moto this script started on the port
#   scripts/local-aws.sh status   exit 0 when moto answers on the port (and say so)
#   scripts/local-aws.sh env      print the environment that points the AWS SDK at it
# The port is PPX_MOTO_PORT (default 4599); each port has its own pid and log file in .local/,
# so motos on two ports (a demo and a test run) are started and stopped independently.
set -euo pipefail
cd "$(dirname "$0")/.."

PORT="${PPX_MOTO_PORT:-4599}"
URL="http://127.0.0.1:${PORT}"
VENV=.venv
STATE=.local
PID_FILE="$STATE/moto-${PORT}.pid"
LOG_FILE="$STATE/moto-${PORT}.log"
mkdir -p "$STATE"

install() {
  if [ -x "$VENV/bin/moto_server" ] && cmp -s scripts/requirements.txt "$VENV/.installed-requirements"; then
    return
  fi
  echo "local-aws: installing moto and cfn-lint into $VENV (pinned in scripts/requirements.txt)"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check -r scripts/requirements.txt
  cp scripts/requirements.txt "$VENV/.installed-requirements"
}

running() { curl -sf "$URL/moto-api/" >/dev/null 2>&1; }

start() {
  install
  if ! running; then
    # One request at a time: atomic conditional writes and transactions, as in DynamoDB.
    nohup "$VENV/bin/python" scripts/moto_serialized.py -H 127.0.0.1 -p "$PORT" >"$LOG_FILE" 2>&1 &
    echo $! >"$PID_FILE"
    for _ in $(seq 1 100); do
      running && break
      sleep 0.1
    done
    running || { echo "local-aws: moto did not start; see $LOG_FILE" >&2; exit 1; }
    echo "local-aws: moto server on $URL"
  fi
  # SES refuses to send from unverified senders; moto verifies identities at once.
  "$VENV/bin/python" - "$URL" <<'PY'
import sys, boto3
ses = boto3.client("sesv2", endpoint_url=sys.argv[1], region_name="us-east-1",
                   aws_access_key_id="test", aws_secret_access_key="test")
for identity in ("demo-shop.example",):
    try:
        ses.create_email_identity(EmailIdentity=identity)
    except ses.exceptions.AlreadyExistsException:
        pass
PY
}

stop() {
  if [ ! -f "$PID_FILE" ]; then
    if running; then
      echo "local-aws: moto on $URL was not started by this script here (no $PID_FILE); left running" >&2
    fi
    return
  fi
  kill "$(cat "$PID_FILE")" 2>/dev/null || true
  rm -f "$PID_FILE"
  for _ in $(seq 1 50); do
    running || break
    sleep 0.1
  done
  echo "local-aws: moto on $URL stopped"
}

status() {
  if running; then
    echo "local-aws: moto answers on $URL"
  else
    echo "local-aws: nothing answers on $URL" >&2
    return 1
  fi
}

env_vars() {
  cat <<ENV
export AWS_ENDPOINT_URL=$URL
export AWS_REGION=us-east-1
export AWS_ACCESS_KEY_ID=test
export AWS_SECRET_ACCESS_KEY=test
export PPX_MOTO_URL=$URL
ENV
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  env) env_vars ;;
  *) echo "usage: $0 start|stop|status|env" >&2; exit 2 ;;
esac

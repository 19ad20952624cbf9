#!/usr/bin/env bash
# Local AWS for demos and tests: moto server from a project-local virtualenv, on 127.0.0.1.
#   scripts/local-aws.sh start   install if needed, start (idempotent), register SES senders
#   scripts/local-aws.sh stop
#   scripts/local-aws.sh env     print the environment that points the AWS SDK at it
set -euo pipefail
cd "$(dirname "$0")/.."

PORT="${PPX_MOTO_PORT:-4599}"
URL="http://127.0.0.1:${PORT}"
VENV=.venv
STATE=.local
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
    nohup "$VENV/bin/python" scripts/moto_serialized.py -H 127.0.0.1 -p "$PORT" >"$STATE/moto.log" 2>&1 &
    echo $! >"$STATE/moto.pid"
    for _ in $(seq 1 100); do
      running && break
      sleep 0.1
    done
    running || { echo "local-aws: moto did not start; see $STATE/moto.log" >&2; exit 1; }
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
  if [ -f "$STATE/moto.pid" ]; then
    kill "$(cat "$STATE/moto.pid")" 2>/dev/null || true
    rm -f "$STATE/moto.pid"
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
  env) env_vars ;;
  *) echo "usage: $0 start|stop|env" >&2; exit 2 ;;
esac

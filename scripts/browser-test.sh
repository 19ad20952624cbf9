#!/usr/bin/env bash
# Headless-Chromium tests of the customer pages (tracking page, returns portal, 404 page).
# Run by scripts/test.sh after the cargo tests, against the moto server it started; runs alone
# too (then it starts moto itself and stops it again). Installs what is missing: Debian's
# chromium + chromium-driver, and playwright-core (tests/browser/package-lock.json) with npm ci.
# Starts its own `ppx serve` on a free port over its own table, replays the sample webhooks up
# to a failed delivery attempt, then runs `node --test tests/browser/` (whose last test posts the
# EasyPost "delivered" sample itself); exits with node's code.
set -euo pipefail
cd "$(dirname "$0")/.."

# The sample events happen in late November 2026: freeze serve's clock just after them, as the
# demo does, so the signature window and the sample dates line up on any day.
export PPX_DEMO_NOW=2026-11-27T17:00:00Z
SHOP=demo-shop
PPX=target/debug/ppx
SCREENSHOT_DIR=target/browser
mkdir -p "$SCREENSHOT_DIR"

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

if [ ! -x "${CHROMIUM_PATH:-/usr/bin/chromium}" ]; then
  echo "browser-test: installing Debian's chromium and chromium-driver"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null
fi
command -v node >/dev/null && command -v npm >/dev/null ||
  { echo "browser-test: node and npm are needed (Node.js 20+)" >&2; exit 1; }
if ! cmp -s tests/browser/package-lock.json tests/browser/node_modules/.ppx-installed-lock; then
  echo "browser-test: npm ci in tests/browser (playwright-core, pinned)"
  (cd tests/browser && npm ci --no-audit --no-fund --loglevel=error)
  cp tests/browser/package-lock.json tests/browser/node_modules/.ppx-installed-lock
fi

# Local AWS: scripts/test.sh has started it; alone, start it here and stop it on exit.
eval "$(scripts/local-aws.sh env)"
started_moto=
SERVE_PID=
cleanup() {
  if [ -n "$SERVE_PID" ]; then
    kill "$SERVE_PID" 2>/dev/null || true
    wait "$SERVE_PID" 2>/dev/null || true
  fi
  if [ -n "$started_moto" ]; then scripts/local-aws.sh stop; fi
}
trap cleanup EXIT
if ! curl -sf "$PPX_MOTO_URL/moto-api/" >/dev/null 2>&1; then started_moto=1; fi
scripts/local-aws.sh start >/dev/null

echo "browser-test: building ppx"
cargo build --quiet -p ppx-cli

PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
BASE="http://127.0.0.1:${PORT}"
export PPX_TABLE="ppx-browser-$$"
export PPX_PUBLIC_URL="$BASE"
export RUST_LOG="${RUST_LOG:-warn}"

$PPX init >/dev/null
# A new link key per run (a new table, its own key): links of earlier runs never open.
$PPX keys rotate >/dev/null
$PPX shop put events/shop.example.json >/dev/null

SERVE_LOG="$SCREENSHOT_DIR/serve.log"
$PPX serve --addr "127.0.0.1:${PORT}" --now "$PPX_DEMO_NOW" >"$SERVE_LOG" 2>&1 &
SERVE_PID=$!
for _ in $(seq 1 150); do
  curl -s -o /dev/null "$BASE/" && break
  kill -0 "$SERVE_PID" 2>/dev/null || break
  sleep 0.2
done
curl -s -o /dev/null "$BASE/" ||
  { echo "browser-test: ppx serve did not start on $BASE; its log:" >&2; cat "$SERVE_LOG" >&2; exit 1; }

post() { # label source file [args...]: fails unless the answer is 2xx
  local label=$1 answer
  shift
  answer=$(python3 scripts/post_webhook.py "$BASE" "$SHOP" "$@")
  printf '  %-28s -> %s\n' "$label" "$answer"
  case "$answer" in 2??\ *) ;; *) echo "browser-test: webhook refused" >&2; exit 1 ;; esac
}
echo "browser-test: ppx serve on $BASE (table $PPX_TABLE); replaying the sample webhooks"
post "shopify orders/create" shopify events/shopify-orders-create.json --topic orders/create --id "browser-order-$$"
post "shopify fulfillments/create" shopify events/shopify-fulfillments-create.json \
  --topic fulfillments/create --id "browser-fulfillment-$$"
post "carrier: up to an attempt" tracking events/generic-tracking-event.json --id "browser-tracking-$$"

echo "browser-test: node --test tests/browser/ (screenshots in $SCREENSHOT_DIR)"
status=0
BASE_URL="$BASE" MOTO_URL="$PPX_MOTO_URL" SHOP="$SHOP" SCREENSHOT_DIR="$SCREENSHOT_DIR" \
  node --test --test-reporter=tap tests/browser/ || status=$?
exit "$status"

#!/usr/bin/env bash
# `make demo`: the main job on this machine. Local AWS (moto), the table, the example shop,
# `ppx serve`, then the sample webhooks of events/ signed like the platforms sign them; prints
# every message the customer received and the stored order.
#
#   PPX_DEMO_PORT=3000     where `ppx serve` listens
#   PPX_MOTO_PORT=4599     where local AWS listens
#   PPX_DEMO_KEEP_AWS=1|0  keep local AWS (and the demo's data, for the CLI) running afterwards;
#                          default 1 when run from a terminal, 0 otherwise (CI, `</dev/null`)
#   RUST_LOG=warn          what ppx logs (JSON on stderr)
#
# Its last line says whether local AWS still runs and how to stop it; a local AWS that was
# already running is reset (a clean slate, so the demo shows what this run sent) and left running.
set -euo pipefail
cd "$(dirname "$0")/.."

PORT="${PPX_DEMO_PORT:-3000}"
BASE="http://127.0.0.1:${PORT}"
SHOP=demo-shop
PPX=target/debug/ppx
export PPX_TABLE=ppx-demo
# The sample events happen in late November 2026; the demo's clock stands just after them,
# and the review run moves it five days on, so the demo shows the same on any day.
export PPX_DEMO_NOW=2026-11-27T17:00:00Z
REVIEW_NOW=2026-12-02T17:00:00Z

if [ -t 0 ]; then KEEP_AWS="${PPX_DEMO_KEEP_AWS:-1}"; else KEEP_AWS="${PPX_DEMO_KEEP_AWS:-0}"; fi
# The commands a user pastes name the port only when it is not the default.
PORT_PREFIX=
[ -z "${PPX_MOTO_PORT:-}" ] || [ "$PPX_MOTO_PORT" = 4599 ] || PORT_PREFIX="PPX_MOTO_PORT=$PPX_MOTO_PORT "
eval "$(scripts/local-aws.sh env)"
AWS_WAS_RUNNING=
scripts/local-aws.sh status >/dev/null 2>&1 && AWS_WAS_RUNNING=1
SERVE_PID=

# At exit, also after a failure: stop `ppx serve`, stop or keep local AWS, and say which.
finish() {
  local status=$? kept=1
  if [ -n "$SERVE_PID" ]; then
    kill "$SERVE_PID" 2>/dev/null || true
    wait "$SERVE_PID" 2>/dev/null || true
  fi
  local stop="${PORT_PREFIX}scripts/local-aws.sh stop"
  local last
  if [ -n "$AWS_WAS_RUNNING" ]; then
    last="demo: local AWS was already running on $PPX_MOTO_URL and keeps running; stop it with: $stop"
  elif [ "$KEEP_AWS" = 1 ]; then
    last="demo: local AWS keeps running on $PPX_MOTO_URL with the demo's data; stop it with: $stop"
  else
    scripts/local-aws.sh stop >/dev/null || true
    kept=
    last="demo: local AWS (started by the demo) is stopped and the demo's data with it; PPX_DEMO_KEEP_AWS=1 make demo keeps both"
  fi
  if [ "$status" = 0 ]; then
    echo
    if [ -n "$kept" ]; then
      echo "demo: to use the CLI on the demo's data, paste these two lines (then e.g. $PPX order show $SHOP 1001):"
    else
      echo "demo: after PPX_DEMO_KEEP_AWS=1 make demo, these two lines let the CLI use the demo's data:"
    fi
    echo "  eval \"\$(${PORT_PREFIX}scripts/local-aws.sh env)\""
    echo "  export PPX_TABLE=$PPX_TABLE"
  fi
  echo "$last"
}
trap finish EXIT

if [ -n "$AWS_WAS_RUNNING" ]; then
  echo "demo: local AWS already runs on $PPX_MOTO_URL; the demo resets its data and leaves it running"
fi
scripts/local-aws.sh start
# A clean slate each run, so the demo shows exactly what this run sent.
curl -sf -X POST "$PPX_MOTO_URL/moto-api/reset" >/dev/null
scripts/local-aws.sh start >/dev/null

echo "demo: building ppx (cargo build -p ppx-cli; the first build takes several minutes)"
cargo build -p ppx-cli

export PPX_PUBLIC_URL="$BASE"
export RUST_LOG="${RUST_LOG:-warn}"

$PPX init
# The customer links' first key, in (local) SSM: as on a real stack before its first order.
$PPX keys rotate
$PPX shop put events/shop.example.json

$PPX serve --addr "127.0.0.1:${PORT}" --now "$PPX_DEMO_NOW" &
SERVE_PID=$!
for _ in $(seq 1 100); do
  curl -s -o /dev/null "$BASE/" && break
  sleep 0.1
done

post() { # label source file [args...]
  printf '  %-34s -> ' "$1"
  shift
  python3 scripts/post_webhook.py "$BASE" "$SHOP" "$@"
}

echo
echo "demo: replaying events/ through ppx serve on $BASE"
post "shopify orders/create" shopify events/shopify-orders-create.json --topic orders/create --id demo-order-1
post "the same, retried by Shopify" shopify events/shopify-orders-create.json --topic orders/create --id demo-order-1
post "shopify fulfillments/create" shopify events/shopify-fulfillments-create.json --topic fulfillments/create --id demo-fulfillment-1
post "carrier: scans up to a failed attempt" tracking events/generic-tracking-event.json
post "easypost: tracker, delivered" easypost events/easypost-tracker-updated.json \
  --set result.tracking_code=1Z999AA10123456784 --set result.carrier=UPS
post "easypost: the same, again" easypost events/easypost-tracker-updated.json \
  --set result.tracking_code=1Z999AA10123456784 --set result.carrier=UPS

echo
echo "demo: five days after delivery, the scheduled review run (ppx review run --now $REVIEW_NOW)"
$PPX review run --now "$REVIEW_NOW"
echo "demo: ...and once more, 15 minutes later: nothing is sent twice"
$PPX review run --now "2026-12-02T17:15:00Z" | grep -E '"(due|sent)"'

echo
echo "demo: what the customer received (read back from local SES and SNS)"
.venv/bin/python - "$PPX_MOTO_URL" <<'PY'
import email, json, sys, urllib.request
from email import policy
state = json.load(urllib.request.urlopen(sys.argv[1] + "/moto-api/data.json"))
# Every email is raw MIME (shared/src/adapters/ses.rs).
for m in state.get("ses", {}).get("RawMessage", []):
    message = email.message_from_string(m["raw_data"], policy=policy.default)
    print("=" * 78)
    print("EMAIL to", message["To"], "from", message["From"])
    print("Subject:", message["Subject"])
    if message["List-Unsubscribe"]:
        print("List-Unsubscribe:", message["List-Unsubscribe"])
        print("List-Unsubscribe-Post:", message["List-Unsubscribe-Post"])
    print("-" * 78)
    print(message.get_body(preferencelist=("plain",)).get_content().strip())
for s in state.get("sns", {}).get("SMS", []):
    print("=" * 78)
    print("SMS to", s["phone_number"] + ":", s["message"])
print("=" * 78)
PY

echo
echo "demo: the stored order (ppx order show $SHOP 1001: the number its customer sees, or its id 5550001001)"
$PPX order show "$SHOP" 1001

echo
echo "demo: the customer clicks \"9\" in the review request (GET /survey/...?score=9 on ppx serve): the page"
echo "      shows the answer to confirm (a GET records nothing: mail scanners open every link)"
SURVEY=$(.venv/bin/python - "$PPX_MOTO_URL" "$PPX_PUBLIC_URL" <<'PY'
import email, json, re, sys, urllib.request
from email import policy
state = json.load(urllib.request.urlopen(sys.argv[1] + "/moto-api/data.json"))
raw = next(m["raw_data"] for m in state["ses"]["RawMessage"] if "List-Unsubscribe" in m["raw_data"])
text = email.message_from_string(raw, policy=policy.default).get_body(preferencelist=("plain",)).get_content()
print(re.search(re.escape(sys.argv[2]) + r"/survey/[^\s?]+\?score=9", text).group(0))
PY
)
main_text() {
  .venv/bin/python -c "import re,sys,html; page=sys.stdin.read(); print('  page:', ' '.join(html.unescape(re.sub(r'<[^>]+>',' ', re.search(r'(?s)<main.*?</main>', page).group(0))).split())[:300])"
}
curl -s "$SURVEY" | main_text
echo "demo: ...and sends it with a comment (the page's form: POST ${SURVEY%%\?*})"
curl -s -X POST "${SURVEY%%\?*}" --data-urlencode score=9 --data-urlencode "comment=Quick and well packed" | main_text

echo
echo "demo: the shop's figures (ppx kpi $SHOP --from 2026-11-01 --to 2026-12-31)"
$PPX kpi "$SHOP" --from 2026-11-01 --to 2026-12-31

echo
echo "demo: the customer starts a return from the link in the confirmation email (POST /returns/$SHOP)"
TOKEN=$(.venv/bin/python - "$PPX_MOTO_URL" <<'PY'
import email, json, re, sys, urllib.request
from email import policy
state = json.load(urllib.request.urlopen(sys.argv[1] + "/moto-api/data.json"))
messages = (email.message_from_string(m["raw_data"], policy=policy.default) for m in state["ses"]["RawMessage"])
body = next(m.get_body(preferencelist=("html",)).get_content() for m in messages if "confirmed" in m["Subject"])
print(re.search(r"/returns/([A-Za-z0-9_.-]+)", body).group(1))
PY
)
curl -s -X POST "$BASE/returns/$SHOP" -H 'Content-Type: application/json' \
  -H "Authorization: Bearer $TOKEN" -H 'Idempotency-Key: demo-return-1' \
  --data '{"order_id":"5550001001","items":[{"line_item":"6660001001","quantity":1,"reason":"doesnt_fit"},{"line_item":"6660001002","quantity":1,"reason":"damaged"}],"resolution":{"type":"store_credit"}}' \
  | .venv/bin/python -m json.tool
echo "demo: the same request retried by the browser: the same return, no second message"
curl -s -o /dev/null -w '  HTTP %{http_code}\n' -X POST "$BASE/returns/$SHOP" -H 'Content-Type: application/json' \
  -H "Authorization: Bearer $TOKEN" -H 'Idempotency-Key: demo-return-1' \
  --data '{"order_id":"5550001001","items":[{"line_item":"6660001001","quantity":1,"reason":"doesnt_fit"},{"line_item":"6660001002","quantity":1,"reason":"damaged"}],"resolution":{"type":"store_credit"}}'

echo
echo "demo: the operator's queue (ppx return list $SHOP --state needs_review)"
$PPX return list "$SHOP" --state needs_review
RETURN_ID=$($PPX return list "$SHOP" --state needs_review | awk '/^  R/ {print $1; exit}')
echo "demo: the operator approves it (ppx return decide $SHOP $RETURN_ID approve)"
$PPX return decide "$SHOP" "$RETURN_ID" approve --reason "Photo received by email"

echo
echo "demo: the return messages the customer received"
.venv/bin/python - "$PPX_MOTO_URL" <<'PY'
import email, json, sys, urllib.request
from email import policy
state = json.load(urllib.request.urlopen(sys.argv[1] + "/moto-api/data.json"))
for m in state["ses"]["RawMessage"]:
    message = email.message_from_string(m["raw_data"], policy=policy.default)
    if "return" not in message["Subject"].lower():
        continue
    print("=" * 78)
    print("Subject:", message["Subject"])
    print("-" * 78)
    print(message.get_body(preferencelist=("plain",)).get_content().strip())
print("=" * 78)
PY

echo
echo "demo: the customer pages of order #1001 (the links of its emails)"
TRACK_URL=$(.venv/bin/python - "$PPX_MOTO_URL" "$BASE" <<'PY'
import email, json, re, sys, urllib.request
from email import policy
state = json.load(urllib.request.urlopen(sys.argv[1] + "/moto-api/data.json"))
messages = (email.message_from_string(m["raw_data"], policy=policy.default) for m in state["ses"]["RawMessage"])
body = next(m.get_body(preferencelist=("html",)).get_content() for m in messages if "confirmed" in m["Subject"])
print(re.search(re.escape(sys.argv[2]) + r"/track/[A-Za-z0-9_.-]+", body).group(0))
PY
)
echo "  tracking page: $TRACK_URL ($(curl -s "$TRACK_URL" | wc -c) bytes)"
echo "  returns page:  $BASE/returns/$TOKEN ($(curl -s "$BASE/returns/$TOKEN" | wc -c) bytes)"
if [ -t 0 ]; then
  read -r -p "demo: ppx serve keeps running for you to open them; press Enter to stop it. " _
fi

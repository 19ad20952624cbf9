#!/usr/bin/env bash
# `make demo`: the main job on this machine. Local AWS (moto), the table, the example shop,
# `ppx serve`, then the sample webhooks of events/ signed like the platforms sign them; prints
# every message the customer received and the stored order.
set -euo pipefail
cd "$(dirname "$0")/.."

PORT="${PPX_DEMO_PORT:-3000}"
BASE="http://127.0.0.1:${PORT}"
SHOP=demo-shop
PPX=target/debug/ppx
# The sample events happen in late November 2026; the demo's clock stands just after them,
# and the review run moves it five days on, so the demo shows the same on any day.
export PPX_DEMO_NOW=2026-11-27T17:00:00Z
REVIEW_NOW=2026-12-02T17:00:00Z

scripts/local-aws.sh start
eval "$(scripts/local-aws.sh env)"
# A clean slate each run, so the demo shows exactly what this run sent.
curl -sf -X POST "$PPX_MOTO_URL/moto-api/reset" >/dev/null
scripts/local-aws.sh start >/dev/null

echo "demo: building ppx"
cargo build --quiet -p ppx-cli

export PPX_TABLE=ppx-demo
export PPX_LINK_SECRET="demo-link-secret-change-me-in-production-0123456789"
export PPX_PUBLIC_URL="$BASE"
export RUST_LOG="${RUST_LOG:-warn}"

$PPX init
$PPX shop put events/shop.example.json

$PPX serve --addr "127.0.0.1:${PORT}" --now "$PPX_DEMO_NOW" &
SERVE_PID=$!
trap 'kill $SERVE_PID 2>/dev/null || true' EXIT
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
# Every email is raw MIME (shared/src/messaging/ses.rs).
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
echo "demo: the stored order (ppx order show $SHOP 5550001001)"
$PPX order show "$SHOP" 5550001001

echo
echo "demo: the customer clicks \"9\" in the review request (GET /survey/...?score=9 on ppx serve)"
SURVEY=$(.venv/bin/python - "$PPX_MOTO_URL" "$PPX_PUBLIC_URL" <<'PY'
import email, json, re, sys, urllib.request
from email import policy
state = json.load(urllib.request.urlopen(sys.argv[1] + "/moto-api/data.json"))
raw = next(m["raw_data"] for m in state["ses"]["RawMessage"] if "List-Unsubscribe" in m["raw_data"])
text = email.message_from_string(raw, policy=policy.default).get_body(preferencelist=("plain",)).get_content()
print(re.search(re.escape(sys.argv[2]) + r"/survey/[^\s?]+\?score=9", text).group(0))
PY
)
curl -s "$SURVEY" | .venv/bin/python -c "import re,sys,html; page=sys.stdin.read(); print('  page:', ' '.join(html.unescape(re.sub(r'<[^>]+>',' ', re.search(r'(?s)<main.*?</main>', page).group(0))).split())[:300])"

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
print(re.search(r"/returns/([A-Za-z0-9_-]+)", body).group(1))
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
print(re.search(re.escape(sys.argv[2]) + r"/track/[A-Za-z0-9_-]+", body).group(0))
PY
)
echo "  tracking page: $TRACK_URL ($(curl -s "$TRACK_URL" | wc -c) bytes)"
echo "  returns page:  $BASE/returns/$TOKEN ($(curl -s "$BASE/returns/$TOKEN" | wc -c) bytes)"
if [ -t 0 ]; then
  read -r -p "demo: ppx serve keeps running for you to open them; press Enter to stop it. " _
fi

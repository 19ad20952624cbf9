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

$PPX serve --addr "127.0.0.1:${PORT}" &
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
echo "demo: what the customer received (read back from local SES and SNS)"
.venv/bin/python - "$PPX_MOTO_URL" <<'PY'
import html, json, re, sys, urllib.request
state = json.load(urllib.request.urlopen(sys.argv[1] + "/moto-api/data.json"))
def text_of(markup):
    markup = re.sub(r"(?is)<(style|head)\b.*?</\1>", "", markup)
    markup = re.sub(r"(?i)<br\s*/?>|</(p|tr|h[1-6]|div|li)>", "\n", markup)
    markup = re.sub(r"(?i)<a\s[^>]*href=\"([^\"]+)\"[^>]*>(.*?)</a>", r"\2 <\1>", markup)
    lines = [re.sub(r"[ \t]+", " ", l).strip() for l in html.unescape(re.sub(r"<[^>]+>", " ", markup)).splitlines()]
    return "\n".join(l for l in lines if l)
for m in state.get("ses", {}).get("Message", []):
    print("=" * 78)
    print("EMAIL to", ", ".join(m["destinations"]["ToAddresses"]), "from", m["source"])
    print("Subject:", m["subject"])
    print("-" * 78)
    print(text_of(m["body"]))
for s in state.get("sns", {}).get("SMS", []):
    print("=" * 78)
    print("SMS to", s["phone_number"] + ":", s["message"])
print("=" * 78)
PY

echo
echo "demo: the stored order (ppx order show $SHOP 5550001001)"
$PPX order show "$SHOP" 5550001001

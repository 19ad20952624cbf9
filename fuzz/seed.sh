#!/usr/bin/env bash
# Fills fuzz/corpus/<target>/ with seed inputs: the real provider payloads of
# tests/fixtures (see its SOURCES.md; never edited) and the repo's events/.
# The corpora are not committed; run this before `cargo +nightly fuzz run <target>`.
#
#   fuzz/seed.sh            # all targets
#   fuzz/seed.sh shopify    # one target
#
# FIXTURES=/path/to/fixtures overrides the fixtures directory.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(dirname "$here")"
fixtures="${FIXTURES:-$repo/tests/fixtures}"
events="$repo/events"
corpus="$here/corpus"

for dir in "$fixtures" "$events"; do
    [[ -d "$dir" ]] || { echo "seed.sh: $dir not found" >&2; exit 1; }
done

# seed TARGET NAME PREFIX FILE: writes PREFIX (printf escapes) followed by FILE's bytes.
seed() {
    local target="$1" name="$2" prefix="$3" file="$4"
    mkdir -p "$corpus/$target"
    { printf "$prefix"; cat "$file"; } >"$corpus/$target/$name"
}

# text TARGET NAME PREFIX TEXT: writes PREFIX (printf escapes) followed by TEXT as is.
text() {
    local target="$1" name="$2" prefix="$3" body="$4"
    mkdir -p "$corpus/$target"
    { printf "$prefix"; printf '%s' "$body"; } >"$corpus/$target/$name"
}

wanted() { [[ ${#selected[@]} -eq 0 || " ${selected[*]} " == *" $1 "* ]]; }
selected=("$@")

# Order targets: `[topic selector][body]`; a selector below 0x80 picks a known topic
# (shopify: 0 orders/create, 1 orders/updated, 2 orders/cancelled, 3 fulfillments/create,
# 4 fulfillments/update; woocommerce: 0 order.created, 1 order.updated), 0x80 and above
# reads the topic from the input up to a newline.
if wanted shopify; then
    seed shopify fixture-orders-create '\x00' "$fixtures/shopify-orders-create.json"
    seed shopify fixture-fulfillments-create '\x03' "$fixtures/shopify-fulfillments-create.json"
    seed shopify event-orders-updated '\x01' "$events/shopify-orders-create.json"
    seed shopify event-orders-cancelled '\x02' "$events/shopify-orders-create.json"
    seed shopify event-fulfillments-update '\x04' "$events/shopify-fulfillments-create.json"
    seed shopify other-topic '\x80orders/paid\n' "$events/shopify-orders-create.json"
fi
if wanted woocommerce; then
    seed woocommerce fixture-order-created '\x00' "$fixtures/woocommerce-order-created-docs.json"
    seed woocommerce event-order-updated '\x01' "$events/woocommerce-order-created.json"
fi
if wanted generic_order; then
    seed generic_order event-order-created '' "$events/generic-order-created.json"
    seed generic_order event-shipment-created '' "$events/generic-shipment-created.json"
fi

# Carrier targets: the raw body.
if wanted easypost; then
    for f in "$fixtures"/easypost-*.json "$events/easypost-tracker-updated.json"; do
        seed easypost "$(basename "$f" .json)" '' "$f"
    done
fi
if wanted shippo; then
    seed shippo fixture-track-updated '' "$fixtures/shippo-track_updated-docs-sample.json"
    seed shippo event-track-updated '' "$events/shippo-track-updated.json"
fi
if wanted aftership; then
    seed aftership event-tracking-update '' "$events/aftership-tracking-update.json"
fi
if wanted generic_tracking; then
    seed generic_tracking event-tracking '' "$events/generic-tracking-event.json"
fi

# Signature targets read a structured input (`arbitrary`): the payloads only give the fuzzer
# realistic bytes to start from.
for target in sig_hmac_body sig_timestamped; do
    if wanted "$target"; then
        seed "$target" easypost-signed '' "$fixtures/easypost-tracker-updated-in_transit-signed-fixture.json"
        seed "$target" generic-order '' "$events/generic-order-created.json"
    fi
done

# link_open: `[purpose][now i64 LE][nonce 24][tamper u16 LE][claims JSON]`, now = 2026-11-28.
if wanted link_open; then
    head='\x00\x80\x19\x0a\x6b\x00\x00\x00\x00'
    nonce='\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f\x10\x11\x12\x13\x14\x15\x16\x17\x18\x2a\x00'
    text link_open track "$head$nonce" '{"s":"demo-shop","o":"820982911946154508","p":"track","e":1811376000}'
    text link_open return "\x01${head:4}$nonce" '{"s":"jsmith.myshopify.com","o":"1001","p":"return","e":1811376000}'
    text link_open survey-expired "\x02${head:4}$nonce" '{"s":"demo-shop","o":"A-1","p":"survey","e":1795823999}'
    text link_open unsubscribe "\x03${head:4}$nonce" '{"s":"demo-shop","o":" 7 ","p":"unsubscribe","e":1953504000}'
    text link_open wrong-purpose "$head$nonce" '{"s":"demo-shop","o":"1001","p":"return","e":1811376000}'
    text link_open bad-shop "$head$nonce" '{"s":"Demo Shop","o":"1001","p":"track","e":1811376000}'
    # The longest claims: a 100-character shop and 128 quotes JSON-escaped (a 606-character link).
    long_shop="$(printf 'a%.0s' {1..100})"
    quotes="$(printf '\\"%.0s' {1..128})"
    text link_open longest-claims "$head$nonce" "{\"s\":\"$long_shop\",\"o\":\"$quotes\",\"p\":\"track\",\"e\":1811376000}"
fi

# portal_form: the urlencoded form the returns page posts.
if wanted portal_form; then
    text portal_form exchange '' 'qty_L1=2&reason_L1=doesnt_fit&comment_L1=Too+small&photo_L1=&qty_L2=0&reason_L2=damaged&resolution=exchange&exchange_variant=L+%2F+Sand&idempotency_key=abc'
    text portal_form refund '' 'qty_487817672276298554=1&reason_487817672276298554=damaged&photo_487817672276298554=https%3A%2F%2Fexample.com%2Fp.jpg&resolution=refund'
    text portal_form store-credit '' 'qty_TEE-1=1&reason_TEE-1=changed_mind&qty_TEE-2=3&reason_TEE-2=wrong_item&resolution=store_credit&idempotency_key=0f3c'
    text portal_form missing-reason '' 'qty_L1=1&resolution=cash'
fi

if wanted settings; then
    seed settings shop-example '' "$events/shop.example.json"
    text settings minimal '' '{"shop":"demo-shop","display_name":"Demo","sender":"a@b.example","support_url":"https://b.example/help"}'
fi

for dir in "$corpus"/*/; do
    echo "$(basename "$dir"): $(find "$dir" -type f | wc -l) files"
done

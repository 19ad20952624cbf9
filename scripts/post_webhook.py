#!/usr/bin/env python3
"""Posts a sample webhook to a local `ppx serve`, signed the way its sender signs it.

usage: post_webhook.py BASE_URL SHOP SOURCE FILE [--topic T] [--id DELIVERY_ID] [--set PATH=VALUE ...]

SOURCE: shopify | woocommerce | orders | easypost | shippo | aftership | tracking.
Secrets come from events/shop.example.json. --set rewrites a JSON field before signing
(e.g. --set result.tracking_code=1Z999AA10123456784).
"""
import argparse, base64, hashlib, hmac, json, os, time, unicodedata, urllib.error, urllib.request
from datetime import datetime

parser = argparse.ArgumentParser()
parser.add_argument("base"), parser.add_argument("shop"), parser.add_argument("source"), parser.add_argument("file")
parser.add_argument("--topic", default="")
parser.add_argument("--id", default="")
parser.add_argument("--set", action="append", default=[])
args = parser.parse_args()

settings = json.load(open("events/shop.example.json"))
secret = settings["webhook_secrets"][args.source].encode()
raw = open(args.file, "rb").read()
if args.set:
    doc = json.loads(raw)
    for assignment in args.set:
        path, value = assignment.split("=", 1)
        *parents, last = path.split(".")
        node = doc
        for key in parents:
            node = node[key]
        node[last] = value
    raw = json.dumps(doc).encode()

def b64(key, body):
    return base64.b64encode(hmac.new(key, body, hashlib.sha256).digest()).decode()

def timestamped(key, body):
    # The demo freezes `ppx serve`'s clock; sign at that time so the 5-minute window holds.
    t = str(int(time.time()))
    if os.environ.get("PPX_DEMO_NOW"):
        t = str(int(datetime.fromisoformat(os.environ["PPX_DEMO_NOW"].replace("Z", "+00:00")).timestamp()))
    return f"t={t},v1=" + hmac.new(key, t.encode() + b"." + body, hashlib.sha256).hexdigest()

headers = {"Content-Type": "application/json"}
url = f"{args.base}/webhooks/{args.source}/{args.shop}"
if args.source == "shopify":
    headers |= {"X-Shopify-Topic": args.topic, "X-Shopify-Hmac-Sha256": b64(secret, raw),
                "X-Shopify-Shop-Domain": settings.get("platform_domain") or args.shop,
                "X-Shopify-Webhook-Id": args.id}
elif args.source == "woocommerce":
    headers |= {"X-WC-Webhook-Topic": args.topic, "X-WC-Webhook-Signature": b64(secret, raw),
                "X-WC-Webhook-Delivery-ID": args.id}
elif args.source in ("orders", "tracking"):
    headers |= {"Ppx-Signature": timestamped(secret, raw), "Ppx-Delivery-Id": args.id}
elif args.source == "easypost":
    key = unicodedata.normalize("NFKD", secret.decode()).encode()
    headers["X-Hmac-Signature"] = "hmac-sha256-hex=" + hmac.new(key, raw, hashlib.sha256).hexdigest()
elif args.source == "shippo":
    headers["Shippo-Auth-Signature"] = timestamped(secret, raw)
elif args.source == "aftership":
    headers["aftership-hmac-sha256"] = b64(secret, raw)

request = urllib.request.Request(url, data=raw, headers=headers, method="POST")
try:
    with urllib.request.urlopen(request) as response:
        print(response.status, response.read().decode())
except urllib.error.HTTPError as error:
    print(error.code, error.read().decode())

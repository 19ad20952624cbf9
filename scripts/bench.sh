#!/usr/bin/env bash
# `make bench`: cold starts of the six functions (and a hello-world baseline) against a local
# Lambda Runtime API, then the criterion benchmarks of the pure webhook paths; writes
# target/bench-report.md and prints it. Local AWS (moto) serves the one DynamoDB read of each
# first invocation. See bench/README.md.
#   PPX_BENCH_RUNS=30        cold starts per function
#   PPX_BENCH_SKIP_CRITERION=1   cold starts only
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS="${PPX_BENCH_RUNS:-30}"
CRITERION="$([ "${PPX_BENCH_SKIP_CRITERION:-0}" = 1 ] && echo 0 || echo 1)"
TARGET="${CARGO_TARGET_DIR:-target}"
[[ "$TARGET" = /* ]] || TARGET="$(pwd)/$TARGET"
RELEASE="$TARGET/release"
REPORT="$TARGET/bench-report.md"
TABLE=ppx-bench
SECONDS=0
phases=""
phase() { phases="$phases${phases:+, }$1 ${SECONDS}s"; SECONDS=0; }
started=$(date +%s)

# Local AWS: reuse a running moto (other work may be using it; never reset it), else start one
# and stop it again at the end.
if curl -sf "http://127.0.0.1:${PPX_MOTO_PORT:-4599}/moto-api/" >/dev/null 2>&1; then
  moto_was_running=1
else
  moto_was_running=0
fi
scripts/local-aws.sh start >/dev/null
eval "$(scripts/local-aws.sh env)"
if [ "$moto_was_running" = 0 ]; then
  trap 'scripts/local-aws.sh stop' EXIT
fi

echo "bench: building (release: the six functions, then hello and coldstart; debug: ppx for the table)"
cargo build --quiet -p ppx-cli
cargo build --quiet --release -p order-placed -p carrier-webhook -p review-request -p pages -p return-submitted -p mail-feedback
# Alone, so that the baseline gets none of the functions' dependency features.
cargo build --quiet --release -p ppx-bench --bins
PPX_TABLE=$TABLE RUST_LOG=warn "$TARGET/debug/ppx" init >/dev/null
phase "builds and table"

echo "bench: cold starts, $RUNS per function"
status=0
"$RELEASE/coldstart" --runs "$RUNS" --moto "$AWS_ENDPOINT_URL" --table "$TABLE" \
  --json "$TARGET/bench-coldstart.json" --markdown "$TARGET/bench-coldstart.md" --logs "$TARGET/bench-logs" \
  "$RELEASE/hello=null" \
  "$RELEASE/order-placed=POST /webhooks/shopify/no-such-shop" \
  "$RELEASE/carrier-webhook=POST /webhooks/easypost/no-such-shop" \
  "$RELEASE/return-submitted=POST /returns/no-such-shop" \
  "$RELEASE/pages=GET /track/not-a-valid-token" \
  "$RELEASE/review-request=scheduled" \
  "$RELEASE/mail-feedback=sns-ses" >/dev/null || status=$?
phase "cold starts"

if [ "$CRITERION" = 1 ]; then
  echo "bench: criterion (pure paths) and allocation counts"
  rm -rf "$TARGET/criterion/pure_path" "$TARGET/criterion/parts" "$TARGET/criterion/tracking_merge" "$TARGET/bench-allocs.md"
  bench_status=0
  CRITERION_HOME="$TARGET/criterion" PPX_BENCH_ALLOCS_OUT="$TARGET/bench-allocs.md" \
    cargo bench --quiet -p ppx-bench >"$TARGET/bench-criterion.txt" 2>&1 || bench_status=$?
  if [ "$bench_status" != 0 ]; then
    tail -n 30 "$TARGET/bench-criterion.txt"
    echo "bench: cargo bench failed (full output in ${TARGET#"$(pwd)/"}/bench-criterion.txt)" >&2
    status=$bench_status
  fi
  phase "cargo bench"
fi

elapsed=$(($(date +%s) - started))
python3 - "$TARGET" "$RUNS" "$elapsed" "$phases" "$CRITERION" >"$REPORT" <<'PY'
import glob, json, os, platform, sys, time
target, runs, elapsed, phases, criterion = sys.argv[1:6]
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
print("# ppx benchmark report")
print()
print(f"{time.strftime('%Y-%m-%d %H:%M %Z')}; {os.cpu_count()} cores, {cpu}, {platform.machine()}, "
      f"kernel {platform.release()}; `make bench` took {elapsed} s ({phases}).")
print()
print(f"## Cold starts ({runs} runs per function, local Runtime API, moto for DynamoDB)")
print()
print("Targets: init within 1.5x of hello-world; stripped binary under 8 MB; peak RSS under 32 MB.")
print()
coldstart = os.path.join(target, "bench-coldstart.md")
print(open(coldstart).read().rstrip() if os.path.exists(coldstart) else "(no cold-start figures: see the output above)")
print()
estimates = []
for path in [] if criterion != "1" else glob.glob(os.path.join(target, "criterion", "*", "*", "new", "estimates.json")):
    meta = json.load(open(os.path.join(os.path.dirname(path), "benchmark.json")))
    est = json.load(open(path))
    estimates.append((meta["full_id"], est["mean"]["point_estimate"] / 1000.0,
                      est["mean"]["confidence_interval"]["lower_bound"] / 1000.0,
                      est["mean"]["confidence_interval"]["upper_bound"] / 1000.0))
if estimates:
    targets = {"pure_path/shopify_order_create": 200.0, "pure_path/easypost_delivered": 100.0,
               "tracking_merge/new_12000": 20000.0, "tracking_merge/known_12000": 20000.0}
    print("## Pure path per event (criterion, mean)")
    print()
    print("Targets: under 200 µs for the Shopify order fixture, under 100 µs for a carrier webhook, "
          "under 20 ms for merging a 12,000-checkpoint update.")
    print()
    print("| benchmark | mean (µs) | 95% CI (µs) | target |")
    print("|---|---:|---:|---|")
    order = lambda e: (not e[0].startswith("pure_path/"), e[0])
    for full_id, mean, lo, hi in sorted(estimates, key=order):
        goal = targets.get(full_id)
        verdict = "-" if goal is None else f"< {goal:.0f} µs: {'ok' if mean < goal else 'MISSED'}"
        print(f"| {full_id} | {mean:.1f} | {lo:.1f} - {hi:.1f} | {verdict} |")
    print()
allocs = os.path.join(target, "bench-allocs.md")
if criterion == "1" and os.path.exists(allocs):
    print("## Allocations per event (counting allocator)")
    print()
    print(open(allocs).read().rstrip())
    print()
PY
cat "$REPORT"
echo "bench: report in ${REPORT#"$(pwd)/"} (cold-start raw figures: ${TARGET#"$(pwd)/"}/bench-coldstart.json)"
exit "$status"

#!/usr/bin/env bash
# `make test`: everything CI checks. Starts local AWS itself.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "test: the repository stands alone (nothing read from outside it)"
python3 scripts/check_standalone.py

echo "test: formatting and lints"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --quiet -- -D warnings

scripts/local-aws.sh start
eval "$(scripts/local-aws.sh env)"
trap 'scripts/local-aws.sh stop' EXIT

echo "test: SAM template lint"
.venv/bin/cfn-lint infra/template.yaml

echo "test: unit and end-to-end tests"
mkdir -p target
status=0
rm -f target/chaos-summary.txt
cargo test --workspace --quiet 2>&1 | tee target/test-output.txt || status=$?
# The chaos replay's one-line summaries (tests/chaos.rs writes them; cargo hides test output).
[ -f target/chaos-summary.txt ] && cat target/chaos-summary.txt

echo "test: headless-Chromium tests of the customer pages"
browser_status=0
scripts/browser-test.sh 2>&1 | tee target/browser-output.txt || browser_status=$?
# One closing line for the whole run (cargo prints one per test binary, the last often empty;
# node prints `# pass N` / `# fail N`); a part that failed without counting a failure counts one.
awk -v cargo_status="$status" -v browser_status="$browser_status" '
     /^test result:/ { for (i = 1; i <= NF; i++) { if ($i ~ /^passed;?$/) p += $(i-1); if ($i ~ /^failed;?$/) cf += $(i-1) } }
     /^# pass [0-9]+$/ { p += $3 }
     /^# (fail|cancelled) [0-9]+$/ { bf += $3 }
     END { cf += (cargo_status != 0 && cf == 0); bf += (browser_status != 0 && bf == 0)
           printf "tests: %d passed, %d failed\n", p, cf + bf }' \
  target/test-output.txt target/browser-output.txt
[ "$status" -ne 0 ] || status=$browser_status
exit "$status"

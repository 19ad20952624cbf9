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
# The chaos replay fills its moto with thousands of messages, which every later reader of the
# state would download: it runs beside the other suites, on a moto of its own.
CHAOS_MOTO_PORT="${PPX_CHAOS_MOTO_PORT:-$((${PPX_MOTO_PORT:-4599} + 1))}"
stop_local_aws() {
  scripts/local-aws.sh stop
  PPX_MOTO_PORT="$CHAOS_MOTO_PORT" scripts/local-aws.sh stop
}
trap stop_local_aws EXIT

echo "test: SAM template lint"
.venv/bin/cfn-lint infra/template.yaml

echo "test: SAM template security scan (checkov; every skip is explained beside its resource)"
if ! { [ -x .venv-checkov/bin/checkov ] && cmp -s scripts/requirements-checkov.txt .venv-checkov/.installed-requirements; }; then
  python3 -m venv .venv-checkov
  .venv-checkov/bin/pip install --quiet --disable-pip-version-check -r scripts/requirements-checkov.txt
  cp scripts/requirements-checkov.txt .venv-checkov/.installed-requirements
fi
.venv-checkov/bin/checkov -f infra/template.yaml --compact --quiet --skip-download

echo "test: unit and end-to-end tests"
mkdir -p target
status=0
rm -f target/chaos-summary.txt target/chaos-output.txt
cargo test --workspace --quiet --no-run 2>&1 | tee target/build-output.txt
chaos_binary=$(cargo test -p ppx-e2e --test chaos --no-run 2>&1 | sed -n 's/.*Executable .*chaos\.rs (\(.*\))/\1/p')
[ -x "$chaos_binary" ] || { echo "test: cannot find the chaos replay's test binary" >&2; exit 1; }
PPX_MOTO_PORT="$CHAOS_MOTO_PORT" scripts/local-aws.sh start >/dev/null
(PPX_MOTO_URL="http://127.0.0.1:$CHAOS_MOTO_PORT" "$chaos_binary" >target/chaos-output.txt 2>&1) &
chaos_pid=$!
cargo test --workspace --quiet --no-fail-fast -- --skip every_order_gets 2>&1 | tee target/test-output.txt || status=$?
chaos_status=0
wait "$chaos_pid" || chaos_status=$?
echo "test: the chaos replay (tests/chaos.rs, on its own moto)"
cat target/chaos-output.txt
cat target/chaos-output.txt >>target/test-output.txt
[ "$status" -ne 0 ] || status=$chaos_status
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

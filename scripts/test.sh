#!/usr/bin/env bash
# `make test`: everything CI checks. Starts local AWS itself.
set -euo pipefail
cd "$(dirname "$0")/.."

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
cargo test --workspace --quiet 2>&1 | tee target/test-output.txt
status=${PIPESTATUS[0]}
# One closing line for the whole run (cargo prints one per test binary, the last often empty).
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($i ~ /^passed;?$/) p += $(i-1); if ($i ~ /^failed;?$/) f += $(i-1) } }
     END { printf "tests: %d passed, %d failed\n", p, f }' target/test-output.txt
exit "$status"

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
cargo test --workspace --quiet

# Two commands on a fresh clone: `make demo` and `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help

help:
	@echo "make demo   run the bundle locally against local AWS and replay events/"
	@echo "make test   formatting, lints, unit and end-to-end tests, template lint"
	@echo "make bench  cold starts (local Runtime API) and pure-path benchmarks: target/bench-report.md"
	@echo "make release  sam build for arm64, the binaries' sizes, the packaged template (scripts/release.sh)"

demo:
	scripts/demo.sh

test:
	scripts/test.sh

bench:
	scripts/bench.sh

release:
	scripts/release.sh

.PHONY: help demo test bench release

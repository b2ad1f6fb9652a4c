# The two commands of the README: `make demo` and `make test`. Each installs what is missing
# first (scripts/setup.sh), then builds and runs.

CARGO ?= cargo

.PHONY: deps test demo crds bench fuzz
.PHONY: chart

deps:
	@bash scripts/setup.sh

## Formatting, lints and the whole test suite (what CI runs).
test: deps
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	$(CARGO) test

## Try the operator: check the examples offline, then the demo (local mode: the example
## QservCluster and CatalogIngests ingested and checked, their final status printed).
demo: deps
	$(CARGO) build --release
	./target/release/qserv-operator validate examples/*.yaml
	./target/release/qserv-operator demo

## Regenerate the committed CRDs (crds/ and the Helm chart's copy) from the Rust types.
crds:
	$(CARGO) run -q -- crds --out-dir crds
	cp crds/*.yaml charts/qserv-operator/crds/
	$(CARGO) run -q -- crd-docs --out-dir docs/crds

## The Helm chart: `helm lint --strict`, `helm template`, the rendered objects on the embedded
## API server, the RBAC rules against the controllers' requests (tests/helm_chart.rs).
chart: deps
	$(CARGO) test --test helm_chart

## Benchmarks (print figures, assert none).
bench: deps
	$(CARGO) bench --bench partition
	$(CARGO) bench --bench cluster_reconcile
	$(CARGO) test --release --test catalog_bench -- --ignored --nocapture
	$(CARGO) test --release --test load_bench -- --ignored --nocapture
	$(CARGO) test --release --test ingest_bench -- --ignored --nocapture
	$(CARGO) test --release --test apiserver_flood -- --ignored --nocapture

## Fuzzing (nightly, cargo-fuzz): every target in fuzz/ for FUZZ_SECONDS (600) each; prints
## executions per target. Crashes land in fuzz/artifacts/; see scripts/fuzz.sh.
fuzz: deps
	@bash scripts/fuzz.sh

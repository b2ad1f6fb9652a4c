#!/usr/bin/env bash
# `make fuzz`: runs every cargo-fuzz target (fuzz/fuzz_targets) for FUZZ_SECONDS each (default
# 600), one after the other, FUZZ_JOBS targets at a time (default 1), and prints per target the
# executions, the time and whether it crashed. New corpus entries go to fuzz/work/<target>
# (not committed); the committed seeds in fuzz/corpus/<target> are read only. A crash leaves its
# input in fuzz/artifacts/<target>/: fix it, then copy it to fuzz/regressions/<target>/ so
# `make test` (crates/qserv-fuzz/tests/corpus.rs) replays it for ever.
# Needs the nightly toolchain (libFuzzer's instrumentation) and cargo-fuzz (installed here if
# missing). FUZZ_TARGETS="a b" runs only those.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${FUZZ_SECONDS:-600}
jobs=${FUZZ_JOBS:-1}
export CARGO_TARGET_DIR=${FUZZ_TARGET_DIR:-target/fuzz}

rustup toolchain list | grep -q '^nightly' || {
  echo "fuzz: the nightly toolchain is needed (rustup toolchain install nightly)" >&2
  exit 1
}
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked --version 0.13.2

targets=${FUZZ_TARGETS:-$(cargo +nightly fuzz list)}
# Coverage instrumentation without a sanitizer: the code under test is safe Rust, and a panic,
# an overflow (debug assertions on) or a 500 from the API server is what a target looks for.
if [[ -n ${FUZZ_TARGETS:-} ]]; then
  for t in $targets; do cargo +nightly fuzz build -s none -a "$t" >&2; done
else
  cargo +nightly fuzz build -s none -a >&2
fi

mkdir -p fuzz/work
status=0
run() {
  local t=$1 log=fuzz/work/$1.log
  mkdir -p "fuzz/work/$t" "fuzz/artifacts/$t"
  if cargo +nightly fuzz run -s none -a "$t" "fuzz/work/$t" "fuzz/corpus/$t" -- \
      -max_total_time="$seconds" -print_final_stats=1 -rss_limit_mb=4096 \
      -timeout=10 >"$log" 2>&1; then
    result=ok
  else
    result="CRASH (see $log and fuzz/artifacts/$t)"
  fi
  local runs secs
  # A crashed run prints no final stats: its last status line (`#N ... exec/s`) says how far it got.
  runs=$( (grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" || grep -o '^#[0-9]*' "$log" || true) \
    | grep -o '[0-9]*$' | tail -1)
  secs=$( (grep -o 'Done [0-9]* runs in [0-9]* second' "$log" || true) | grep -o 'in [0-9]*' | grep -o '[0-9]*' | tail -1)
  echo "fuzz: $t: ${runs:-?} executions in ${secs:-?} s: $result"
  [[ $result == ok ]]
}
for t in $targets; do
  run "$t" &
  while (( $(jobs -rp | wc -l) >= jobs )); do wait -n || status=1; done
done
while (( $(jobs -rp | wc -l) > 0 )); do wait -n || status=1; done
exit $status

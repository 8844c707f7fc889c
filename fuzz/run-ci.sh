#!/usr/bin/env bash
# A short fuzzing run for CI: every fuzz target for FUZZ_SECONDS seconds (default 30), from
# seed corpora made by fuzz/examples/make_seeds.rs. Stable toolchain: cargo fuzz with
# `--sanitizer none` (libFuzzer's coverage-guided search, Rust's own checks: panics, debug
# assertions, overflow checks; -timeout catches hangs, -rss_limit_mb runaway memory).
#
#   bash fuzz/run-ci.sh                  # about 5 minutes once cargo-fuzz is installed
#   FUZZ_SECONDS=600 bash fuzz/run-ci.sh # a longer hunt
#
# A crash leaves its input in fuzz/artifacts/<target>/ and fails the run; reproduce it with
# `cargo fuzz run -s none <target> fuzz/artifacts/<target>/<file>`, then make it a regression
# test in the module concerned and fix it.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${FUZZ_SECONDS:-30}"
targets=(chunk_reader mv_decode csv_body options session)

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "== installing cargo-fuzz (a few minutes, once)"
    cargo install cargo-fuzz --locked --version 0.13.2
fi

echo "== seed corpora"
cargo run --quiet --manifest-path fuzz/Cargo.toml --example make_seeds

echo "== building the fuzz targets"
cargo fuzz build -s none

logs="$(mktemp -d)"
failed=()
for target in "${targets[@]}"; do
    echo "== fuzzing $target for ${seconds}s"
    # -close_fd_mask=2 keeps the command's diagnostics (one line per rejected input) out of
    # the log; libFuzzer's own report still shows, and a crash is replayed below with them.
    if cargo fuzz run -s none "$target" -- \
        -max_total_time="$seconds" -max_len=65536 -timeout=10 -rss_limit_mb=2048 \
        -close_fd_mask=2 -print_final_stats=1 >"$logs/$target.log" 2>&1; then
        grep -E '^#[0-9]+[[:space:]]+DONE' "$logs/$target.log" | tail -n 1 || true
    else
        failed+=("$target")
        tail -n 30 "$logs/$target.log"
        for artifact in fuzz/artifacts/"$target"/*; do
            [ -f "$artifact" ] || continue
            echo "-- replaying $artifact"
            cargo fuzz run -s none "$target" "$artifact" 2>&1 | grep -v '^INFO:' | head -n 40 || true
        done
    fi
done
rm -rf "$logs"

if [ "${#failed[@]}" -gt 0 ]; then
    echo "fuzzing found crashes in: ${failed[*]}"
    exit 1
fi
echo "fuzzing: ${#targets[@]} targets, ${seconds}s each, no crash"

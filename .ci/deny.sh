#!/usr/bin/env bash
# cargo deny over every dependency of the workspace (deny.toml says what is allowed):
#   licenses   each crate's licence expression is satisfied by the allowed list
#   bans       one version of each crate, no wildcard version requirements
#   sources    crates.io only: no git dependencies, no other registry
#   advisories the RustSec advisory database: known vulnerabilities, unmaintained and
#              yanked crates. The database is a git repository on GitHub; where it cannot be
#              fetched (a machine that reaches only the package registries), this check is
#              left out and the script says so, unless DENY_REQUIRE_ADVISORIES=1.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! cargo deny --version >/dev/null 2>&1; then
    echo "== installing cargo-deny (several minutes, once)"
    cargo install cargo-deny --locked --version 0.20.2
fi

deny=(cargo deny --workspace --all-features)

echo "== cargo deny: licenses, bans, sources"
"${deny[@]}" check licenses bans sources

echo "== cargo deny: advisories"
if "${deny[@]}" fetch db >/dev/null 2>&1; then
    "${deny[@]}" check advisories
elif [ "${DENY_REQUIRE_ADVISORIES:-0}" = 1 ]; then
    echo "the RustSec advisory database could not be fetched" >&2
    exit 1
else
    echo "advisories NOT CHECKED: the RustSec advisory database could not be fetched here"
fi

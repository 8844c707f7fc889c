#!/usr/bin/env bash
# Builds the Splunk app package and vets it:
#   cargo xtask package           dist/aidetect-<version>.tgz (binary for glibc 2.17)
#   pytest app/tests              conf files through real Splunk conf parsers (ksconf,
#                                 addonfactory-splunk-conf-parser-lib), the seed saved search,
#                                 the catalog and its host macro, the tar layout, the glibc
#                                 symbol versions (objdump -T), and Splunk AppInspect 4.3.1
#                                 (--mode precert, then --included-tags cloud): 0 failures,
#                                 errors, warnings and manual checks.
# Installs what it needs: binutils and libmagic1 from apt when missing, the Python tools
# (app/requirements.txt) into .venv. Needs nothing but the package registries.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$SECONDS

missing=()
command -v objdump >/dev/null 2>&1 || missing+=(binutils)
{ ldconfig -p 2>/dev/null || true; } | grep -q 'libmagic\.so\.1' || missing+=(libmagic1)
python3 -c 'import ensurepip, venv' >/dev/null 2>&1 || missing+=(python3-venv)
if ((${#missing[@]})); then
    echo "== apt-get install ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

echo "== python tools (.venv)"
[[ -x .venv/bin/python ]] || python3 -m venv .venv
.venv/bin/python -m pip install --quiet --disable-pip-version-check -r app/requirements.txt

echo "== cargo xtask package"
cargo xtask package

echo "== pytest app/tests"
status=0
.venv/bin/python -m pytest app/tests -q -rs -s -p no:cacheprovider || status=$?
if ((status == 5)); then
    echo "app/check.sh: pytest collected no tests" >&2
fi
echo "app/check.sh: $((SECONDS - start)) s"
exit "$status"

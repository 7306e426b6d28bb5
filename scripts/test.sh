#!/usr/bin/env bash
# Set up, then run every check: lints, the Rust tests, and the whole Python test suite
# (including interop with the real deeplake 3.9.52 in its own virtualenv, and ds.pytorch()
# under Debian's CPU build of torch).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash .ci/setup-deeplake-venv
bash .ci/setup-torch  # Debian's CPU torch for the system python3 (the ds.pytorch() test)
bash .ci/setup-postgres  # PostgreSQL binaries: the platform tests run on it as well as SQLite
bash .ci/setup-browser  # Debian's chromium for the web app's browser tests
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1  # Playwright drives /usr/bin/chromium, never its own
export PATH="$PWD/.venv/bin:$PATH"

echo "== lint: ruff, mypy, stubtest"
ruff check python tests benches
ruff format --check python tests benches
mypy
python -m mypy.stubtest shoal._native --allowlist .mypy-stubtest-allowlist
echo "== lint: cargo fmt, clippy"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets -- -D warnings
echo "== rust tests"
cargo test -p shoal-core --release -q
echo "== python tests"
# On SHOAL_TEST_WORKERS processes (default 2, the CI machine's cores; 0 runs in this process).
# Tests bound to the one port deeplake's client uses take turns through a file lock
# (tests/platform/deeplake_port.py).
HYPOTHESIS_PROFILE=ci python -m pytest -q -p no:cacheprovider \
    -n "${SHOAL_TEST_WORKERS:-2}" "$@"

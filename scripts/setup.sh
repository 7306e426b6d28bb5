#!/usr/bin/env bash
# Set up everything shoal needs on a fresh machine: system libraries, a virtualenv in .venv,
# the Python dependencies, and the native extension built in release mode. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! pkg-config --exists libturbojpeg 2>/dev/null; then
    echo "== installing libturbojpeg (JPEG codec used by the native core)"
    SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
    $SUDO apt-get install -y -q libturbojpeg0-dev pkg-config >/dev/null 2>&1 || {
        $SUDO apt-get update -q >/dev/null && $SUDO apt-get install -y -q libturbojpeg0-dev pkg-config >/dev/null
    }
fi

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    echo "== creating .venv"
    "$PY" -m venv .venv
fi
export VIRTUAL_ENV="$PWD/.venv"
export PATH="$VIRTUAL_ENV/bin:$PATH"
python -m pip install -q --upgrade pip
python -m pip install -q "maturin>=1.7,<2"
echo "== building the native extension (release)"
maturin develop --release --extras test,lint -q 2>&1 | grep -v "^📦\|^🔗\|^🐍\|^⚠️" || true
python -c "import shoal, shoal._native as n; assert n.build_profile == 'release', n.build_profile"
echo "== setup done"

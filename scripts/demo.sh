#!/usr/bin/env bash
# Set up, then run the main job: write and read back a sample image dataset on local disk.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/shoal demo "$@"

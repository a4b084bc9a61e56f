#!/usr/bin/env bash
# One-command set-up on a fresh Debian machine (run as root, or with sudo available):
# the Debian packages the tests need, then mgsearch with its test extras.
set -euo pipefail
cd "$(dirname "$0")/.."
SUDO=""
if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi
$SUDO apt-get update
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends \
    dataset-fashion-mnist postgresql chromium chromium-driver
python -m pip install --upgrade pip
python -m pip install -e ".[dev]"

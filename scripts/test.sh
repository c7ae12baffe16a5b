#!/usr/bin/env bash
# The whole test suite, as CI runs it: installs missing packages (QEMU included), then swift test.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-packages.sh test
swift test

#!/usr/bin/env bash
# Boots the bundled hello guest: installs missing packages, builds vmm and the guests, runs it on
# the best backend this host has.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${VMM_BUILD_DIR:-.build}
scripts/install-packages.sh demo
swift build --scratch-path "$build" --product vmm
make -s -C Tests/Guests
status=0
"$build/debug/vmm" Tests/Guests/out/hello.elf || status=$?
# The guest reports success through the debug-exit port: its exit(0) becomes status (0<<1)|1 = 1.
if [[ $status -eq 1 ]]; then
    echo "demo: the guest ran and passed"
else
    echo "demo: vmm ended with status $status" >&2
    exit "$status"
fi

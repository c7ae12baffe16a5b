#!/usr/bin/env bash
# Installs the Debian packages vmm needs, only those missing, as root or through sudo.
#   scripts/install-packages.sh demo   build vmm and the test guests (gcc, make, libelf)
#   scripts/install-packages.sh test   the same, plus QEMU, which the tests compare vmm against, iasl
#                                      (acpica-tools) for the ACPI tables, e2fsprogs for disk images, and
#                                      iproute2 and passt for the network tests
#   scripts/install-packages.sh linux  what scripts/linux-guest needs to unpack Debian's kernel (it asks
#                                      for them itself; without them LinuxGuestTests skip, saying why)
# The Swift toolchain itself is not a Debian package: the script only checks that it is there.
set -euo pipefail

purpose=${1:-demo}
packages=(gcc make binutils libelf-dev pkg-config)
linux_packages=(gcc binutils cpio gzip xz-utils zstd lz4 bzip2 python3 kmod)
case "$purpose" in
    demo) ;;
    test) packages+=(qemu-system-x86 acpica-tools e2fsprogs iproute2 passt) ;;
    linux) packages=("${linux_packages[@]}") ;;
    *) echo "usage: $0 demo|test|linux" >&2; exit 2 ;;
esac

missing=()
for package in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$package")
    fi
done

if ((${#missing[@]} > 0)); then
    echo "installing: ${missing[*]}" >&2
    if [[ $(id -u) -eq 0 ]]; then
        as_root=()
    elif command -v sudo >/dev/null; then
        as_root=(sudo)
    else
        echo "error: missing packages (${missing[*]}) and neither root nor sudo to install them" >&2
        exit 1
    fi
    "${as_root[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${as_root[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

if ! command -v swift >/dev/null; then
    echo "error: no 'swift' in PATH: install the Swift 6 toolchain for Linux (swift.org) first" >&2
    exit 1
fi

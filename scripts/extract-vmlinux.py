#!/usr/bin/env python3
"""Writes the ELF kernel (vmlinux) inside a bzImage (vmlinuz) to stdout.

The bzImage's payload is the compressed vmlinux; whichever compressor the kernel was built with,
its magic number marks where the payload starts. Each candidate is handed to that compressor's
command-line tool until one yields an ELF file (the approach of the kernel's own
scripts/extract-vmlinux).
"""
import subprocess
import sys

FORMATS = [
    (b"\x1f\x8b\x08", ["gzip", "-dc"]),
    (b"\xfd7zXZ\x00", ["xz", "-dc"]),
    (b"\x28\xb5\x2f\xfd", ["zstd", "-dc"]),
    (b"\x02\x21\x4c\x18", ["lz4", "-dc"]),
    (b"BZh", ["bzip2", "-dc"]),
]


def main() -> int:
    if len(sys.argv) != 2:
        print("usage: extract-vmlinux.py VMLINUZ > vmlinux", file=sys.stderr)
        return 2
    with open(sys.argv[1], "rb") as image:
        data = image.read()
    candidates = []
    for magic, command in FORMATS:
        offset = data.find(magic)
        while offset >= 0:
            candidates.append((offset, command))
            offset = data.find(magic, offset + 1)
    for offset, command in sorted(candidates):
        try:
            result = subprocess.run(command, input=data[offset:], capture_output=True, timeout=120)
        except (FileNotFoundError, subprocess.TimeoutExpired):
            continue
        if result.stdout[:4] == b"\x7fELF":
            sys.stdout.buffer.write(result.stdout)
            return 0
    print(f"{sys.argv[1]}: no compressed ELF kernel found inside", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env bash
# Test dependencies of libs/emulator, idempotent: the aarch64 cross compiler and qemu-user (installed
# when missing, as root), Debian's busybox-static:arm64 (downloaded once, cached by content hash) and
# the C test programs, compiled -static at -O0 and -O2, and the bare-metal images (test/baremetal),
# cached by the hash of their sources.
# Prints two lines on stdout: the directory of compiled programs and the busybox binary.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PROGRAMS="$HERE/../test/programs"
BAREMETAL="$HERE/../test/baremetal"
FUZZ="$HERE/../test/fuzz"
BENCH="$HERE/../../../bench/emulator-bench.c"
BENCH_SYSTEM="$HERE/../../../bench/emulator-bench-system.c"
CACHE="${VMFARM_CACHE:-$HOME/.cache/vmfarm}/emulator"
mkdir -p "$CACHE/busybox" "$CACHE/programs"
# Test files run in parallel and each may call this script: one at a time.
exec 9>"$CACHE/.lock"
flock 9

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

have_deb() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }

missing=()
for pkg in gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user; do have_deb "$pkg" || missing+=("$pkg"); done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "vmfarm: missing Debian packages: ${missing[*]} (sudo apt-get install -y ${missing[*]})" >&2
    exit 1
  fi
  log "installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# busybox-static:arm64, unpacked; the directory name is the .deb's sha256.
if ! ls "$CACHE"/busybox/*/bin/busybox >/dev/null 2>&1; then
  if ! dpkg --print-foreign-architectures | grep -qx arm64; then
    [ "$(id -u)" -eq 0 ] || { echo "vmfarm: run as root once: dpkg --add-architecture arm64 && apt-get update" >&2; exit 1; }
    dpkg --add-architecture arm64
    apt-get update -qq
  fi
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' EXIT
  if ! (cd "$tmp" && apt-get download -qq busybox-static:arm64 >/dev/null 2>&1); then
    [ "$(id -u)" -eq 0 ] || { echo "vmfarm: apt-get download busybox-static:arm64 failed (apt-get update as root?)" >&2; exit 1; }
    apt-get update -qq
    (cd "$tmp" && apt-get download -qq busybox-static:arm64 >/dev/null)
  fi
  deb="$(ls "$tmp"/busybox-static_*_arm64.deb)"
  sum="$(sha256sum "$deb" | cut -d' ' -f1)"
  mkdir -p "$CACHE/busybox/$sum"
  dpkg-deb -x "$deb" "$CACHE/busybox/$sum"
fi

# C test programs: one directory per hash of (sources + compiler version).
sum="$( (cat "$PROGRAMS"/*.c "$FUZZ"/harness.* "$BENCH" "$BENCH_SYSTEM" "$BAREMETAL"/*.S; aarch64-linux-gnu-gcc --version | head -1) | sha256sum | cut -d' ' -f1)"
out="$CACHE/programs/$sum"
if [ ! -f "$out/.done" ]; then
  log "compiling emulator test programs"
  mkdir -p "$out"
  for src in "$PROGRAMS"/*.c "$FUZZ/harness.c"; do
    name="$(basename "$src" .c)"
    extra=()
    [ -f "$(dirname "$src")/$name.S" ] && extra+=("$(dirname "$src")/$name.S")
    for opt in O0 O2; do
      aarch64-linux-gnu-gcc -static -"$opt" -o "$out/$name-$opt" "$src" "${extra[@]}" -lm
    done
  done
  aarch64-linux-gnu-gcc -static -O2 -o "$out/emulator-bench" "$BENCH"
  # The same workloads bare-metal at EL1 (ELF at 0x40000000), MMU off and on.
  for mmu in 0 1; do
    aarch64-linux-gnu-gcc -O2 -ffreestanding -nostdlib -static -fno-pie -no-pie -ffunction-sections \
      -Wl,--gc-sections -Wl,--build-id=none -Wl,-N -Wl,--no-warn-rwx-segments -Wl,-Ttext=0x40000000 \
      -DMMU="$mmu" -o "$out/emulator-bench-system-mmu$mmu.elf" "$BENCH_SYSTEM"
  done
  # Bare-metal images for the system-mode CPU: raw binaries linked at 0x40000000 (RAM of QEMU's virt).
  for src in "$BAREMETAL"/*.S; do
    name="$(basename "$src" .S)"
    aarch64-linux-gnu-gcc -nostdlib -static -Wl,--build-id=none -Wl,-Ttext=0x40000000 -o "$out/baremetal-$name.elf" "$src"
    aarch64-linux-gnu-objcopy -O binary -j .text "$out/baremetal-$name.elf" "$out/baremetal-$name.bin"
  done
  touch "$out/.done"
fi
echo "$out"
ls "$CACHE"/busybox/*/bin/busybox | head -1

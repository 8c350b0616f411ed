#!/usr/bin/env bash
# `vmfarm check` wall time on a 128 MiB and a 20 GiB sparse image and on the 20 GiB image's
# qcow2, beside `sgdisk -v` + `mdir` on the same image, measured in the same run; and the start-up
# figure: the whole `vmfarm check` process on the 20 GiB sparse image beside `node -e 0`, with the
# load average (the aim is under 300 ms on an idle machine).
# Needs: a built tree (npx tsc -b libs/image libs/suites apps/cli), gdisk, dosfstools, mtools, qemu-utils.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
RUNS=${RUNS:-5}
for tool in sgdisk mkfs.vfat mmd mcopy mdir qemu-img; do
  command -v "$tool" >/dev/null || { echo "check-bench: $tool not found (apt-get install gdisk dosfstools mtools qemu-utils)" >&2; exit 2; }
done
[ -f "$ROOT/apps/cli/dist/src/commands/check.js" ] || { echo "check-bench: build first: npx tsc -b libs/image libs/suites apps/cli" >&2; exit 2; }

T=$(mktemp -d "${TMPDIR:-/tmp}/vmfarm-bench.XXXXXX")
trap 'rm -rf "$T"' EXIT

ESP_START=2048 # sectors
ESP_MIB=100

# A minimal aarch64 EFI application (PE32+, machine 0xAA64, subsystem 10), from the test builders.
node -e "require('fs').writeFileSync(process.argv[1], require('$ROOT/libs/image/dist/test/builders.js').buildPe())" "$T/app.efi"
truncate -s "${ESP_MIB}M" "$T/esp.img"
mkfs.vfat -F 32 "$T/esp.img" >/dev/null
mmd -i "$T/esp.img" ::/EFI ::/EFI/BOOT
mcopy -i "$T/esp.img" "$T/app.efi" ::/EFI/BOOT/BOOTAA64.EFI

make_disk() { # SIZE PATH
  truncate -s "$1" "$2"
  sgdisk -o -n "1:$ESP_START:+${ESP_MIB}M" -t 1:C12A7328-F81F-11D2-BA4B-00A0C93EC93B -n 2:0:0 "$2" >/dev/null
  dd if="$T/esp.img" of="$2" bs=1M seek=$((ESP_START * 512 / 1048576)) conv=notrunc,sparse status=none
}

# Median wall time in seconds of RUNS runs of a command (its output discarded).
median() {
  local times=() s e
  for _ in $(seq "$RUNS"); do
    s=$(date +%s%N)
    "$@" >/dev/null 2>&1 || true
    e=$(date +%s%N)
    times+=($(((e - s) / 1000)))
  done
  printf '%s\n' "${times[@]}" | sort -n | sed -n "$(((RUNS + 1) / 2))p" | awk '{printf "%.3f", $1 / 1e6}'
}

vmfarm() { node "$ROOT/apps/cli/bin/vmfarm.js" check "$1" --format json; }
baseline() { sgdisk -v "$1" && mdir -i "$1@@$((ESP_START * 512))" ::/EFI/BOOT; }

make_disk 128M "$T/small.img"
make_disk 20G "$T/big.img"
qemu-img convert -f raw -O qcow2 "$T/big.img" "$T/big.qcow2"

# Sanity: every image must pass, or the timings would measure an early exit.
for img in small.img big.img big.qcow2; do
  vmfarm "$T/$img" >/dev/null || { echo "check-bench: vmfarm check failed on $img" >&2; exit 1; }
done

report() { # LABEL IMAGE
  local v b
  v=$(median vmfarm "$2")
  if [[ "$2" == *.qcow2 ]]; then
    echo "$1: vmfarm check ${v}s (sgdisk/mdir cannot read qcow2)"
  else
    b=$(median baseline "$2")
    echo "$1: vmfarm check ${v}s, sgdisk -v + mdir ${b}s, ratio $(awk -v a="$v" -v b="$b" 'BEGIN{printf "%.2f", a / b}')"
  fi
}
echo "median of $RUNS runs; node $(node --version); load average $(cut -d' ' -f1-3 /proc/loadavg)"
# What no Node.js command can go below, and what loading the protocol library (zod) adds to it.
echo "node startup alone: $(median node -e '')s"
echo "node startup + require @vmfarm/protocol: $(median node -e "require('$ROOT/libs/protocol')")s"
report "128 MiB sparse raw" "$T/small.img"
report "20 GiB sparse raw" "$T/big.img"
report "20 GiB qcow2 ($(du -h "$T/big.qcow2" | cut -f1) on disk)" "$T/big.qcow2"
# Start-up: one whole process each, same run; what check adds over Node.js itself.
node0=$(median node -e 0)
big=$(median vmfarm "$T/big.img")
echo "start-up: vmfarm check of the 20 GiB sparse raw ${big}s, node -e 0 ${node0}s, check adds $(awk -v a="$big" -v b="$node0" 'BEGIN{printf "%.3f", a - b}')s (load average $(cut -d' ' -f1-3 /proc/loadavg))"

#!/usr/bin/env bash
# `npm test`: set up a fresh machine and run every test: lint, unit, integration (real tools, real
# Debian EFI binaries), end-to-end (real Redis, SQLite and PostgreSQL, real agent processes).
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
source "$(dirname "${BASH_SOURCE[0]}")/lib/services.sh"

ensure_debs redis-server postgresql gdisk fdisk dosfstools mtools qemu-utils xz-utils \
  qemu-system-arm qemu-efi-aarch64 qemu-efi-arm chromium device-tree-compiler
ensure_node_modules
build
bash "$REPO_ROOT/libs/emulator/scripts/test-deps.sh" >/dev/null # emulator: cross gcc, qemu-user, busybox, C fixtures

log "lint"
(cd "$REPO_ROOT" && npx nx show projects >/dev/null && npx eslint . && npx prettier --check . >/dev/null)

# The dashboard's components and pure logic (Vitest, jsdom); its browser tests (apps/e2e) run below.
log "dashboard unit tests"
(cd "$REPO_ROOT/apps/dashboard" && npx vitest run)

# The static corpus (real images around Debian's EFI binaries; adds the arm64/armhf/amd64 dpkg
# architectures once). Cached by content hash: instant unless build.sh or the packages changed.
log "static image corpus"
bash "$REPO_ROOT/fixtures/corpus/build.sh" >/dev/null
# The reference guest (Debian kernel, GRUB, busybox), built once here so that test files running
# in parallel only ever read its cache.
log "reference guest images"
bash "$REPO_ROOT/fixtures/guest/build.sh" aarch64 "$VMFARM_CACHE/guest-out" >/dev/null
bash "$REPO_ROOT/fixtures/guest/build.sh" aarch32 "$VMFARM_CACHE/guest-out" >/dev/null

RUN_DIR="$(mktemp -d /tmp/vmfarm-test.XXXXXX)"
chmod 755 "$RUN_DIR"
cleanup() { stop_redis "$RUN_DIR"; stop_postgres "$RUN_DIR"; rm -rf "$RUN_DIR"; }
trap cleanup EXIT
start_redis "$RUN_DIR"
start_postgres "$RUN_DIR"

cd "$REPO_ROOT"
# Every controller the tests start (in process or as `vmfarm serve`) checks its answers against the
# route table: an answer that breaks it is a 500, not a silent drift.
export VMFARM_VALIDATE_RESPONSES=1
# Every project's compiled *.test.js, one node:test run (its summary is the closing line CI reads).
# Files are listed explicitly: given a directory, node would also run every helper under test/.
# A compiled test whose source was moved or deleted is left behind by tsc -b: run only live ones.
mapfile -t files < <(find libs/*/dist/test apps/*/dist/test -name '*.test.js' 2>/dev/null | sort |
  while read -r f; do src="${f/\/dist\//\/}"; [ -f "${src%.js}.ts" ] && echo "$f"; done)
log "${#files[@]} test files"
node --test --test-concurrency=2 "${files[@]}"

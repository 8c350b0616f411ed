#!/usr/bin/env bash
# `npm run farm`: set up a fresh machine and run the farm with embedded defaults
# (a private redis-server, an SQLite file under .vmfarm/, one local agent). Extra arguments go to
# `vmfarm serve`, e.g. `npm run farm -- --port 8080 --agents 2`.
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
# redis-server is only needed when REDIS_URL does not point at a Redis already.
if [ -z "${REDIS_URL:-}" ]; then ensure_debs redis-server; fi
ensure_debs gdisk dosfstools mtools xz-utils qemu-utils qemu-system-arm qemu-efi-aarch64 qemu-efi-arm
ensure_node_modules
build
cd "$REPO_ROOT"
exec node apps/cli/bin/vmfarm.js serve "$@"

# Shared by scripts/farm.sh and scripts/test-all.sh: idempotent set-up of a fresh Debian machine.
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
export VMFARM_CACHE="${VMFARM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/vmfarm}"
export NX_DAEMON=false NX_NO_CLOUD=true NX_SKIP_NX_CACHE=true
mkdir -p "$VMFARM_CACHE"

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

# Installs Debian packages that are missing; as non-root, says exactly what to install instead.
ensure_debs() {
  local missing=()
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" -ne 0 ]; then
    echo "vmfarm: missing Debian packages: ${missing[*]}" >&2
    echo "        install them with: sudo apt-get install -y ${missing[*]}" >&2
    return 1
  fi
  log "installing ${missing[*]}"
  local stamp=/var/lib/apt/periodic/vmfarm-update-stamp
  if [ ! -f "$stamp" ] || [ -n "$(find "$stamp" -mmin +360 2>/dev/null)" ]; then
    apt-get update -qq
    mkdir -p "$(dirname "$stamp")" && touch "$stamp"
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# npm ci only when package-lock.json changed since the last install (content hash).
ensure_node_modules() {
  local want have
  want="$(sha256sum "$REPO_ROOT/package-lock.json" | cut -d' ' -f1)"
  have="$(cat "$REPO_ROOT/node_modules/.vmfarm-lock-sha256" 2>/dev/null || true)"
  if [ "$want" != "$have" ]; then
    log "installing npm dependencies"
    (cd "$REPO_ROOT" && npm ci --no-audit --no-fund --loglevel=error)
    echo "$want" > "$REPO_ROOT/node_modules/.vmfarm-lock-sha256"
  fi
}

build() {
  log "building"
  (cd "$REPO_ROOT" && npx tsc -b tsconfig.json)
  # The dashboard is bundled by Vite (type-checked first) into apps/dashboard/dist, which the controller serves.
  log "building the dashboard"
  # Quiet when it works; on failure, everything it said (tsc prints its errors on stdout).
  local out
  if ! out="$(cd "$REPO_ROOT" && npm run build --silent -w @vmfarm/dashboard 2>&1)"; then
    printf '%s\n' "$out" >&2
    return 1
  fi
}

#!/usr/bin/env bash
# Build the binaries the operator e2e tests run against: a real kube-apiserver
# and etcd (from the Go modules in ./apiserver and ./etcd) and helm.
#
# The binaries land in a cache OUTSIDE the repository, keyed by the pins:
#
#   ${TOKENWAY_CACHE:-$HOME/.cache/tokenway}/controlplane/<key>/bin/{kube-apiserver,etcd,helm}
#
# where <key> hashes the go.mod/go.sum/main.go files, the pins below and the Go
# toolchain version. When the binaries for the current key already exist the
# script only prints the bin directory. Build logs go to stderr; the LAST line
# on stdout is always the bin directory.
#
# The Go module and build caches live under the same cache root
# (<cache>/go/{mod,build}), so a rebuild after a pin change is incremental.
#
# Environment:
#   TOKENWAY_CACHE  cache root (default: $HOME/.cache/tokenway)
#   GO              go command to use (default: `go` on PATH, else /usr/local/go/bin/go)
set -euo pipefail

# ---- pins -------------------------------------------------------------------
# kube-apiserver: k8s.io/kubernetes in apiserver/go.mod (v1.35.4; the staging
# modules are replaced to the matching v0.35.4 tags there).
KUBE_VERSION=v1.35.4
# etcd: go.etcd.io/etcd/server/v3 in etcd/go.mod.
ETCD_VERSION=v3.6.16
# helm: installed with `go install` at this version.
HELM_VERSION=v3.20.2
# Bump to force a rebuild when the build recipe itself changes.
RECIPE=1
# -----------------------------------------------------------------------------

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
log() { printf '[controlplane/build] %s\n' "$*" >&2; }

if [[ -n "${GO:-}" ]]; then
  go_cmd="$GO"
elif command -v go >/dev/null 2>&1; then
  go_cmd="$(command -v go)"
elif [[ -x /usr/local/go/bin/go ]]; then
  go_cmd=/usr/local/go/bin/go
else
  log "error: no Go toolchain found (install Go >= 1.26 or set GO=/path/to/go)"
  exit 1
fi

cache_root="${TOKENWAY_CACHE:-$HOME/.cache/tokenway}"
mkdir -p "$cache_root"
cache_root="$(cd "$cache_root" && pwd)"

# Isolate the Go environment from the caller's: caches under the cache root,
# no workspace, read-only module graph (go.sum is committed), no VCS stamping
# (a CI checkout owned by another user would make it fail). -modcacherw keeps
# the module cache deletable with plain `rm -rf`.
export GOMODCACHE="$cache_root/go/mod"
export GOCACHE="$cache_root/go/build"
export GOFLAGS="-mod=readonly -modcacherw -buildvcs=false"
export GOWORK=off
export CGO_ENABLED=0
unset GOOS GOARCH GOBIN

if command -v sha256sum >/dev/null 2>&1; then
  sha256() { sha256sum | cut -c1-64; }
else
  sha256() { shasum -a 256 | cut -c1-64; }
fi

# The kube/etcd pins must agree with the go.mod files (the go.mod files are what
# is actually built; the variables above only document and key them).
check_pin() {
  local mod=$1 path=$2 version=$3
  if ! grep -Eq "^[[:space:]]*(require[[:space:]]+)?$path $version( |\$)" "$here/$mod/go.mod"; then
    log "error: $mod/go.mod does not require $path $version; update the pins in build.sh"
    exit 1
  fi
}
check_pin apiserver k8s.io/kubernetes "$KUBE_VERSION"
check_pin etcd go.etcd.io/etcd/server/v3 "$ETCD_VERSION"

go_version="$("$go_cmd" env GOVERSION GOOS GOARCH | paste -sd ' ' -)"
key="$(
  {
    printf 'kube=%s etcd=%s helm=%s recipe=%s go=%s\n' \
      "$KUBE_VERSION" "$ETCD_VERSION" "$HELM_VERSION" "$RECIPE" "$go_version"
    for f in apiserver/go.mod apiserver/go.sum apiserver/main.go \
             etcd/go.mod etcd/go.sum etcd/main.go; do
      printf '== %s\n' "$f"
      cat "$here/$f"
    done
  } | sha256 | cut -c1-16
)"

dest="$cache_root/controlplane/$key"
bin_dir="$dest/bin"
binaries=(kube-apiserver etcd helm)

have_all() {
  local b
  for b in "${binaries[@]}"; do
    [[ -x "$bin_dir/$b" ]] || return 1
  done
}

if have_all; then
  log "cached: $bin_dir"
  echo "$bin_dir"
  exit 0
fi

mkdir -p "$cache_root/controlplane"
# Serialise concurrent builds (e.g. parallel test workers) when flock exists.
if command -v flock >/dev/null 2>&1; then
  exec 9>"$cache_root/controlplane/.lock"
  log "waiting for build lock"
  flock 9
  if have_all; then
    log "built by a concurrent run: $bin_dir"
    echo "$bin_dir"
    exit 0
  fi
fi

work="$(mktemp -d "$cache_root/controlplane/.build-$key.XXXXXX")"
trap 'rm -rf "$work"' EXIT
chmod 755 "$work"
mkdir -p "$work/bin"

log "building into $dest (key $key) with $go_version"
log "kube-apiserver $KUBE_VERSION, etcd $ETCD_VERSION, helm $HELM_VERSION"
start_all=$SECONDS

timed() {
  local name=$1
  shift
  local t0=$SECONDS
  log "$name: $*"
  "$@" >&2
  log "$name: done in $((SECONDS - t0))s"
}

kube_minor="${KUBE_VERSION#v1.}"
kube_minor="${kube_minor%%.*}"
kube_ldflags="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  kube_ldflags+=" -X $pkg.gitVersion=$KUBE_VERSION -X $pkg.gitMajor=1"
  kube_ldflags+=" -X $pkg.gitMinor=$kube_minor -X $pkg.gitTreeState=clean"
done

(
  cd "$here/apiserver"
  timed "download kube-apiserver modules" "$go_cmd" mod download
  timed "build kube-apiserver" "$go_cmd" build -trimpath -ldflags="$kube_ldflags" \
    -o "$work/bin/kube-apiserver" .
)

(
  cd "$here/etcd"
  timed "download etcd modules" "$go_cmd" mod download
  timed "build etcd" "$go_cmd" build -trimpath -ldflags="-s -w" \
    -o "$work/bin/etcd" .
)

(
  # `go install pkg@version` ignores the local module; run it outside the repo.
  cd "$work"
  export GOBIN="$work/bin"
  timed "build helm" "$go_cmd" install -trimpath \
    -ldflags="-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION -X helm.sh/helm/v3/internal/version.gitTreeState=clean" \
    "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
)

for b in "${binaries[@]}"; do
  [[ -x "$work/bin/$b" ]] || { log "error: $b was not built"; exit 1; }
done

{
  echo "key=$key"
  echo "kube-apiserver=$KUBE_VERSION"
  echo "etcd=$ETCD_VERSION"
  echo "helm=$HELM_VERSION"
  echo "go=$go_version"
  echo "built=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
} >"$work/BUILD-INFO"

rm -rf "$dest"
mv "$work" "$dest"
trap - EXIT
log "built in $((SECONDS - start_all))s: $bin_dir"
echo "$bin_dir"

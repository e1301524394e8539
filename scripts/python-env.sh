#!/usr/bin/env bash
# Sourced by scripts/up and scripts/test: makes .venv with lamina and its test tools installed,
# installing python3-venv with apt (as root) when the machine lacks it. Reinstalls when setup.cfg changes.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV=${LAMINA_VENV:-$ROOT/.venv}
if [ ! -x "$VENV/bin/python" ]; then
  if ! python3 -m venv "$VENV" >/dev/null 2>&1; then
    rm -rf "$VENV"
    if [ "$(id -u)" != 0 ]; then
      echo "lamina: python3 cannot make a virtual environment; install it with: sudo apt-get install -y python3-venv" >&2
      exit 1
    fi
    apt-get update -q >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q python3-venv python3-pip >&2
    python3 -m venv "$VENV"
  fi
fi
stamp="$VENV/.lamina-installed"
want=$(cat "$ROOT/setup.cfg" "$ROOT/pyproject.toml" | sha256sum | cut -c1-16)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "lamina: installing Python dependencies into $VENV" >&2
  if ! "$VENV/bin/python" -m pip install -e "$ROOT[test]" >"$VENV/pip.log" 2>&1; then
    tail -40 "$VENV/pip.log" >&2; echo "lamina: pip install failed; full log in $VENV/pip.log" >&2; exit 1
  fi
  echo "$want" > "$stamp"
fi
export PATH="$VENV/bin:$PATH"

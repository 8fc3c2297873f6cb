#!/usr/bin/env bash
# Edge Workbench installer: creates .venv and installs the project editable, pinned by constraints.txt.
#   ./install.sh          runtime only (numpy, onnx, onnxruntime, psutil, pillow, pydantic, textual)
#   ./install.sh --dev    + dev tools (pytest, ruff, vermin, ...) and torch==2.13.0 (CPU build)
# Idempotent: re-running reuses .venv and only installs what is missing. No root needed.
# On a Jetson (/etc/nv_tegra_release) the venv sees the system site-packages, so JetPack's TensorRT
# and torch are importable; TensorRT is never pip-installed by this script.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"

dev=0
for arg in "$@"; do
  case "$arg" in
    --dev) dev=1 ;;
    -h|--help)
      sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'
      exit 0 ;;
    *) echo "install.sh: unknown option '$arg' (use --dev or --help)" >&2; exit 2 ;;
  esac
done

say() { printf '[install] %s\n' "$*" >&2; }
die() { printf '[install] error: %s\n' "$*" >&2; exit 1; }

py="${PYTHON:-python3}"
command -v "$py" >/dev/null 2>&1 || die "$py not found; install Python 3.10 or newer (or set PYTHON=/path/to/python3)"
"$py" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else 1)' \
  || die "$("$py" -V 2>&1) is too old: Edge Workbench needs Python >= 3.10 (JetPack 5's Python 3.8 is unsupported)"
"$py" -c 'import venv, ensurepip' 2>/dev/null \
  || die "$py lacks venv/ensurepip; on Debian/Ubuntu/JetPack: sudo apt-get install python3-venv"

venv_args=()
jetson=0
if [ -f /etc/nv_tegra_release ]; then
  jetson=1
  venv_args+=(--system-site-packages)
  say "Jetson detected ($(head -n1 /etc/nv_tegra_release | cut -c1-40)); the venv will see JetPack's TensorRT and torch"
fi

if [ -x .venv/bin/python ] && .venv/bin/python -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else 1)' 2>/dev/null; then
  say "reusing .venv ($(.venv/bin/python -V 2>&1))"
else
  [ -e .venv ] && { say "removing a broken .venv"; rm -rf .venv; }
  say "creating .venv with $("$py" -V 2>&1)"
  "$py" -m venv "${venv_args[@]}" .venv || die "could not create .venv"
fi

pip=(.venv/bin/python -m pip --disable-pip-version-check)
[ -f constraints.txt ] || die "constraints.txt is missing next to install.sh"

target="."
[ "$dev" = 1 ] && target=".[dev]"
say "installing edge-workbench (editable) ${target#.} with pins from constraints.txt"
"${pip[@]}" install -q -c constraints.txt -e "$target" || die "pip install failed (see the messages above)"

if [ "$dev" = 1 ]; then
  if [ "$jetson" = 1 ] && .venv/bin/python -c 'import torch' 2>/dev/null; then
    say "using JetPack's torch ($(.venv/bin/python -c 'import torch; print(torch.__version__)'))"
  elif .venv/bin/python -c 'import torch, sys; sys.exit(0 if torch.__version__.startswith("2.13.0") else 1)' 2>/dev/null; then
    say "torch 2.13.0 already installed"
  else
    # Pinned on purpose: an unpinned torch pulls several GB of CUDA wheels.
    say "installing torch==2.13.0 (CPU build where the index provides one)"
    "${pip[@]}" install -q -c constraints.txt "torch==2.13.0" || die "could not install torch==2.13.0"
  fi
fi

.venv/bin/workbench --version >/dev/null || die "the workbench command does not start"
say "done: $(.venv/bin/workbench --version). Try: .venv/bin/workbench run"

#!/usr/bin/env bash
# Installs the system packages catalog needs on a Debian or Ubuntu machine, when they are missing:
# bubblewrap (the sandbox every launched server runs in), util-linux (prlimit, setpriv), Node.js
# and npm (npm packages), Python 3 with venv (PyPI packages). Quick when everything is there.
# Uses sudo when not run as root. Elsewhere it says what to install and fails.
set -euo pipefail

need=()
command -v bwrap >/dev/null || need+=(bubblewrap)
{ command -v prlimit >/dev/null && command -v setpriv >/dev/null; } || need+=(util-linux)
command -v node >/dev/null || need+=(nodejs)
command -v npm >/dev/null || need+=(npm)
command -v script >/dev/null || need+=(bsdutils)
command -v python3 >/dev/null || need+=(python3)
python3 -c 'import venv, ensurepip' 2>/dev/null || need+=(python3-venv)
((${#need[@]})) || exit 0

if ! command -v apt-get >/dev/null; then
    echo "error: install these with your package manager, then run this again: ${need[*]}" >&2
    exit 1
fi
sudo=""
if [[ $(id -u) != 0 ]]; then
    command -v sudo >/dev/null || { echo "error: run as root, or install sudo, to install: ${need[*]}" >&2; exit 1; }
    sudo="sudo"
fi
echo "installing system packages: ${need[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}"

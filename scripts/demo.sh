#!/usr/bin/env bash
# README's main command: install dependencies, build, run the main job.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install_deps.sh
bash scripts/build.sh
BUILD_DIR="${INSTSEG_BUILD_DIR:-build}"
# Until the model issues land the main job is a smoke run of the CLI.
"$BUILD_DIR/tools/instseg/instseg" --version
"$BUILD_DIR/tools/instseg/instseg" --help

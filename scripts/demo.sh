#!/usr/bin/env bash
# README's main command: install dependencies, build, then the main job on the
# embedded default dataset (data/nuclei): train SOLOv2-light R18 from scratch on
# its train split (CPU), evaluate on its val split (COCO mask/box AP) and write
# overlays of the val images.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install_deps.sh
bash scripts/build.sh
BUILD_DIR="${INSTSEG_BUILD_DIR:-build}"
INSTSEG="$BUILD_DIR/tools/instseg/instseg"
CONFIG=configs/solov2/solov2-light_r18_fpn_nuclei.yaml
WORK_DIR="${INSTSEG_WORK_DIR:-work_dirs/nuclei_demo}"

# INSTSEG_DEMO_CFG_OPTIONS: extra `--cfg-options` for a quick check of the
# whole chain, e.g. INSTSEG_DEMO_CFG_OPTIONS="train_cfg.max_epochs=1".
read -r -a EXTRA <<< "${INSTSEG_DEMO_CFG_OPTIONS:-}"
OPTS=()
if [ ${#EXTRA[@]} -gt 0 ]; then OPTS=(--cfg-options "${EXTRA[@]}"); fi

"$INSTSEG" train "$CONFIG" --work-dir "$WORK_DIR" "${OPTS[@]}"
CKPT="$WORK_DIR/$(basename "$(cat "$WORK_DIR/last_checkpoint")")"
"$INSTSEG" test "$CONFIG" "$CKPT" --out "$WORK_DIR/val_results.json" --show-dir "$WORK_DIR/overlays" "${OPTS[@]}"
echo "demo: checkpoint $CKPT; overlays in $WORK_DIR/overlays; results in $WORK_DIR/val_results.json"

#!/usr/bin/env bash
# README's main command: install dependencies, build, then the main job on the
# embedded default dataset (data/nuclei): train SOLOv2-light R18 from scratch on
# its train split (CPU), evaluate on its val split (COCO mask/box AP) and write
# overlays of the val images; then evaluate the shipped reference model
# (models/README.md) on the same val images and write its overlays beside.
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
# CPU bf16 autocast (mmdet's AmpOptimWrapper with dtype bfloat16) trains about
# 2x faster than fp32 on CPUs with native bf16 (AVX512-BF16 or AMX); elsewhere
# oneDNN emulates bf16, slower than fp32, so the config's fp32 is kept.
if grep -qE 'avx512_bf16|amx_bf16' /proc/cpuinfo 2>/dev/null; then
  echo "demo: this CPU has native bf16: training under CPU bf16 autocast"
  EXTRA=(optim_wrapper.type=AmpOptimWrapper optim_wrapper.dtype=bfloat16 "${EXTRA[@]}")
else
  echo "demo: this CPU has no native bf16 (avx512_bf16/amx_bf16): training in fp32"
fi
OPTS=()
if [ ${#EXTRA[@]} -gt 0 ]; then OPTS=(--cfg-options "${EXTRA[@]}"); fi

START=$(date +%s)
"$INSTSEG" train "$CONFIG" --work-dir "$WORK_DIR" "${OPTS[@]}"
TRAIN_S=$(( $(date +%s) - START ))
CKPT="$WORK_DIR/$(basename "$(cat "$WORK_DIR/last_checkpoint")")"
"$INSTSEG" test "$CONFIG" "$CKPT" --out "$WORK_DIR/val_results.json" --show-dir "$WORK_DIR/overlays" \
  "${OPTS[@]}" 2>&1 | tee "$WORK_DIR/test.log"
AP=$(grep -o 'segm_mAP_copypaste: [0-9.-]*' "$WORK_DIR/test.log" | tail -n 1 | cut -d' ' -f2)

# The shipped reference model (models/README.md: the same SOLOv2-light trained
# for hours, at 768 px, its mask branch widened; the commands are in its
# config) on the same val images, in seconds: what instseg trains in the demo's
# 15 minutes next to what it trains in hours.
REF_CONFIG=configs/solov2/solov2-light_r18_fpn_nuclei-reference-mask128-300e.yaml
REF_CKPT=models/solov2-light_r18_fpn_nuclei-reference.pth
"$INSTSEG" test "$REF_CONFIG" "$REF_CKPT" --out "$WORK_DIR/reference_val_results.json" \
  --show-dir "$WORK_DIR/reference_overlays" 2>&1 | tee "$WORK_DIR/reference_test.log"
REF_AP=$(grep -o 'segm_mAP_copypaste: [0-9.-]*' "$WORK_DIR/reference_test.log" | tail -n 1 | cut -d' ' -f2)
echo "demo: training took $((TRAIN_S / 60)) min $((TRAIN_S % 60)) s; checkpoint $CKPT"
echo "demo: overlays in $WORK_DIR/overlays; results in $WORK_DIR/val_results.json"
echo "demo: reference model overlays in $WORK_DIR/reference_overlays"
echo "demo: nuclei val mask AP (COCO segm mAP @[.50:.95]):"
echo "demo:   trained now, from scratch ($((TRAIN_S / 60)) min): ${AP:-none (no detections)}"
echo "demo:   shipped reference model ($REF_CKPT): ${REF_AP:-none (no detections)}"

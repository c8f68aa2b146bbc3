#!/usr/bin/env bash
# Stage 40-nn (issue 4): the layer suite on the GPU and the torchvision interop check,
# written to $FRAGMENTS/40-nn.json.
#   - tests/nn/test_nn_cuda: every layer CUDA vs CPU forward and backward (TF32 off), batch
#     norm running statistics, whole ResNet-18 forward/backward for both stems, checkpoints
#     written from the GPU read back bit-exact (also part of the `test` step; run here again
#     so its output sits next to the interop figures);
#   - scripts/check_torchvision_interop.py with ember on cpu and cuda: ember checkpoint ->
#     torchvision and torchvision checkpoint -> ember, eval-mode logits compared, both stems.
# Contract: scripts/gpu-check.sh's header. Exits non-zero when a test or a comparison fails.
set -uo pipefail
cd "${EMBER_ROOT:-$(dirname "$0")/../..}"
rc=0
suite=$BUILD_DIR/tests/nn/test_nn_cuda
if [ -x "$suite" ]; then
  "$suite" --gtest_brief=1 || rc=1
else
  echo "40-nn: $suite was not built"
  rc=1
fi
if [ -x "$BIN_DIR/ember-summary" ]; then
  "$BIN_DIR/ember-summary" --arch resnet18 --classes 10 --batch-size 256 --device cuda | tail -7 || rc=1
  $PYTHON scripts/check_torchvision_interop.py --ember-summary "$BIN_DIR/ember-summary" --devices cpu,cuda \
    --json "$FRAGMENTS/40-nn.json" || rc=1
else
  echo "40-nn: $BIN_DIR/ember-summary was not built"
  rc=1
fi
[ -f "$FRAGMENTS/40-nn.json" ] || echo '{"benchmarks": []}' > "$FRAGMENTS/40-nn.json"
exit "$rc"

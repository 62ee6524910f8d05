#!/usr/bin/env bash
# Lunaris Server's GPU benchmark, for a GPU machine with CUDA, nvcc and cmake but no network
# and no Node.js. Prepare the bundle here first with `npm run bench:gpu-pack` (→ .cache/gpu-bundle),
# send the working tree plus that folder, then on the device:
#
#   bash bench/gpu/gpu.sh build    # unpack Node.js and the dependencies, build node-llama-cpp's
#                                  # CUDA addon (and llama-batched-bench from the same build),
#                                  # write the Lunaris-shape model in bf16        (~6 min on 16 cores)
#   bash bench/gpu/gpu.sh bench    # our server on the GPU at 1/16/64 streams, then
#                                  # llama-batched-bench on the same GPU and model  (~3 min)
#   bash bench/gpu/gpu.sh          # both
#
# Results: $OUT/gpu.json, $OUT/gpu.md and $OUT/gpu.log (OUT defaults to $WORK/out).
# GPU=off rehearses the whole flow on a CPU machine (CPU build, the small shape unless SHAPE is set).
set -euo pipefail

PHASE="${1:-all}"
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
BUNDLE="${BUNDLE:-$ROOT/.cache/gpu-bundle}"
WORK="${WORK:-/tmp/lunaris-gpu}"
OUT="${OUT:-$WORK/out}"
GPU="${GPU:-cuda}"
CUDA_ARCH="${CUDA_ARCH:-90}"   # Hopper (H100/H200); one architecture keeps the build short
if [ "$GPU" = off ]; then SHAPE="${SHAPE:-small}"; TYPE="${TYPE:-q8_0}"; STREAMS="${STREAMS:-1,2,4}"; PROMPT="${PROMPT:-64}"; TOKENS="${TOKENS:-16}"
else SHAPE="${SHAPE:-lunaris}"; TYPE="${TYPE:-bf16}"; STREAMS="${STREAMS:-1,16,64}"; PROMPT="${PROMPT:-256}"; TOKENS="${TOKENS:-128}"; fi
MODEL="$WORK/$SHAPE-$TYPE.gguf"
LLAMA="$ROOT/node_modules/node-llama-cpp/llama"

# Build options: node-llama-cpp names a local build after them and finds it at run time only when
# the same options are set, so they hold for both phases.
export NODE_LLAMA_CPP_CMAKE_OPTION_LLAMA_BUILD_TOOLS=ON
# The server asks node-llama-cpp for a build with GGML_OPENMP=OFF (src/engine/LlamaEngine.ts; the
# build folder is named after these options), so the device build uses the same option.
export NODE_LLAMA_CPP_CMAKE_OPTION_GGML_OPENMP=OFF
[ "$GPU" = cuda ] && export NODE_LLAMA_CPP_CMAKE_OPTION_CMAKE_CUDA_ARCHITECTURES="$CUDA_ARCH"

mkdir -p "$WORK/bin" "$OUT"
cd "$ROOT"
log() { echo "[gpu.sh $(date +%T)] $*" | tee -a "$OUT/gpu.log" >&2; }

unpack() {
  if [ ! -x "$WORK/bin/node" ]; then
    log "unpacking Node.js"
    xz -dc "$BUNDLE/node.xz" > "$WORK/bin/node.tmp" && chmod +x "$WORK/bin/node.tmp" && mv "$WORK/bin/node.tmp" "$WORK/bin/node"
  fi
  if [ ! -d node_modules/node-llama-cpp ]; then
    log "unpacking node_modules"
    tar -xJf "$BUNDLE/node_modules.tar.xz"
  fi
  if [ ! -f "$LLAMA/llama.cpp/CMakeLists.txt" ]; then
    log "unpacking llama.cpp sources"
    mkdir -p "$LLAMA/llama.cpp" && tar -xJf "$BUNDLE/llama.cpp.tar.xz" -C "$LLAMA/llama.cpp"
    mkdir -p "$LLAMA/llama.cpp/.git"   # node-llama-cpp's build checks that the source is a checkout
  fi
  # node-llama-cpp's build runs `npm run -s cmake-js-llama -- <args>`, i.e. `cd llama && cmake-js <args>`.
  cat > "$WORK/bin/npm" <<SHIM
#!/usr/bin/env bash
while [ "\$#" -gt 0 ] && [ "\$1" != "--" ]; do shift; done
[ "\$#" -gt 0 ] && shift
cd "$LLAMA" && exec node "$ROOT/node_modules/cmake-js/bin/cmake-js" "\$@"
SHIM
  chmod +x "$WORK/bin/npm"
}

build() {
  if [ "$GPU" = off ]; then gpu_flag=false; else gpu_flag="$GPU"; fi
  log "building node-llama-cpp for gpu=$gpu_flag (with llama-batched-bench from the same build)"
  local started=$SECONDS
  node node_modules/node-llama-cpp/dist/cli/cli.js source build --gpu "$gpu_flag" --noUsageExample >> "$OUT/gpu.log" 2>&1 \
    || { tail -n 40 "$OUT/gpu.log" >&2; exit 1; }
  log "build done in $((SECONDS - started)) s"
  if [ ! -f "$MODEL" ]; then
    log "writing the $SHAPE-shape model ($TYPE, random weights)"
    started=$SECONDS
    node --import tsx src/cli/main.ts make-model --shape "$SHAPE" --type "$TYPE" --out "$MODEL" 2>> "$OUT/gpu.log"
    log "model written in $((SECONDS - started)) s: $(du -h "$MODEL" | cut -f1)"
  fi
}

bench() {
  local bb
  bb="$(find "$LLAMA/localBuilds" -name llama-batched-bench -type f -perm -u+x | head -n 1)"
  [ -n "$bb" ] || { log "llama-batched-bench not found: run the build phase first"; exit 1; }
  nvidia-smi >> "$OUT/gpu.log" 2>&1 || true
  log "benchmark: streams $STREAMS, $PROMPT-token prompts, $TOKENS new tokens"
  node --import tsx bench/gpu/run.ts --model "$MODEL" --gpu "$GPU" --batched-bench "$bb" --out "$OUT" \
    --streams "$STREAMS" --prompt "$PROMPT" --tokens "$TOKENS" 2>> "$OUT/gpu.log"
}

unpack
export PATH="$WORK/bin:$PATH"
case "$PHASE" in
  build) build ;;
  bench) bench ;;
  all) build; bench ;;
  *) echo "usage: $0 [build|bench|all]" >&2; exit 2 ;;
esac

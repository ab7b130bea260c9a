#!/usr/bin/env bash
# The GPU check, run on a machine with an NVIDIA GPU from the archive tools/gpu_bundle.sh makes
# (through the device tool: carry .gpu, then `bash tools/gpu_check.sh .gpu $OUT`):
#
#   1. the `gpu` tests (every kernel against the CPU reference; the CUDA backend's logits against
#      the CPU backend's on tiny models)
#   2. the kernel micro-benchmarks (GB/s and TFLOP/s against the device's peak)
#   3. `troupe serve --load-format dummy` on the Llama-3-8B shape, bf16 then W8A8, each under
#      `troupe bench`: batch-1 decode; 64 concurrent random 512/128 requests; 4 req/s; then, as
#      time allows, bf16 batch-1 again with every op timed on the device (TROUPE_CUDA_OP_TIMES:
#      eager steps; the table of device time per op, and the step's device time to set against
#      the graphs' time per output token; that run's own TPOT includes the timing's overhead);
#      last, bf16 batch-1 with --async-scheduling (its TPOT against the first run's); every
#      "all" run also repeats the 64 streams with temperature 0.8 and top-p 0.95 (sampled on the
#      device: its tok/s against the greedy run's); last, the default model's GGUF (Q4_1 blocks
#      on the GPU) under the same loads, when the bundle carries it
#
#   tools/gpu_check.sh BUNDLE_DIR OUT_DIR [--quick]
#   -> OUT_DIR/gpu_check_summary.txt (one file with every result) and the raw logs / JSON beside
#
# Budget: 8 minutes including start-up; every stage has its own timeout, so a hang in one still
# leaves the others' results. --quick runs only stages 1 and 2.
set -uo pipefail
bundle="${1:?usage: gpu_check.sh BUNDLE_DIR OUT_DIR [--quick]}"
out="${2:?usage: gpu_check.sh BUNDLE_DIR OUT_DIR [--quick]}"
quick="${3:-}"
mkdir -p "$out"
summary="$out/gpu_check_summary.txt"
say() { echo "$*" | tee -a "$summary"; }
start=$(date +%s)
elapsed() { echo $(($(date +%s) - start)); }
# Stages that would start past this many seconds are skipped (the whole check must fit 8 minutes).
deadline=${GPU_CHECK_DEADLINE:-420}
late() {
  if [ "$(elapsed)" -gt "$deadline" ]; then
    say "skipped (past ${deadline}s): $*"
    return 0
  fi
  return 1
}

work=/tmp/troupe-gpu
rm -rf "$work" && mkdir -p "$work"
tar -C "$work" -xJf "$bundle/bundle.tar.xz"
# CUDA's libraries from the machine: the toolkit, else the pip wheels PyTorch brought.
cuda_libs=""
for d in /usr/local/cuda/lib64 /usr/local/cuda/targets/x86_64-linux/lib \
  $(python3 -c 'import nvidia, os; print(" ".join(os.path.join(p, d, "lib") for p in nvidia.__path__ for d in os.listdir(p)))' 2>/dev/null); do
  [ -d "$d" ] && cuda_libs="$cuda_libs:$d"
done
export LD_LIBRARY_PATH="$work/lib$cuda_libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"

# The default model, when both pieces came (tools/gpu_bundle.sh): its GPU test reads it from
# $TROUPE_MODEL_DIR.
if [ -f "$bundle/model1/default_model.part1" ] && [ -f "$bundle/model2/default_model.part2" ]; then
  mkdir -p "$work/models/default"
  name=$(awk '{print $2}' "$bundle/model2/default_model.sha256")
  cat "$bundle/model1/default_model.part1" "$bundle/model2/default_model.part2" \
    >"$work/models/default/$name"
  sums="$(cd "$bundle" && pwd)/model2/default_model.sha256"
  if (cd "$work/models/default" && sha256sum -c --quiet "$sums"); then
    export TROUPE_MODEL_DIR="$work/models/default"
    default_model_note="default model: $name (sha256 checked)"
  else
    default_model_note="default model: pieces do not match its sha256; its test skips"
  fi
else
  default_model_note="default model: not carried; its test skips"
fi

say "# troupe GPU check, $(date -u +%Y-%m-%dT%H:%MZ)"
say "$(nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>&1)"
say "$default_model_note"
missing=$(ldd "$work/bin/troupe" | grep "not found" || true)
[ -n "$missing" ] && say "missing libraries: $missing"

say ""
say "## 1. gpu tests"
for t in "$work"/tests/*_test; do
  name=$(basename "$t")
  late "$name" && continue
  timeout 120 "$t" --gtest_brief=1 >"$out/$name.log" 2>&1
  rc=$?
  say "$name: $(grep -E '^\[  (PASSED|FAILED|SKIPPED)' "$out/$name.log" | tr '\n' ' ') rc=$rc"
  grep -E "^\[  FAILED  \]|Failure|error" "$out/$name.log" | head -5 | tee -a "$summary"
done
say "(at $(elapsed)s)"

say ""
say "## 2. kernel micro-benchmarks"
for b in "$work"/bench/cuda_*_bench; do
  name=$(basename "$b")
  late "$name" && continue
  timeout 90 "$b" --benchmark_min_time=0.05 --benchmark_format=console \
    --benchmark_out="$out/$name.json" --benchmark_out_format=json >"$out/$name.log" 2>&1
  say "$name: rc=$?"
  grep -E "^[A-Za-z_/:0-9.]+ +[0-9.]+ (us|ms|ns)" "$out/$name.log" | sed 's/^/  /' | tee -a "$summary" >/dev/null
done
say "(at $(elapsed)s)"
[ "$quick" = "--quick" ] && exit 0

# GET on the local server (curl may be missing there; python3 is not).
http_get() { python3 -c 'import sys, urllib.request; sys.stdout.write(urllib.request.urlopen(sys.argv[1], timeout=5).read().decode())' "$1"; }

# One server run: SHAPE under the three loads; the server's log and bench JSON kept in $out.
tokenizer="$work/tokenizers/llama3"
# serve_and_bench LABEL MODEL [all|batch1] [serve flags...]; $serve_env: VAR=value for the server
# MODEL: a models/dummy shape (random weights), or a .gguf path (served as it is, with its own
# tokenizer).
serve_and_bench() {
  local label=$1 model=$2 loads=${3:-all}
  shift 3
  late "serve $label" && return
  local tokenizer=$tokenizer model_args=(--model "$work/models/dummy/$model" --load-format dummy)
  if [[ $model == *.gguf ]]; then
    tokenizer=$model
    model_args=(--model "$model")
  fi
  say ""
  say "## 3. $label: troupe serve ${model_args[*]} $*"
  # --device cuda: a device the driver probe misses, or a plugin that does not load, stops the
  # server with the reason instead of falling back to the CPU.
  env ${serve_env:-} "$work/bin/troupe" serve "${model_args[@]}" \
    --device cuda --tokenizer "$tokenizer" --served-model-name dummy --max-model-len 4096 --max-num-seqs 64 \
    --max-num-batched-tokens 2048 --gpu-memory-utilization 0.9 --port 8011 "$@" \
    >"$out/serve_$label.log" 2>&1 &
  local pid=$!
  local up=0
  for _ in $(seq 1 180); do
    if http_get http://127.0.0.1:8011/health >/dev/null 2>&1; then up=1; break; fi
    kill -0 $pid 2>/dev/null || break
    sleep 1
  done
  grep -E "CUDA|KV cache|loaded|error|device" "$out/serve_$label.log" | head -8 | sed 's/^/  /' | tee -a "$summary"
  if [ $up = 0 ]; then
    say "  server did not come up (at $(elapsed)s)"
    kill $pid 2>/dev/null
    return
  fi
  bench() {
    local name=$1 limit=$2
    shift 2
    late "bench $label $name" && return
    timeout "$limit" "$work/bin/troupe" bench --backend vllm --port 8011 --model dummy \
      --tokenizer "$tokenizer" --dataset-name random --ignore-eos --save-result \
      --result-dir "$out" --result-filename "bench_${label}_$name.json" "$@" \
      >"$out/bench_${label}_$name.log" 2>&1
    say "  $name (rc=$?):"
    grep -E "Output token throughput|Mean TTFT|Mean TPOT|Successful requests|Request throughput" \
      "$out/bench_${label}_$name.log" | sed 's/^/    /' | tee -a "$summary" >/dev/null
  }
  bench batch1 60 --random-input-len 128 --random-output-len 128 --num-prompts 4 --max-concurrency 1
  if [ "$loads" = all ]; then
    bench c64 120 --random-input-len 512 --random-output-len 128 --num-prompts 128 --max-concurrency 64
    bench rate4 60 --random-input-len 512 --random-output-len 128 --num-prompts 40 --request-rate 4
  fi
  # The same 64 streams sampled on the device (temperature, top-p): its tok/s against c64's.
  if [ "$loads" = all ]; then
    bench c64-sampled 120 --random-input-len 512 --random-output-len 128 --num-prompts 128 \
      --max-concurrency 64 --temperature 0.8 --top-p 0.95
  fi
  http_get http://127.0.0.1:8011/metrics | grep -E "^troupe_step|^vllm:num_gpu|step_seconds" |
    head -20 >"$out/metrics_$label.txt"
  kill $pid 2>/dev/null
  wait $pid 2>/dev/null
  # Warnings while serving (a failed CUDA graph capture says so here) and errors.
  grep -E "warn|error|capturing|replayed" "$out/serve_$label.log" | head -5 | sed 's/^/  /' |
    tee -a "$summary"
  # Device time per op, when timed (the first report: one per 200 steps).
  grep -A 40 "op times over" "$out/serve_$label.log" | grep -E "op times|calls" | head -40 |
    sed 's/^/  /' | tee -a "$summary" >/dev/null
  say "  (at $(elapsed)s)"
}
serve_and_bench bf16 llama-3-8b all
serve_and_bench w8a8 llama-3-8b-w8a8 all
serve_env=TROUPE_CUDA_OP_TIMES=200 serve_and_bench bf16-timed llama-3-8b batch1
serve_and_bench bf16-async llama-3-8b batch1 --async-scheduling
# The default model's Q4_1 GGUF as blocks on the GPU (when carried), as time allows.
if [ -n "${TROUPE_MODEL_DIR:-}" ]; then
  serve_and_bench gguf-default "$(ls "$TROUPE_MODEL_DIR"/*.gguf | head -1)" all
fi
say ""
say "done in $(elapsed)s"

#!/usr/bin/env bash
# Builds everything the GPU check runs (tools/gpu_check.sh) and packs it into one archive that
# travels to a machine with an NVIDIA GPU (the device tool carries at most 64 MiB):
#
#   tools/gpu_bundle.sh [DIR]            # default DIR: .gpu/ (git-ignored)
#   -> DIR/bundle.tar.xz holding
#        bin/troupe                      the server and load generator, built with CUDA (sm_90)
#        bin/libtroupe_cuda.so           its CUDA backend, loaded from beside it on a GPU
#        tests/*_test                    the `gpu`-labelled tests (kernels/cuda, runtime/backend/cuda)
#        bench/cuda_*_bench              the GPU kernel micro-benchmarks
#        lib/                            the shared libraries they load that a bare CUDA machine
#                                        lacks (CAF, spdlog, ICU, ...; not glibc, libstdc++ or
#                                        CUDA's own: cudart, cuBLAS and NCCL come from the machine)
#        models/dummy/                   the 8B / 12B config.json files (--load-format dummy)
#        tokenizers/llama3/              a Llama-3 tokenizer, when ../shared/testdata has one
#   -> DIR/model1/default_model.part1, DIR/model2/default_model.{part2,sha256}: the default model
#      (tools/default_model.env; 98 MB, more than one carry) in two pieces, when it is fetched
#
# One device session then makes two calls back to back (the machine stays warm about 30 s):
#   run(command="true", carry=[".gpu/model1"])                    # 60 MiB: the first piece
#   run(command="bash tools/gpu_check.sh .gpu $OUT", carry=[".gpu/model2", ".gpu/bundle.tar.xz"])
# (a carried path stays on the machine while it is warm; without the pieces the check skips the
# default model's test, and then one call with carry=[".gpu"] minus the pieces does it all).
#
# The binaries need glibc >= this machine's (2.36) and a driver for CUDA 13.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
out="${1:-$root/.gpu}"
build="$root/build-gpu"

cmake -S "$root" -B "$build" -DTROUPE_CUDA=ON -DCMAKE_BUILD_TYPE=Release -DTROUPE_NATIVE=OFF \
  >/dev/null
tests=$(cd "$root/tests" && ls kernels/cuda/*_test.cpp runtime/backend/cuda/*_test.cpp |
  sed 's#/#_#g; s/\.cpp$//')
benches=$(cd "$root/benchmarks/cuda" && ls *_bench.cpp | sed 's/^/cuda_/; s/\.cpp$//')
cmake --build "$build" -j"$(nproc)" --target troupe $tests $benches

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/bin" "$stage/tests" "$stage/bench" "$stage/lib" "$stage/models" "$stage/tokenizers"
cp "$build/bin/troupe" "$build/bin/libtroupe_cuda.so" "$stage/bin/"
for t in $tests; do cp "$build/tests/$t" "$stage/tests/"; done
for b in $benches; do cp "$build/benchmarks/$b" "$stage/bench/"; done
# Every library the binaries load, but the C/C++ runtime and CUDA's (the GPU machine has those).
for f in "$stage"/bin/* "$stage"/tests/* "$stage"/bench/*; do
  ldd "$f" | awk '$3 ~ /^\// {print $3}'
done | sort -u | while read -r lib; do
  case "$(basename "$lib")" in
    libc.so* | libm.so* | libpthread.so* | libdl.so* | librt.so* | ld-linux* | libstdc++.so* | \
      libgcc_s.so* | libcuda.so* | libcudart.so* | libcublas*.so* | libnccl.so*) ;;
    *) cp -L "$lib" "$stage/lib/" ;;
  esac
done
cp -r "$root/models/dummy" "$stage/models/"
llama3="$root/../shared/testdata/tokenizers/llama3"
if [ -f "$llama3/tokenizer.json" ]; then
  mkdir -p "$stage/tokenizers/llama3"
  cp "$llama3/tokenizer.json" "$llama3/tokenizer_config.json" "$stage/tokenizers/llama3/"
fi
mkdir -p "$out"
tar -C "$stage" -cJf "$out/bundle.tar.xz" .
echo "$out/bundle.tar.xz: $(du -h "$out/bundle.tar.xz" | cut -f1) ($(echo $tests | wc -w) tests," \
  "$(echo $benches | wc -w) benchmarks)"

# shellcheck source=default_model.env
source "$root/tools/default_model.env"
model="${TROUPE_MODEL_DIR:-$HOME/.cache/troupe/models}/$TROUPE_DEFAULT_MODEL_FILE"
rm -rf "$out/model1" "$out/model2"
if [ -f "$model" ]; then
  mkdir -p "$out/model1" "$out/model2"
  head -c $((60 << 20)) "$model" >"$out/model1/default_model.part1"
  tail -c +$(((60 << 20) + 1)) "$model" >"$out/model2/default_model.part2"
  echo "$TROUPE_DEFAULT_MODEL_SHA256  $TROUPE_DEFAULT_MODEL_FILE" >"$out/model2/default_model.sha256"
  echo "$out/model1, $out/model2: the default model in two pieces"
else
  echo "no default model at $model: the GPU check will skip its test (tools/setup.sh fetches it)"
fi

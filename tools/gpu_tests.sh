#!/usr/bin/env bash
# Builds the `gpu`-labelled test executables with nvcc and gathers them, with the CUDA runtime
# library they load, into one folder that can be copied to a machine with an NVIDIA GPU and run
# there without this tree's build dependencies:
#
#   tools/gpu_tests.sh [OUT_DIR]        # default: gpu-tests/
#   (on the GPU machine) OUT_DIR/run.sh
#
# The executables link only libcudart (shipped alongside) and the C/C++ runtime, so a machine
# with a newer glibc/libstdc++ and an NVIDIA driver for CUDA 13 runs them.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
out="${1:-$root/gpu-tests}"
build="$root/build-gpu-tests"

cmake -S "$root" -B "$build" -DTROUPE_CUDA=ON -DCMAKE_BUILD_TYPE=Release >/dev/null
targets=$(cd "$build" && ctest -N -L gpu 2>/dev/null | sed -n 's/^ *Test *#[0-9]*: \([a-z_]*\)\..*/\1/p' |
  sort -u)
if [ -z "$targets" ]; then
  # Discovery happens at test time (PRE_TEST), so before a build list the sources instead.
  targets=$(cd "$root/tests/kernels/cuda" && ls *_test.cpp | sed 's/^/kernels_cuda_/; s/\.cpp$//')
fi
cmake --build "$build" -j"$(nproc)" --target $targets

mkdir -p "$out"
for t in $targets; do cp "$build/tests/$t" "$out/"; done
cudart=$(ldd "$out/$(echo "$targets" | head -1)" | awk '/libcudart/ {print $3}')
[ -n "$cudart" ] && cp -L "$cudart" "$out/"
cat >"$out/run.sh" <<'RUN'
#!/usr/bin/env bash
# Runs every gathered GPU test; exits non-zero when one fails.
set -u
here="$(cd "$(dirname "$0")" && pwd)"
export LD_LIBRARY_PATH="$here${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
status=0
for t in "$here"/*_test; do "$t" || status=1; done
exit $status
RUN
chmod +x "$out/run.sh"
echo "gathered in $out: $targets"

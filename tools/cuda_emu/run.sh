#!/usr/bin/env bash
# Builds troupe's CUDA code and its `gpu` tests against cuda_emu (the host emulation in this
# folder; README.md says what it checks and what it cannot) and runs every test binary.
#
#   tools/cuda_emu/run.sh [--fast] [--jobs N] [--schedule forward|reverse|random]
#                         [--cp-async mixed|late|early] [--cpu-build DIR] [--build-only]
#                         [--skip TEST_NAME_SUBSTRING]... [TEST_NAME_SUBSTRING...]
#
#   --fast        no sanitizers, -O2 (default: AddressSanitizer + UBSan, -O1)
#   --cpu-build   take the CPU libraries from DIR, a configured build of the project (its
#                 libraries are built there if missing; the ctest `cuda_emu` uses the build it
#                 belongs to); default build-emu/, configured with TROUPE_CUDA=OFF on first use
#   --schedule    the order a block's threads run between barriers (EMU_SCHEDULE); reverse and
#                 random expose a missing barrier as different results
#   --cp-async    when cp.async copies reach shared memory (EMU_CP_ASYNC): at their wait (late),
#                 at issue (early), or each one either way (mixed, the default)
#   --skip        leave out the test binaries whose names contain this
#   TEST...       run only the test binaries whose names contain one of these
#
# The CPU libraries come from the project's CMake in build-emu/ (TROUPE_CUDA=OFF), built on the
# first run, or from --cpu-build; the emulated build goes to CPU_BUILD/cuda_emu/{asan,fast}/, logs
# to its logs/.
# Exit status: 0 when every test binary passed.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"

mode=asan sanitize=1 jobs=2 build_only=0 filters=() skips=() cpu_build=$root/build-emu
while [ $# -gt 0 ]; do
  case "$1" in
    --fast) mode=fast sanitize=0 ;;
    --jobs) jobs=$2; shift ;;
    --schedule) export EMU_SCHEDULE=$2; shift ;;
    --cp-async) export EMU_CP_ASYNC=$2; shift ;;
    --build-only) build_only=1 ;;
    --cpu-build) cpu_build=$(cd "$2" && pwd); shift ;;
    --skip) skips+=("$2"); shift ;;
    -h|--help) sed -n '2,25p' "$0"; exit 0 ;;
    -*) echo "unknown option $1" >&2; exit 2 ;;
    *) filters+=("$1") ;;
  esac
  shift
done

out=$cpu_build/cuda_emu/$mode
cpu_targets=(troupe_model troupe_backend troupe_formats troupe_kernels_cpu troupe_runtime_core
             troupe_test_support)
if [ ! -f "$cpu_build/CMakeCache.txt" ]; then
  cmake -S "$root" -B "$cpu_build" -DTROUPE_CUDA=OFF -DTROUPE_BUILD_BENCHMARKS=OFF \
        -DCMAKE_BUILD_TYPE=Release >/dev/null
fi
echo "== CPU libraries (cmake --build $cpu_build)"
cmake --build "$cpu_build" -j "$jobs" --target "${cpu_targets[@]}" | tail -n 1

echo "== emulated CUDA build ($mode)"
make -s -f tools/cuda_emu/Makefile ROOT="$root" OUT="$out" CPU_BUILD="$cpu_build" \
     SANITIZE=$sanitize -j "$jobs"

# The emulator's conversions against the real CUDA headers' host code, where the toolkit is.
cuda_include=${CUDA_HOME:-/usr/local/cuda}/include
selfcheck=""
if [ -f "$cuda_include/cuda_fp8.h" ]; then
  selfcheck=$out/bin/cuda_emu_selfcheck
  if [ ! -x "$selfcheck" ] || [ tools/cuda_emu/src/selfcheck.cpp -nt "$selfcheck" ] ||
     [ -n "$(find tools/cuda_emu/include/emu -newer "$selfcheck")" ]; then
    g++ -std=c++20 -O2 -I"$cuda_include" -I"$root" tools/cuda_emu/src/selfcheck.cpp \
        "$cpu_build/kernels/libtroupe_kernels_cpu.a" -o "$selfcheck"
  fi
fi
[ "$build_only" = 1 ] && exit 0

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
mkdir -p "$out/logs"
tests=()
[ -n "$selfcheck" ] && tests+=("$selfcheck")
for t in "$out"/bin/*_test; do tests+=("$t"); done
failed=0
printf '%-48s %-6s %s\n' test result seconds
for t in "${tests[@]}"; do
  name=$(basename "$t")
  skip=0
  for f in "${skips[@]}"; do [[ $name == *"$f"* ]] && skip=1; done
  [ $skip = 1 ] && continue
  if [ ${#filters[@]} -gt 0 ]; then
    keep=0
    for f in "${filters[@]}"; do [[ $name == *"$f"* ]] && keep=1; done
    [ $keep = 1 ] || continue
  fi
  start=$(date +%s%N)
  if "$t" >"$out/logs/$name.log" 2>&1; then result=pass; else result=FAIL; failed=1; fi
  ms=$(( ($(date +%s%N) - start) / 1000000 ))
  printf '%-48s %-6s %d.%01d\n' "$name" "$result" $((ms / 1000)) $((ms % 1000 / 100))
  if [ $result = FAIL ]; then
    grep -E 'Failure|FAILED  \]|cuda_emu:|ERROR|runtime error' "$out/logs/$name.log" | head -n 8 |
      sed 's/^/    /'
  fi
done
echo "logs: $out/logs/"
exit $failed

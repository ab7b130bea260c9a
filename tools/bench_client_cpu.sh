#!/usr/bin/env bash
# The load generator's own cost at 1,000 req/s (issue 4): send lateness p50 / p99 and client CPU
# time per streamed token, against the mock server of tests/loadgen in a forked child process
# (so getrusage counts the client only). See docs/bench.md, "Client cost".
#
#   tools/bench_client_cpu.sh [BUILD_DIR]     (default build-bench-cpu; configured if missing)
#   TROUPE_BENCH_RATE=1000 TROUPE_BENCH_REQUESTS=10000 TROUPE_BENCH_TOKENS=16 tools/bench_client_cpu.sh
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${1:-$root/build-bench-cpu}"
if [[ ! -f "$build/CMakeCache.txt" ]]; then
  cmake -S "$root" -B "$build" -DTROUPE_CUDA=OFF -DCMAKE_BUILD_TYPE=Release >/dev/null
fi
cmake --build "$build" -j2 --target loadgen_client_cpu_benchmark_test >/dev/null
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores"
"$build/tests/loadgen_client_cpu_benchmark_test" --gtest_also_run_disabled_tests \
  --gtest_filter='client_cpu.DISABLED_benchmark_at_1000_rps' | grep '^client_cpu_benchmark:'

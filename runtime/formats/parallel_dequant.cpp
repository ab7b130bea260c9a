#include "runtime/formats/parallel_dequant.hpp"

#include <algorithm>
#include <atomic>
#include <thread>

#include "runtime/formats/dequant.hpp"
#include "runtime/formats/ggml_types.hpp"

namespace troupe::runtime {
namespace {

// 1 Mi weights (4 MiB of f32) per chunk: big enough that scheduling costs nothing, small enough
// that two threads finish together. A multiple of every block size (32, 256).
constexpr uint64_t chunk_elements = uint64_t{1} << 20;

struct chunk {
  size_t job;
  uint64_t begin;  // element range within the tensor
  uint64_t end;
};

std::vector<chunk> split(std::span<const dequant_job> jobs) {
  std::vector<chunk> chunks;
  for (size_t j = 0; j < jobs.size(); ++j) {
    const uint64_t n = jobs[j].tensor->num_elements();
    for (uint64_t begin = 0; begin < n; begin += chunk_elements) {
      chunks.push_back({j, begin, std::min(n, begin + chunk_elements)});
    }
  }
  return chunks;
}

status run_chunk(const gguf_file& file, const dequant_job& job, const chunk& c) {
  const gguf_tensor_info& t = *job.tensor;
  std::span<const uint8_t> data = file.tensor_data(t);
  const std::optional<uint64_t> first = ggml_nbytes(t.type, c.begin);
  const std::optional<uint64_t> size = ggml_nbytes(t.type, c.end - c.begin);
  if (!can_dequantize(t.type) || !first || !size || *first + *size > data.size()) {
    // Let dequantize() word the error for the whole tensor.
    return dequantize(t.type, data, std::span<float>(*job.out), t.name);
  }
  std::span<float> out(job.out->data() + c.begin, c.end - c.begin);
  return dequantize(t.type, data.subspan(*first, *size), out, t.name);
}

}  // namespace

status dequantize_all(const gguf_file& file, std::span<const dequant_job> jobs,
                      unsigned num_threads) {
  for (const dequant_job& job : jobs)
    job.out->resize(job.tensor->num_elements());
  const std::vector<chunk> chunks = split(jobs);
  std::vector<status> results(chunks.size(), ok_status());
  std::atomic<size_t> next{0};
  auto worker = [&] {
    for (size_t i = next++; i < chunks.size(); i = next++) {
      results[i] = run_chunk(file, jobs[chunks[i].job], chunks[i]);
    }
  };
  if (num_threads == 0) num_threads = std::max(1u, std::thread::hardware_concurrency());
  num_threads =
      std::min({num_threads, 8u, static_cast<unsigned>(std::max<size_t>(1, chunks.size()))});
  std::vector<std::thread> threads;
  for (unsigned i = 1; i < num_threads; ++i)
    threads.emplace_back(worker);
  worker();
  for (std::thread& t : threads)
    t.join();
  for (status& s : results) {
    if (!s) return s;
  }
  return ok_status();
}

}  // namespace troupe::runtime

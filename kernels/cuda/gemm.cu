// gemm_engine: cuBLAS for the dense products, cuBLASLt (or a dp4a kernel) for the int8 one
// (contracts: gemm.hpp).
//
// cuBLAS is column-major; every matrix here is row-major, and a row-major [R][C] matrix is a
// column-major [C][R] one with leading dimension C. So y = x W^T is computed as its transpose:
//
//   y^T [N][M] (col-major, ld N)  =  op(W_cm)  *  x_cm
//                                    W_cm: col-major [K][N], ld K, op = T -> [N][K]
//                                    x_cm: col-major [K][M], ld K, op = N
//   i.e. m = N, n = M, k = K, A = W (transa T, lda K), B = x (transb N, ldb K), C = y (ldc N).
//
// The same "TN" call serves cuBLASLt's int8 IMMA kernels, which accept only that layout.
#include "kernels/cuda/gemm.hpp"

#include <cublasLt.h>
#include <cublas_v2.h>

#include <algorithm>
#include <climits>
#include <cstdio>
#include <map>
#include <string>
#include <tuple>

#include "kernels/cuda/device.hpp"
#include "kernels/cuda/elementwise.hpp"
#include "kernels/cuda/gemm_w8a8.hpp"

namespace troupe::kernels::cuda {
namespace {

status check_cublas(cublasStatus_t code, const char* expr, const char* file, int line) {
  if (code == CUBLAS_STATUS_SUCCESS) return ok_status();
  return error{std::string(file) + ":" + std::to_string(line) + ": " + expr + ": " +
               cublasGetStatusName(code) + ": " + cublasGetStatusString(code)};
}

// ok, or an error "<file>:<line>: <expr>: CUBLAS_STATUS_...: <description>".
#define GEMM_CUBLAS_CHECK(expr) check_cublas((expr), #expr, __FILE__, __LINE__)
// Returns the error of a failed status from the enclosing function.
#define GEMM_TRY(expr)                                  \
  do {                                                  \
    if (auto st_ = (expr); !st_.ok()) return st_.err(); \
  } while (0)

// cuBLAS and cuBLASLt share it: both run on the engine's stream, one call after another.
constexpr size_t workspace_bytes = size_t{32} << 20;

// GGUF blocks: up to quant_kernel_max_rows rows of x, quant_gemm (the CPU's bits, on the CUDA
// cores; a row group's weights come from HBM once and from L2 for its other tiles of 16 rows);
// more rows (prompts, large decode batches) take W dequantized to f16 in chunks of about
// dequant_chunk_bytes and cuBLAS on the tensor cores, vLLM's and llama.cpp's numerics for GGUF
// there (x and W rounded to f16, f32 accumulation). A chunk is a third of an H100's or H200's 50 MB
// L2, and every chunk reuses the same scratch: the GEMM reads the f16 rows the decode just wrote
// from L2, and the next decode overwrites them there, so HBM sees mostly the packed blocks, not an
// f16 copy of W. The default crossover is an estimate for an 8B Q4_K on an H100 (not measured yet):
// the kernel's dp4a work grows with the rows (about 3 ms a step at 16 rows, 13 ms at 64), the f16
// path's decode and L2 traffic do not (about 5-7 ms); cuda_quant_gemm_bench times both paths at 8
// to 64 rows to set it (gemm_engine::default_quant_kernel_max_rows).
constexpr int64_t default_dequant_chunk_bytes = int64_t{16} << 20;

// Up to this many rows of x, the int8 product is the dp4a kernel: a decode step is bound by
// reading W, which the kernel does once, and tensor cores have nothing to add there.
constexpr int64_t dp4a_max_rows = 8;

size_t round_up(size_t n, size_t to) {
  return (n + to - 1) / to * to;
}

// The largest power of two (up to 256) dividing p's address: what cuBLASLt may assume.
uint32_t alignment_of(const void* p) {
  uint32_t a = 256;
  while (a > 1 && reinterpret_cast<uintptr_t>(p) % a != 0)
    a /= 2;
  return a;
}

// Device memory that only grows, allocated and freed in the stream's order: once it is large
// enough, a call allocates nothing (so a CUDA graph can capture it).
class scratch_buffer {
 public:
  status reserve(size_t bytes, cudaStream_t stream) {
    if (bytes <= bytes_) return ok_status();
    const size_t grown = round_up(std::max(bytes, bytes_ + bytes_ / 2), size_t{1} << 20);
    if (ptr_ != nullptr) GEMM_TRY(CUDA_CHECK(cudaFreeAsync(ptr_, stream)));
    ptr_ = nullptr;
    bytes_ = 0;
    GEMM_TRY(CUDA_CHECK(cudaMallocAsync(&ptr_, grown, stream)));
    bytes_ = grown;
    ++moves_;
    return ok_status();
  }
  // How many times the memory moved.
  uint64_t moves() const { return moves_; }
  void release(cudaStream_t stream) {
    if (ptr_ != nullptr) cudaFreeAsync(ptr_, stream);
    ptr_ = nullptr;
    bytes_ = 0;
  }
  template <class T>
  T* as(size_t byte_offset = 0) const {
    return static_cast<T*>(static_cast<void*>(static_cast<char*>(ptr_) + byte_offset));
  }

 private:
  void* ptr_ = nullptr;
  size_t bytes_ = 0;
  uint64_t moves_ = 0;
};

// One cuBLASLt int8 product: acc (col-major [N][M], ld N) = W^T-op * q, with the algorithm the
// heuristic chose for this shape and these pointer alignments.
struct lt_int8_plan {
  cublasLtMatmulDesc_t op = nullptr;
  cublasLtMatrixLayout_t a = nullptr, b = nullptr, c = nullptr;
  cublasLtMatmulAlgo_t algo{};
  bool supported = false;  // false: the dp4a kernel runs this shape

  void destroy() {
    if (c != nullptr) cublasLtMatrixLayoutDestroy(c);
    if (b != nullptr) cublasLtMatrixLayoutDestroy(b);
    if (a != nullptr) cublasLtMatrixLayoutDestroy(a);
    if (op != nullptr) cublasLtMatmulDescDestroy(op);
    *this = lt_int8_plan{};
  }
};

// (M, N, K, alignment of w, of q, of acc)
using lt_plan_key = std::tuple<int64_t, int64_t, int64_t, uint32_t, uint32_t, uint32_t>;

template <class T>
status set_desc(cublasLtMatmulDesc_t op, cublasLtMatmulDescAttributes_t attr, T value) {
  return GEMM_CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(op, attr, &value, sizeof value));
}

template <class T>
status set_pref(cublasLtMatmulPreference_t pref, cublasLtMatmulPreferenceAttributes_t attr,
                T value) {
  return GEMM_CUBLAS_CHECK(cublasLtMatmulPreferenceSetAttribute(pref, attr, &value, sizeof value));
}

// Destroys a cuBLASLt preference on scope exit.
struct preference_guard {
  cublasLtMatmulPreference_t pref = nullptr;
  ~preference_guard() {
    if (pref != nullptr) cublasLtMatmulPreferenceDestroy(pref);
  }
};

// Asks the heuristic for the best algorithm; plan.supported = false when it has none.
status choose_algo(cublasLtHandle_t lt, lt_int8_plan& plan, const lt_plan_key& key) {
  preference_guard g;
  GEMM_TRY(GEMM_CUBLAS_CHECK(cublasLtMatmulPreferenceCreate(&g.pref)));
  GEMM_TRY(set_pref(g.pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, uint64_t{workspace_bytes}));
  GEMM_TRY(set_pref(g.pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, std::get<3>(key)));
  GEMM_TRY(set_pref(g.pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES, std::get<4>(key)));
  GEMM_TRY(set_pref(g.pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, std::get<5>(key)));
  GEMM_TRY(set_pref(g.pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES, std::get<5>(key)));
  cublasLtMatmulHeuristicResult_t result{};
  int count = 0;
  const cublasStatus_t code = cublasLtMatmulAlgoGetHeuristic(lt, plan.op, plan.a, plan.b, plan.c,
                                                             plan.c, g.pref, 1, &result, &count);
  if (code == CUBLAS_STATUS_SUCCESS && count > 0 && result.state == CUBLAS_STATUS_SUCCESS) {
    plan.algo = result.algo;
    plan.supported = true;
    return ok_status();
  }
  if (code == CUBLAS_STATUS_SUCCESS || code == CUBLAS_STATUS_NOT_SUPPORTED) return ok_status();
  return GEMM_CUBLAS_CHECK(code);
}

status make_plan(cublasLtHandle_t lt, const lt_plan_key& key, lt_int8_plan& plan) {
  const int64_t M = std::get<0>(key), N = std::get<1>(key), K = std::get<2>(key);
  GEMM_TRY(GEMM_CUBLAS_CHECK(cublasLtMatmulDescCreate(&plan.op, CUBLAS_COMPUTE_32I, CUDA_R_32I)));
  GEMM_TRY(set_desc(plan.op, CUBLASLT_MATMUL_DESC_TRANSA, CUBLAS_OP_T));
  GEMM_TRY(set_desc(plan.op, CUBLASLT_MATMUL_DESC_TRANSB, CUBLAS_OP_N));
  GEMM_TRY(GEMM_CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&plan.a, CUDA_R_8I, K, N, K)));  // W [N][K]
  GEMM_TRY(GEMM_CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&plan.b, CUDA_R_8I, K, M, K)));  // q [M][K]
  GEMM_TRY(
      GEMM_CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&plan.c, CUDA_R_32I, N, M, N)));  // acc [M][N]
  return choose_algo(lt, plan, key);
}

}  // namespace

struct gemm_engine::impl {
  cudaStream_t stream = nullptr;
  cublasHandle_t blas = nullptr;
  cublasLtHandle_t lt = nullptr;
  void* workspace = nullptr;
  scratch_buffer x16;     // dense: x rounded to W's type [M][K]
  scratch_buffer q;       // w8a8: quantized x [M][K] int8
  scratch_buffer tokens;  // w8a8: a_scale [M] f32, then azp [M] int32 at tokens_azp_offset(M)
  scratch_buffer acc;     // w8a8: int32 sums [M][N]
  scratch_buffer qx;      // GGUF blocks: x quantized (quant_activations)
  scratch_buffer w16;     // GGUF blocks, many rows: a chunk of W's rows as f16
  int64_t dequant_chunk_bytes = default_dequant_chunk_bytes;
  int64_t quant_kernel_max_rows = gemm_engine::default_quant_kernel_max_rows;
  std::map<lt_plan_key, lt_int8_plan> lt_plans;  // one per shape seen (bounded by the batch sizes)

  static size_t tokens_azp_offset(int64_t M) { return round_up(size_t(M) * sizeof(float), 256); }

  ~impl() {
    if (workspace != nullptr) {  // create() got as far as the device: drain the stream first
      cudaStreamSynchronize(stream);
      for (scratch_buffer* s : {&x16, &q, &tokens, &acc, &qx, &w16})
        s->release(stream);
      cudaStreamSynchronize(stream);
    }
    for (auto& entry : lt_plans)
      entry.second.destroy();
    if (lt != nullptr) cublasLtDestroy(lt);
    if (blas != nullptr) cublasDestroy(blas);
    if (workspace != nullptr) cudaFree(workspace);
  }

  // acc = q W^T in exact int32 via cuBLASLt; false when cuBLASLt has no algorithm for the shape.
  result<bool> int8_gemm_lt(const int8_t* q_ptr, int64_t M, int64_t K, const int8_t* w, int64_t N,
                            int32_t* acc_ptr);
  status int8_gemm(const int8_t* q_ptr, int64_t M, int64_t K, const int8_t* w, int64_t N,
                   int32_t* acc_ptr);
  // gemm_engine::quant for more than quant_kernel_max_rows rows.
  status quant_f16(const float* x, int64_t M, int64_t K, block_format f,
                   const quant_target* targets, int64_t num_targets);
};

status gemm_engine::impl::quant_f16(const float* x, int64_t M, int64_t K, block_format f,
                                    const quant_target* targets, int64_t num_targets) {
  if (M > INT_MAX || K > INT_MAX) return error{"gemm_engine::quant: too many rows"};
  int64_t max_n = 0;
  for (const quant_target* t = targets; t != targets + num_targets; ++t)
    max_n = std::max(max_n, t->N);
  if (max_n == 0) return ok_status();
  const int64_t chunk_rows =
      std::min(max_n, std::max<int64_t>(64, dequant_chunk_bytes / (2 * K) / 64 * 64));
  GEMM_TRY(x16.reserve(size_t(M * K) * 2, stream));
  GEMM_TRY(w16.reserve(size_t(chunk_rows * K) * 2, stream));
  GEMM_TRY(convert(x, M * K, dense_type::f16, x16.as<void>(), stream));
  const float alpha = 1.0f, beta = 0.0f;
  for (const quant_target* t = targets; t != targets + num_targets; ++t) {
    // w16 is reused chunk after chunk: the stream orders each GEMM before the next decode.
    for (int64_t n0 = 0; n0 < t->N; n0 += chunk_rows) {
      const int64_t rows = std::min(chunk_rows, t->N - n0);
      GEMM_TRY(quant_dequantize_f16(f, t->w, t->N, K, n0, rows, w16.as<uint16_t>(), stream));
      GEMM_TRY(GEMM_CUBLAS_CHECK(cublasGemmEx(
          blas, CUBLAS_OP_T, CUBLAS_OP_N, static_cast<int>(rows), static_cast<int>(M),
          static_cast<int>(K), &alpha, w16.as<void>(), CUDA_R_16F, static_cast<int>(K),
          x16.as<void>(), CUDA_R_16F, static_cast<int>(K), &beta, t->y + n0, CUDA_R_32F,
          static_cast<int>(t->N), CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT)));
    }
  }
  return ok_status();
}

result<bool> gemm_engine::impl::int8_gemm_lt(const int8_t* q_ptr, int64_t M, int64_t K,
                                             const int8_t* w, int64_t N, int32_t* acc_ptr) {
  const lt_plan_key key{M, N, K, alignment_of(w), alignment_of(q_ptr), alignment_of(acc_ptr)};
  auto it = lt_plans.find(key);
  if (it == lt_plans.end()) {
    lt_int8_plan plan;
    if (auto st = make_plan(lt, key, plan); !st) {
      plan.destroy();
      return st.err();
    }
    if (!plan.supported)
      std::fprintf(stderr,
                   "troupe gemm_engine: cuBLASLt has no int8 algorithm for M=%lld N=%lld "
                   "K=%lld; using the dp4a kernel\n",
                   static_cast<long long>(M), static_cast<long long>(N), static_cast<long long>(K));
    it = lt_plans.emplace(key, plan).first;
  }
  lt_int8_plan& plan = it->second;
  if (!plan.supported) return false;
  const int32_t alpha = 1, beta = 0;
  const cublasStatus_t code =
      cublasLtMatmul(lt, plan.op, &alpha, w, plan.a, q_ptr, plan.b, &beta, acc_ptr, plan.c, acc_ptr,
                     plan.c, &plan.algo, workspace, workspace_bytes, stream);
  if (code == CUBLAS_STATUS_NOT_SUPPORTED) {
    std::fprintf(stderr,
                 "troupe gemm_engine: cuBLASLt refused its int8 algorithm for M=%lld "
                 "N=%lld K=%lld; using the dp4a kernel\n",
                 static_cast<long long>(M), static_cast<long long>(N), static_cast<long long>(K));
    plan.supported = false;
    return false;
  }
  GEMM_TRY(GEMM_CUBLAS_CHECK(code));
  return true;
}

status gemm_engine::impl::int8_gemm(const int8_t* q_ptr, int64_t M, int64_t K, const int8_t* w,
                                    int64_t N, int32_t* acc_ptr) {
  // cuBLASLt's IMMA "TN" kernels need m (= N) and k multiples of 4 and 4-byte aligned matrices.
  if (M > dp4a_max_rows && K > 0 && N % 4 == 0 && alignment_of(w) >= 4) {
    auto ran = int8_gemm_lt(q_ptr, M, K, w, N, acc_ptr);
    if (!ran) return ran.err();
    if (*ran) return ok_status();
  }
  return int8_gemm_dp4a(q_ptr, M, K, w, N, acc_ptr, N, stream);
}

result<std::unique_ptr<gemm_engine>> gemm_engine::create(cudaStream_t stream) {
  auto p = std::make_unique<impl>();
  p->stream = stream;
  // Handles are stored only once created: ~impl destroys what it holds, and nothing else.
  cublasHandle_t blas = nullptr;
  GEMM_TRY(GEMM_CUBLAS_CHECK(cublasCreate(&blas)));
  p->blas = blas;
  // cublasSetStream resets the workspace to cuBLAS's own pool, so the workspace comes after it.
  GEMM_TRY(GEMM_CUBLAS_CHECK(cublasSetStream(p->blas, stream)));
  void* workspace = nullptr;
  GEMM_TRY(CUDA_CHECK(cudaMalloc(&workspace, workspace_bytes)));
  p->workspace = workspace;
  GEMM_TRY(GEMM_CUBLAS_CHECK(cublasSetWorkspace(p->blas, p->workspace, workspace_bytes)));
  // Default math with CUBLAS_COMPUTE_32F: full f32 products, never TF32.
  GEMM_TRY(GEMM_CUBLAS_CHECK(cublasSetMathMode(p->blas, CUBLAS_DEFAULT_MATH)));
  cublasLtHandle_t lt = nullptr;
  GEMM_TRY(GEMM_CUBLAS_CHECK(cublasLtCreate(&lt)));
  p->lt = lt;
  return std::unique_ptr<gemm_engine>(new gemm_engine(std::move(p)));
}

gemm_engine::gemm_engine(std::unique_ptr<impl> p) : impl_(std::move(p)) {}
gemm_engine::~gemm_engine() = default;

cudaStream_t gemm_engine::stream() const {
  return impl_->stream;
}

uint64_t gemm_engine::generation() const {
  uint64_t moves = 0;
  for (const scratch_buffer* s :
       {&impl_->x16, &impl_->q, &impl_->tokens, &impl_->acc, &impl_->qx, &impl_->w16})
    moves += s->moves();
  return moves;
}

status gemm_engine::dense(const float* x, int64_t M, int64_t K, const void* w, dense_type type,
                          int64_t N, float* y) {
  const dense_target target{w, N, y};
  return dense(x, M, K, type, &target, 1);
}

status gemm_engine::dense(const float* x, int64_t M, int64_t K, dense_type type,
                          const dense_target* targets, int64_t num_targets) {
  const dense_target* const end = targets + num_targets;
  for (const dense_target* t = targets; t != end; ++t) {
    if (M < 0 || t->N < 0 || K < 0 || M > INT_MAX || t->N > INT_MAX || K > INT_MAX)
      return error{"gemm_engine::dense: bad shape M=" + std::to_string(M) +
                   " N=" + std::to_string(t->N) + " K=" + std::to_string(K)};
  }
  if (M == 0) return ok_status();
  cudaStream_t stream = impl_->stream;
  if (K == 0) {
    for (const dense_target* t = targets; t != end; ++t)
      GEMM_TRY(CUDA_CHECK(cudaMemsetAsync(t->y, 0, size_t(M * t->N) * sizeof(float), stream)));
    return ok_status();
  }
  const void* b = x;
  cudaDataType_t ab_type = CUDA_R_32F;
  if (type != dense_type::f32) {
    GEMM_TRY(impl_->x16.reserve(size_t(M * K) * 2, stream));
    GEMM_TRY(convert(x, M * K, type, impl_->x16.as<void>(), stream));
    b = impl_->x16.as<void>();
    ab_type = type == dense_type::bf16 ? CUDA_R_16BF : CUDA_R_16F;
  }
  const float alpha = 1.0f, beta = 0.0f;
  const int n = static_cast<int>(M), k = static_cast<int>(K);
  for (const dense_target* t = targets; t != end; ++t) {
    if (t->N == 0) continue;
    const int m = static_cast<int>(t->N);
    GEMM_TRY(GEMM_CUBLAS_CHECK(cublasGemmEx(
        impl_->blas, CUBLAS_OP_T, CUBLAS_OP_N, m, n, k, &alpha, t->w, ab_type, k, b, ab_type, k,
        &beta, t->y, CUDA_R_32F, m, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT)));
  }
  return ok_status();
}

status gemm_engine::w8a8(const float* x, int64_t M, int64_t K, const int8_t* w,
                         const float* w_scale, const int32_t* row_sums, int64_t N, bool asymmetric,
                         float* y) {
  const w8a8_target target{w, w_scale, row_sums, N, y};
  return w8a8(x, M, K, asymmetric, &target, 1);
}

status gemm_engine::w8a8(const float* x, int64_t M, int64_t K, bool asymmetric,
                         const w8a8_target* targets, int64_t num_targets) {
  const w8a8_target* const end = targets + num_targets;
  int64_t max_n = 0;
  for (const w8a8_target* t = targets; t != end; ++t) {
    if (M < 0 || t->N < 0 || K < 0 || K > 65536 || K % 4 != 0)
      return error{"gemm_engine::w8a8: bad shape M=" + std::to_string(M) +
                   " N=" + std::to_string(t->N) + " K=" + std::to_string(K) +
                   " (requires K <= 65536, K % 4 == 0)"};
    max_n = std::max(max_n, t->N);
  }
  if (M == 0 || max_n == 0) return ok_status();
  impl& e = *impl_;
  GEMM_TRY(e.q.reserve(size_t(M * K), e.stream));
  GEMM_TRY(e.tokens.reserve(impl::tokens_azp_offset(M) + size_t(M) * sizeof(int32_t), e.stream));
  GEMM_TRY(e.acc.reserve(size_t(M * max_n) * sizeof(int32_t), e.stream));
  auto* q = e.q.as<int8_t>();
  auto* a_scale = e.tokens.as<float>();
  auto* azp = e.tokens.as<int32_t>(impl::tokens_azp_offset(M));
  auto* acc = e.acc.as<int32_t>();
  GEMM_TRY(w8a8_quantize(x, M, K, asymmetric, q, a_scale, azp, e.stream));
  for (const w8a8_target* t = targets; t != end; ++t) {
    if (t->N == 0) continue;
    // acc is reused target after target: the stream orders each epilogue before the next GEMM.
    GEMM_TRY(e.int8_gemm(q, M, K, t->w, t->N, acc));
    GEMM_TRY(
        w8a8_epilogue(acc, t->N, M, t->N, a_scale, azp, t->row_sums, t->w_scale, t->y, e.stream));
  }
  return ok_status();
}

status gemm_engine::quant(const float* x, int64_t M, int64_t K, block_format f,
                          const quant_target* targets, int64_t num_targets) {
  if (M < 0 || K <= 0) return error{"gemm_engine::quant: bad shape"};
  if (M == 0) return ok_status();
  impl& e = *impl_;
  if (M > e.quant_kernel_max_rows) return e.quant_f16(x, M, K, f, targets, num_targets);
  GEMM_TRY(e.qx.reserve(size_t(quant_activation_bytes(f, M, K)), e.stream));
  const quant_activations xq = quant_activations_at(e.qx.as<void>(), f, M, K);
  GEMM_TRY(quant_quantize(f, x, M, K, xq, e.stream));
  for (const quant_target* t = targets; t != targets + num_targets; ++t)
    GEMM_TRY(quant_gemm(f, t->w, t->N, K, xq, M, t->y, t->N, e.stream));
  return ok_status();
}

void gemm_engine::set_dequant_chunk_bytes(int64_t bytes) {
  impl_->dequant_chunk_bytes = bytes;
}

void gemm_engine::set_quant_kernel_max_rows(int64_t rows) {
  impl_->quant_kernel_max_rows = rows;
}

status gemm_engine::w8a8_row_sums(const int8_t* w, int64_t N, int64_t K, int32_t* row_sums) {
  if (N < 0 || K < 0) return error{"gemm_engine::w8a8_row_sums: bad shape"};
  return cuda::w8a8_row_sums(w, N, K, row_sums, impl_->stream);
}

}  // namespace troupe::kernels::cuda

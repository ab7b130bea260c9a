// Fake cuBLAS and cuBLASLt (contracts: include/cublas_v2.h, include/cublasLt.h). Column-major
// throughout, as the libraries: op(A) is m x k, op(B) k x n, C and D m x n; element (i, j) of a
// matrix with leading dimension ld sits at i + j * ld. Every matrix must be device memory.
#include <cublasLt.h>
#include <cublas_v2.h>

#include <bit>
#include <cmath>
#include <cstring>
#include <mutex>
#include <set>

#include "emu/numerics.hpp"
#include "internal.hpp"

struct cublasContext {
  cudaStream_t stream = nullptr;
  void* workspace = nullptr;
  size_t workspace_bytes = 0;
  cublasMath_t math = CUBLAS_DEFAULT_MATH;
};
struct cublasLtContext {
  int unused = 0;
};
struct cublasLtMatmulDescOpaque_t {
  cublasComputeType_t compute;
  cudaDataType_t scale;
  cublasOperation_t transa = CUBLAS_OP_N, transb = CUBLAS_OP_N;
};
struct cublasLtMatrixLayoutOpaque_t {
  cudaDataType_t type;
  uint64_t rows, cols;
  int64_t ld;
};
struct cublasLtMatmulPreferenceOpaque_t {
  uint64_t max_workspace = 0;
  uint32_t align[4] = {256, 256, 256, 256};  // A, B, C, D
};

namespace emu {
namespace {

struct handle_registry {
  std::mutex mutex;
  std::set<const void*> live;
};
handle_registry& handles() {
  static handle_registry* r = new handle_registry;  // never freed: reachable at exit
  return *r;
}

template <class T>
void check_handle(T* h, const char* what) {
  std::lock_guard lock(handles().mutex);
  if (handles().live.count(h) == 0)
    fail("%s: %p is not a live handle or descriptor", what, static_cast<const void*>(h));
}

template <class T>
T* add_handle(T* h) {
  std::lock_guard lock(handles().mutex);
  handles().live.insert(h);
  return h;
}

template <class T>
cublasStatus_t drop_handle(T* h, const char* what) {
  check_handle(h, what);
  std::lock_guard lock(handles().mutex);
  handles().live.erase(h);
  delete h;
  return CUBLAS_STATUS_SUCCESS;
}

size_t element_bytes(cudaDataType_t t) {
  switch (t) {
    case CUDA_R_32F:
    case CUDA_R_32I:
      return 4;
    case CUDA_R_16F:
    case CUDA_R_16BF:
      return 2;
    case CUDA_R_8I:
      return 1;
    case CUDA_R_64F:
      return 8;
  }
  return 0;
}

// Element (i, j) of a matrix as f32, exact.
float widen(const void* p, cudaDataType_t t, int64_t at) {
  switch (t) {
    case CUDA_R_32F:
      return static_cast<const float*>(p)[at];
    case CUDA_R_16BF:
      return bf16_to_f32(static_cast<const uint16_t*>(p)[at]);
    case CUDA_R_16F:
      return f16_to_f32(static_cast<const uint16_t*>(p)[at]);
    default:
      fail("cublasGemmEx: input type %d is not emulated", static_cast<int>(t));
  }
}

// The bytes a stored rows x cols matrix with leading dimension ld spans.
size_t span_bytes(int64_t rows, int64_t cols, int64_t ld, size_t element) {
  if (rows == 0 || cols == 0) return 0;
  return static_cast<size_t>((cols - 1) * ld + rows) * element;
}

bool is_host_pointer(const void* p) {
  return kind_of(p) != memory_kind::device;
}

uint32_t alignment_of(const void* p) {
  uint32_t a = 256;
  while (a > 1 && reinterpret_cast<uintptr_t>(p) % a != 0)
    a /= 2;
  return a;
}

// The int8 problem a descriptor and its layouts describe.
struct int8_problem {
  int64_t m, n, k;
  bool imma_like;  // what the emulated heuristic accepts
};

cublasStatus_t describe_int8(const cublasLtMatmulDescOpaque_t& d,
                             const cublasLtMatrixLayoutOpaque_t& a,
                             const cublasLtMatrixLayoutOpaque_t& b,
                             const cublasLtMatrixLayoutOpaque_t& c,
                             const cublasLtMatrixLayoutOpaque_t& dl, int8_problem& p) {
  if (d.compute != CUBLAS_COMPUTE_32I || d.scale != CUDA_R_32I || a.type != CUDA_R_8I ||
      b.type != CUDA_R_8I || c.type != CUDA_R_32I || dl.type != CUDA_R_32I)
    fail("cublasLt: only int8 x int8 -> int32 (CUBLAS_COMPUTE_32I, scale CUDA_R_32I) is emulated");
  if (c.rows != dl.rows || c.cols != dl.cols || c.ld != dl.ld)
    fail("cublasLt: C and D layouts differ, which the emulator does not model");
  const bool ta = d.transa != CUBLAS_OP_N, tb = d.transb != CUBLAS_OP_N;
  p.m = static_cast<int64_t>(ta ? a.cols : a.rows);
  p.k = static_cast<int64_t>(ta ? a.rows : a.cols);
  const auto kb = static_cast<int64_t>(tb ? b.cols : b.rows);
  p.n = static_cast<int64_t>(tb ? b.rows : b.cols);
  if (kb != p.k || static_cast<int64_t>(dl.rows) != p.m || static_cast<int64_t>(dl.cols) != p.n)
    return CUBLAS_STATUS_INVALID_VALUE;
  if (a.ld < static_cast<int64_t>(std::max<uint64_t>(a.rows, 1)) ||
      b.ld < static_cast<int64_t>(std::max<uint64_t>(b.rows, 1)) ||
      dl.ld < static_cast<int64_t>(std::max<uint64_t>(dl.rows, 1)))
    return CUBLAS_STATUS_INVALID_VALUE;
  p.imma_like = ta && !tb && p.m % 4 == 0 && p.k % 4 == 0 && a.ld % 4 == 0 && b.ld % 4 == 0;
  return CUBLAS_STATUS_SUCCESS;
}

}  // namespace
}  // namespace emu

using namespace emu;

const char* cublasGetStatusName(cublasStatus_t status) {
  switch (status) {
    case CUBLAS_STATUS_SUCCESS:
      return "CUBLAS_STATUS_SUCCESS";
    case CUBLAS_STATUS_NOT_INITIALIZED:
      return "CUBLAS_STATUS_NOT_INITIALIZED";
    case CUBLAS_STATUS_ALLOC_FAILED:
      return "CUBLAS_STATUS_ALLOC_FAILED";
    case CUBLAS_STATUS_INVALID_VALUE:
      return "CUBLAS_STATUS_INVALID_VALUE";
    case CUBLAS_STATUS_NOT_SUPPORTED:
      return "CUBLAS_STATUS_NOT_SUPPORTED";
    default:
      return "CUBLAS_STATUS_(emulated)";
  }
}

const char* cublasGetStatusString(cublasStatus_t status) {
  return status == CUBLAS_STATUS_SUCCESS ? "success" : "emulated cuBLAS error";
}

// -- cuBLAS --

cublasStatus_t cublasCreate(cublasHandle_t* handle) {
  *handle = add_handle(new cublasContext);
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasDestroy(cublasHandle_t handle) {
  return drop_handle(handle, "cublasDestroy");
}

cublasStatus_t cublasSetStream(cublasHandle_t handle, cudaStream_t stream) {
  check_handle(handle, "cublasSetStream");
  check_stream(stream, "cublasSetStream");
  handle->stream = stream;
  handle->workspace = nullptr;  // as cuBLAS: back to its own pool
  handle->workspace_bytes = 0;
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasSetWorkspace(cublasHandle_t handle, void* workspace, size_t bytes) {
  check_handle(handle, "cublasSetWorkspace");
  if (workspace == nullptr && bytes > 0) return CUBLAS_STATUS_INVALID_VALUE;
  if (reinterpret_cast<uintptr_t>(workspace) % 256 != 0) return CUBLAS_STATUS_INVALID_VALUE;
  if (bytes > 0) require_device_range(workspace, bytes, "cublasSetWorkspace");
  handle->workspace = workspace;
  handle->workspace_bytes = bytes;
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasSetMathMode(cublasHandle_t handle, cublasMath_t mode) {
  check_handle(handle, "cublasSetMathMode");
  handle->math = mode;
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasGemmEx(cublasHandle_t handle, cublasOperation_t transa,
                            cublasOperation_t transb, int m, int n, int k, const void* alpha,
                            const void* A, cudaDataType_t Atype, int lda, const void* B,
                            cudaDataType_t Btype, int ldb, const void* beta, void* C,
                            cudaDataType_t Ctype, int ldc, cublasComputeType_t computeType,
                            cublasGemmAlgo_t) {
  check_handle(handle, "cublasGemmEx");
  check_stream(handle->stream, "cublasGemmEx");
  if (computeType != CUBLAS_COMPUTE_32F && computeType != CUBLAS_COMPUTE_32F_PEDANTIC)
    fail("cublasGemmEx: compute type %d is not emulated (only CUBLAS_COMPUTE_32F)",
         static_cast<int>(computeType));
  if (handle->math == CUBLAS_TF32_TENSOR_OP_MATH) fail("cublasGemmEx: TF32 math is not emulated");
  if (Atype != Btype || Ctype != CUDA_R_32F ||
      (Atype != CUDA_R_32F && Atype != CUDA_R_16F && Atype != CUDA_R_16BF))
    fail("cublasGemmEx: types A %d, B %d, C %d are not emulated", static_cast<int>(Atype),
         static_cast<int>(Btype), static_cast<int>(Ctype));
  if (!is_host_pointer(alpha) || !is_host_pointer(beta))
    fail("cublasGemmEx: alpha and beta in device memory (pointer mode device) is not emulated");
  const bool ta = transa != CUBLAS_OP_N, tb = transb != CUBLAS_OP_N;
  if (m < 0 || n < 0 || k < 0) return CUBLAS_STATUS_INVALID_VALUE;
  if (lda < std::max(1, ta ? k : m) || ldb < std::max(1, tb ? n : k) || ldc < std::max(1, m))
    return CUBLAS_STATUS_INVALID_VALUE;
  if (m == 0 || n == 0) return CUBLAS_STATUS_SUCCESS;
  const size_t ea = element_bytes(Atype);
  require_device_range(A, span_bytes(ta ? k : m, ta ? m : k, lda, ea), "cublasGemmEx A");
  require_device_range(B, span_bytes(tb ? n : k, tb ? k : n, ldb, ea), "cublasGemmEx B");
  require_device_range(C, span_bytes(m, n, ldc, 4), "cublasGemmEx C");
  // alpha and beta are read now (host pointer mode), the matrices when the stream runs.
  const float a = *static_cast<const float*>(alpha), b = *static_cast<const float*>(beta);
  auto* c = static_cast<float*>(C);
  on_stream(handle->stream, [=] {
    for (int64_t j = 0; j < n; ++j) {
      for (int64_t i = 0; i < m; ++i) {
        float acc = 0.0f;
        for (int64_t l = 0; l < k; ++l) {
          const float x = widen(A, Atype, ta ? l + i * lda : i + l * lda);
          const float y = widen(B, Btype, tb ? j + l * ldb : l + j * ldb);
          acc = std::fma(x, y, acc);  // as the GPU's FFMA / tensor-core f32 accumulation
        }
        float& out = c[i + j * ldc];
        out = b == 0.0f ? a * acc : a * acc + b * out;
      }
    }
  });
  return CUBLAS_STATUS_SUCCESS;
}

// -- cuBLASLt --

cublasStatus_t cublasLtCreate(cublasLtHandle_t* handle) {
  *handle = add_handle(new cublasLtContext);
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasLtDestroy(cublasLtHandle_t handle) {
  return drop_handle(handle, "cublasLtDestroy");
}

cublasStatus_t cublasLtMatmulDescCreate(cublasLtMatmulDesc_t* desc, cublasComputeType_t computeType,
                                        cudaDataType_t scaleType) {
  *desc = add_handle(new cublasLtMatmulDescOpaque_t{computeType, scaleType});
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasLtMatmulDescDestroy(cublasLtMatmulDesc_t desc) {
  return drop_handle(desc, "cublasLtMatmulDescDestroy");
}

cublasStatus_t cublasLtMatmulDescSetAttribute(cublasLtMatmulDesc_t desc,
                                              cublasLtMatmulDescAttributes_t attr, const void* buf,
                                              size_t sizeInBytes) {
  check_handle(desc, "cublasLtMatmulDescSetAttribute");
  if (sizeInBytes != 4) return CUBLAS_STATUS_INVALID_VALUE;  // every attribute emulated is 32-bit
  int32_t v;
  std::memcpy(&v, buf, 4);
  switch (attr) {
    case CUBLASLT_MATMUL_DESC_TRANSA:
    case CUBLASLT_MATMUL_DESC_TRANSB:
      if (v < CUBLAS_OP_N || v > CUBLAS_OP_C) return CUBLAS_STATUS_INVALID_VALUE;
      (attr == CUBLASLT_MATMUL_DESC_TRANSA ? desc->transa : desc->transb) =
          static_cast<cublasOperation_t>(v);
      return CUBLAS_STATUS_SUCCESS;
    case CUBLASLT_MATMUL_DESC_POINTER_MODE:
      if (v != 0) fail("cublasLt: only the host pointer mode is emulated");
      return CUBLAS_STATUS_SUCCESS;
    default:
      fail("cublasLtMatmulDescSetAttribute: attribute %d is not emulated", static_cast<int>(attr));
  }
}

cublasStatus_t cublasLtMatrixLayoutCreate(cublasLtMatrixLayout_t* layout, cudaDataType_t type,
                                          uint64_t rows, uint64_t cols, int64_t ld) {
  *layout = add_handle(new cublasLtMatrixLayoutOpaque_t{type, rows, cols, ld});
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasLtMatrixLayoutDestroy(cublasLtMatrixLayout_t layout) {
  return drop_handle(layout, "cublasLtMatrixLayoutDestroy");
}

cublasStatus_t cublasLtMatmulPreferenceCreate(cublasLtMatmulPreference_t* pref) {
  *pref = add_handle(new cublasLtMatmulPreferenceOpaque_t);
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasLtMatmulPreferenceDestroy(cublasLtMatmulPreference_t pref) {
  return drop_handle(pref, "cublasLtMatmulPreferenceDestroy");
}

cublasStatus_t cublasLtMatmulPreferenceSetAttribute(cublasLtMatmulPreference_t pref,
                                                    cublasLtMatmulPreferenceAttributes_t attr,
                                                    const void* buf, size_t sizeInBytes) {
  check_handle(pref, "cublasLtMatmulPreferenceSetAttribute");
  switch (attr) {
    case CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES:
      if (sizeInBytes != 8) return CUBLAS_STATUS_INVALID_VALUE;
      std::memcpy(&pref->max_workspace, buf, 8);
      return CUBLAS_STATUS_SUCCESS;
    case CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES:
    case CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES:
    case CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES:
    case CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES:
      if (sizeInBytes != 4) return CUBLAS_STATUS_INVALID_VALUE;
      std::memcpy(&pref->align[attr - CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES], buf, 4);
      return CUBLAS_STATUS_SUCCESS;
    case CUBLASLT_MATMUL_PREF_SEARCH_MODE:
      return sizeInBytes == 4 ? CUBLAS_STATUS_SUCCESS : CUBLAS_STATUS_INVALID_VALUE;
  }
  fail("cublasLtMatmulPreferenceSetAttribute: attribute %d is not emulated",
       static_cast<int>(attr));
}

// One algorithm (its data: m, n, k and the alignments promised for A, B, C, D) when the problem
// looks like IMMA's and the preference promises 4-byte aligned A and B; none otherwise.
cublasStatus_t cublasLtMatmulAlgoGetHeuristic(
    cublasLtHandle_t handle, cublasLtMatmulDesc_t desc, cublasLtMatrixLayout_t Adesc,
    cublasLtMatrixLayout_t Bdesc, cublasLtMatrixLayout_t Cdesc, cublasLtMatrixLayout_t Ddesc,
    cublasLtMatmulPreference_t pref, int requestedAlgoCount,
    cublasLtMatmulHeuristicResult_t heuristicResultsArray[], int* returnAlgoCount) {
  check_handle(handle, "cublasLtMatmulAlgoGetHeuristic");
  for (const void* h : {(const void*)desc, (const void*)Adesc, (const void*)Bdesc,
                        (const void*)Cdesc, (const void*)Ddesc, (const void*)pref})
    check_handle(h, "cublasLtMatmulAlgoGetHeuristic");
  if (requestedAlgoCount < 1) return CUBLAS_STATUS_INVALID_VALUE;
  *returnAlgoCount = 0;
  int8_problem p{};
  if (auto st = describe_int8(*desc, *Adesc, *Bdesc, *Cdesc, *Ddesc, p);
      st != CUBLAS_STATUS_SUCCESS)
    return st;
  if (!p.imma_like || pref->align[0] < 4 || pref->align[1] < 4) return CUBLAS_STATUS_NOT_SUPPORTED;
  cublasLtMatmulHeuristicResult_t& r = heuristicResultsArray[0];
  r = {};
  r.algo.data[0] = static_cast<uint64_t>(p.m);
  r.algo.data[1] = static_cast<uint64_t>(p.n);
  r.algo.data[2] = static_cast<uint64_t>(p.k);
  for (int i = 0; i < 4; ++i)
    r.algo.data[3 + i] = pref->align[i];
  r.algo.data[7] = 0x656d75;  // "emu": an algorithm this fake made
  r.workspaceSize = 0;
  r.state = CUBLAS_STATUS_SUCCESS;
  r.wavesCount = 1.0f;
  *returnAlgoCount = 1;
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasLtMatmul(cublasLtHandle_t handle, cublasLtMatmulDesc_t desc, const void* alpha,
                              const void* A, cublasLtMatrixLayout_t Adesc, const void* B,
                              cublasLtMatrixLayout_t Bdesc, const void* beta, const void* C,
                              cublasLtMatrixLayout_t Cdesc, void* D, cublasLtMatrixLayout_t Ddesc,
                              const cublasLtMatmulAlgo_t* algo, void* workspace,
                              size_t workspaceSizeInBytes, cudaStream_t stream) {
  check_handle(handle, "cublasLtMatmul");
  for (const void* h : {(const void*)desc, (const void*)Adesc, (const void*)Bdesc,
                        (const void*)Cdesc, (const void*)Ddesc})
    check_handle(h, "cublasLtMatmul");
  check_stream(stream, "cublasLtMatmul");
  int8_problem p{};
  if (auto st = describe_int8(*desc, *Adesc, *Bdesc, *Cdesc, *Ddesc, p);
      st != CUBLAS_STATUS_SUCCESS)
    return st;
  if (algo == nullptr || algo->data[7] != 0x656d75)
    fail("cublasLtMatmul: an algorithm the emulated heuristic did not return");
  if (static_cast<int64_t>(algo->data[0]) != p.m || static_cast<int64_t>(algo->data[1]) != p.n ||
      static_cast<int64_t>(algo->data[2]) != p.k)
    return CUBLAS_STATUS_INVALID_VALUE;
  const void* ptrs[4] = {A, B, C, D};
  for (int i = 0; i < 4; ++i) {
    if (alignment_of(ptrs[i]) < algo->data[3 + i])
      fail("cublasLtMatmul: matrix %c at %p is less aligned than the preference promised (%llu)",
           "ABCD"[i], ptrs[i], static_cast<unsigned long long>(algo->data[3 + i]));
  }
  if (workspaceSizeInBytes > 0) require_device_range(workspace, workspaceSizeInBytes, "workspace");
  if (!is_host_pointer(alpha) || !is_host_pointer(beta))
    fail("cublasLtMatmul: alpha and beta in device memory are not emulated");
  if (p.m == 0 || p.n == 0) return CUBLAS_STATUS_SUCCESS;
  const bool ta = desc->transa != CUBLAS_OP_N, tb = desc->transb != CUBLAS_OP_N;
  const int64_t lda = Adesc->ld, ldb = Bdesc->ld, ldd = Ddesc->ld;
  require_device_range(A, span_bytes(Adesc->rows, Adesc->cols, lda, 1), "cublasLtMatmul A");
  require_device_range(B, span_bytes(Bdesc->rows, Bdesc->cols, ldb, 1), "cublasLtMatmul B");
  require_device_range(D, span_bytes(p.m, p.n, ldd, 4), "cublasLtMatmul D");
  const uint32_t a = static_cast<uint32_t>(*static_cast<const int32_t*>(alpha));
  const uint32_t b = static_cast<uint32_t>(*static_cast<const int32_t*>(beta));
  if (b != 0) require_device_range(C, span_bytes(p.m, p.n, ldd, 4), "cublasLtMatmul C");
  const auto* a8 = static_cast<const int8_t*>(A);
  const auto* b8 = static_cast<const int8_t*>(B);
  const auto* c32 = static_cast<const int32_t*>(C);
  auto* d32 = static_cast<int32_t*>(D);
  on_stream(stream, [=] {
    for (int64_t j = 0; j < p.n; ++j) {
      for (int64_t i = 0; i < p.m; ++i) {
        uint32_t acc = 0;  // wrapping, as the hardware's int32 sums
        for (int64_t l = 0; l < p.k; ++l) {
          const int32_t x = a8[ta ? l + i * lda : i + l * lda];
          const int32_t y = b8[tb ? j + l * ldb : l + j * ldb];
          acc += static_cast<uint32_t>(x * y);
        }
        uint32_t out = a * acc;
        if (b != 0) out += b * static_cast<uint32_t>(c32[i + j * ldd]);
        d32[i + j * ldd] = static_cast<int32_t>(out);
      }
    }
  });
  return CUBLAS_STATUS_SUCCESS;
}

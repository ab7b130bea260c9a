#pragma once
// cuda_emu: the cuBLAS calls troupe makes (src/blas.cpp). cublasGemmEx computes in plain loops:
// f32, bf16 or f16 inputs widened exactly, each product fused into an f32 sum in k order (fmaf,
// as the GPU's FFMA), f32 output (CUBLAS_COMPUTE_32F, default math). Any other combination, or TF32
// math, stops the process: the emulator does not pretend to know what cuBLAS would compute.
#include "cuda_runtime_api.h"
#include "emu/cublas_types.hpp"

using cublasHandle_t = struct cublasContext*;

cublasStatus_t cublasCreate(cublasHandle_t* handle);
cublasStatus_t cublasDestroy(cublasHandle_t handle);
cublasStatus_t cublasSetStream(cublasHandle_t handle, cudaStream_t stream);
cublasStatus_t cublasSetWorkspace(cublasHandle_t handle, void* workspace, size_t bytes);
cublasStatus_t cublasSetMathMode(cublasHandle_t handle, cublasMath_t mode);
cublasStatus_t cublasGemmEx(cublasHandle_t handle, cublasOperation_t transa,
                            cublasOperation_t transb, int m, int n, int k, const void* alpha,
                            const void* A, cudaDataType_t Atype, int lda, const void* B,
                            cudaDataType_t Btype, int ldb, const void* beta, void* C,
                            cudaDataType_t Ctype, int ldc, cublasComputeType_t computeType,
                            cublasGemmAlgo_t algo);

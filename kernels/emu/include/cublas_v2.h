// cublas_v2.h (emulation) — a cuBLAS stand-in for the CPU emulation build (LW_CUDA_EMU; see
// kernels/emu/cuda_emu.h), implementing exactly the documented semantics of the calls lensweep
// makes, on host memory (the emulation's device memory), with the enum values of CUDA 13's
// cublas_api.h and library_types.h. Names are mapped to lw_emu_* so a real libcublas in the same
// program never collides.
//
// cublasGemmEx / cublasGemmStridedBatchedEx: C = alpha · op(A) · op(B) + beta · C, column-major,
// op(X) = X (CUBLAS_OP_N) or Xᵀ (CUBLAS_OP_T, and CUBLAS_OP_C, the same for real types); op(A) is
// m × k, op(B) is k × n, C is m × n with leading dimensions lda, ldb, ldc; batch i uses
// A + i·strideA, B + i·strideB, C + i·strideC (in elements).
//   - CUBLAS_STATUS_INVALID_VALUE (nothing written): m, n or k < 0; batchCount < 0; a transpose
//     flag other than N, T, C; lda < max(1, m) for op N (max(1, k) otherwise); ldb < max(1, k) for
//     op N (max(1, n) otherwise); ldc < max(1, m); alpha or beta NULL.
//   - CUBLAS_STATUS_NOT_SUPPORTED: type combinations other than, for CUBLAS_COMPUTE_32F (alpha and
//     beta are float): A, B CUDA_R_16BF with C CUDA_R_16BF or CUDA_R_32F; A, B CUDA_R_16F with C
//     CUDA_R_16F or CUDA_R_32F; all CUDA_R_32F; for CUBLAS_COMPUTE_64F (double alpha, beta): all
//     CUDA_R_64F. (The real library supports more; the fast compute types, which *allow* inputs to
//     be down-converted, are refused here so no test depends on what they may do.)
//   - CUBLAS_STATUS_NOT_INITIALIZED: a NULL handle.
//   - m == 0 or n == 0: nothing happens. k == 0 or alpha == 0: C = beta · C. beta == 0: C is
//     written without being read (NaN or garbage in C does not propagate), as documented.
//   - Arithmetic: bf16/half inputs widened exactly to fp32, products in fp32 (exact for bf16 and
//     half operands), sums in fp32 sequentially over k, then alpha · sum + beta · C in fp32 and one
//     rounding (to nearest even) to a 16-bit C. Tensor cores sum in another order (and blocks of
//     products with more internal precision), so hardware results differ from these by fp32
//     summation error: compare with a tolerance of the order k · 2^-24 · Σ|a·b|.
//   The stream set by cublasSetStream is recorded and ignored (the emulation is synchronous);
//   algo is ignored (every algorithm must compute the same product up to summation order).
#ifndef LW_EMU_CUBLAS_V2_H
#define LW_EMU_CUBLAS_V2_H

#include "cuda_runtime.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    CUBLAS_STATUS_SUCCESS = 0,
    CUBLAS_STATUS_NOT_INITIALIZED = 1,
    CUBLAS_STATUS_ALLOC_FAILED = 3,
    CUBLAS_STATUS_INVALID_VALUE = 7,
    CUBLAS_STATUS_EXECUTION_FAILED = 13,
    CUBLAS_STATUS_INTERNAL_ERROR = 14,
    CUBLAS_STATUS_NOT_SUPPORTED = 15,
} cublasStatus_t;
typedef enum { CUBLAS_OP_N = 0, CUBLAS_OP_T = 1, CUBLAS_OP_C = 2 } cublasOperation_t;
typedef enum { CUDA_R_32F = 0, CUDA_R_64F = 1, CUDA_R_16F = 2, CUDA_R_16BF = 14 } cudaDataType;
typedef cudaDataType cudaDataType_t;
typedef enum { CUBLAS_COMPUTE_32F = 68, CUBLAS_COMPUTE_64F = 70, CUBLAS_COMPUTE_32F_FAST_16BF = 75 } cublasComputeType_t;
typedef enum { CUBLAS_GEMM_DEFAULT = -1, CUBLAS_GEMM_DEFAULT_TENSOR_OP = 99 } cublasGemmAlgo_t;
typedef struct lw_emu_cublas *cublasHandle_t;

#define cublasCreate lw_emu_cublasCreate
#define cublasDestroy lw_emu_cublasDestroy
#define cublasSetStream lw_emu_cublasSetStream
#define cublasGetStream lw_emu_cublasGetStream
#define cublasGemmEx lw_emu_cublasGemmEx
#define cublasGemmStridedBatchedEx lw_emu_cublasGemmStridedBatchedEx
#define cublasGetStatusString lw_emu_cublasGetStatusString

cublasStatus_t lw_emu_cublasCreate(cublasHandle_t *handle);
cublasStatus_t lw_emu_cublasDestroy(cublasHandle_t handle);
cublasStatus_t lw_emu_cublasSetStream(cublasHandle_t handle, cudaStream_t stream);
cublasStatus_t lw_emu_cublasGetStream(cublasHandle_t handle, cudaStream_t *stream);
cublasStatus_t lw_emu_cublasGemmEx(cublasHandle_t handle, cublasOperation_t transa, cublasOperation_t transb, int m,
                                   int n, int k, const void *alpha, const void *A, cudaDataType Atype, int lda,
                                   const void *B, cudaDataType Btype, int ldb, const void *beta, void *C,
                                   cudaDataType Ctype, int ldc, cublasComputeType_t computeType, cublasGemmAlgo_t algo);
cublasStatus_t lw_emu_cublasGemmStridedBatchedEx(cublasHandle_t handle, cublasOperation_t transa,
                                                 cublasOperation_t transb, int m, int n, int k, const void *alpha,
                                                 const void *A, cudaDataType Atype, int lda, long long strideA,
                                                 const void *B, cudaDataType Btype, int ldb, long long strideB,
                                                 const void *beta, void *C, cudaDataType Ctype, int ldc,
                                                 long long strideC, int batchCount, cublasComputeType_t computeType,
                                                 cublasGemmAlgo_t algo);
const char *lw_emu_cublasGetStatusString(cublasStatus_t status);

#ifdef __cplusplus
}
#endif

#endif

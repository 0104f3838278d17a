// cublas_emu.c — the cuBLAS stand-in of the emulation build: the semantics documented in
// include/cublas_v2.h, as plain loops on host memory.
#include "cublas_v2.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct lw_emu_cublas {
    cudaStream_t stream;
};

cublasStatus_t lw_emu_cublasCreate(cublasHandle_t *handle) {
    if (!handle) return CUBLAS_STATUS_INVALID_VALUE;
    *handle = calloc(1, sizeof **handle);
    return *handle ? CUBLAS_STATUS_SUCCESS : CUBLAS_STATUS_ALLOC_FAILED;
}
cublasStatus_t lw_emu_cublasDestroy(cublasHandle_t handle) {
    if (!handle) return CUBLAS_STATUS_NOT_INITIALIZED;
    free(handle);
    return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t lw_emu_cublasSetStream(cublasHandle_t handle, cudaStream_t stream) {
    if (!handle) return CUBLAS_STATUS_NOT_INITIALIZED;
    handle->stream = stream;
    return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t lw_emu_cublasGetStream(cublasHandle_t handle, cudaStream_t *stream) {
    if (!handle) return CUBLAS_STATUS_NOT_INITIALIZED;
    if (!stream) return CUBLAS_STATUS_INVALID_VALUE;
    *stream = handle->stream;
    return CUBLAS_STATUS_SUCCESS;
}

const char *lw_emu_cublasGetStatusString(cublasStatus_t s) {
    switch (s) {
    case CUBLAS_STATUS_SUCCESS: return "CUBLAS_STATUS_SUCCESS";
    case CUBLAS_STATUS_NOT_INITIALIZED: return "CUBLAS_STATUS_NOT_INITIALIZED";
    case CUBLAS_STATUS_ALLOC_FAILED: return "CUBLAS_STATUS_ALLOC_FAILED";
    case CUBLAS_STATUS_INVALID_VALUE: return "CUBLAS_STATUS_INVALID_VALUE";
    case CUBLAS_STATUS_EXECUTION_FAILED: return "CUBLAS_STATUS_EXECUTION_FAILED";
    case CUBLAS_STATUS_INTERNAL_ERROR: return "CUBLAS_STATUS_INTERNAL_ERROR";
    case CUBLAS_STATUS_NOT_SUPPORTED: return "CUBLAS_STATUS_NOT_SUPPORTED";
    default: return "CUBLAS_STATUS_UNKNOWN";
    }
}

// ---------------------------------------------------------------------------- element access

static float bf16_to_f32(uint16_t h) { uint32_t u = (uint32_t)h << 16; float f; memcpy(&f, &u, 4); return f; }
static uint16_t f32_to_bf16(float f) { // round to nearest even; NaN -> 0x7fff as CUDA
    uint32_t u;
    memcpy(&u, &f, 4);
    if ((u & 0x7fffffffu) > 0x7f800000u) return 0x7fff;
    u += 0x7fffu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}
static float f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16, e = (h >> 10) & 0x1fu, m = h & 0x3ffu, u;
    if (e == 0x1f) u = sign | 0x7f800000u | (m << 13);
    else if (e) u = sign | ((e + 112u) << 23) | (m << 13);
    else if (!m) u = sign;
    else {
        int s = 0;
        while (!(m & 0x400u)) { m <<= 1; s++; }
        u = sign | ((uint32_t)(113 - s) << 23) | ((m & 0x3ffu) << 13);
    }
    float f;
    memcpy(&f, &u, 4);
    return f;
}
static uint16_t f32_to_f16(float f) { // round to nearest even, subnormals, overflow to inf
    uint32_t x;
    memcpy(&x, &f, 4);
    uint32_t sign = (x >> 16) & 0x8000u, u = x & 0x7fffffffu;
    if (u > 0x7f800000u) return 0x7fff;
    if (u == 0x7f800000u) return (uint16_t)(sign | 0x7c00u);
    if (u < 0x00800000u) return (uint16_t)sign;
    int e = (int)(u >> 23) - 127;
    uint32_t m = (u & 0x7fffffu) | 0x800000u;
    int shift = e >= -14 ? 13 : 13 + (-14 - e);
    if (shift > 24) return (uint16_t)sign;
    uint32_t q = m >> shift, rem = m & ((1u << shift) - 1u), half = 1u << (shift - 1);
    if (rem > half || (rem == half && (q & 1u))) q++;
    if (e < -14) return (uint16_t)(sign | q);
    uint32_t h = ((uint32_t)(e + 15) << 10) + (q - 0x400u);
    if (h >= 0x7c00u) h = 0x7c00u;
    return (uint16_t)(sign | h);
}

static float get32(const void *p, cudaDataType t, size_t i) {
    switch (t) {
    case CUDA_R_16BF: return bf16_to_f32(((const uint16_t *)p)[i]);
    case CUDA_R_16F: return f16_to_f32(((const uint16_t *)p)[i]);
    default: return ((const float *)p)[i];
    }
}
static void put32(void *p, cudaDataType t, size_t i, float v) {
    switch (t) {
    case CUDA_R_16BF: ((uint16_t *)p)[i] = f32_to_bf16(v); break;
    case CUDA_R_16F: ((uint16_t *)p)[i] = f32_to_f16(v); break;
    default: ((float *)p)[i] = v; break;
    }
}
static size_t type_size(cudaDataType t) { return t == CUDA_R_64F ? 8 : t == CUDA_R_32F ? 4 : 2; }

// ---------------------------------------------------------------------------- GEMM

static int op_ok(cublasOperation_t o) { return o == CUBLAS_OP_N || o == CUBLAS_OP_T || o == CUBLAS_OP_C; }
static int max1(int a) { return a > 1 ? a : 1; }

static cublasStatus_t check(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k,
                            const void *alpha, int lda, int ldb, const void *beta, int ldc, int batch,
                            cudaDataType At, cudaDataType Bt, cudaDataType Ct, cublasComputeType_t ct) {
    if (!h) return CUBLAS_STATUS_NOT_INITIALIZED;
    if (m < 0 || n < 0 || k < 0 || batch < 0 || !op_ok(ta) || !op_ok(tb) || !alpha || !beta)
        return CUBLAS_STATUS_INVALID_VALUE;
    if (lda < max1(ta == CUBLAS_OP_N ? m : k) || ldb < max1(tb == CUBLAS_OP_N ? k : n) || ldc < max1(m))
        return CUBLAS_STATUS_INVALID_VALUE;
    int ok = 0;
    if (ct == CUBLAS_COMPUTE_32F)
        ok = (At == CUDA_R_16BF && Bt == CUDA_R_16BF && (Ct == CUDA_R_16BF || Ct == CUDA_R_32F)) ||
             (At == CUDA_R_16F && Bt == CUDA_R_16F && (Ct == CUDA_R_16F || Ct == CUDA_R_32F)) ||
             (At == CUDA_R_32F && Bt == CUDA_R_32F && Ct == CUDA_R_32F);
    else if (ct == CUBLAS_COMPUTE_64F)
        ok = At == CUDA_R_64F && Bt == CUDA_R_64F && Ct == CUDA_R_64F;
    return ok ? CUBLAS_STATUS_SUCCESS : CUBLAS_STATUS_NOT_SUPPORTED;
}

static void gemm_one(cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k, const void *alpha,
                     const void *A, cudaDataType At, int lda, const void *B, cudaDataType Bt, int ldb,
                     const void *beta, void *C, cudaDataType Ct, int ldc, cublasComputeType_t ct) {
    // element (i, l) of op(A) and (l, j) of op(B), column-major
#define A_AT(i, l) (ta == CUBLAS_OP_N ? (size_t)(i) + (size_t)(l) * lda : (size_t)(l) + (size_t)(i) * lda)
#define B_AT(l, j) (tb == CUBLAS_OP_N ? (size_t)(l) + (size_t)(j) * ldb : (size_t)(j) + (size_t)(l) * ldb)
    if (ct == CUBLAS_COMPUTE_64F) {
        double a = *(const double *)alpha, b = *(const double *)beta;
        const double *Ad = A, *Bd = B;
        double *Cd = C;
        for (int j = 0; j < n; j++)
            for (int i = 0; i < m; i++) {
                double s = 0;
                if (a != 0)
                    for (int l = 0; l < k; l++) s += Ad[A_AT(i, l)] * Bd[B_AT(l, j)];
                size_t c = (size_t)i + (size_t)j * ldc;
                Cd[c] = b == 0 ? a * s : a * s + b * Cd[c];
            }
        return;
    }
    float a = *(const float *)alpha, b = *(const float *)beta;
    for (int j = 0; j < n; j++)
        for (int i = 0; i < m; i++) {
            float s = 0.0f;
            if (a != 0)
                for (int l = 0; l < k; l++) s += get32(A, At, A_AT(i, l)) * get32(B, Bt, B_AT(l, j));
            size_t c = (size_t)i + (size_t)j * ldc;
            put32(C, Ct, c, b == 0 ? a * s : a * s + b * get32(C, Ct, c));
        }
#undef A_AT
#undef B_AT
}

cublasStatus_t lw_emu_cublasGemmStridedBatchedEx(cublasHandle_t handle, cublasOperation_t transa,
                                                 cublasOperation_t transb, int m, int n, int k, const void *alpha,
                                                 const void *A, cudaDataType Atype, int lda, long long strideA,
                                                 const void *B, cudaDataType Btype, int ldb, long long strideB,
                                                 const void *beta, void *C, cudaDataType Ctype, int ldc,
                                                 long long strideC, int batchCount, cublasComputeType_t computeType,
                                                 cublasGemmAlgo_t algo) {
    (void)algo;
    cublasStatus_t st = check(handle, transa, transb, m, n, k, alpha, lda, ldb, beta, ldc, batchCount, Atype, Btype,
                              Ctype, computeType);
    if (st != CUBLAS_STATUS_SUCCESS || m == 0 || n == 0) return st;
    for (int i = 0; i < batchCount; i++)
        gemm_one(transa, transb, m, n, k, alpha, (const char *)A + (size_t)(i * strideA) * type_size(Atype), Atype, lda,
                 (const char *)B + (size_t)(i * strideB) * type_size(Btype), Btype, ldb, beta,
                 (char *)C + (size_t)(i * strideC) * type_size(Ctype), Ctype, ldc, computeType);
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t lw_emu_cublasGemmEx(cublasHandle_t handle, cublasOperation_t transa, cublasOperation_t transb, int m,
                                   int n, int k, const void *alpha, const void *A, cudaDataType Atype, int lda,
                                   const void *B, cudaDataType Btype, int ldb, const void *beta, void *C,
                                   cudaDataType Ctype, int ldc, cublasComputeType_t computeType, cublasGemmAlgo_t algo) {
    return lw_emu_cublasGemmStridedBatchedEx(handle, transa, transb, m, n, k, alpha, A, Atype, lda, 0, B, Btype, ldb,
                                             0, beta, C, Ctype, ldc, 0, 1, computeType, algo);
}

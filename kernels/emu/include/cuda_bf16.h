// cuda_bf16.h (emulation) — __nv_bfloat16 for the CPU emulation build (LW_CUDA_EMU; see
// kernels/emu/cuda_emu.h). Storage and conversions as CUDA's: float -> bf16 rounds to nearest
// even (overflow to inf), NaN becomes the canonical 0x7fff; bf16 -> float is exact. C++ only.
#ifndef LW_EMU_CUDA_BF16_H
#define LW_EMU_CUDA_BF16_H

#include <cstdint>
#include <cstring>

inline unsigned short lw_emu_f32_to_bf16_rn(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    if ((u & 0x7fffffffu) > 0x7f800000u) return 0x7fffu;
    u += 0x7fffu + ((u >> 16) & 1u); // the low half rounds the high half: ties to even
    return (unsigned short)(u >> 16);
}
inline float lw_emu_bf16_to_f32(unsigned short h) {
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

struct __nv_bfloat16 {
    unsigned short __x;
    __nv_bfloat16() = default;
    __nv_bfloat16(float f) : __x(lw_emu_f32_to_bf16_rn(f)) {}
    operator float() const { return lw_emu_bf16_to_f32(__x); }
};
typedef struct __nv_bfloat16 nv_bfloat16;

inline __nv_bfloat16 __ushort_as_bfloat16(unsigned short u) { __nv_bfloat16 b; b.__x = u; return b; }
inline unsigned short __bfloat16_as_ushort(__nv_bfloat16 b) { return b.__x; }
inline __nv_bfloat16 __float2bfloat16(float f) { return __ushort_as_bfloat16(lw_emu_f32_to_bf16_rn(f)); }
inline __nv_bfloat16 __float2bfloat16_rn(float f) { return __float2bfloat16(f); }
inline float __bfloat162float(__nv_bfloat16 b) { return lw_emu_bf16_to_f32(b.__x); }

#endif

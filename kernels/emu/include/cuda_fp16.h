// cuda_fp16.h (emulation) — __half for the CPU emulation build (LW_CUDA_EMU; see
// kernels/emu/cuda_emu.h). float -> half rounds to nearest even, with half subnormals and
// overflow to inf; NaN becomes the canonical 0x7fff, as CUDA's __float2half; half -> float is
// exact. C++ only.
#ifndef LW_EMU_CUDA_FP16_H
#define LW_EMU_CUDA_FP16_H

#include <cstdint>
#include <cstring>

inline unsigned short lw_emu_f32_to_f16_rn(float f) {
    uint32_t x;
    memcpy(&x, &f, 4);
    uint32_t sign = (x >> 16) & 0x8000u, u = x & 0x7fffffffu;
    if (u > 0x7f800000u) return 0x7fffu;
    if (u == 0x7f800000u) return (unsigned short)(sign | 0x7c00u);
    if (u < 0x00800000u) return (unsigned short)sign; // fp32 subnormal: far below half's range
    int e = (int)(u >> 23) - 127;                     // value = m * 2^(e - 23), m with its implicit bit
    uint32_t m = (u & 0x7fffffu) | 0x800000u;
    int shift = e >= -14 ? 13 : 13 + (-14 - e); // bits dropped: 13 for normals, more for subnormals
    if (shift > 24) return (unsigned short)sign; // below 2^-25: rounds to zero
    uint32_t q = m >> shift, rem = m & ((1u << shift) - 1u), halfway = 1u << (shift - 1);
    if (rem > halfway || (rem == halfway && (q & 1u))) q++;
    if (e < -14) return (unsigned short)(sign | q); // subnormal (q = 0x400 is the smallest normal)
    uint32_t h = ((uint32_t)(e + 15) << 10) + (q - 0x400u); // a carry out of q bumps the exponent
    if (h >= 0x7c00u) h = 0x7c00u;
    return (unsigned short)(sign | h);
}
inline float lw_emu_f16_to_f32(unsigned short h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16, e = (h >> 10) & 0x1fu, m = h & 0x3ffu, u;
    if (e == 0x1f) u = sign | 0x7f800000u | (m << 13);
    else if (e) u = sign | ((e + 112u) << 23) | (m << 13);
    else if (!m) u = sign;
    else { // subnormal: normalise
        int s = 0;
        while (!(m & 0x400u)) { m <<= 1; s++; }
        u = sign | ((uint32_t)(113 - s) << 23) | ((m & 0x3ffu) << 13);
    }
    float f;
    memcpy(&f, &u, 4);
    return f;
}

struct __half {
    unsigned short __x;
    __half() = default;
    __half(float f) : __x(lw_emu_f32_to_f16_rn(f)) {}
    operator float() const { return lw_emu_f16_to_f32(__x); }
};
typedef struct __half half;

inline __half __ushort_as_half(unsigned short u) { __half h; h.__x = u; return h; }
inline unsigned short __half_as_ushort(__half h) { return h.__x; }
inline __half __float2half(float f) { return __ushort_as_half(lw_emu_f32_to_f16_rn(f)); }
inline __half __float2half_rn(float f) { return __float2half(f); }
inline float __half2float(__half h) { return lw_emu_f16_to_f32(h.__x); }

#endif

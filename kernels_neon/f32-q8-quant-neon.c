/* f32-q8-quant-neon.c — activation quantization (f32 rows to q8 blocks) with NEON: bit-exact with
 * the scalar twin (same multiply by the reciprocal, round-half-even); the values in [-127, 127]
 * narrow by keeping the low halves of the lanes (uzp1, two vectors an instruction). */
#include "kernels.h"
#include "neon.h"

/* x rounded to the nearest integer, ties to even: one fcvtns on aarch64 (SIMDe has no
 * vcvtnq_s32_f32: there, frintn then a conversion). */
static inline int32x4_t round_s32(float32x4_t x)
{
#if defined(__aarch64__)
	return vcvtnq_s32_f32(x);
#else
	return vcvtq_s32_f32(vrndnq_f32(x));
#endif
}

void fvl_f32_q8_quant__neon(size_t m, size_t k, const float *x, size_t ldx, int8_t *q, float *d)
{
	for (size_t i = 0; i < m; i++) {
		const float *xr = x + i * ldx;
		int8_t *qr = q + i * k;
		for (size_t b = 0; b < k / FVL_QK; b++) {
			float32x4_t v[8];
			float32x4_t amax = vdupq_n_f32(0.0f);
			for (int j = 0; j < 8; j++) {
				v[j] = vld1q_f32(xr + b * FVL_QK + 4 * (size_t)j);
				amax = vmaxq_f32(amax, vabsq_f32(v[j]));
			}
			const float db = vmaxvq_f32(amax) / 127.0f;
			const float id = db != 0.0f ? 1.0f / db : 0.0f;
			d[i * (k / FVL_QK) + b] = db;
			int32x4_t r[8];
			for (int j = 0; j < 8; j++)
				r[j] = round_s32(vmulq_n_f32(v[j], id));
			/* the low halves of the lanes, pairwise: int32 -> int16 -> int8 */
			int16x8_t h[4];
			for (int j = 0; j < 4; j++)
				h[j] = vuzp1q_s16(vreinterpretq_s16_s32(r[2 * j]),
				                  vreinterpretq_s16_s32(r[2 * j + 1]));
			vst1q_s8(qr + b * FVL_QK,
			         vuzp1q_s8(vreinterpretq_s8_s16(h[0]), vreinterpretq_s8_s16(h[1])));
			vst1q_s8(qr + b * FVL_QK + 16,
			         vuzp1q_s8(vreinterpretq_s8_s16(h[2]), vreinterpretq_s8_s16(h[3])));
		}
	}
}

/* f32-q8-quant-neon.c — activation quantization (f32 rows to q8 blocks) with NEON: bit-exact with
 * the scalar twin (same multiply by the reciprocal, round-half-even). */
#include "kernels.h"
#include "neon.h"

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
			int16x8_t h[4];
			for (int j = 0; j < 4; j++) {
				int32x4_t a = vcvtq_s32_f32(vrndnq_f32(vmulq_n_f32(v[2 * j], id)));
				int32x4_t c =
				        vcvtq_s32_f32(vrndnq_f32(vmulq_n_f32(v[2 * j + 1], id)));
				h[j] = vcombine_s16(vmovn_s32(a), vmovn_s32(c));
			}
			vst1q_s8(qr + b * FVL_QK, vcombine_s8(vmovn_s16(h[0]), vmovn_s16(h[1])));
			vst1q_s8(qr + b * FVL_QK + 16,
			         vcombine_s8(vmovn_s16(h[2]), vmovn_s16(h[3])));
		}
	}
}

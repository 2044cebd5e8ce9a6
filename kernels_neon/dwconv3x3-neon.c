/* dwconv3x3-neon.c — depthwise 3x3 convolution (stride 1, zero padding), NHWC, with NEON: the taps
 * that fall inside the image are found once per pixel, then 8 and 4 channels per step. The taps are
 * summed in the twin's order (dy, then dx), so the result matches it up to FMA rounding. */
#include "elementwise-neon.h"

void fvl_dwconv3x3__neon(size_t h, size_t w, size_t c, size_t y0, size_t y1, const float *x,
                         const float *k, const float *b, float *y)
{
	for (size_t i = y0; i < y1; i++) {
		const size_t dy0 = i == 0 ? 1 : 0, dy1 = i + 1 == h ? 2 : 3;
		for (size_t j = 0; j < w; j++) {
			const size_t dx0 = j == 0 ? 1 : 0, dx1 = j + 1 == w ? 2 : 3;
			/* (dy, dx) = (1, 1) is x[i][j]: the top-left in-image tap at (i+dy0-1, j+dx0-1) */
			const float *xt = x + ((i + dy0 - 1) * w + (j + dx0 - 1)) * c;
			const float *kt = k + (3 * dy0 + dx0) * c;
			float *o = y + (i * w + j) * c;
			size_t ch = 0;
			for (; ch + 8 <= c; ch += 8) {
				float32x4_t s0 = b ? vld1q_f32(b + ch) : vdupq_n_f32(0.0f);
				float32x4_t s1 = b ? vld1q_f32(b + ch + 4) : vdupq_n_f32(0.0f);
				for (size_t dy = dy0; dy < dy1; dy++)
					for (size_t dx = dx0; dx < dx1; dx++) {
						const float *xp =
						        xt + ((dy - dy0) * w + (dx - dx0)) * c + ch;
						const float *kp =
						        kt + (3 * (dy - dy0) + (dx - dx0)) * c + ch;
						s0 = vfmaq_f32(s0, vld1q_f32(xp), vld1q_f32(kp));
						s1 = vfmaq_f32(s1, vld1q_f32(xp + 4),
						               vld1q_f32(kp + 4));
					}
				vst1q_f32(o + ch, s0);
				vst1q_f32(o + ch + 4, s1);
			}
			for (; ch + 4 <= c; ch += 4) {
				float32x4_t s = b ? vld1q_f32(b + ch) : vdupq_n_f32(0.0f);
				for (size_t dy = dy0; dy < dy1; dy++)
					for (size_t dx = dx0; dx < dx1; dx++)
						s = vfmaq_f32(
						        s,
						        vld1q_f32(xt +
						                  ((dy - dy0) * w + (dx - dx0)) *
						                          c +
						                  ch),
						        vld1q_f32(kt +
						                  (3 * (dy - dy0) + (dx - dx0)) *
						                          c +
						                  ch));
				vst1q_f32(o + ch, s);
			}
			for (; ch < c; ch++) {
				float s = b ? b[ch] : 0.0f;
				for (size_t dy = dy0; dy < dy1; dy++)
					for (size_t dx = dx0; dx < dx1; dx++)
						s += xt[((dy - dy0) * w + (dx - dx0)) * c + ch] *
						     kt[(3 * (dy - dy0) + (dx - dx0)) * c + ch];
				o[ch] = s;
			}
		}
	}
}

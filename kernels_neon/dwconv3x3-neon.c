/* dwconv3x3-neon.c — depthwise 3x3 convolution (stride 1, zero padding), NHWC, with NEON: 4 channels per vector. */
#include "elementwise-neon.h"

void fvl_dwconv3x3__neon(size_t h, size_t w, size_t c, const float *x, const float *k,
                         const float *b, float *y)
{
	for (size_t i = 0; i < h; i++) {
		for (size_t j = 0; j < w; j++) {
			float *o = y + (i * w + j) * c;
			size_t ch = 0;
			for (; ch + 4 <= c; ch += 4) {
				float32x4_t s = b ? vld1q_f32(b + ch) : vdupq_n_f32(0.0f);
				for (int dy = 0; dy < 3; dy++) {
					const ptrdiff_t yy = (ptrdiff_t)i + dy - 1;
					if (yy < 0 || yy >= (ptrdiff_t)h)
						continue;
					for (int dx = 0; dx < 3; dx++) {
						const ptrdiff_t xx = (ptrdiff_t)j + dx - 1;
						if (xx < 0 || xx >= (ptrdiff_t)w)
							continue;
						s = vfmaq_f32(
						        s,
						        vld1q_f32(x +
						                  ((size_t)yy * w + (size_t)xx) *
						                          c +
						                  ch),
						        vld1q_f32(k + (size_t)(3 * dy + dx) * c +
						                  ch));
					}
				}
				vst1q_f32(o + ch, s);
			}
			for (; ch < c; ch++) {
				float s = b ? b[ch] : 0.0f;
				for (int dy = 0; dy < 3; dy++)
					for (int dx = 0; dx < 3; dx++) {
						const ptrdiff_t yy = (ptrdiff_t)i + dy - 1,
						                xx = (ptrdiff_t)j + dx - 1;
						if (yy < 0 || xx < 0 || yy >= (ptrdiff_t)h ||
						    xx >= (ptrdiff_t)w)
							continue;
						s += x[((size_t)yy * w + (size_t)xx) * c + ch] *
						     k[(size_t)(3 * dy + dx) * c + ch];
					}
				o[ch] = s;
			}
		}
	}
}

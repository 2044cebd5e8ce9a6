/* dwconv3x3-neon.c — depthwise 3x3 convolution (stride 1, zero padding), NHWC, with NEON: inner
 * pixels 4 channels at a time along the row with the taps' weights in registers; border pixels
 * find the taps that fall inside the image, then go 8 and 4 channels per step. The taps are summed
 * in the twin's order (dy, then dx), so the result matches it up to FMA rounding. */
#include "elementwise-neon.h"

/* Output pixel (i, j), channels ch0 .. c (ch0 a multiple of 4, or where the 4-wide steps end). */
static void pixel(size_t h, size_t w, size_t c, size_t i, size_t j, size_t ch0, const float *x,
                  const float *k, const float *b, float *y)
{
	const size_t dy0 = i == 0 ? 1 : 0, dy1 = i + 1 == h ? 2 : 3;
	const size_t dx0 = j == 0 ? 1 : 0, dx1 = j + 1 == w ? 2 : 3;
	/* (dy, dx) = (1, 1) is x[i][j]: the top-left in-image tap at (i+dy0-1, j+dx0-1) */
	const float *xt = x + ((i + dy0 - 1) * w + (j + dx0 - 1)) * c;
	const float *kt = k + (3 * dy0 + dx0) * c;
	float *o = y + (i * w + j) * c;
	size_t ch = ch0;
	for (; ch + 8 <= c; ch += 8) {
		float32x4_t s0 = b ? vld1q_f32(b + ch) : vdupq_n_f32(0.0f);
		float32x4_t s1 = b ? vld1q_f32(b + ch + 4) : vdupq_n_f32(0.0f);
		for (size_t dy = dy0; dy < dy1; dy++)
			for (size_t dx = dx0; dx < dx1; dx++) {
				const float *xp = xt + ((dy - dy0) * w + (dx - dx0)) * c + ch;
				const float *kp = kt + (3 * (dy - dy0) + (dx - dx0)) * c + ch;
				s0 = vfmaq_f32(s0, vld1q_f32(xp), vld1q_f32(kp));
				s1 = vfmaq_f32(s1, vld1q_f32(xp + 4), vld1q_f32(kp + 4));
			}
		vst1q_f32(o + ch, s0);
		vst1q_f32(o + ch + 4, s1);
	}
	for (; ch + 4 <= c; ch += 4) {
		float32x4_t s = b ? vld1q_f32(b + ch) : vdupq_n_f32(0.0f);
		for (size_t dy = dy0; dy < dy1; dy++)
			for (size_t dx = dx0; dx < dx1; dx++)
				s = vfmaq_f32(
				        s, vld1q_f32(xt + ((dy - dy0) * w + (dx - dx0)) * c + ch),
				        vld1q_f32(kt + (3 * (dy - dy0) + (dx - dx0)) * c + ch));
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

/* The inner pixels of row i (0 < i < h - 1; j from 1 to w - 2), 4 channels at a time with the 9
 * taps' weights in registers for the whole row: 9 loads and 9 fma per 4 outputs. */
static void
inner_row(size_t w, size_t c, size_t i, const float *x, const float *k, const float *b, float *y)
{
	for (size_t ch = 0; ch + 4 <= c; ch += 4) {
		const float32x4_t k0 = vld1q_f32(k + ch), k1 = vld1q_f32(k + c + ch);
		const float32x4_t k2 = vld1q_f32(k + 2 * c + ch), k3 = vld1q_f32(k + 3 * c + ch);
		const float32x4_t k4 = vld1q_f32(k + 4 * c + ch), k5 = vld1q_f32(k + 5 * c + ch);
		const float32x4_t k6 = vld1q_f32(k + 6 * c + ch), k7 = vld1q_f32(k + 7 * c + ch);
		const float32x4_t k8 = vld1q_f32(k + 8 * c + ch);
		const float32x4_t bv = b ? vld1q_f32(b + ch) : vdupq_n_f32(0.0f);
		const float *xt = x + (i - 1) * w * c + ch; /* tap (0, 0) of pixel j = 1 */
		float *o = y + (i * w + 1) * c + ch;
		for (size_t j = 1; j + 1 < w; j++, xt += c, o += c) {
			const float *x1 = xt + w * c, *x2 = x1 + w * c;
			float32x4_t s = vfmaq_f32(bv, vld1q_f32(xt), k0); /* the twin's order */
			s = vfmaq_f32(s, vld1q_f32(xt + c), k1);
			s = vfmaq_f32(s, vld1q_f32(xt + 2 * c), k2);
			s = vfmaq_f32(s, vld1q_f32(x1), k3);
			s = vfmaq_f32(s, vld1q_f32(x1 + c), k4);
			s = vfmaq_f32(s, vld1q_f32(x1 + 2 * c), k5);
			s = vfmaq_f32(s, vld1q_f32(x2), k6);
			s = vfmaq_f32(s, vld1q_f32(x2 + c), k7);
			s = vfmaq_f32(s, vld1q_f32(x2 + 2 * c), k8);
			vst1q_f32(o, s);
		}
	}
}

void fvl_dwconv3x3__neon(size_t h, size_t w, size_t c, size_t y0, size_t y1, const float *x,
                         const float *k, const float *b, float *y)
{
	for (size_t i = y0; i < y1; i++) {
		if (i == 0 || i + 1 == h || w < 3) {
			for (size_t j = 0; j < w; j++)
				pixel(h, w, c, i, j, 0, x, k, b, y);
			continue;
		}
		pixel(h, w, c, i, 0, 0, x, k, b, y);
		inner_row(w, c, i, x, k, b, y);
		if (c % 4)
			for (size_t j = 1; j + 1 < w; j++)
				pixel(h, w, c, i, j, c & ~(size_t)3, x, k, b, y);
		pixel(h, w, c, i, w - 1, 0, x, k, b, y);
	}
}

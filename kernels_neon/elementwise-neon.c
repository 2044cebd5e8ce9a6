/* elementwise-neon.c — normalization and elementwise kernels with NEON. Tails shorter than four go
 * through the same vector code on a padded copy, so every element gets the same arithmetic. */
#include <math.h>
#include <string.h>

#include "kernels.h"
#include "neon-math.h"

/* Applies OP (a float32x4_t expression of v, or of v and u) over n elements. */
#define MAP1(n, x, y, OP)                                                                        \
	do {                                                                                     \
		size_t j_ = 0;                                                                   \
		for (; j_ + 4 <= (n); j_ += 4) {                                                 \
			const float32x4_t v = vld1q_f32((x) + j_);                               \
			vst1q_f32((y) + j_, OP);                                                 \
		}                                                                                \
		if (j_ < (n)) {                                                                  \
			float t_[4] = {0};                                                       \
			memcpy(t_, (x) + j_, ((n) - j_) * sizeof(float));                       \
			const float32x4_t v = vld1q_f32(t_);                                     \
			vst1q_f32(t_, OP);                                                       \
			memcpy((y) + j_, t_, ((n) - j_) * sizeof(float));                        \
		}                                                                                \
	} while (0)

#define MAP2(n, a, b, y, OP)                                                                     \
	do {                                                                                     \
		size_t j_ = 0;                                                                   \
		for (; j_ + 4 <= (n); j_ += 4) {                                                 \
			const float32x4_t v = vld1q_f32((a) + j_), u = vld1q_f32((b) + j_);      \
			vst1q_f32((y) + j_, OP);                                                 \
		}                                                                                \
		if (j_ < (n)) {                                                                  \
			float t_[4] = {0}, s_[4] = {0};                                          \
			memcpy(t_, (a) + j_, ((n) - j_) * sizeof(float));                        \
			memcpy(s_, (b) + j_, ((n) - j_) * sizeof(float));                        \
			const float32x4_t v = vld1q_f32(t_), u = vld1q_f32(s_);                  \
			vst1q_f32(t_, OP);                                                       \
			memcpy((y) + j_, t_, ((n) - j_) * sizeof(float));                        \
		}                                                                                \
	} while (0)

static float sum_f32(size_t n, const float *x)
{
	float32x4_t s0 = vdupq_n_f32(0.0f), s1 = vdupq_n_f32(0.0f);
	size_t j = 0;
	for (; j + 8 <= n; j += 8) {
		s0 = vaddq_f32(s0, vld1q_f32(x + j));
		s1 = vaddq_f32(s1, vld1q_f32(x + j + 4));
	}
	float s = vaddvq_f32(vaddq_f32(s0, s1));
	for (; j < n; j++)
		s += x[j];
	return s;
}

/* sum of (x - c)^2 */
static float sumsq_f32(size_t n, const float *x, float c)
{
	const float32x4_t cv = vdupq_n_f32(c);
	float32x4_t s0 = vdupq_n_f32(0.0f), s1 = vdupq_n_f32(0.0f);
	size_t j = 0;
	for (; j + 8 <= n; j += 8) {
		const float32x4_t a = vsubq_f32(vld1q_f32(x + j), cv), b = vsubq_f32(vld1q_f32(x + j + 4), cv);
		s0 = vfmaq_f32(s0, a, a);
		s1 = vfmaq_f32(s1, b, b);
	}
	float s = vaddvq_f32(vaddq_f32(s0, s1));
	for (; j < n; j++)
		s += (x[j] - c) * (x[j] - c);
	return s;
}

void fvl_layernorm__neon(size_t m, size_t n, const float *x, const float *g, const float *b,
                         float eps, float *y)
{
	for (size_t i = 0; i < m; i++, x += n, y += n) {
		const float mean = sum_f32(n, x) / (float)n;
		const float inv = 1.0f / sqrtf(sumsq_f32(n, x, mean) / (float)n + eps);
		const float32x4_t mv = vdupq_n_f32(mean);
		size_t j = 0;
		for (; j + 4 <= n; j += 4) {
			const float32x4_t v = vmulq_n_f32(vsubq_f32(vld1q_f32(x + j), mv), inv);
			vst1q_f32(y + j, vfmaq_f32(vld1q_f32(b + j), v, vld1q_f32(g + j)));
		}
		for (; j < n; j++)
			y[j] = (x[j] - mean) * inv * g[j] + b[j];
	}
}

void fvl_rmsnorm__neon(size_t m, size_t n, const float *x, const float *g, float eps, float *y)
{
	for (size_t i = 0; i < m; i++, x += n, y += n) {
		const float inv = 1.0f / sqrtf(sumsq_f32(n, x, 0.0f) / (float)n + eps);
		size_t j = 0;
		for (; j + 4 <= n; j += 4)
			vst1q_f32(y + j, vmulq_f32(vmulq_n_f32(vld1q_f32(x + j), inv), vld1q_f32(g + j)));
		for (; j < n; j++)
			y[j] = x[j] * inv * g[j];
	}
}

void fvl_softmax__neon(size_t m, size_t n, float *x, float scale)
{
	for (size_t i = 0; i < m; i++, x += n) {
		float mx = -INFINITY;
		for (size_t j = 0; j < n; j++)
			mx = fmaxf(mx, x[j] * scale);
		const float32x4_t mv = vdupq_n_f32(mx);
		MAP1(n, x, x, fvl_exp_f32x4(vsubq_f32(vmulq_n_f32(v, scale), mv)));
		const float inv = 1.0f / sum_f32(n, x);
		MAP1(n, x, x, vmulq_n_f32(v, inv));
	}
}

void fvl_gelu__neon(size_t n, const float *x, float *y)
{
	MAP1(n, x, y, vmulq_f32(vmulq_n_f32(v, 0.5f),
	                        vaddq_f32(vdupq_n_f32(1.0f),
	                                  fvl_erf_f32x4(vmulq_n_f32(v, 0.70710678118654752f)))));
}

void fvl_silu_mul__neon(size_t n, const float *g, const float *up, float *y)
{
	MAP2(n, g, up, y, vmulq_f32(vmulq_f32(v, fvl_recip_f32x4(vaddq_f32(vdupq_n_f32(1.0f),
	                                                              fvl_exp_f32x4(vnegq_f32(v))))), u));
}

void fvl_add__neon(size_t n, const float *a, const float *b, float *y)
{
	MAP2(n, a, b, y, vaddq_f32(v, u));
}

void fvl_scale__neon(size_t n, const float *x, float s, float *y)
{
	MAP1(n, x, y, vmulq_n_f32(v, s));
}

void fvl_rope__neon(size_t m, size_t n_heads, size_t head_dim, size_t rot, float *x, size_t ldx,
                    const int32_t *pos, const float *cos_t, const float *sin_t)
{
	const size_t half = rot / 2;
	for (size_t r = 0; r < m; r++) {
		const float *c = cos_t + (size_t)pos[r] * half, *s = sin_t + (size_t)pos[r] * half;
		for (size_t h = 0; h < n_heads; h++) {
			float *v = x + r * ldx + h * head_dim;
			size_t i = 0;
			for (; i + 4 <= half; i += 4) {
				const float32x4_t a = vld1q_f32(v + i), b = vld1q_f32(v + i + half);
				const float32x4_t cv = vld1q_f32(c + i), sv = vld1q_f32(s + i);
				vst1q_f32(v + i, vsubq_f32(vmulq_f32(a, cv), vmulq_f32(b, sv)));
				vst1q_f32(v + i + half, vaddq_f32(vmulq_f32(b, cv), vmulq_f32(a, sv)));
			}
			for (; i < half; i++) {
				const float a = v[i], b = v[i + half];
				v[i] = a * c[i] - b * s[i];
				v[i + half] = b * c[i] + a * s[i];
			}
		}
	}
}

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
						s = vfmaq_f32(s, vld1q_f32(x + ((size_t)yy * w + (size_t)xx) * c + ch),
						              vld1q_f32(k + (size_t)(3 * dy + dx) * c + ch));
					}
				}
				vst1q_f32(o + ch, s);
			}
			for (; ch < c; ch++) {
				float s = b ? b[ch] : 0.0f;
				for (int dy = 0; dy < 3; dy++)
					for (int dx = 0; dx < 3; dx++) {
						const ptrdiff_t yy = (ptrdiff_t)i + dy - 1, xx = (ptrdiff_t)j + dx - 1;
						if (yy < 0 || xx < 0 || yy >= (ptrdiff_t)h || xx >= (ptrdiff_t)w)
							continue;
						s += x[((size_t)yy * w + (size_t)xx) * c + ch] *
						     k[(size_t)(3 * dy + dx) * c + ch];
					}
				o[ch] = s;
			}
		}
	}
}

/* dwconv3x3-scalar.c — scalar twin of fvl_dwconv3x3__neon: the definition, in plain C. */
#include "kernels.h"

void fvl_dwconv3x3__scalar(size_t h, size_t w, size_t c, size_t y0, size_t y1, const float *x,
                           const float *k, const float *b, float *y)
{
	for (size_t i = y0; i < y1; i++)
		for (size_t j = 0; j < w; j++)
			for (size_t ch = 0; ch < c; ch++) {
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
				y[(i * w + j) * c + ch] = s;
			}
}

/* rng.h — a small deterministic generator for test data (xorshift64*). */
#ifndef FVL_TEST_RNG_H
#define FVL_TEST_RNG_H

#include <stdint.h>

struct rng {
	uint64_t s;
};

static inline uint64_t rng_next(struct rng *r)
{
	r->s ^= r->s >> 12;
	r->s ^= r->s << 25;
	r->s ^= r->s >> 27;
	return r->s * 0x2545f4914f6cdd1dull;
}

/* Uniform in [0, 1). */
static inline float rng_f32(struct rng *r)
{
	return (float)(rng_next(r) >> 40) * 0x1p-24f;
}

/* Uniform in [lo, hi]. */
static inline int rng_int(struct rng *r, int lo, int hi)
{
	return lo + (int)(rng_next(r) % (uint64_t)(hi - lo + 1));
}

#endif /* FVL_TEST_RNG_H */

/*
 * node/prng.h: a small deterministic generator for non-private randomness.
 *
 * Used for the model's seeded initialisation and the train/held-out split,
 * where reproducibility across machines matters and secrecy does not. It is
 * never used for DP noise or Poisson sampling: those draw from privacy/'s
 * dp_rng_t. SplitMix64 (Steele, Lea, Flood 2014): integer-only, so the
 * stream is identical on every platform.
 */
#ifndef NODE_PRNG_H
#define NODE_PRNG_H

#include <stdint.h>

typedef struct node_prng {
    uint64_t state;
} node_prng_t;

static inline void
node__prng_seed(node_prng_t *p, uint64_t seed)
{
    p->state = seed;
}

static inline uint64_t
node__prng_next(node_prng_t *p)
{
    uint64_t z = (p->state += UINT64_C(0x9E3779B97F4A7C15));
    z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
    return z ^ (z >> 31);
}

/* Uniform in [0, 1) with 24 random bits: exact in float32. */
static inline float
node__prng_float(node_prng_t *p)
{
    return (float) (node__prng_next(p) >> 40) * (1.0f / 16777216.0f);
}

/* Uniform integer in [0, n), n > 0, without modulo bias (rejection). */
static inline uint64_t
node__prng_below(node_prng_t *p, uint64_t n)
{
    uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    uint64_t v;
    do {
        v = node__prng_next(p);
    } while (v >= limit);
    return v % n;
}

#endif

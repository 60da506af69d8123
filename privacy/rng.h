/*
 * privacy/rng.h: the generator every privacy mechanism draws from.
 *
 * Production uses dp_rng_new_secure(): a CSPRNG keyed from OpenSSL's
 * RAND_priv_bytes. dp_rng_new_seeded() gives a reproducible stream for
 * tests and simulations only; it is not private, and dp_rng_kind() lets the
 * records say which generator ran. Key material is wiped on destroy.
 *
 * Ownership: the caller owns the returned dp_rng_t and frees it with
 * dp_rng_destroy(). Not thread-safe: one generator per thread. Not
 * fork-safe: a child process must create its own generator (a copied one
 * repeats the parent's stream).
 *
 * Errors: the constructors return FL_ERR_CRYPTO if OpenSSL cannot supply
 * a key or set up the cipher, FL_ERR_NOMEM, or FL_ERR_INVALID (out NULL).
 * The draw functions cannot fail; should the cipher ever fail mid-stream
 * the process aborts rather than emit predictable noise.
 */
#ifndef DP_RNG_H
#define DP_RNG_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

typedef struct dp_rng dp_rng_t;

typedef enum dp_rng_kind {
    DP_RNG_SECURE = 0, /* CSPRNG seeded by OpenSSL: for production */
    DP_RNG_SEEDED = 1  /* deterministic from a seed: tests and simulations */
} dp_rng_kind_t;

fl_err_t dp_rng_new_secure(dp_rng_t **out, fl_errbuf_t *eb) FL_WUR;
fl_err_t dp_rng_new_seeded(dp_rng_t **out, uint64_t seed,
                           fl_errbuf_t *eb) FL_WUR;
void dp_rng_destroy(dp_rng_t **rng_p);

dp_rng_kind_t dp_rng_kind(const dp_rng_t *rng);
/* "secure" or "seeded" (for logs and records). */
const char *dp_rng_kind_name(dp_rng_kind_t kind);

/* Fills buf with n random bytes. */
void dp_rng_bytes(dp_rng_t *rng, void *buf, size_t n);
/* A uniform 64-bit value. */
uint64_t dp_rng_u64(dp_rng_t *rng);
/* A uniform double in (0, 1) using all 53 bits of the mantissa. */
double dp_rng_uniform(dp_rng_t *rng);
/* A uniform integer in [0, n) without modulo bias; n > 0. */
uint64_t dp_rng_below(dp_rng_t *rng, uint64_t n);
/* One standard normal draw (double precision). */
double dp_rng_gaussian(dp_rng_t *rng);

/*
 * Bulk Gaussian kernels (the DP-SGD hot path; privacy/mechanism.c calls
 * them). fill: out[j] = stddev * z_j; add: v[j] += stddev * z_j, computed
 * in double and rounded once to float. z_j are independent standard
 * normals from the same sampler as dp_rng_gaussian(), drawn straight from
 * the keystream buffer. stddev finite; n may be 0.
 */
void dp_rng_gaussian_fill_f32(dp_rng_t *rng, float *out, size_t n,
                              double stddev);
void dp_rng_gaussian_add_f32(dp_rng_t *rng, float *v, size_t n, double stddev);

/* The keystream cipher ("aes-256-ctr") and Gaussian sampler ("ziggurat"),
 * for benchmarks and records. Static strings. */
const char *dp_rng_stream_name(void);
const char *dp_rng_gaussian_kernel_name(void);

/*
 * Internal, for tests: relative error of the ziggurat table's closure (the
 * top layer's area against the common layer area); below 1e-12.
 */
double dp__rng_zig_closure_error(const dp_rng_t *rng);

#endif

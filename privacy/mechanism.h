/*
 * privacy/mechanism.h: the Gaussian mechanism on float32 vectors.
 *
 * Pure functions over caller-owned buffers; randomness comes only through
 * the dp_rng_t passed in (production: the CSPRNG; tests: a seed).
 */
#ifndef DP_MECHANISM_H
#define DP_MECHANISM_H

#include <stddef.h>

#include "common/err.h"
#include "privacy/rng.h"

/* L2 norm of v (accumulated in double). */
double dp_l2_norm(const float *v, size_t n);

/*
 * The factor that brings a vector of L2 norm `norm` within clip (> 0,
 * finite): 1 when norm <= clip, else clip/norm shrunk by 2^-22 (relative)
 * so that float rounding cannot leave the scaled norm above clip; 0 when
 * norm is not finite. The one clipping rule of dpfl: dp_clip_l2() and the
 * trainer's per-example (ghost-norm) clipping both use it.
 */
double dp_clip_factor(double norm, double clip);

/*
 * Scales v in place so that its L2 norm is at most clip (> 0, finite).
 * Returns the norm before clipping. A vector already within clip is left
 * untouched; otherwise the scale is clip/norm shrunk by 2^-22 (relative) so
 * that float rounding cannot leave the norm above clip. A vector whose norm
 * is not finite (NaN or infinite elements) is set to zero, and the NaN or
 * infinite norm is returned so the caller can count it.
 */
double dp_clip_l2(float *v, size_t n, double clip);

/*
 * Adds independent N(0, stddev^2) noise to each of the n values of v.
 * stddev >= 0 and finite (0 adds nothing). Fast path: this runs once per
 * parameter per DP-SGD step.
 */
void dp_noise_add_gaussian(dp_rng_t *rng, float *v, size_t n, double stddev);

/* Writes n independent N(0, stddev^2) draws into out (zeros if stddev is
 * 0). Which generator ran: dp_rng_kind_name(dp_rng_kind(rng)). */
void dp_noise_fill_gaussian(dp_rng_t *rng, float *out, size_t n, double stddev);

#endif

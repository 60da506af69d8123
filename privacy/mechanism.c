/*
 * privacy/mechanism.c: L2 clipping and the Gaussian mechanism on float32
 * vectors.
 *
 * Clipping bounds the sensitivity the accountant assumes, so it errs on the
 * safe side: the scale factor is shrunk by 2^-22 (relative) so that the
 * rounding of each element to float cannot push the clipped norm above C,
 * and a vector whose norm is not finite is replaced by zeros (a NaN or
 * infinite gradient would otherwise have unbounded sensitivity).
 * The noise comes from privacy/rng.c's bulk kernels, one keystream word per
 * value on the fast path.
 */
#include "privacy/mechanism.h"

#include <assert.h>
#include <math.h>
#include <string.h>

/* 1 - 2^-22: covers float rounding (2^-24 per element) with room. */
#define CLIP_SHRINK (1.0 - 0x1p-22)

double
dp_l2_norm(const float *v, size_t n)
{
    /* Four partial sums: independent chains the CPU can overlap. */
    double s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0;
    size_t i = 0;

    for (; i + 4 <= n; i += 4) {
        double a = v[i], b = v[i + 1], c = v[i + 2], d = v[i + 3];
        s0 += a * a;
        s1 += b * b;
        s2 += c * c;
        s3 += d * d;
    }
    for (; i < n; i++) {
        double a = v[i];
        s0 += a * a;
    }
    return sqrt((s0 + s1) + (s2 + s3));
}

double
dp_clip_factor(double norm, double clip)
{
    assert(clip > 0.0 && isfinite(clip));
    if (!isfinite(norm))
        return 0.0;
    return norm <= clip ? 1.0 : clip / norm * CLIP_SHRINK;
}

double
dp_clip_l2(float *v, size_t n, double clip)
{
    double norm = dp_l2_norm(v, n);
    double scale = dp_clip_factor(norm, clip);

    if (scale == 0.0) {
        memset(v, 0, n * sizeof(*v));
        return norm;
    }
    if (scale == 1.0)
        return norm;
    for (size_t i = 0; i < n; i++)
        v[i] = (float) ((double) v[i] * scale);
    return norm;
}

void
dp_noise_add_gaussian(dp_rng_t *rng, float *v, size_t n, double stddev)
{
    assert(stddev >= 0.0 && isfinite(stddev));
    if (stddev == 0.0 || n == 0)
        return;
    dp_rng_gaussian_add_f32(rng, v, n, stddev);
}

void
dp_noise_fill_gaussian(dp_rng_t *rng, float *out, size_t n, double stddev)
{
    assert(stddev >= 0.0 && isfinite(stddev));
    if (n == 0)
        return;
    if (stddev == 0.0) {
        memset(out, 0, n * sizeof(*out));
        return;
    }
    dp_rng_gaussian_fill_f32(rng, out, n, stddev);
}

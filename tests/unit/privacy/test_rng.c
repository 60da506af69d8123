/*
 * Tests for privacy/rng.c: the stream definition (known answer), seeded
 * reproducibility, the secure generator, uniform doubles, unbiased
 * integers, and the ziggurat Gaussian sampler against the normal law.
 *
 * Statistical tests use fixed seeds, so they are deterministic; each
 * tolerance is stated next to it (5 standard errors, or a KS/chi-square
 * critical value at p = 0.001), so a correct sampler passes for almost
 * every seed and a biased one fails.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "privacy/rng.h"

#define ZIG_R 3.6541528853610088

static dp_rng_t *
seeded(uint64_t seed)
{
    dp_rng_t *rng = NULL;
    fl_errbuf_t eb = {{0}};

    if (dp_rng_new_seeded(&rng, seed, &eb) != FL_OK)
        fail_msg("seeded rng: %s", eb.msg);
    return rng;
}

static dp_rng_t *
secure(void)
{
    dp_rng_t *rng = NULL;
    fl_errbuf_t eb = {{0}};

    if (dp_rng_new_secure(&rng, &eb) != FL_OK)
        fail_msg("secure rng: %s", eb.msg);
    return rng;
}

static double
phi_cdf(double x)
{
    return 0.5 * erfc(-x / sqrt(2.0));
}

static int
cmp_double(const void *a, const void *b)
{
    double x = *(const double *) a, y = *(const double *) b;
    return (x > y) - (x < y);
}

static int
cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;
    return (x > y) - (x < y);
}

/*
 * Known answer: key = SHA-256("dpfl rng seeded v1" || 42 as 8 LE bytes),
 * AES-256-CTR keystream from a zero counter, read as little-endian words.
 * Computed with the openssl CLI (dgst -sha256; enc -aes-256-ctr).
 */
static void
test_seeded_known_answer(void **state)
{
    dp_rng_t *rng = seeded(42);

    (void) state;
    assert_int_equal(dp_rng_kind(rng), DP_RNG_SEEDED);
    assert_string_equal(dp_rng_kind_name(dp_rng_kind(rng)), "seeded");
    assert_true(dp_rng_u64(rng) == UINT64_C(0xaf99dfdbd319d04c));
    assert_true(dp_rng_u64(rng) == UINT64_C(0x47e2bf370d8348bf));
    assert_true(dp_rng_u64(rng) == UINT64_C(0xf02d84fb1a29a2fc));
    assert_true(dp_rng_u64(rng) == UINT64_C(0x830aec85a626cda6));
    dp_rng_destroy(&rng);
    assert_null(rng);
    dp_rng_destroy(&rng); /* idempotent */
}

static void
test_seeded_reproducible(void **state)
{
    dp_rng_t *a = seeded(7), *b = seeded(7), *c = seeded(8);
    size_t same_c = 0;

    (void) state;
    /* 5000 words crosses two buffer refills. */
    for (int i = 0; i < 5000; i++) {
        uint64_t x = dp_rng_u64(a), y = dp_rng_u64(b), z = dp_rng_u64(c);
        assert_true(x == y);
        same_c += x == z;
    }
    assert_int_equal(same_c, 0);
    for (int i = 0; i < 100; i++)
        assert_true(dp_rng_gaussian(a) == dp_rng_gaussian(b));
    dp_rng_destroy(&a);
    dp_rng_destroy(&b);
    dp_rng_destroy(&c);
}

static void
test_secure_non_repeating(void **state)
{
    enum { N = 20000 };
    dp_rng_t *a = secure(), *b = secure();
    uint64_t *w = malloc(2 * N * sizeof(*w));

    (void) state;
    assert_non_null(w);
    assert_int_equal(dp_rng_kind(a), DP_RNG_SECURE);
    assert_string_equal(dp_rng_kind_name(DP_RNG_SECURE), "secure");
    for (size_t i = 0; i < N; i++) {
        w[i] = dp_rng_u64(a);
        w[N + i] = dp_rng_u64(b);
    }
    /* Two independently keyed streams and each stream itself: no 64-bit
     * value repeats (probability of a chance repeat ~ 1e-11). */
    qsort(w, 2 * N, sizeof(*w), cmp_u64);
    for (size_t i = 1; i < 2 * N; i++)
        assert_true(w[i] != w[i - 1]);
    free(w);
    dp_rng_destroy(&a);
    dp_rng_destroy(&b);
}

static void
test_bytes(void **state)
{
    dp_rng_t *a = seeded(9), *b = seeded(9);
    unsigned char x[37], z[37];
    uint64_t w;

    (void) state;
    dp_rng_bytes(a, x, sizeof(x));
    dp_rng_bytes(a, z, sizeof(z));
    /* The bytes are the stream itself: the first word matches. */
    w = dp_rng_u64(b);
    assert_memory_equal(x, &w, sizeof(w));
    assert_memory_not_equal(x, z, sizeof(x));
    /* Large requests cross refills and stay reproducible. */
    {
        unsigned char *p = malloc(100000), *q = malloc(100000);
        dp_rng_t *c = seeded(10), *d = seeded(10);
        size_t zeros = 0;

        assert_non_null(p);
        assert_non_null(q);
        dp_rng_bytes(c, p, 100000);
        dp_rng_bytes(d, q, 100000);
        assert_memory_equal(p, q, 100000);
        for (size_t i = 0; i < 100000; i++)
            zeros += p[i] == 0;
        /* Expected 390.6 zero bytes, sd 19.7: within 5 sd. */
        assert_true(zeros > 292 && zeros < 490);
        free(p);
        free(q);
        dp_rng_destroy(&c);
        dp_rng_destroy(&d);
    }
    dp_rng_destroy(&a);
    dp_rng_destroy(&b);
}

static void
test_uniform(void **state)
{
    enum { N = 1000000 };
    dp_rng_t *rng = seeded(11);
    double sum = 0.0, sum2 = 0.0, mean, var;

    (void) state;
    for (int i = 0; i < N; i++) {
        double u = dp_rng_uniform(rng);
        assert_true(u > 0.0 && u < 1.0);
        /* On the 2^-53 grid: u * 2^53 is an integer. */
        assert_true(u * 0x1p53 == floor(u * 0x1p53));
        sum += u;
        sum2 += u * u;
    }
    mean = sum / N;
    var = sum2 / N - mean * mean;
    /* se(mean) = sqrt(1/12/N) = 2.9e-4; se(var) = sqrt(1/180/N) = 7.5e-5 */
    assert_true(fabs(mean - 0.5) < 5 * 2.9e-4);
    assert_true(fabs(var - 1.0 / 12.0) < 5 * 7.5e-5);
    dp_rng_destroy(&rng);
}

static void
test_below_unbiased(void **state)
{
    enum { N = 70000, K = 7 };
    dp_rng_t *rng = seeded(12);
    size_t count[K] = {0};
    double chi2 = 0.0, expect = (double) N / K;
    size_t low = 0;
    const uint64_t big = UINT64_C(3) << 62;

    (void) state;
    for (int i = 0; i < N; i++) {
        uint64_t r = dp_rng_below(rng, K);
        assert_true(r < K);
        count[r]++;
    }
    for (int k = 0; k < K; k++)
        chi2 += ((double) count[k] - expect) * ((double) count[k] - expect) /
                expect;
    /* Chi-square, 6 degrees of freedom: 22.46 is the p = 0.001 point. */
    assert_true(chi2 < 22.46);
    for (int i = 0; i < 100; i++)
        assert_true(dp_rng_below(rng, 1) == 0);
    /* n = 3 * 2^62: plain r % n would land below 2^62 half the time;
     * unbiased is 1/3 (sd 0.0047 over 10000 draws). */
    for (int i = 0; i < 10000; i++) {
        uint64_t r = dp_rng_below(rng, big);
        assert_true(r < big);
        low += r < (UINT64_C(1) << 62);
    }
    assert_true(fabs((double) low / 10000 - 1.0 / 3.0) < 0.025);
    dp_rng_destroy(&rng);
}

static void
test_zig_table_closes(void **state)
{
    dp_rng_t *rng = seeded(1);

    (void) state;
    assert_true(dp__rng_zig_closure_error(rng) < 1e-12);
    assert_string_equal(dp_rng_gaussian_kernel_name(), "ziggurat");
    assert_string_equal(dp_rng_stream_name(), "aes-256-ctr");
    dp_rng_destroy(&rng);
}

/* Moments of n draws: mean, variance, kurtosis within 5 standard errors. */
static void
check_moments(const double *z, size_t n)
{
    double m = 0.0, m2 = 0.0, m4 = 0.0, var, kurt;

    for (size_t i = 0; i < n; i++)
        m += z[i];
    m /= (double) n;
    for (size_t i = 0; i < n; i++) {
        double d = (z[i] - m) * (z[i] - m);
        m2 += d;
        m4 += d * d;
    }
    m2 /= (double) n;
    m4 /= (double) n;
    var = m2;
    kurt = m4 / (m2 * m2);
    assert_true(fabs(m) < 5.0 / sqrt((double) n));
    assert_true(fabs(var - 1.0) < 5.0 * sqrt(2.0 / (double) n));
    assert_true(fabs(kurt - 3.0) < 5.0 * sqrt(24.0 / (double) n));
}

/* Kolmogorov-Smirnov against Phi; sorts z. */
static double
ks_stat(double *z, size_t n)
{
    double d = 0.0;

    qsort(z, n, sizeof(*z), cmp_double);
    for (size_t i = 0; i < n; i++) {
        double f = phi_cdf(z[i]);
        double lo = f - (double) i / (double) n;
        double hi = (double) (i + 1) / (double) n - f;
        if (lo > d)
            d = lo;
        if (hi > d)
            d = hi;
    }
    return d * sqrt((double) n);
}

static void
test_gaussian_distribution(void **state)
{
    enum { N = 1000000 };
    dp_rng_t *rng = seeded(13);
    double *z = malloc(N * sizeof(*z));

    (void) state;
    assert_non_null(z);
    for (size_t i = 0; i < N; i++) {
        z[i] = dp_rng_gaussian(rng);
        assert_true(isfinite(z[i]));
    }
    check_moments(z, N);
    /* sqrt(n) D_n: 1.949 is the p = 0.001 critical value. */
    assert_true(ks_stat(z, N) < 1.949);
    free(z);
    dp_rng_destroy(&rng);
}

/* The bulk float kernel gives the same draws as dp_rng_gaussian. */
static void
test_bulk_matches_scalar(void **state)
{
    enum { N = 10000 };
    dp_rng_t *a = seeded(14), *b = seeded(14);
    float *v = malloc(N * sizeof(*v));
    float *w = malloc(N * sizeof(*w));

    (void) state;
    assert_non_null(v);
    assert_non_null(w);
    dp_rng_gaussian_fill_f32(a, v, N, 2.5);
    for (size_t i = 0; i < N; i++)
        assert_true(v[i] == (float) (2.5 * dp_rng_gaussian(b)));
    /* Both generators are now at the same point of the stream. */
    assert_true(dp_rng_u64(a) == dp_rng_u64(b));
    for (size_t i = 0; i < N; i++)
        w[i] = (float) i;
    dp_rng_gaussian_add_f32(a, w, N, 0.5);
    for (size_t i = 0; i < N; i++)
        assert_true(w[i] == (float) ((double) i + 0.5 * dp_rng_gaussian(b)));
    free(v);
    free(w);
    dp_rng_destroy(&a);
    dp_rng_destroy(&b);
}

/* The tails: frequency beyond 3 and 4 sigma, and the conditional mean
 * beyond the ziggurat's base edge r, which only the tail sampler serves. */
static void
test_gaussian_tails(void **state)
{
    enum { N = 4000000 };
    dp_rng_t *rng = seeded(15);
    float *v = malloc(N * sizeof(*v));
    double n3 = 0, n4 = 0, nr = 0, sum_r = 0.0, p3, p4, pr, er;

    (void) state;
    assert_non_null(v);
    dp_rng_gaussian_fill_f32(rng, v, N, 1.0);
    for (size_t i = 0; i < N; i++) {
        double a = fabs((double) v[i]);
        n3 += a > 3.0;
        n4 += a > 4.0;
        if (a > ZIG_R) {
            nr++;
            sum_r += a - ZIG_R;
        }
    }
    p3 = 2.0 * phi_cdf(-3.0);   /* 0.0026998 */
    p4 = 2.0 * phi_cdf(-4.0);   /* 6.334e-5 */
    pr = 2.0 * phi_cdf(-ZIG_R); /* 2.58e-4 */
    assert_true(fabs(n3 - N * p3) < 5.0 * sqrt(N * p3));
    assert_true(fabs(n4 - N * p4) < 5.0 * sqrt(N * p4));
    assert_true(fabs(nr - N * pr) < 5.0 * sqrt(N * pr));
    /* E[Z - r | Z > r] = phi(r)/(1-Phi(r)) - r = 0.2447; the conditional
     * sd is below 0.25, so 5 se is 5 * 0.25 / sqrt(nr). */
    er = exp(-0.5 * ZIG_R * ZIG_R) / sqrt(2.0 * 3.14159265358979323846) /
             phi_cdf(-ZIG_R) -
         ZIG_R;
    assert_true(fabs(sum_r / nr - er) < 5.0 * 0.25 / sqrt(nr));
    free(v);
    dp_rng_destroy(&rng);
}

/* The float kernel's output, as a whole, against Phi. */
static void
test_bulk_ks(void **state)
{
    enum { N = 1000000 };
    dp_rng_t *rng = seeded(16);
    float *v = malloc(N * sizeof(*v));
    double *z = malloc(N * sizeof(*z));

    (void) state;
    assert_non_null(v);
    assert_non_null(z);
    dp_rng_gaussian_fill_f32(rng, v, N, 1.0);
    for (size_t i = 0; i < N; i++)
        z[i] = v[i];
    check_moments(z, N);
    assert_true(ks_stat(z, N) < 1.949);
    free(v);
    free(z);
    dp_rng_destroy(&rng);
}

static void
test_secure_gaussian(void **state)
{
    enum { N = 200000 };
    dp_rng_t *rng = secure();
    double *z = malloc(N * sizeof(*z));

    (void) state;
    assert_non_null(z);
    for (size_t i = 0; i < N; i++)
        z[i] = dp_rng_gaussian(rng);
    /* Not seeded: these can fail by chance with probability ~ 1e-5. */
    check_moments(z, N);
    assert_true(ks_stat(z, N) < 2.3);
    free(z);
    dp_rng_destroy(&rng);
}

static void
test_invalid(void **state)
{
    fl_errbuf_t eb = {{0}};

    (void) state;
    assert_int_equal(dp_rng_new_secure(NULL, &eb), FL_ERR_INVALID);
    assert_int_equal(dp_rng_new_seeded(NULL, 1, &eb), FL_ERR_INVALID);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_seeded_known_answer),
        cmocka_unit_test(test_seeded_reproducible),
        cmocka_unit_test(test_secure_non_repeating),
        cmocka_unit_test(test_bytes),
        cmocka_unit_test(test_uniform),
        cmocka_unit_test(test_below_unbiased),
        cmocka_unit_test(test_zig_table_closes),
        cmocka_unit_test(test_gaussian_distribution),
        cmocka_unit_test(test_bulk_matches_scalar),
        cmocka_unit_test(test_gaussian_tails),
        cmocka_unit_test(test_bulk_ks),
        cmocka_unit_test(test_secure_gaussian),
        cmocka_unit_test(test_invalid),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

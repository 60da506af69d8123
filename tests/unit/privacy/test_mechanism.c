/*
 * Tests for privacy/mechanism.c: L2 norm, clipping (the sensitivity bound
 * the accountant relies on) and the Gaussian noise on float32 vectors.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "privacy/mechanism.h"

static dp_rng_t *
seeded(uint64_t seed)
{
    dp_rng_t *rng = NULL;
    fl_errbuf_t eb = {{0}};

    if (dp_rng_new_seeded(&rng, seed, &eb) != FL_OK)
        fail_msg("seeded rng: %s", eb.msg);
    return rng;
}

/* Exact-ish reference norm in long double. */
static double
ref_norm(const float *v, size_t n)
{
    long double s = 0.0L;

    for (size_t i = 0; i < n; i++)
        s += (long double) v[i] * (long double) v[i];
    return (double) sqrtl(s);
}

static void
test_l2_norm(void **state)
{
    float v[7] = {3.0f, 4.0f, 0, 0, 0, 0, 0};
    float w[5] = {1, 1, 1, 1, 1};

    (void) state;
    assert_true(dp_l2_norm(v, 2) == 5.0);
    assert_true(dp_l2_norm(v, 7) == 5.0);
    assert_true(dp_l2_norm(w, 5) == sqrt(5.0));
    assert_true(dp_l2_norm(v, 0) == 0.0);
    /* Large values do not overflow: accumulation is in double. */
    v[0] = 3e30f;
    v[1] = 4e30f;
    assert_true(fabs(dp_l2_norm(v, 2) - 5e30) < 5e30 * 1e-7);
}

static void
test_clip_scales_to_c(void **state)
{
    enum { N = 1001 };
    dp_rng_t *rng = seeded(21);
    float *v = malloc(N * sizeof(*v));

    (void) state;
    assert_non_null(v);
    for (int trial = 0; trial < 200; trial++) {
        double c = 0.01 + 0.37 * trial, before, after;

        dp_noise_fill_gaussian(rng, v, N, 1.0 + trial);
        before = ref_norm(v, N);
        assert_true(fabs(dp_clip_l2(v, N, c) - before) < before * 1e-12);
        after = ref_norm(v, N);
        if (before > c) {
            /* Never above C (the sensitivity bound), and close to it. */
            assert_true(after <= c);
            assert_true(after > c * (1.0 - 1e-6));
        } else {
            assert_true(after == before);
        }
    }
    free(v);
    dp_rng_destroy(&rng);
}

static void
test_clip_untouched_under(void **state)
{
    float v[4] = {0.1f, -0.2f, 0.3f, -0.4f};
    float w[4];

    (void) state;
    memcpy(w, v, sizeof(v));
    assert_true(fabs(dp_clip_l2(v, 4, 1.0) - sqrt(0.3)) < 1e-7);
    assert_memory_equal(v, w, sizeof(v));
    /* Exactly at C: untouched. */
    {
        float e[2] = {3.0f, 4.0f};
        assert_true(dp_clip_l2(e, 2, 5.0) == 5.0);
        assert_true(e[0] == 3.0f && e[1] == 4.0f);
    }
}

static void
test_clip_direction_and_zero(void **state)
{
    float v[2] = {30.0f, -40.0f};
    float z[3] = {0, 0, 0};

    (void) state;
    assert_true(dp_clip_l2(v, 2, 1.0) == 50.0);
    assert_true(fabs(v[0] - 0.6f) < 1e-6f);
    assert_true(fabs(v[1] + 0.8f) < 1e-6f);
    assert_true(dp_clip_l2(z, 3, 1.0) == 0.0);
    assert_true(z[0] == 0.0f && z[1] == 0.0f && z[2] == 0.0f);
    assert_true(dp_clip_l2(z, 0, 1.0) == 0.0);
}

static void
test_clip_non_finite(void **state)
{
    float v[3] = {1.0f, NAN, 2.0f};
    float w[3] = {1.0f, INFINITY, 2.0f};

    (void) state;
    assert_true(isnan(dp_clip_l2(v, 3, 1.0)));
    assert_true(v[0] == 0.0f && v[1] == 0.0f && v[2] == 0.0f);
    assert_true(isinf(dp_clip_l2(w, 3, 1.0)));
    assert_true(w[0] == 0.0f && w[1] == 0.0f && w[2] == 0.0f);
}

/* The factor the trainer's per-example clipping uses. */
static void
test_clip_factor(void **state)
{
    (void) state;
    assert_true(dp_clip_factor(0.5, 1.0) == 1.0);
    assert_true(dp_clip_factor(1.0, 1.0) == 1.0);
    assert_true(dp_clip_factor(4.0, 1.0) < 0.25);
    assert_true(dp_clip_factor(4.0, 1.0) > 0.25 * (1.0 - 1e-6));
    /* A float row scaled by it stays within the bound. */
    assert_true((float) (3.0f * (float) dp_clip_factor(3.0, 1.0)) <= 1.0f);
    assert_true(dp_clip_factor(NAN, 1.0) == 0.0);
    assert_true(dp_clip_factor(INFINITY, 1.0) == 0.0);
}

static void
test_noise_zero_stddev(void **state)
{
    dp_rng_t *rng = seeded(22), *ref = seeded(22);
    float v[5] = {1, 2, 3, 4, 5};
    float w[5] = {9, 9, 9, 9, 9};

    (void) state;
    dp_noise_add_gaussian(rng, v, 5, 0.0);
    assert_true(v[0] == 1 && v[1] == 2 && v[2] == 3 && v[3] == 4 && v[4] == 5);
    dp_noise_fill_gaussian(rng, w, 5, 0.0);
    for (int i = 0; i < 5; i++)
        assert_true(w[i] == 0.0f);
    /* Nothing was drawn. */
    assert_true(dp_rng_u64(rng) == dp_rng_u64(ref));
    dp_rng_destroy(&rng);
    dp_rng_destroy(&ref);
}

static void
test_noise_statistics(void **state)
{
    enum { N = 500000 };
    dp_rng_t *rng = seeded(23);
    float *v = malloc(N * sizeof(*v));
    double m = 0.0, s2 = 0.0;

    (void) state;
    assert_non_null(v);
    for (size_t i = 0; i < N; i++)
        v[i] = 5.0f;
    dp_noise_add_gaussian(rng, v, N, 2.0);
    for (size_t i = 0; i < N; i++)
        m += v[i];
    m /= N;
    for (size_t i = 0; i < N; i++)
        s2 += (v[i] - m) * (v[i] - m);
    s2 /= N;
    /* se(mean) = 2/sqrt(N) = 0.0028; se(var) = 4 sqrt(2/N) = 0.008. */
    assert_true(fabs(m - 5.0) < 5 * 0.0028);
    assert_true(fabs(s2 - 4.0) < 5 * 0.008);
    free(v);
    dp_rng_destroy(&rng);
}

static void
test_noise_reports_generator(void **state)
{
    dp_rng_t *rng = seeded(24);
    fl_errbuf_t eb = {{0}};
    dp_rng_t *sec = NULL;
    float a[3] = {0, 0, 0}, b[3] = {0, 0, 0};

    (void) state;
    assert_string_equal(dp_rng_kind_name(dp_rng_kind(rng)), "seeded");
    assert_int_equal(dp_rng_new_secure(&sec, &eb), FL_OK);
    assert_string_equal(dp_rng_kind_name(dp_rng_kind(sec)), "secure");
    dp_noise_add_gaussian(sec, a, 3, 1.0);
    dp_noise_add_gaussian(sec, b, 3, 1.0);
    assert_memory_not_equal(a, b, sizeof(a));
    dp_rng_destroy(&rng);
    dp_rng_destroy(&sec);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_l2_norm),
        cmocka_unit_test(test_clip_scales_to_c),
        cmocka_unit_test(test_clip_untouched_under),
        cmocka_unit_test(test_clip_direction_and_zero),
        cmocka_unit_test(test_clip_non_finite),
        cmocka_unit_test(test_clip_factor),
        cmocka_unit_test(test_noise_zero_stddev),
        cmocka_unit_test(test_noise_statistics),
        cmocka_unit_test(test_noise_reports_generator),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * tests/unit/node/test_trainer.c: DP-SGD steps against plain SGD, the
 * noise's distribution, Poisson sampling and spec validation.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "node/data.h"
#include "node/model.h"
#include "node/trainer.h"
#include "privacy/rng.h"

typedef struct fix {
    node_model_t *m;
    node_dataset_t *ds;
    size_t np;
} fix_t;

/* Random data from a seeded generator: rows x inputs, labels uniform. */
static void
fix_make(fix_t *f, const char *shape, size_t rows)
{
    fl_errbuf_t eb = {{0}};
    dp_rng_t *rng = NULL;
    size_t d;
    float *x;
    int32_t *y;

    assert_int_equal(node_model_parse(shape, NODE_ACT_TANH, &f->m, &eb), FL_OK);
    f->np = node_model_n_params(f->m);
    d = node_model_n_inputs(f->m);
    x = malloc(rows * d * sizeof(float));
    y = malloc(rows * sizeof(int32_t));
    assert_int_equal(dp_rng_new_seeded(&rng, 5, &eb), FL_OK);
    for (size_t i = 0; i < rows * d; i++) {
        x[i] = (float) dp_rng_gaussian(rng);
    }
    for (size_t i = 0; i < rows; i++) {
        y[i] = (int32_t) dp_rng_below(rng, node_model_n_classes(f->m));
    }
    assert_int_equal(node_dataset_from_arrays(
                         rows, d, x, y, (uint32_t) node_model_n_classes(f->m),
                         NULL, 0, NULL, &f->ds, &eb),
                     FL_OK);
    dp_rng_destroy(&rng);
    free(x);
    free(y);
}

static void
fix_free(fix_t *f)
{
    node_dataset_destroy(&f->ds);
    node_model_destroy(&f->m);
}

static node_train_spec_t
base_spec(double batch)
{
    node_train_spec_t s;

    memset(&s, 0, sizeof(s));
    s.optimizer = NODE_OPT_SGD;
    s.lr = 0.1;
    s.momentum = 0.5;
    s.clip = 1.0;
    s.noise_multiplier = 1.0;
    s.expected_batch = batch;
    return s;
}

/* Runs steps one at a time on both trainers and compares parameters. */
static void
compare_step_for_step(const fix_t *f, const node_train_spec_t *a,
                      const node_train_spec_t *b, unsigned steps, double tol)
{
    fl_errbuf_t eb = {{0}};
    node_trainer_t *ta = NULL;
    node_trainer_t *tb = NULL;
    dp_rng_t *ra = NULL;
    dp_rng_t *rb = NULL;
    float *pa = malloc(f->np * sizeof(float));
    float *pb = malloc(f->np * sizeof(float));
    size_t rows = node_dataset_rows(f->ds);
    double moved = 0.0;

    assert_int_equal(node_model_init(f->m, 3, pa, f->np, &eb), FL_OK);
    memcpy(pb, pa, f->np * sizeof(float));
    assert_int_equal(node_trainer_new(f->m, a, rows, &ta, &eb), FL_OK);
    assert_int_equal(node_trainer_new(f->m, b, rows, &tb, &eb), FL_OK);
    assert_int_equal(dp_rng_new_seeded(&ra, 77, &eb), FL_OK);
    assert_int_equal(dp_rng_new_seeded(&rb, 77, &eb), FL_OK);
    for (unsigned s = 0; s < steps; s++) {
        node_train_stats_t sa;
        node_train_stats_t sb;

        assert_int_equal(node_trainer_run_steps(ta, pa, f->ds, ra, 1, &sa, &eb),
                         FL_OK);
        assert_int_equal(node_trainer_run_steps(tb, pb, f->ds, rb, 1, &sb, &eb),
                         FL_OK);
        assert_int_equal(sa.examples, sb.examples);
        for (size_t k = 0; k < f->np; k++) {
            if (fabs(pa[k] - pb[k]) > tol * (fabs(pb[k]) + 1e-3)) {
                fail_msg("step %u param %zu: %.9g vs %.9g", s, k, pa[k], pb[k]);
            }
        }
    }
    assert_int_equal(node_model_init(f->m, 3, pb, f->np, &eb), FL_OK);
    for (size_t k = 0; k < f->np; k++) {
        moved += fabs(pa[k] - pb[k]);
    }
    assert_true(moved > 1e-3); /* training did change the parameters */
    node_trainer_destroy(&ta);
    node_trainer_destroy(&tb);
    dp_rng_destroy(&ra);
    dp_rng_destroy(&rb);
    free(pa);
    free(pb);
}

/* Clipping off and noise zero: DP-SGD is plain SGD, step for step. */
static void
test_dp_equals_plain_without_clip_and_noise(void **state)
{
    fix_t f;
    node_train_spec_t dp = base_spec(16);
    node_train_spec_t plain = base_spec(16);

    (void) state;
    fix_make(&f, "6-8-3", 200);
    dp.clip = INFINITY;
    dp.noise_multiplier = 0.0;
    plain.nonprivate = 1;
    compare_step_for_step(&f, &dp, &plain, 25, 1e-6);
    dp.optimizer = plain.optimizer = NODE_OPT_ADAM;
    dp.lr = plain.lr = 0.01;
    compare_step_for_step(&f, &dp, &plain, 25, 1e-5);
    /* A clip far above every gradient norm also changes nothing. */
    dp.clip = 1e6;
    compare_step_for_step(&f, &dp, &plain, 10, 1e-5);
    fix_free(&f);
}

/*
 * Noise: two trainers with the same seed sample the same batch (sampling
 * draws come before noise draws), one with sigma, one without; with SGD,
 * lr 1, no momentum, the parameter difference times B is exactly the
 * noise added to the sum. Its n = 20,010 values must have mean 0 and
 * variance (sigma C)^2: with a fixed seed, the mean within 4 standard
 * errors (4 sigma C / sqrt(n)) and the variance within 5% (the sample
 * variance's relative sd is sqrt(2/n) = 1%).
 */
static void
test_noise_distribution(void **state)
{
    fix_t f;
    node_train_spec_t noisy = base_spec(10);
    node_train_spec_t quiet;
    fl_errbuf_t eb = {{0}};
    node_trainer_t *tn = NULL;
    node_trainer_t *tq = NULL;
    dp_rng_t *rn = NULL;
    dp_rng_t *rq = NULL;
    float *pn;
    float *pq;
    double sum = 0.0;
    double sum2 = 0.0;
    double sd = 0.7 * 2.5; /* sigma * C */
    double mean;
    double var;

    (void) state;
    fix_make(&f, "200-100-10", 100);
    pn = malloc(f.np * sizeof(float));
    pq = malloc(f.np * sizeof(float));
    noisy.lr = 1.0;
    noisy.momentum = 0.0;
    noisy.clip = 2.5;
    noisy.noise_multiplier = 0.7;
    quiet = noisy;
    quiet.noise_multiplier = 0.0;
    assert_int_equal(node_trainer_new(f.m, &noisy, 100, &tn, &eb), FL_OK);
    assert_int_equal(node_trainer_new(f.m, &quiet, 100, &tq, &eb), FL_OK);
    assert_int_equal(dp_rng_new_seeded(&rn, 2024, &eb), FL_OK);
    assert_int_equal(dp_rng_new_seeded(&rq, 2024, &eb), FL_OK);
    assert_int_equal(node_model_init(f.m, 1, pn, f.np, &eb), FL_OK);
    memcpy(pq, pn, f.np * sizeof(float));
    assert_int_equal(node_trainer_run_steps(tn, pn, f.ds, rn, 1, NULL, &eb),
                     FL_OK);
    assert_int_equal(node_trainer_run_steps(tq, pq, f.ds, rq, 1, NULL, &eb),
                     FL_OK);
    for (size_t k = 0; k < f.np; k++) {
        /* p_quiet - p_noisy = lr * noise / B. */
        double z = ((double) pq[k] - (double) pn[k]) * 10.0;

        sum += z;
        sum2 += z * z;
    }
    mean = sum / (double) f.np;
    var = sum2 / (double) f.np - mean * mean;
    if (!(fabs(mean) < 4.0 * sd / sqrt((double) f.np))) {
        fail_msg("noise mean %.5g", mean);
    }
    if (!(fabs(var / (sd * sd) - 1.0) < 0.05)) {
        fail_msg("noise variance %.5g, want %.5g", var, sd * sd);
    }
    node_trainer_destroy(&tn);
    node_trainer_destroy(&tq);
    dp_rng_destroy(&rn);
    dp_rng_destroy(&rq);
    free(pn);
    free(pq);
    fix_free(&f);
}

/*
 * Poisson sampling: over 4,000 steps with N = 100 and q = 0.1 the mean
 * batch size is 10 (the total's sd is sqrt(4000 * 9) = 190, tolerance 5
 * sd), batches vary, and a batch far above B (chunked, not truncated)
 * still counts every example.
 */
static void
test_poisson_sampling(void **state)
{
    fix_t f;
    node_train_spec_t s = base_spec(10);
    fl_errbuf_t eb = {{0}};
    node_trainer_t *t = NULL;
    dp_rng_t *rng = NULL;
    float *p;
    node_train_stats_t st;
    uint64_t lo = UINT64_MAX;
    uint64_t hi = 0;

    (void) state;
    fix_make(&f, "3-2", 100);
    p = malloc(f.np * sizeof(float));
    s.lr = 1e-3;
    assert_int_equal(node_model_init(f.m, 1, p, f.np, &eb), FL_OK);
    assert_int_equal(node_trainer_new(f.m, &s, 100, &t, &eb), FL_OK);
    assert_int_equal(node_trainer_chunk(t), 47); /* 1.5 * 10 + 32 */
    assert_true(fabs(node_trainer_sampling_rate(t) - 0.1) < 1e-12);
    assert_int_equal(dp_rng_new_seeded(&rng, 9, &eb), FL_OK);
    assert_int_equal(node_trainer_run_steps(t, p, f.ds, rng, 4000, &st, &eb),
                     FL_OK);
    assert_int_equal(st.steps, 4000);
    assert_true(llabs((long long) st.examples - 40000) < 950);
    for (int k = 0; k < 200; k++) {
        assert_int_equal(node_trainer_run_steps(t, p, f.ds, rng, 1, &st, &eb),
                         FL_OK);
        lo = st.examples < lo ? st.examples : lo;
        hi = st.examples > hi ? st.examples : hi;
    }
    assert_true(lo < 6 && hi > 14);
    node_trainer_destroy(&t);

    /* q = 1: every row, in chunks of min(N, 1.5 B + 32) = 100. */
    s.expected_batch = 100;
    assert_int_equal(node_trainer_new(f.m, &s, 100, &t, &eb), FL_OK);
    assert_int_equal(node_trainer_run_steps(t, p, f.ds, rng, 3, &st, &eb),
                     FL_OK);
    assert_int_equal(st.examples, 300);
    node_trainer_destroy(&t);
    dp_rng_destroy(&rng);
    free(p);
    fix_free(&f);
}

/* Chunking is exact: batches processed 7 rows at a time give the same
 * steps as in one piece (same seed, DP with clipping and noise). */
static void
test_chunking_is_exact(void **state)
{
    fix_t f;
    node_train_spec_t one = base_spec(40);
    node_train_spec_t chunked;

    (void) state;
    fix_make(&f, "6-8-3", 200);
    one.clip = 0.5;
    chunked = one;
    chunked.chunk = 7;
    compare_step_for_step(&f, &one, &chunked, 20, 1e-5);
    fix_free(&f);
}

/*
 * With q = 1, sigma 0, lr 1 and no momentum the update is minus the mean
 * clipped gradient, whose norm is at most C.
 */
static void
test_clipped_update_bounded(void **state)
{
    fix_t f;
    node_train_spec_t s = base_spec(400);
    fl_errbuf_t eb = {{0}};
    node_trainer_t *t = NULL;
    dp_rng_t *rng = NULL;
    float *p0;
    float *p;
    double nrm = 0.0;

    (void) state;
    fix_make(&f, "20-30-4", 400);
    p0 = malloc(f.np * sizeof(float));
    p = malloc(f.np * sizeof(float));
    s.lr = 1.0;
    s.momentum = 0.0;
    s.noise_multiplier = 0.0;
    s.clip = 0.01; /* far below every example's gradient norm */
    assert_int_equal(node_model_init(f.m, 1, p0, f.np, &eb), FL_OK);
    memcpy(p, p0, f.np * sizeof(float));
    assert_int_equal(node_trainer_new(f.m, &s, 400, &t, &eb), FL_OK);
    assert_int_equal(dp_rng_new_seeded(&rng, 1, &eb), FL_OK);
    assert_int_equal(node_trainer_run_steps(t, p, f.ds, rng, 1, NULL, &eb),
                     FL_OK);
    for (size_t k = 0; k < f.np; k++) {
        nrm += ((double) p[k] - p0[k]) * ((double) p[k] - p0[k]);
    }
    nrm = sqrt(nrm);
    /* Mean of 400 vectors of norm exactly C: at most C, and well above 0
     * since the gradients are correlated (shared parameters). */
    assert_true(nrm <= 0.01 * (1.0 + 1e-4));
    assert_true(nrm > 1e-4);
    node_trainer_destroy(&t);
    dp_rng_destroy(&rng);
    free(p0);
    free(p);
    fix_free(&f);
}

/* An empty batch (q tiny) still adds noise of sd sigma C / B. */
static void
test_empty_batch_gets_noise(void **state)
{
    fix_t f;
    node_train_spec_t s = base_spec(1e-6);
    fl_errbuf_t eb = {{0}};
    node_trainer_t *t = NULL;
    dp_rng_t *rng = NULL;
    float *p0;
    float *p;
    node_train_stats_t st;
    double sum2 = 0.0;

    (void) state;
    fix_make(&f, "30-20-2", 10);
    p0 = malloc(f.np * sizeof(float));
    p = malloc(f.np * sizeof(float));
    s.lr = 1.0;
    s.momentum = 0.0;
    s.expected_batch = 1e-3; /* sd of the update: 1 * 1 / 1e-3 = 1000 */
    assert_int_equal(node_model_init(f.m, 1, p0, f.np, &eb), FL_OK);
    memcpy(p, p0, f.np * sizeof(float));
    assert_int_equal(node_trainer_new(f.m, &s, 10, &t, &eb), FL_OK);
    assert_int_equal(dp_rng_new_seeded(&rng, 4, &eb), FL_OK);
    assert_int_equal(node_trainer_run_steps(t, p, f.ds, rng, 1, &st, &eb),
                     FL_OK);
    assert_int_equal(st.examples, 0);
    for (size_t k = 0; k < f.np; k++) {
        sum2 += ((double) p[k] - p0[k]) * ((double) p[k] - p0[k]);
    }
    /* 662 draws: sample sd within 10% of 1000. */
    assert_true(fabs(sqrt(sum2 / (double) f.np) / 1000.0 - 1.0) < 0.1);
    node_trainer_destroy(&t);
    dp_rng_destroy(&rng);
    free(p0);
    free(p);
    fix_free(&f);
}

static void
test_spec_validation(void **state)
{
    fix_t f;
    fl_errbuf_t eb = {{0}};
    node_trainer_t *t = NULL;
    node_train_spec_t s;
    float p[3 * 2 + 2];

    (void) state;
    fix_make(&f, "3-2", 20);
    s = base_spec(5);
    s.clip = 0.0;
    assert_int_equal(node_trainer_new(f.m, &s, 20, &t, &eb), FL_ERR_INVALID);
    assert_non_null(strstr(eb.msg, "clip"));
    s = base_spec(5);
    s.clip = INFINITY; /* infinite clip with noise: refused */
    assert_int_equal(node_trainer_new(f.m, &s, 20, &t, &eb), FL_ERR_INVALID);
    s = base_spec(5);
    s.noise_multiplier = -1.0;
    assert_int_equal(node_trainer_new(f.m, &s, 20, &t, &eb), FL_ERR_INVALID);
    s = base_spec(21); /* B above N */
    assert_int_equal(node_trainer_new(f.m, &s, 20, &t, &eb), FL_ERR_INVALID);
    s = base_spec(5);
    s.lr = NAN;
    assert_int_equal(node_trainer_new(f.m, &s, 20, &t, &eb), FL_ERR_INVALID);
    s = base_spec(5);
    s.momentum = 1.0;
    assert_int_equal(node_trainer_new(f.m, &s, 20, &t, &eb), FL_ERR_INVALID);
    s = base_spec(5);
    s.nonprivate = 2;
    assert_int_equal(node_trainer_new(f.m, &s, 20, &t, &eb), FL_ERR_INVALID);
    assert_null(t);

    /* A dataset of another size than the trainer's N is refused. */
    s = base_spec(5);
    assert_int_equal(node_trainer_new(f.m, &s, 21, &t, &eb), FL_OK);
    {
        dp_rng_t *rng = NULL;

        assert_int_equal(dp_rng_new_seeded(&rng, 1, &eb), FL_OK);
        assert_int_equal(node_model_init(f.m, 1, p, 8, &eb), FL_OK);
        assert_int_equal(node_trainer_run_steps(t, p, f.ds, rng, 1, NULL, &eb),
                         FL_ERR_INVALID);
        dp_rng_destroy(&rng);
    }
    node_trainer_destroy(&t);
    fix_free(&f);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dp_equals_plain_without_clip_and_noise),
        cmocka_unit_test(test_noise_distribution),
        cmocka_unit_test(test_poisson_sampling),
        cmocka_unit_test(test_chunking_is_exact),
        cmocka_unit_test(test_clipped_update_bounded),
        cmocka_unit_test(test_empty_batch_gets_noise),
        cmocka_unit_test(test_spec_validation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

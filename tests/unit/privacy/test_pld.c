/*
 * Tests for privacy/pld.c: every row of the dp_accounting reference tables
 * (tests/unit/privacy/vectors/, copies of ../shared/refs/), pessimism
 * against closed forms and the MS-PRV lower bound, composition, monotonicity,
 * interval refinement, limits and argument errors.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "privacy/pld.h"
#include "vectors_csv.h"

#define MAX_HIST 64

/* A cell of the reference table by column name (the column must exist). */
static const char *
cell(const vcsv_t *t, size_t row, const char *col)
{
    int c = vcsv_col(t, col);

    if (c < 0)
        fail_msg("no column %s", col);
    return vcsv_str(t, row, c);
}

/* The cell as a number; NAN when empty (anything else must parse). */
static double
num(const vcsv_t *t, size_t row, const char *col)
{
    const char *s = cell(t, row, col);
    char *end;
    if (*s == '\0')
        return NAN;
    double v = strtod(s, &end);
    assert_true(*end == '\0');
    return v;
}

static double
eps_of(const dp_sgm_t *h, size_t n, double delta)
{
    fl_errbuf_t eb = {{0}};
    double e = -1.0;
    fl_err_t rc = dp_pld_epsilon(h, n, delta, 0.0, &e, &eb);
    if (rc != FL_OK)
        fail_msg("dp_pld_epsilon: %s", eb.msg);
    return e;
}

static double
eps_opts(const dp_sgm_t *h, size_t n, double delta, double interval, int exact,
         dp_pld_info_t *info)
{
    fl_errbuf_t eb = {{0}};
    dp_pld_opts_t o;
    double e = -1.0;
    dp_pld_opts_init(&o);
    o.interval = interval;
    o.exact_gaussian = exact;
    fl_err_t rc = dp_pld_epsilon_opts(h, n, delta, &o, &e, info, &eb);
    if (rc != FL_OK)
        fail_msg("dp_pld_epsilon_opts: %s", eb.msg);
    return e;
}

/* Checks one result against a reference row's columns. */
static void
check_row(const char *what, double eps, double ref, double lower, double exact)
{
    double rel = fabs(eps - ref) / ref;
    if (rel > 0.01)
        fail_msg("%s: epsilon %.10g vs dp_accounting %.10g (rel %.2e)", what,
                 eps, ref, rel);
    if (!isnan(lower) && eps < lower)
        fail_msg("%s: epsilon %.10g below the MS-PRV lower bound %.10g", what,
                 eps, lower);
    /* the tables hold 10 significant digits */
    if (!isnan(exact) && eps < exact * (1.0 - 1e-9))
        fail_msg("%s: epsilon %.10g below the exact value %.10g", what, eps,
                 exact);
}

static void
test_reference_table(void **state)
{
    (void) state;
    static vcsv_t t;
    assert_int_equal(vcsv_load("dp_reference.csv", &t), 0);
    if (t.n_rows < 188)
        fail_msg("rows %zu cols %zu", t.n_rows, t.n_cols);
    for (size_t r = 0; r < t.n_rows; r++) {
        char what[128];
        dp_sgm_t h = {num(&t, r, "q"), num(&t, r, "sigma"),
                      (uint64_t) num(&t, r, "steps")};
        double delta = num(&t, r, "delta");
        snprintf(what, sizeof what, "q=%g sigma=%g T=%llu delta=%g",
                 h.sampling_rate, h.noise_multiplier,
                 (unsigned long long) h.steps, delta);
        check_row(what, eps_of(&h, 1, delta), num(&t, r, "eps_dpacc_pld"),
                  num(&t, r, "eps_msprv_lower"),
                  num(&t, r, "eps_exact_gaussian_q1"));
    }
    vcsv_free(&t);
}

/* Parses "sigma/q/steps;..." into h; returns the entry count. */
static size_t
parse_history(const char *s, dp_sgm_t *h)
{
    size_t n = 0;
    char *end;
    while (*s) {
        assert_true(n < MAX_HIST);
        h[n].noise_multiplier = strtod(s, &end);
        assert_true(*end == '/');
        h[n].sampling_rate = strtod(end + 1, &end);
        assert_true(*end == '/');
        h[n].steps = strtoull(end + 1, &end, 10);
        assert_true(*end == ';' || *end == '\0');
        s = *end ? end + 1 : end;
        n++;
    }
    return n;
}

static void
test_composition_table(void **state)
{
    (void) state;
    static vcsv_t t;
    assert_int_equal(vcsv_load("dp_composition.csv", &t), 0);
    assert_true(t.n_rows >= 10);
    for (size_t r = 0; r < t.n_rows; r++) {
        dp_sgm_t h[MAX_HIST];
        size_t n = parse_history(cell(&t, r, "history_sigma_q_steps"), h);
        double delta = num(&t, r, "delta");
        char what[160];
        snprintf(what, sizeof what, "%s delta=%g", cell(&t, r, "case"), delta);
        check_row(what, eps_of(h, n, delta), num(&t, r, "eps_dpacc_pld"),
                  num(&t, r, "eps_msprv_lower"), num(&t, r, "eps_exact"));
    }
    vcsv_free(&t);
}

/* C1 as rounds, merged, interleaved and reversed: the same epsilon. */
static void
test_order_and_merging_invariance(void **state)
{
    (void) state;
    dp_sgm_t rounds[10], merged[2] = {{0.01, 1.1, 250}, {0.01, 2.0, 250}};
    dp_sgm_t inter[10], rev[2] = {{0.01, 2.0, 250}, {0.01, 1.1, 250}};
    for (size_t i = 0; i < 10; i++) {
        rounds[i] = (dp_sgm_t){0.01, i < 5 ? 1.1 : 2.0, 50};
        inter[i] = (dp_sgm_t){0.01, i % 2 ? 1.1 : 2.0, 50};
    }
    double a = eps_of(rounds, 10, 1e-5);
    assert_true(a == eps_of(merged, 2, 1e-5));
    assert_true(a == eps_of(inter, 10, 1e-5));
    assert_true(a == eps_of(rev, 2, 1e-5));
    assert_true(fabs(a - 0.8468910768) < 1e-6);
}

/* q = 1, T = 1 on the discretised path: never below the closed form. */
static void
test_gaussian_single_step_pessimistic(void **state)
{
    (void) state;
    const double sig[] = {0.5, 0.8, 1.0, 2.0, 5.0, 20.0};
    const double del[] = {1e-3, 1e-5, 1e-8};
    for (size_t i = 0; i < sizeof sig / sizeof sig[0]; i++) {
        for (size_t j = 0; j < 3; j++) {
            dp_sgm_t h = {1.0, sig[i], 1};
            double ex, d_ex, d_pld;
            fl_errbuf_t eb = {{0}};
            assert_int_equal(dp_pld_gaussian_epsilon(sig[i], del[j], &ex, &eb),
                             FL_OK);
            double e = eps_opts(&h, 1, del[j], 0.0, 0, NULL);
            if (e < ex || e > ex + 1e-4)
                fail_msg("sigma %g delta %g: pld %.12g exact %.12g", sig[i],
                         del[j], e, ex);
            /* exact path equals the closed form */
            assert_true(eps_opts(&h, 1, del[j], 0.0, 1, NULL) == ex);
            /* delta side: pessimistic too */
            assert_int_equal(
                dp_pld_gaussian_delta(sig[i], 0.5 * ex, &d_ex, &eb), FL_OK);
            dp_pld_opts_t o;
            dp_pld_opts_init(&o);
            o.exact_gaussian = 0;
            assert_int_equal(
                dp_pld_delta_opts(&h, 1, 0.5 * ex, &o, &d_pld, NULL, &eb),
                FL_OK);
            assert_true(d_pld >= d_ex);
            assert_true(d_pld <= d_ex * 1.001 + 1e-12);
        }
    }
}

/* Closed form known answers (Balle & Wang 2018, as dp_accounting). */
static void
test_gaussian_closed_form(void **state)
{
    (void) state;
    double e;
    fl_errbuf_t eb = {{0}};
    assert_int_equal(dp_pld_gaussian_epsilon(1.0, 1e-5, &e, &eb), FL_OK);
    assert_true(fabs(e - 4.377178096) < 1e-8);
    /* C8: mu^2 = 50/100 + 50/25 */
    assert_int_equal(dp_pld_gaussian_epsilon(1.0 / sqrt(2.5), 1e-5, &e, &eb),
                     FL_OK);
    assert_true(fabs(e - 7.511275900744784) < 1e-8);
    /* huge epsilon: no overflow (sigma 0.5 / 100) */
    assert_int_equal(dp_pld_gaussian_epsilon(0.005, 1e-5, &e, &eb), FL_OK);
    assert_true(fabs(e - 20851.98868) < 1e-4);
    double d;
    assert_int_equal(dp_pld_gaussian_delta(1.0, 4.377178096, &d, &eb), FL_OK);
    assert_true(fabs(d - 1e-5) < 1e-12);
}

/* T-fold q = 1 composition by FFT equals one Gaussian of sigma / sqrt(T). */
static void
test_gaussian_composition_by_fft(void **state)
{
    (void) state;
    const struct {
        double sigma;
        uint64_t steps;
    } c[] = {{2.0, 50}, {5.0, 200}, {10.0, 1000}};
    for (size_t i = 0; i < 3; i++) {
        dp_sgm_t h = {1.0, c[i].sigma, c[i].steps};
        double ex;
        fl_errbuf_t eb = {{0}};
        dp_pld_info_t info;
        assert_int_equal(
            dp_pld_gaussian_epsilon(c[i].sigma / sqrt((double) c[i].steps),
                                    1e-5, &ex, &eb),
            FL_OK);
        double e = eps_opts(&h, 1, 1e-5, 0.0, 0, &info);
        assert_true(info.fft_len > 0);
        /* discretisation error at most one interval per step */
        if (e < ex || e > ex + (double) c[i].steps * info.interval)
            fail_msg("sigma %g T %llu: fft %.12g exact %.12g", c[i].sigma,
                     (unsigned long long) c[i].steps, e, ex);
        assert_true(e - ex < 1e-5 * ex);
    }
}

/* Folding q = 1 entries exactly never loses against the discretised path. */
static void
test_mixed_history_folding(void **state)
{
    (void) state;
    dp_sgm_t h[3] = {{1.0, 10.0, 20}, {0.01, 1.1, 300}, {1.0, 8.0, 10}};
    double exact = eps_opts(h, 3, 1e-5, 0.0, 1, NULL);
    double grid = eps_opts(h, 3, 1e-5, 0.0, 0, NULL);
    assert_true(exact <= grid + 1e-12);
    assert_true(grid - exact < 1e-3 * exact);
    /* and is more than either part alone */
    assert_true(exact > eps_of(&h[1], 1, 1e-5));
}

static void
test_monotonicity(void **state)
{
    (void) state;
    const uint64_t steps[] = {1, 10, 100, 1000, 5000};
    const double sig[] = {4.0, 2.0, 1.1, 0.8};
    double prev = 0.0;
    for (size_t i = 0; i < 5; i++) {
        dp_sgm_t h = {0.01, 1.1, steps[i]};
        double e = eps_of(&h, 1, 1e-5);
        assert_true(e > prev);
        prev = e;
    }
    prev = 0.0;
    for (size_t i = 0; i < 4; i++) {
        dp_sgm_t h = {0.05, sig[i], 100};
        double e = eps_of(&h, 1, 1e-5);
        assert_true(e > prev);
        prev = e;
    }
    /* smaller delta, larger epsilon; larger q, larger epsilon */
    dp_sgm_t h = {0.01, 1.1, 1000}, g = {0.02, 1.1, 1000};
    assert_true(eps_of(&h, 1, 1e-6) > eps_of(&h, 1, 1e-5));
    assert_true(eps_of(&g, 1, 1e-5) > eps_of(&h, 1, 1e-5));
}

/* A finer grid moves epsilon down by no more than the coarse error. */
static void
test_interval_refinement(void **state)
{
    (void) state;
    dp_sgm_t h = {0.01, 1.1, 1000};
    double lower = 1.5053; /* MS-PRV lower bound, dp_reference README */
    double e3 = eps_opts(&h, 1, 1e-5, 1e-3, 1, NULL);
    double e4 = eps_opts(&h, 1, 1e-5, 1e-4, 1, NULL);
    double e5 = eps_opts(&h, 1, 1e-5, 2e-5, 1, NULL);
    assert_true(e5 >= lower && e4 >= lower && e3 >= lower);
    assert_true(e4 <= e3 + 1e-9 && e5 <= e4 + 1e-9);
    assert_true(e3 - e4 <= e3 - lower);
    assert_true(e4 - e5 <= e4 - lower);
    assert_true(fabs(e4 - 1.5154) < 1e-4); /* dp_accounting at 1e-4 */
}

static void
test_delta_consistent_with_epsilon(void **state)
{
    (void) state;
    dp_sgm_t h[2] = {{0.01, 1.1, 2000}, {0.004, 1.5, 500}};
    fl_errbuf_t eb = {{0}};
    double e = eps_of(h, 2, 1e-5), d, d_lo;
    assert_int_equal(dp_pld_delta(h, 2, e, 0.0, &d, &eb), FL_OK);
    assert_true(d <= 1e-5 * (1.0 + 1e-9));
    assert_true(d >= 1e-5 * (1.0 - 1e-6));
    assert_int_equal(dp_pld_delta(h, 2, e - 0.05, 0.0, &d_lo, &eb), FL_OK);
    assert_true(d_lo > 1e-5);
    assert_int_equal(dp_pld_delta(h, 2, 0.0, 0.0, &d, &eb), FL_OK);
    assert_true(d > d_lo && d <= 1.0);
    /* q = 1 only: closed form */
    dp_sgm_t g = {1.0, 1.0, 1};
    assert_int_equal(dp_pld_delta(&g, 1, 4.377178096, 0.0, &d, &eb), FL_OK);
    assert_true(fabs(d - 1e-5) < 1e-12);
}

static void
test_grid_limits(void **state)
{
    (void) state;
    dp_sgm_t h = {0.01, 1.1, 10000};
    fl_errbuf_t eb = {{0}};
    dp_pld_opts_t o;
    dp_pld_info_t info;
    double e;
    dp_pld_opts_init(&o);
    o.max_grid = 100000;
    o.interval = 1e-4; /* explicit: never coarsened */
    assert_int_equal(dp_pld_epsilon_opts(&h, 1, 1e-5, &o, &e, &info, &eb),
                     FL_ERR_LIMIT);
    assert_non_null(strstr(eb.msg, "limit"));
    o.interval = 0.0; /* default: coarsened, still an upper bound */
    assert_int_equal(dp_pld_epsilon_opts(&h, 1, 1e-5, &o, &e, &info, &eb),
                     FL_OK);
    assert_true(info.interval > 1e-4);
    assert_true(info.grid <= 100000);
    assert_true(e >= 5.182304637 && e < 5.192620123 * 1.01);
    /* the public entry point with an explicit tiny interval */
    assert_int_equal(dp_pld_epsilon(&h, 1, 1e-5, 1e-7, &e, &eb), FL_ERR_LIMIT);
}

static void
test_resolution_limit(void **state)
{
    (void) state;
    dp_sgm_t h = {0.01, 1.1, 100};
    fl_errbuf_t eb = {{0}};
    double e;
    /* TAIL_MASS goes to infinite loss: a delta below it cannot be met */
    assert_int_equal(dp_pld_epsilon(&h, 1, 1e-18, 0.0, &e, &eb),
                     FL_ERR_NUMERIC);
    assert_non_null(strstr(eb.msg, "resolution"));
}

static void
test_argument_errors(void **state)
{
    (void) state;
    fl_errbuf_t eb = {{0}};
    double e;
    dp_sgm_t ok = {0.01, 1.1, 10};
    const dp_sgm_t bad[] = {
        {0.0, 1.1, 10},       {-0.1, 1.1, 10}, {1.5, 1.1, 10},
        {NAN, 1.1, 10},       {0.01, 0.0, 10}, {0.01, -1.0, 10},
        {0.01, INFINITY, 10}, {0.01, NAN, 10}, {0.01, 1.1, 0},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        dp_sgm_t h[2] = {ok, bad[i]};
        eb.msg[0] = '\0';
        assert_int_equal(dp_pld_epsilon(h, 2, 1e-5, 0.0, &e, &eb),
                         FL_ERR_INVALID);
        assert_non_null(strstr(eb.msg, "history[1]"));
        assert_int_equal(dp_pld_delta(h, 2, 1.0, 0.0, &e, &eb), FL_ERR_INVALID);
    }
    assert_int_equal(dp_pld_epsilon(&ok, 0, 1e-5, 0.0, &e, &eb),
                     FL_ERR_INVALID);
    assert_int_equal(dp_pld_epsilon(NULL, 1, 1e-5, 0.0, &e, &eb),
                     FL_ERR_INVALID);
    assert_int_equal(dp_pld_epsilon(&ok, 1, 1e-5, 0.0, NULL, &eb),
                     FL_ERR_INVALID);
    const double bad_delta[] = {0.0, 1.0, -1e-5, NAN, 2.0};
    for (size_t i = 0; i < 5; i++)
        assert_int_equal(dp_pld_epsilon(&ok, 1, bad_delta[i], 0.0, &e, &eb),
                         FL_ERR_INVALID);
    const double bad_eps[] = {-0.1, NAN, INFINITY};
    for (size_t i = 0; i < 3; i++)
        assert_int_equal(dp_pld_delta(&ok, 1, bad_eps[i], 0.0, &e, &eb),
                         FL_ERR_INVALID);
    const double bad_iv[] = {NAN, 1e-9, 2.0, INFINITY};
    for (size_t i = 0; i < 4; i++) {
        assert_int_equal(dp_pld_epsilon(&ok, 1, 1e-5, bad_iv[i], &e, &eb),
                         FL_ERR_INVALID);
        assert_non_null(strstr(eb.msg, "interval"));
    }
    /* negative interval means the default */
    assert_int_equal(dp_pld_epsilon(&ok, 1, 1e-5, -1.0, &e, &eb), FL_OK);
    assert_int_equal(dp_pld_gaussian_epsilon(0.0, 1e-5, &e, &eb),
                     FL_ERR_INVALID);
    assert_int_equal(dp_pld_gaussian_delta(1.0, -1.0, &e, &eb), FL_ERR_INVALID);
}

static void
test_history_limits(void **state)
{
    (void) state;
    fl_errbuf_t eb = {{0}};
    double e;
    size_t n = DP_PLD_MAX_MECHANISMS + 1;
    dp_sgm_t *h = calloc(n, sizeof *h);
    assert_non_null(h);
    for (size_t i = 0; i < n; i++)
        h[i] = (dp_sgm_t){0.01, 1.0 + 0.01 * (double) i, 1};
    assert_int_equal(dp_pld_epsilon(h, n, 1e-5, 0.0, &e, &eb), FL_ERR_LIMIT);
    assert_non_null(strstr(eb.msg, "distinct"));
    dp_sgm_t big[2] = {{0.01, 1.1, DP_PLD_MAX_STEPS}, {0.01, 1.1, 1}};
    assert_int_equal(dp_pld_epsilon(big, 2, 1e-5, 0.0, &e, &eb), FL_ERR_LIMIT);
    assert_int_equal(
        dp_pld_epsilon(h, DP_PLD_MAX_HISTORY + 1, 1e-5, 0.0, &e, &eb),
        FL_ERR_LIMIT);
    free(h);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_argument_errors),
        cmocka_unit_test(test_history_limits),
        cmocka_unit_test(test_gaussian_closed_form),
        cmocka_unit_test(test_gaussian_single_step_pessimistic),
        cmocka_unit_test(test_gaussian_composition_by_fft),
        cmocka_unit_test(test_mixed_history_folding),
        cmocka_unit_test(test_order_and_merging_invariance),
        cmocka_unit_test(test_monotonicity),
        cmocka_unit_test(test_interval_refinement),
        cmocka_unit_test(test_delta_consistent_with_epsilon),
        cmocka_unit_test(test_grid_limits),
        cmocka_unit_test(test_resolution_limit),
        cmocka_unit_test(test_composition_table),
        cmocka_unit_test(test_reference_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

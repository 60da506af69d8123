/*
 * tests/unit/sim/test_partition.c: the partitioners (every row in exactly
 * one node, sizes, minimum rows, measurable Dirichlet label skew,
 * determinism), the option parser, and the job-file overrides.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "proto/job.h"
#include "sim/partition.h"
#include "sim/run.h"

#define ROWS 2000
#define CLASSES 10

static int32_t labels[ROWS];

static int
setup(void **state)
{
    (void) state;
    /* 10 balanced classes in a scrambled order. */
    for (size_t i = 0; i < ROWS; i++)
        labels[i] = (int32_t) ((i * 7 + i / 13) % CLASSES);
    return 0;
}

/* Every row appears exactly once; rows of a node ascend. */
static void
assert_exact_cover(const sim_partition_t *p)
{
    unsigned char *seen = calloc(p->n_rows, 1);

    assert_non_null(seen);
    assert_int_equal(p->start[0], 0);
    assert_int_equal(p->start[p->n_nodes], p->n_rows);
    for (size_t k = 0; k < p->n_nodes; k++) {
        for (size_t i = p->start[k]; i < p->start[k + 1]; i++) {
            assert_true(p->idx[i] < p->n_rows);
            assert_int_equal(seen[p->idx[i]], 0);
            seen[p->idx[i]] = 1;
            if (i > p->start[k])
                assert_true(p->idx[i] > p->idx[i - 1]);
        }
    }
    for (size_t i = 0; i < p->n_rows; i++)
        assert_int_equal(seen[i], 1);
    free(seen);
}

static sim_partition_t
make(const char *spec, size_t nodes, size_t min_rows, uint64_t seed)
{
    sim_part_spec_t s;
    sim_partition_t p;
    fl_errbuf_t eb = {{0}};

    assert_int_equal(sim_part_spec_parse(spec, &s, &eb), FL_OK);
    assert_int_equal(sim_partition_make(&s, labels, ROWS, CLASSES, nodes,
                                        min_rows, seed, &p, &eb),
                     FL_OK);
    return p;
}

static void
test_every_row_once(void **state)
{
    static const char *const specs[] = {"iid",           "dirichlet:0.1",
                                        "dirichlet:0.3", "dirichlet:100",
                                        "quantity:0.5",  "quantity:5"};
    static const size_t nodes[] = {1, 3, 10, 100, 1000, 2000};

    (void) state;
    for (size_t i = 0; i < sizeof specs / sizeof *specs; i++) {
        for (size_t j = 0; j < sizeof nodes / sizeof *nodes; j++) {
            sim_partition_t p = make(specs[i], nodes[j], 1, 42);

            assert_exact_cover(&p);
            for (size_t k = 0; k < p.n_nodes; k++)
                assert_true(sim_partition_size(&p, k) >= 1);
            sim_partition_cleanup(&p);
        }
    }
}

static void
test_sizes(void **state)
{
    sim_partition_t p = make("iid", 30, 2, 1);
    size_t lo = ROWS, hi = 0, q_lo = ROWS, q_hi = 0;

    (void) state;
    for (size_t k = 0; k < 30; k++) {
        size_t n = sim_partition_size(&p, k);

        lo = n < lo ? n : lo;
        hi = n > hi ? n : hi;
    }
    assert_true(hi - lo <= 1);
    sim_partition_cleanup(&p);
    /* Size skew: every node keeps its minimum, and sizes vary a lot. */
    p = make("quantity:0.3", 30, 5, 1);
    for (size_t k = 0; k < 30; k++) {
        size_t n = sim_partition_size(&p, k);

        q_lo = n < q_lo ? n : q_lo;
        q_hi = n > q_hi ? n : q_hi;
    }
    assert_true(q_lo >= 5);
    assert_true(q_hi > 4 * (ROWS / 30));
    sim_partition_cleanup(&p);
}

static double
skew_of(const char *spec, size_t nodes, uint64_t seed)
{
    sim_partition_t p = make(spec, nodes, 1, seed);
    fl_errbuf_t eb = {{0}};
    double s = -1;

    assert_int_equal(sim_partition_label_skew(&p, labels, CLASSES, &s, &eb),
                     FL_OK);
    sim_partition_cleanup(&p);
    return s;
}

static void
test_dirichlet_skew(void **state)
{
    double iid = skew_of("iid", 10, 3);
    double d01 = skew_of("dirichlet:0.1", 10, 3);
    double d03 = skew_of("dirichlet:0.3", 10, 3);
    double d1 = skew_of("dirichlet:1", 10, 3);
    double d100 = skew_of("dirichlet:100", 10, 3);

    (void) state;
    /* 200 rows per node drawn at random: TV distance about 0.1. */
    assert_true(iid < 0.12);
    /* Few classes per node: much of the mass is off the global mix (equal
     * node sizes and all rows given out force some mixing: measured 0.52
     * at alpha 0.1 and 0.44 at 0.3), decreasing with alpha. */
    assert_true(d01 > 0.45);
    assert_true(d03 > 0.35);
    assert_true(d01 > d03);
    assert_true(d03 > d1);
    assert_true(d1 > d100);
    /* Large alpha is close to iid. */
    assert_true(d100 < 0.15);
    assert_true(d03 > iid + 0.25);
}

static void
test_deterministic(void **state)
{
    sim_partition_t a = make("dirichlet:0.3", 50, 1, 9);
    sim_partition_t b = make("dirichlet:0.3", 50, 1, 9);
    sim_partition_t c = make("dirichlet:0.3", 50, 1, 10);

    (void) state;
    assert_memory_equal(a.start, b.start, 51 * sizeof(size_t));
    assert_memory_equal(a.idx, b.idx, ROWS * sizeof(size_t));
    assert_true(memcmp(a.idx, c.idx, ROWS * sizeof(size_t)) != 0);
    sim_partition_cleanup(&a);
    sim_partition_cleanup(&b);
    sim_partition_cleanup(&c);
}

static void
test_errors(void **state)
{
    static const char *const bad[] = {
        "",           "iid:1",       "dirichlet",
        "dirichlet:", "dirichlet:0", "dirichlet:-1",
        "quantity:x", "zipf:1",      "dirichlet:nan"};
    sim_part_spec_t s;
    sim_partition_t p;
    fl_errbuf_t eb = {{0}};
    int32_t badl[3] = {0, 10, 1};

    (void) state;
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        assert_int_equal(sim_part_spec_parse(bad[i], &s, &eb), FL_ERR_PARSE);
    assert_int_equal(sim_part_spec_parse("dirichlet:0.5", &s, &eb), FL_OK);
    assert_int_equal(s.kind, SIM_PART_DIRICHLET);
    assert_true(fabs(s.alpha - 0.5) < 1e-15);
    /* More nodes than rows; labels out of range. */
    assert_int_equal(
        sim_partition_make(&s, labels, 5, CLASSES, 6, 1, 1, &p, &eb),
        FL_ERR_INVALID);
    assert_int_equal(sim_partition_make(&s, badl, 3, CLASSES, 1, 1, 1, &p, &eb),
                     FL_ERR_INVALID);
    assert_non_null(strstr(eb.msg, "label 10"));
}

static void
test_gamma_mean(void **state)
{
    sim_rng_t r;
    double sum = 0;

    (void) state;
    sim_rng_seed(&r, 5);
    for (int i = 0; i < 200000; i++)
        sum += sim_rng_gamma(&r, 0.3);
    /* Gamma(0.3, 1) has mean 0.3 and variance 0.3. */
    assert_true(fabs(sum / 200000 - 0.3) < 0.01);
}

static void
test_job_override(void **state)
{
    static const char job[] = "; c\n[job]\nname = x\nseed = 1\n"
                              "noise_multiplier = 1.1\n\n[data]\nlabel = y\n";
    const char *k[] = {"seed", "noise_multiplier", "target_epsilon"};
    const char *v[] = {"77", NULL, "3"};
    char *out = NULL;
    size_t len = 0;
    fl_errbuf_t eb = {{0}};

    (void) state;
    assert_int_equal(
        sim_job_override(job, strlen(job), k, v, 3, &out, &len, &eb), FL_OK);
    assert_string_equal(out, "; c\n[job]\nname = x\nseed = 77\n\n"
                             "target_epsilon = 3\n[data]\nlabel = y\n");
    assert_int_equal(len, strlen(out));
    free(out);
    assert_int_equal(sim_job_override("[data]\n", 7, k, v, 3, &out, &len, &eb),
                     FL_ERR_PARSE);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_row_once),
        cmocka_unit_test(test_sizes),
        cmocka_unit_test(test_dirichlet_skew),
        cmocka_unit_test(test_deterministic),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_gamma_mean),
        cmocka_unit_test(test_job_override),
    };

    return cmocka_run_group_tests(tests, setup, NULL);
}

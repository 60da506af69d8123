/* Tests for coordinator/checkpoint.c and coordinator/budget.c. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/durable.h"
#include "coordinator/checkpoint.h"

#define DIM 5

typedef struct state {
    float model[DIM];
    coord_server_opt_t *opt;
    coord_budget_t budget;
    coord_ckpt_t ck;
} state_t;

static void
state_init(state_t *s, pb_server_opt_t kind)
{
    fl_errbuf_t eb = {{0}};

    memset(s, 0, sizeof *s);
    assert_int_equal(coord_server_opt_new(kind, DIM, 1.0, 0.9, &s->opt, &eb),
                     FL_OK);
    coord_budget_init(&s->budget, DP_ACCOUNTANT_RDP);
    memset(s->ck.job_hash, 0xab, 32);
    s->ck.dim = DIM;
    s->ck.model = s->model;
    s->ck.opt = s->opt;
    s->ck.budget = &s->budget;
}

static void
state_cleanup(state_t *s)
{
    coord_server_opt_destroy(&s->opt);
    coord_budget_cleanup(&s->budget);
}

static void
test_budget_charges_and_never_decreases(void **state)
{
    coord_budget_t b;
    coord_site_t *s = NULL, *again = NULL;
    const dp_sgm_t round = {0.1, 1.1, 5};
    fl_errbuf_t eb = {{0}};
    double e1, e2, next;

    (void) state;
    coord_budget_init(&b, DP_ACCOUNTANT_RDP);
    assert_int_equal(coord_budget_add_site(&b, "a", 150, 3.0, 1e-5,
                                           DP_ACCOUNTANT_RDP, &s, &eb),
                     FL_OK);
    assert_int_equal(coord_budget_add_site(&b, "a", 150, 3.0, 1e-5,
                                           DP_ACCOUNTANT_RDP, &again, &eb),
                     FL_OK);
    assert_ptr_equal(s, again);
    assert_int_equal(coord_budget_add_site(&b, "a", 150, 4.0, 1e-5,
                                           DP_ACCOUNTANT_RDP, &again, &eb),
                     FL_ERR_STATE);
    assert_int_equal(coord_budget_epsilon_after(&b, s, &round, &next, &eb),
                     FL_OK);
    assert_int_equal(coord_budget_charge(&b, s, &round, &eb), FL_OK);
    e1 = s->epsilon;
    assert_true(e1 > 0 && fabs(e1 - next) < 1e-12);
    assert_int_equal(coord_budget_charge(&b, s, &round, &eb), FL_OK);
    e2 = s->epsilon;
    assert_true(e2 > e1);
    /* Equal mechanisms merge into one history entry of summed steps. */
    assert_int_equal(s->n_hist, 1);
    assert_int_equal(s->hist[0].steps, 10);
    assert_int_equal(s->rounds_charged, 2);
    coord_budget_cleanup(&b);
}

static void
test_history_steps_cannot_wrap(void **state)
{
    coord_budget_t b;
    coord_site_t *s = NULL;
    dp_sgm_t half = {0.02, 1.2, DP_ACCOUNTANT_MAX_STEPS / 2 + 1};
    const dp_sgm_t huge = {0.02, 1.2, UINT64_MAX};
    fl_errbuf_t eb = {{0}};

    (void) state;
    coord_budget_init(&b, DP_ACCOUNTANT_RDP);
    assert_int_equal(coord_budget_add_site(&b, "a", 150, 3.0, 1e-5,
                                           DP_ACCOUNTANT_RDP, &s, &eb),
                     FL_OK);
    /* One entry past the accountant's limit is refused outright ... */
    assert_int_equal(coord_budget_push_history(s, &huge, &eb), FL_ERR_RANGE);
    /* ... and two that would merge past it (or wrap) too. */
    assert_int_equal(coord_budget_push_history(s, &half, &eb), FL_OK);
    assert_int_equal(coord_budget_push_history(s, &half, &eb), FL_ERR_LIMIT);
    assert_int_equal(s->n_hist, 1);
    assert_int_equal(s->hist[0].steps, half.steps);
    half.steps = 0;
    assert_int_equal(coord_budget_push_history(s, &half, &eb), FL_ERR_RANGE);
    coord_budget_cleanup(&b);
}

static void
test_round_trip_all_optimisers(void **state)
{
    static const pb_server_opt_t kinds[] = {PB_SERVER_PLAIN, PB_SERVER_MOMENTUM,
                                            PB_SERVER_ADAM};
    char path[] = "/tmp/dpfl-test-ckpt-XXXXXX";
    int fd = mkstemp(path);
    fl_errbuf_t eb = {{0}};

    (void) state;
    assert_true(fd >= 0);
    (void) close(fd);
    for (size_t k = 0; k < 3; k++) {
        state_t a, b;
        coord_site_t *s = NULL;
        const dp_sgm_t r1 = {0.2, 1.0, 3}, r2 = {0.1, 1.0, 3};
        const float delta[DIM] = {1, -2, 3, -4, 5};

        state_init(&a, kinds[k]);
        for (int i = 0; i < DIM; i++)
            a.model[i] = 0.5f * (float) i;
        coord_server_opt_step(a.opt, a.model, delta);
        assert_int_equal(coord_budget_add_site(&a.budget, "h1", 100, 2.0, 1e-5,
                                               DP_ACCOUNTANT_RDP, &s, &eb),
                         FL_OK);
        assert_int_equal(coord_budget_charge(&a.budget, s, &r1, &eb), FL_OK);
        assert_int_equal(coord_budget_charge(&a.budget, s, &r2, &eb), FL_OK);
        s->exhausted = 1;
        assert_int_equal(coord_budget_add_site(&a.budget, "h2", 300, 5.0, 1e-6,
                                               DP_ACCOUNTANT_PLD, &s, &eb),
                         FL_OK);
        a.ck.rounds_done = 7;
        assert_int_equal(coord_ckpt_save(path, &a.ck, &eb), FL_OK);

        state_init(&b, kinds[k]);
        assert_int_equal(coord_ckpt_load(path, &b.ck, &eb), FL_OK);
        assert_int_equal(b.ck.rounds_done, 7);
        assert_memory_equal(b.model, a.model, sizeof a.model);
        assert_int_equal(b.opt->steps, 1);
        if (a.opt->m != NULL)
            assert_memory_equal(b.opt->m, a.opt->m, DIM * sizeof(float));
        if (a.opt->v != NULL)
            assert_memory_equal(b.opt->v, a.opt->v, DIM * sizeof(float));
        assert_int_equal(b.budget.n, 2);
        assert_string_equal(b.budget.sites[0].id, "h1");
        assert_true(b.budget.sites[0].epsilon == a.budget.sites[0].epsilon);
        assert_int_equal(b.budget.sites[0].n_hist, 2);
        assert_true(b.budget.sites[0].exhausted);
        assert_int_equal(b.budget.sites[1].records, 300);
        assert_true(b.budget.sites[1].delta == 1e-6);
        assert_int_equal(b.budget.sites[1].accountant, DP_ACCOUNTANT_PLD);
        state_cleanup(&a);
        state_cleanup(&b);
    }
    (void) unlink(path);
}

static void
test_refuses_corruption_and_other_jobs(void **state)
{
    char path[] = "/tmp/dpfl-test-ckpt-XXXXXX";
    int fd = mkstemp(path);
    state_t a, b;
    fl_errbuf_t eb = {{0}};
    char *bytes;
    size_t len;

    (void) state;
    (void) close(fd);
    state_init(&a, PB_SERVER_MOMENTUM);
    a.ck.rounds_done = 3;
    assert_int_equal(coord_ckpt_save(path, &a.ck, &eb), FL_OK);
    assert_int_equal(fl_file_read_all(path, 1 << 20, &bytes, &len, &eb), FL_OK);

    /* Every flipped byte is caught by the trailer or the checks. */
    for (size_t i = 0; i < len; i++) {
        bytes[i] ^= 0x01;
        assert_int_equal(fl_file_replace_atomic(path, bytes, len, &eb), FL_OK);
        state_init(&b, PB_SERVER_MOMENTUM);
        assert_int_not_equal(coord_ckpt_load(path, &b.ck, &eb), FL_OK);
        state_cleanup(&b);
        bytes[i] ^= 0x01;
    }
    /* A truncated file. */
    assert_int_equal(fl_file_replace_atomic(path, bytes, len - 1, &eb), FL_OK);
    state_init(&b, PB_SERVER_MOMENTUM);
    assert_int_equal(coord_ckpt_load(path, &b.ck, &eb), FL_ERR_PARSE);
    state_cleanup(&b);

    /* Intact, but for another job or another optimiser. */
    assert_int_equal(fl_file_replace_atomic(path, bytes, len, &eb), FL_OK);
    state_init(&b, PB_SERVER_MOMENTUM);
    b.ck.job_hash[0] = 0;
    assert_int_equal(coord_ckpt_load(path, &b.ck, &eb), FL_ERR_STATE);
    assert_non_null(strstr(eb.msg, "another job"));
    state_cleanup(&b);
    state_init(&b, PB_SERVER_ADAM);
    assert_int_equal(coord_ckpt_load(path, &b.ck, &eb), FL_ERR_STATE);
    state_cleanup(&b);

    free(bytes);
    state_cleanup(&a);
    (void) unlink(path);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_budget_charges_and_never_decreases),
        cmocka_unit_test(test_history_steps_cannot_wrap),
        cmocka_unit_test(test_round_trip_all_optimisers),
        cmocka_unit_test(test_refuses_corruption_and_other_jobs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

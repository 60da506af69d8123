/*
 * tests/unit/sim/test_run.c: whole simulated federations on the digits
 * data set (the real coordinator, nodes and TLS channel): the same seed
 * gives the same model to the bit (inproc or TCP), a different seed
 * another; a 50-node
 * run under a drop rate has the expected updates per round; robust
 * aggregators beat FedAvg when some nodes are byzantine.
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

#include "common/log.h"
#include "sim/run.h"

static char job[1024];
static char data[1024];

static int
setup(void **state)
{
    const char *src = getenv("DPFL_SOURCE_DIR");

    (void) state;
    if (src == NULL)
        src = ".";
    (void) snprintf(job, sizeof job, "%s/deploy/examples/sim-digits.ini", src);
    (void) snprintf(data, sizeof data, "%s/data/digits_8x8.csv", src);
    fl_log_set_level(FL_LOG_ERROR);
    return 0;
}

static sim_opts_t
base(size_t nodes, uint64_t seed)
{
    sim_opts_t o;

    memset(&o, 0, sizeof o);
    o.job_path = job;
    o.data_path = data;
    o.n_nodes = nodes;
    o.seed = seed;
    o.transport = SIM_TRANSPORT_INPROC;
    o.epsilon = 3;
    o.rounds = 3;
    o.timeout_s = 50;
    return o;
}

static sim_result_t *
run(const sim_opts_t *o)
{
    sim_result_t *r = NULL;
    fl_errbuf_t eb = {{0}};
    fl_err_t err = sim_run(o, &r, &eb);

    if (err != FL_OK)
        fail_msg("sim_run: %s", fl_errbuf_str(&eb, err));
    return r;
}

static void
test_same_seed_same_model(void **state)
{
    sim_opts_t o = base(8, 11);
    sim_result_t *a, *b, *c, *d;

    (void) state;
    o.partition.kind = SIM_PART_DIRICHLET;
    o.partition.alpha = 0.5;
    a = run(&o);
    b = run(&o);
    o.transport = SIM_TRANSPORT_TCP;
    d = run(&o);
    o.seed = 12;
    c = run(&o);
    assert_int_equal(a->n_rounds, 3);
    assert_int_equal(strlen(a->model_sha256), 64);
    assert_string_equal(a->model_sha256, b->model_sha256);
    assert_true(a->has_final && b->has_final);
    assert_true(a->final_accuracy == b->final_accuracy);
    for (size_t i = 0; i < a->n_nodes; i++)
        assert_true(a->nodes[i].epsilon == b->nodes[i].epsilon);
    /* The transport does not matter either. */
    assert_string_equal(a->model_sha256, d->model_sha256);
    assert_string_not_equal(a->model_sha256, c->model_sha256);
    /* Every hospital within the budget, the smallest one at it. */
    assert_true(a->eps_max <= 3.0 && a->eps_max > 2.9);
    sim_result_destroy(&a);
    sim_result_destroy(&b);
    sim_result_destroy(&c);
    sim_result_destroy(&d);
}

static void
test_drop_rate_updates(void **state)
{
    sim_opts_t o = base(50, 5);
    sim_result_t *r;
    unsigned joined = 0, updates = 0;

    (void) state;
    o.drop_rate = 0.3;
    o.deadline_s = 1;
    r = run(&o);
    assert_int_equal(r->n_rounds, 3);
    for (size_t k = 0; k < r->n_rounds; k++) {
        const sim_round_t *x = &r->rounds[k];

        /* Everyone is asked; about 70% answer: Binomial(50, 0.7) has
         * mean 35 and standard deviation 3.2 (4 sd either side), and a
         * round with no drop at all has probability 0.7^50 = 2e-8. */
        assert_int_equal(x->asked, 50);
        assert_true(x->updates >= 22 && x->updates <= 48);
        updates += x->updates;
    }
    for (size_t i = 0; i < r->n_nodes; i++) {
        joined += r->nodes[i].rounds_joined;
        /* A dropped round is still charged: the node may have trained. */
        assert_int_equal(r->nodes[i].rounds_charged, 3);
    }
    assert_int_equal(joined, updates);
    sim_result_destroy(&r);
}

static double
accuracy_with(const char *aggregator, size_t k, node_byzantine_t how)
{
    sim_opts_t o = base(10, 3);
    sim_result_t *r;
    double acc;

    o.epsilon = 30; /* weak noise: the attack is what matters */
    o.rounds = 20;
    o.aggregator = aggregator;
    o.n_byzantine = k;
    o.byzantine = how;
    r = run(&o);
    assert_true(r->has_final);
    acc = r->final_accuracy;
    sim_result_destroy(&r);
    return acc;
}

static void
test_robust_beats_fedavg(void **state)
{
    double clean = accuracy_with("fedavg", 0, NODE_HONEST);
    double avg_s = accuracy_with("fedavg", 2, NODE_BYZ_SCALED);
    double med_s = accuracy_with("median", 2, NODE_BYZ_SCALED);
    double avg_r = accuracy_with("fedavg", 2, NODE_BYZ_RANDOM);
    double med_r = accuracy_with("median", 2, NODE_BYZ_RANDOM);
    double trim_s = accuracy_with("trimmed_mean", 1, NODE_BYZ_SCALED);
    double avg_s1 = accuracy_with("fedavg", 1, NODE_BYZ_SCALED);

    (void) state;
    print_message("clean %.3f; scaled x2: fedavg %.3f median %.3f; random "
                  "x2: fedavg %.3f median %.3f; scaled x1: fedavg %.3f "
                  "trimmed %.3f\n",
                  clean, avg_s, med_s, avg_r, med_r, avg_s1, trim_s);
    assert_true(clean > 0.6);
    /* Two nodes sending -10 times their update wreck the mean. */
    assert_true(avg_s < 0.3);
    assert_true(med_s > avg_s + 0.3);
    assert_true(med_r > avg_r + 0.2);
    /* Trimming 10% of 10 updates removes one attacker. */
    assert_true(trim_s > avg_s1 + 0.2);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_same_seed_same_model),
        cmocka_unit_test(test_drop_rate_updates),
        cmocka_unit_test(test_robust_beats_fedavg),
    };

    return cmocka_run_group_tests(tests, setup, NULL);
}

/* Tests for node/policy.c: approval by hash, by constraints, and refusals. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "node/policy.h"

static const char job_text[] =
    "[job]\nname = j\nmodel = 1-2\nrounds = 10\nlocal_steps = 1\n"
    "batch_size = 1\nlearning_rate = 1\nclip_norm = 1\n"
    "noise_multiplier = 1.0\ndelta = 1e-5\n"
    "[data]\nlabel = y\nclasses = 2\n[features]\nx = 0 1\n";

static void
load_job(pb_job_t *job)
{
    fl_errbuf_t eb = {{0}};

    if (pb_job_parse("job.ini", job_text, strlen(job_text), job, &eb) != FL_OK)
        fail_msg("%s", eb.msg);
}

static fl_err_t
load_policy(const char *text, node_policy_t *p, fl_errbuf_t *eb)
{
    fl_config_t *cfg = NULL;
    fl_err_t err =
        fl_config_load_buffer("node.ini", text, strlen(text), &cfg, eb);

    if (err != FL_OK)
        return err;
    err = node_policy_load(cfg, p, eb);
    if (err == FL_OK)
        err = fl_config_check_unused(cfg, eb);
    fl_config_destroy(&cfg);
    return err;
}

static void
check(const char *policy_text, fl_err_t want, const char *reason)
{
    node_policy_t p;
    pb_job_t job;
    fl_errbuf_t eb = {{0}};

    load_job(&job);
    if (load_policy(policy_text, &p, &eb) != FL_OK)
        fail_msg("policy: %s", eb.msg);
    assert_int_equal(node_policy_check(&p, &job, &eb), want);
    if (reason != NULL && strstr(eb.msg, reason) == NULL)
        fail_msg("'%s' lacks '%s'", eb.msg, reason);
    pb_job_cleanup(&job);
}

#define BUDGET "[budget]\nepsilon_max = 3\ndelta = 1e-5\n"
#define CONSTRAINTS(sigma, clip, delta, rounds)                                \
    "[policy]\nmin_noise_multiplier = " sigma "\nmax_clip_norm = " clip        \
    "\nmax_delta = " delta "\nmax_rounds = " rounds "\n"

static void
test_approval_by_hash(void **state)
{
    pb_job_t job;
    char text[512];

    (void) state;
    load_job(&job);
    (void) snprintf(text, sizeof text, BUDGET "[approved_jobs]\nstudy = %s\n",
                    job.hash_hex);
    pb_job_cleanup(&job);
    check(text, FL_OK, NULL);
    check(BUDGET "[approved_jobs]\nstudy = "
                 "00000000000000000000000000000000000000000000000000000000000"
                 "00000\n",
          FL_ERR_POLICY, "is not approved here");
    check(BUDGET, FL_ERR_POLICY, "no constraints are configured");
}

static void
test_constraints(void **state)
{
    (void) state;
    check(BUDGET CONSTRAINTS("0.8", "1", "1e-5", "10"), FL_OK, NULL);
    check(BUDGET CONSTRAINTS("1.2", "1", "1e-5", "10"), FL_ERR_POLICY,
          "noise_multiplier 1 below this hospital's minimum 1.2");
    check(BUDGET CONSTRAINTS("0.8", "0.5", "1e-5", "10"), FL_ERR_POLICY,
          "clip_norm 1 above this hospital's maximum 0.5");
    check(BUDGET CONSTRAINTS("0.8", "1", "1e-6", "10"), FL_ERR_POLICY,
          "delta 1e-05 above this hospital's maximum 1e-06");
    check(BUDGET CONSTRAINTS("0.8", "1", "1e-5", "9"), FL_ERR_POLICY,
          "10 rounds above this hospital's maximum 9");
    check("[budget]\nepsilon_max = 3\ndelta = 1e-6\n" CONSTRAINTS("0.8", "1",
                                                                  "1e-5", "10"),
          FL_ERR_POLICY, "above this hospital's delta");
}

static void
test_load_errors(void **state)
{
    node_policy_t p;
    fl_errbuf_t eb = {{0}};

    (void) state;
    assert_int_equal(load_policy("[budget]\ndelta = 1e-5\n", &p, &eb),
                     FL_ERR_NOT_FOUND);
    assert_string_equal(eb.msg,
                        "node.ini: budget.epsilon_max: missing required key");
    assert_int_equal(
        load_policy(BUDGET "[policy]\nmin_noise_multiplier = 1\n", &p, &eb),
        FL_ERR_NOT_FOUND);
    assert_non_null(strstr(eb.msg, "give all four"));
    assert_int_equal(load_policy(BUDGET "[approved_jobs]\na = 12ab\n", &p, &eb),
                     FL_ERR_PARSE);
    assert_string_equal(eb.msg, "node.ini:5: approved_jobs.a: not a job hash "
                                "(64 hex digits)");
    assert_int_equal(load_policy(BUDGET "[policy]\nmax_epsilon = 1\n", &p, &eb),
                     FL_ERR_INVALID);
    assert_string_equal(eb.msg, "node.ini:5: policy.max_epsilon: unknown key");
}

static void
test_allow_non_dp_alone_is_not_a_constraint_policy(void **state)
{
    node_policy_t p;
    fl_errbuf_t eb = {{0}};

    (void) state;
    assert_int_equal(
        load_policy(BUDGET "[policy]\nallow_non_dp = true\n", &p, &eb), FL_OK);
    assert_false(p.has_constraints);
    assert_true(p.allow_non_dp);
}

static void
test_non_dp_job(void **state)
{
    static const char text[] =
        "[job]\nname = j\nmodel = 1-2\nrounds = 1\nlocal_steps = 1\n"
        "batch_size = 1\nlearning_rate = 1\ndelta = 1e-5\ndp = false\n"
        "[data]\nlabel = y\nclasses = 2\n[features]\nx = 0 1\n";
    node_policy_t p;
    pb_job_t job;
    fl_errbuf_t eb = {{0}};

    (void) state;
    assert_int_equal(pb_job_parse("j", text, strlen(text), &job, &eb), FL_OK);
    assert_int_equal(
        load_policy(BUDGET CONSTRAINTS("0.8", "1", "1e-5", "10"), &p, &eb),
        FL_OK);
    assert_int_equal(node_policy_check(&p, &job, &eb), FL_ERR_POLICY);
    assert_non_null(strstr(eb.msg, "without differential privacy"));
    p.allow_non_dp = 1;
    assert_int_equal(node_policy_check(&p, &job, &eb), FL_OK);
    pb_job_cleanup(&job);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_approval_by_hash),
        cmocka_unit_test(test_constraints),
        cmocka_unit_test(test_load_errors),
        cmocka_unit_test(test_allow_non_dp_alone_is_not_a_constraint_policy),
        cmocka_unit_test(test_non_dp_job),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

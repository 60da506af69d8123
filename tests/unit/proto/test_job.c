/* Tests for proto/job.c: the job file both daemons parse. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/job.h"

static const char base_job[] = "[job]\n"
                               "name = t1\n"
                               "model = 3-4-2\n"
                               "rounds = 5\n"
                               "local_steps = 2\n"
                               "batch_size = 8\n"
                               "learning_rate = 0.1\n"
                               "clip_norm = 1\n"
                               "noise_multiplier = 1.1\n"
                               "delta = 1e-5\n"
                               "%s"
                               "[data]\n"
                               "label = y\n"
                               "classes = 2\n"
                               "[features]\n"
                               "a = 0 1\n"
                               "b = 5 2.5\n"
                               "c = -1 0.5\n"
                               "%s";

/* Parses base_job with extra lines in [job] and after [features]. */
static fl_err_t
parse_with(const char *job_extra, const char *tail, pb_job_t *job,
           fl_errbuf_t *eb)
{
    char text[4096];
    int n = snprintf(text, sizeof text, base_job, job_extra, tail);

    assert_true(n > 0 && (size_t) n < sizeof text);
    return pb_job_parse("job.ini", text, (size_t) n, job, eb);
}

static void
expect_error(const char *job_extra, const char *tail, fl_err_t want,
             const char *msg_part)
{
    pb_job_t job;
    fl_errbuf_t eb = {{0}};

    assert_int_equal(parse_with(job_extra, tail, &job, &eb), want);
    if (strstr(eb.msg, msg_part) == NULL)
        fail_msg("message '%s' lacks '%s'", eb.msg, msg_part);
    assert_null(job.features);
}

static void
test_parse_valid_job(void **state)
{
    pb_job_t job;
    fl_errbuf_t eb = {{0}};

    (void) state;
    assert_int_equal(parse_with("", "", &job, &eb), FL_OK);
    assert_string_equal(job.name, "t1");
    assert_int_equal(job.n_layers, 3);
    assert_int_equal(job.layers[1], 4);
    assert_int_equal(pb_job_param_count(&job), 3 * 4 + 4 + 4 * 2 + 2);
    assert_int_equal(job.n_features, 3);
    assert_string_equal(job.features[1].column, "b");
    assert_true(job.features[1].centre == 5 && job.features[1].scale == 2.5);
    assert_true(job.dp);
    assert_true(job.noise_multiplier == 1.1);
    assert_int_equal(job.aggregator, PB_AGG_FEDAVG);
    assert_int_equal(job.eval_every, 1);
    assert_string_equal(job.group, "");
    pb_job_cleanup(&job);
}

static void
test_hash_is_sha256_of_bytes(void **state)
{
    char text[4096];
    int n = snprintf(text, sizeof text, base_job, "", "");
    uint8_t want[32];
    unsigned int len = 0;
    pb_job_t job;
    fl_errbuf_t eb = {{0}};

    (void) state;
    assert_int_equal(
        EVP_Digest(text, (size_t) n, want, &len, EVP_sha256(), NULL), 1);
    assert_int_equal(pb_job_parse("j", text, (size_t) n, &job, &eb), FL_OK);
    assert_memory_equal(job.hash, want, 32);
    assert_int_equal(strlen(job.hash_hex), 64);
    pb_job_cleanup(&job);

    /* A comment changes the bytes and so the job. */
    text[n] = '#';
    assert_int_equal(pb_job_parse("j", text, (size_t) n + 1, &job, &eb), FL_OK);
    assert_memory_not_equal(job.hash, want, 32);
    pb_job_cleanup(&job);
}

static void
test_example_job_parses(void **state)
{
    const char *src = getenv("DPFL_SOURCE_DIR");
    char path[1024];
    pb_job_t job;
    char *bytes = NULL;
    size_t len = 0;
    fl_errbuf_t eb = {{0}};

    (void) state;
    assert_non_null(src);
    (void) snprintf(path, sizeof path, "%s/deploy/examples/job.ini", src);
    if (pb_job_load(path, &job, &bytes, &len, &eb) != FL_OK)
        fail_msg("%s", eb.msg);
    assert_int_equal(job.n_features, 30);
    assert_true(job.target_epsilon > 0 && job.noise_multiplier == 0);
    assert_int_equal(job.calibration_records, 140);
    pb_job_cleanup(&job);
    free(bytes);
}

static void
test_errors(void **state)
{
    (void) state;
    expect_error("model = 3-4\n", "", FL_ERR_PARSE, "duplicate key");
    expect_error("", "d = 1 1\n", FL_ERR_INVALID,
                 "job.model: input width 3 but 4 features");
    expect_error("target_epsilon = 3\n", "", FL_ERR_INVALID,
                 "exactly one of noise_multiplier and target_epsilon");
    expect_error("aggregator = mean\n", "", FL_ERR_INVALID,
                 "job.aggregator: 'mean' is not one of");
    expect_error("colour = red\n", "", FL_ERR_INVALID,
                 "job.ini:11: job.colour: unknown key");
    expect_error("", "e = 1\n", FL_ERR_PARSE,
                 "features.e: expected '<centre> <scale>'");
    expect_error("", "e = 1 0\n", FL_ERR_PARSE, "scale > 0");
    expect_error("", "e = 1 nan\n", FL_ERR_PARSE, "features.e");
    expect_error("", "y = 0 1\n", FL_ERR_INVALID,
                 "the label cannot be a feature");
    expect_error("", "[job]\nholdout_fraction = 0.95\n", FL_ERR_RANGE,
                 "job.holdout_fraction: 0.95 is outside");
}

static void
test_model_strings(void **state)
{
    static const char *const bad[] = {"3",    "3--2",  "3-0-2",       "-3-2",
                                      "3-2-", "3-x-2", "3-99999999-2"};
    char text[4096];
    pb_job_t job;
    fl_errbuf_t eb = {{0}};

    (void) state;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int n = snprintf(text, sizeof text,
                         "[job]\nname = t\nmodel = %s\n[data]\nlabel = y\n",
                         bad[i]);
        assert_int_equal(pb_job_parse("j", text, (size_t) n, &job, &eb),
                         FL_ERR_PARSE);
        assert_non_null(strstr(eb.msg, "job.model"));
    }
}

static void
test_non_dp_needs_explicit_flag(void **state)
{
    char text[1024];
    pb_job_t job;
    fl_errbuf_t eb = {{0}};
    int n = snprintf(text, sizeof text,
                     "[job]\nname = t\nmodel = 1-2\nrounds = 1\n"
                     "local_steps = 1\nbatch_size = 1\nlearning_rate = 1\n"
                     "delta = 1e-5\ndp = false\n[data]\nlabel = y\n"
                     "classes = 2\n[features]\nx = 0 1\n");

    (void) state;
    assert_int_equal(pb_job_parse("j", text, (size_t) n, &job, &eb), FL_OK);
    assert_false(job.dp);
    assert_true(job.noise_multiplier == 0);
    pb_job_cleanup(&job);
    /* Without dp = false, a job without clip_norm is refused. */
    n = snprintf(text, sizeof text,
                 "[job]\nname = t\nmodel = 1-2\nrounds = 1\nlocal_steps = 1\n"
                 "batch_size = 1\nlearning_rate = 1\ndelta = 1e-5\n"
                 "[data]\nlabel = y\nclasses = 2\n[features]\nx = 0 1\n");
    assert_int_equal(pb_job_parse("j", text, (size_t) n, &job, &eb),
                     FL_ERR_NOT_FOUND);
    assert_non_null(strstr(eb.msg, "job.clip_norm: missing required key"));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_valid_job),
        cmocka_unit_test(test_hash_is_sha256_of_bytes),
        cmocka_unit_test(test_example_job_parses),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_model_strings),
        cmocka_unit_test(test_non_dp_needs_explicit_flag),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

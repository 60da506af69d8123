/* Tests for common/config.c: every accepted form and every error path. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/config.h"

static fl_config_t *
load(const char *text)
{
    fl_config_t *cfg = NULL;
    fl_errbuf_t eb = {{0}};
    fl_err_t err =
        fl_config_load_buffer("t.ini", text, strlen(text), &cfg, &eb);

    if (err != FL_OK)
        fail_msg("unexpected load error: %s", eb.msg);
    return cfg;
}

/* Loads text that must fail; checks the code and the message. */
static void
load_fails(const char *text, size_t len, fl_err_t want, const char *msg)
{
    fl_config_t *cfg = NULL;
    fl_errbuf_t eb = {{0}};

    assert_int_equal(fl_config_load_buffer("t.ini", text, len, &cfg, &eb),
                     want);
    assert_null(cfg);
    assert_string_equal(eb.msg, msg);
}

static void
test_typed_getters(void **state)
{
    static const char *const modes[] = {"fedavg", "median", "trimmed"};
    fl_config_t *cfg = load("# comment\n"
                            "[job]\n"
                            "rounds = 20\n"
                            "lr = 0.05\n"
                            "dp = yes\n"
                            "aggregator = median\n"
                            "name = breast cancer  ; inline comment\n"
                            "[other]\n"
                            "rounds = -3\n");
    fl_errbuf_t eb = {{0}};
    int64_t i;
    double d;
    int b, e;
    const char *s;

    (void) state;
    assert_int_equal(fl_config_int(cfg, "job", "rounds", FL_CFG_REQUIRED, 0, 1,
                                   1000, &i, &eb),
                     FL_OK);
    assert_int_equal(i, 20);
    assert_int_equal(fl_config_int(cfg, "other", "rounds", FL_CFG_REQUIRED, 0,
                                   -10, 10, &i, &eb),
                     FL_OK);
    assert_int_equal(i, -3);
    assert_int_equal(
        fl_config_double(cfg, "job", "lr", FL_CFG_REQUIRED, 0, 0, 1, &d, &eb),
        FL_OK);
    assert_true(d == 0.05);
    assert_int_equal(
        fl_config_bool(cfg, "job", "dp", FL_CFG_REQUIRED, 0, &b, &eb), FL_OK);
    assert_int_equal(b, 1);
    assert_int_equal(fl_config_enum(cfg, "job", "aggregator", FL_CFG_REQUIRED,
                                    modes, 3, 0, &e, &eb),
                     FL_OK);
    assert_int_equal(e, 1);
    assert_int_equal(fl_config_string(cfg, "job", "name", FL_CFG_REQUIRED, NULL,
                                      64, &s, &eb),
                     FL_OK);
    assert_string_equal(s, "breast cancer");
    assert_int_equal(fl_config_line(cfg, "job", "lr"), 4);
    assert_int_equal(fl_config_line(cfg, "job", "nope"), 0);
    assert_int_equal(fl_config_check_unused(cfg, &eb), FL_OK);
    fl_config_destroy(&cfg);
    assert_null(cfg);
}

static void
test_optional_defaults(void **state)
{
    fl_config_t *cfg = load("[a]\nx = 1\n");
    fl_errbuf_t eb = {{0}};
    int64_t i;
    double d;
    int b;
    const char *s;

    (void) state;
    assert_int_equal(
        fl_config_int(cfg, "a", "y", FL_CFG_OPTIONAL, 7, 0, 9, &i, &eb), FL_OK);
    assert_int_equal(i, 7);
    assert_int_equal(
        fl_config_double(cfg, "b", "x", FL_CFG_OPTIONAL, 2.5, 0, 9, &d, &eb),
        FL_OK);
    assert_true(d == 2.5);
    assert_int_equal(fl_config_bool(cfg, "a", "z", FL_CFG_OPTIONAL, 1, &b, &eb),
                     FL_OK);
    assert_int_equal(b, 1);
    assert_int_equal(
        fl_config_string(cfg, "a", "s", FL_CFG_OPTIONAL, "dflt", 8, &s, &eb),
        FL_OK);
    assert_string_equal(s, "dflt");
    /* x was never read: it is an unknown key. */
    assert_int_equal(fl_config_check_unused(cfg, &eb), FL_ERR_INVALID);
    assert_string_equal(eb.msg, "t.ini:2: a.x: unknown key");
    fl_config_destroy(&cfg);
}

/* Reads one key with the named getter and checks code and message. */
static void
getter_fails(const char *text, char kind, fl_err_t want, const char *msg)
{
    static const char *const names[] = {"rdp", "pld"};
    fl_config_t *cfg = load(text);
    fl_errbuf_t eb = {{0}};
    int64_t i;
    double d;
    int b;
    const char *s;
    fl_err_t err = FL_OK;

    switch (kind) {
    case 'i':
        err = fl_config_int(cfg, "s", "k", FL_CFG_REQUIRED, 0, 0, 100, &i, &eb);
        break;
    case 'd':
        err = fl_config_double(cfg, "s", "k", FL_CFG_REQUIRED, 0, 0.0, 1.0, &d,
                               &eb);
        break;
    case 'b':
        err = fl_config_bool(cfg, "s", "k", FL_CFG_REQUIRED, 0, &b, &eb);
        break;
    case 'e':
        err = fl_config_enum(cfg, "s", "k", FL_CFG_REQUIRED, names, 2, 0, &b,
                             &eb);
        break;
    case 's':
        err =
            fl_config_string(cfg, "s", "k", FL_CFG_REQUIRED, NULL, 4, &s, &eb);
        break;
    default:
        fail();
    }
    assert_int_equal(err, want);
    assert_string_equal(eb.msg, msg);
    fl_config_destroy(&cfg);
}

static void
test_getter_errors(void **state)
{
    (void) state;
    getter_fails("[s]\nj = 1\n", 'i', FL_ERR_NOT_FOUND,
                 "t.ini: s.k: missing required key");
    getter_fails("[s]\nk = 12x\n", 'i', FL_ERR_PARSE,
                 "t.ini:2: s.k: not an integer: '12x'");
    getter_fails("[s]\nk =\n", 'i', FL_ERR_PARSE,
                 "t.ini:2: s.k: not an integer: ''");
    getter_fails("[s]\n\nk = 101\n", 'i', FL_ERR_RANGE,
                 "t.ini:3: s.k: 101 is outside [0, 100]");
    getter_fails("[s]\nk = 99999999999999999999\n", 'i', FL_ERR_RANGE,
                 "t.ini:2: s.k: 99999999999999999999 is outside [0, 100]");
    getter_fails("[s]\nk = 0.5.1\n", 'd', FL_ERR_PARSE,
                 "t.ini:2: s.k: not a number: '0.5.1'");
    getter_fails("[s]\nk = nan\n", 'd', FL_ERR_RANGE,
                 "t.ini:2: s.k: not finite: 'nan'");
    getter_fails("[s]\nk = inf\n", 'd', FL_ERR_RANGE,
                 "t.ini:2: s.k: not finite: 'inf'");
    getter_fails("[s]\nk = 1e400\n", 'd', FL_ERR_RANGE,
                 "t.ini:2: s.k: not finite: '1e400'");
    getter_fails("[s]\nk = 1.5\n", 'd', FL_ERR_RANGE,
                 "t.ini:2: s.k: 1.5 is outside [0, 1]");
    getter_fails("[s]\nk = maybe\n", 'b', FL_ERR_PARSE,
                 "t.ini:2: s.k: not a boolean (true or false): 'maybe'");
    getter_fails("[s]\nk = zcdp\n", 'e', FL_ERR_INVALID,
                 "t.ini:2: s.k: 'zcdp' is not one of: rdp, pld");
    getter_fails("[s]\nk = abcde\n", 's', FL_ERR_LIMIT,
                 "t.ini:2: s.k: longer than 4 bytes");
}

static void
test_load_errors(void **state)
{
    char line[300];
    char *big;
    size_t n = 0;

    (void) state;
    load_fails("[s]\nk = 1\nk = 2\n", 14, FL_ERR_PARSE,
               "t.ini:3: s.k: duplicate key (first set on line 2)");
    load_fails("[s]\njust words\n", 15, FL_ERR_PARSE,
               "t.ini:2: syntax error (expected [section] or key = value)");
    load_fails("[s\nk = 1\n", 9, FL_ERR_PARSE,
               "t.ini:1: syntax error (expected [section] or key = value)");
    load_fails("[s]\nk = a\0b\n", 10, FL_ERR_PARSE,
               "t.ini:2: NUL byte in line");

    memset(line, 'x', sizeof line);
    memcpy(line, "[s]\nk = ", 8);
    line[sizeof line - 1] = '\n';
    load_fails(line, sizeof line, FL_ERR_LIMIT,
               "t.ini:2: line longer than 199 bytes");

    big = malloc(FL_CONFIG_MAX_BYTES + 2);
    assert_non_null(big);
    memset(big, '#', FL_CONFIG_MAX_BYTES + 1);
    load_fails(big, FL_CONFIG_MAX_BYTES + 1, FL_ERR_LIMIT,
               "t.ini: larger than 1048576 bytes");

    n = (size_t) snprintf(big, 16, "[s]\n");
    for (int i = 0; i <= FL_CONFIG_MAX_ENTRIES; i++)
        n += (size_t) snprintf(big + n, 32, "k%d = 1\n", i);
    load_fails(big, n, FL_ERR_LIMIT, "t.ini:4098: more than 4096 entries");
    free(big);
}

static void
test_section_iteration_in_file_order(void **state)
{
    fl_config_t *cfg = load("[features]\n"
                            "mean_radius = 14.1 3.5\n"
                            "[job]\n"
                            "x = 1\n"
                            "[features]\n"
                            "mean_texture = 19.3 4.3\n");
    const char *k, *v;
    int line;

    (void) state;
    assert_int_equal(fl_config_section_size(cfg, "features"), 2);
    assert_int_equal(fl_config_section_size(cfg, "absent"), 0);
    assert_int_equal(fl_config_section_entry(cfg, "features", 0, &k, &v, &line),
                     FL_OK);
    assert_string_equal(k, "mean_radius");
    assert_string_equal(v, "14.1 3.5");
    assert_int_equal(line, 2);
    assert_int_equal(fl_config_section_entry(cfg, "features", 1, &k, &v, &line),
                     FL_OK);
    assert_string_equal(k, "mean_texture");
    assert_int_equal(line, 6);
    assert_int_equal(fl_config_section_entry(cfg, "features", 2, &k, &v, &line),
                     FL_ERR_NOT_FOUND);
    fl_config_destroy(&cfg);
}

static void
test_load_from_file(void **state)
{
    char path[] = "/tmp/dpfl-test-config-XXXXXX";
    int fd = mkstemp(path);
    fl_config_t *cfg = NULL;
    fl_errbuf_t eb = {{0}};
    int64_t i;

    (void) state;
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "[a]\nn = 5\n", 10), 10);
    (void) close(fd);
    assert_int_equal(fl_config_load(path, &cfg, &eb), FL_OK);
    assert_string_equal(fl_config_name(cfg), path);
    assert_int_equal(
        fl_config_int(cfg, "a", "n", FL_CFG_REQUIRED, 0, 0, 9, &i, &eb), FL_OK);
    assert_int_equal(i, 5);
    fl_config_destroy(&cfg);
    (void) unlink(path);

    assert_int_equal(fl_config_load(path, &cfg, &eb), FL_ERR_NOT_FOUND);
    assert_null(cfg);
    assert_non_null(strstr(eb.msg, "No such file"));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_typed_getters),
        cmocka_unit_test(test_optional_defaults),
        cmocka_unit_test(test_getter_errors),
        cmocka_unit_test(test_load_errors),
        cmocka_unit_test(test_section_iteration_in_file_order),
        cmocka_unit_test(test_load_from_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

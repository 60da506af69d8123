/* Tests for common/log.c and common/clock.c. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/log.h"

/* Runs one log call into a memory stream and returns what it wrote. */
static char *
capture(int json, fl_log_level_t level, const char *msg)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);

    assert_non_null(f);
    fl_log_set_stream(f);
    fl_log_set_json(json);
    fl_log(level, "%s", msg);
    fl_log_set_stream(NULL);
    fl_log_set_json(0);
    (void) fclose(f);
    return buf;
}

static void
test_text_line_has_timestamp_level_message(void **state)
{
    char *out = capture(0, FL_LOG_WARN, "round 3 closed");

    (void) state;
    /* 2026-11-26T16:51:39.123Z warn  round 3 closed\n */
    assert_int_equal(out[4], '-');
    assert_int_equal(out[10], 'T');
    assert_int_equal(out[23], 'Z');
    assert_non_null(strstr(out, " warn  round 3 closed\n"));
    free(out);
}

static void
test_json_line_escapes(void **state)
{
    char *out = capture(1, FL_LOG_ERROR, "bad \"peer\"\n\\x");

    (void) state;
    assert_non_null(strstr(out, "\"level\":\"error\""));
    assert_non_null(strstr(out, "\"msg\":\"bad \\\"peer\\\"\\u000a\\\\x\"}\n"));
    assert_int_equal(out[0], '{');
    free(out);
}

static void
test_level_filter(void **state)
{
    char *out;

    (void) state;
    fl_log_set_level(FL_LOG_WARN);
    out = capture(0, FL_LOG_INFO, "hidden");
    assert_true(out == NULL || out[0] == '\0');
    free(out);
    fl_log_set_level(FL_LOG_INFO);
}

static void
test_level_parse(void **state)
{
    fl_log_level_t l;

    (void) state;
    assert_int_equal(fl_log_level_parse("debug", &l), FL_OK);
    assert_int_equal(l, FL_LOG_DEBUG);
    assert_int_equal(fl_log_level_parse("ERROR", &l), FL_OK);
    assert_int_equal(l, FL_LOG_ERROR);
    assert_int_equal(fl_log_level_parse("loud", &l), FL_ERR_INVALID);
    assert_int_equal(fl_log_level_parse(NULL, &l), FL_ERR_INVALID);
}

static void
test_json_escape_truncates_safely(void **state)
{
    char out[6];

    (void) state;
    assert_int_equal(fl_json_escape(out, sizeof out, "ab\"cd"), 5);
    assert_string_equal(out, "ab\\\"c");
    assert_int_equal(fl_json_escape(out, 3, "a\"b"), 1);
    assert_string_equal(out, "a");
}

static void
test_clock(void **state)
{
    char ts[32];
    int64_t a = fl_clock_mono_ns();
    int64_t b = fl_clock_mono_ns();

    (void) state;
    assert_true(b >= a);
    assert_true(fl_clock_wall_ms() > 1600000000000LL);
    fl_clock_iso8601(ts, sizeof ts, 0);
    assert_string_equal(ts, "1970-01-01T00:00:00.000Z");
    fl_clock_iso8601(ts, sizeof ts, 1795712499123LL);
    assert_string_equal(ts, "2026-11-26T17:01:39.123Z");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_text_line_has_timestamp_level_message),
        cmocka_unit_test(test_json_line_escapes),
        cmocka_unit_test(test_level_filter),
        cmocka_unit_test(test_level_parse),
        cmocka_unit_test(test_json_escape_truncates_safely),
        cmocka_unit_test(test_clock),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

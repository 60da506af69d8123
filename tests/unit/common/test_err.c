/* Tests for common/err.c. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "common/err.h"

static void
test_every_code_has_a_distinct_name(void **state)
{
    (void) state;
    for (int a = FL_OK; a <= FL_ERR_UNSUPPORTED; a++) {
        const char *na = fl_strerror((fl_err_t) a);
        assert_non_null(na);
        assert_string_not_equal(na, "unknown error");
        for (int b = a + 1; b <= FL_ERR_UNSUPPORTED; b++)
            assert_string_not_equal(na, fl_strerror((fl_err_t) b));
    }
    assert_string_equal(fl_strerror((fl_err_t) 9999), "unknown error");
}

static void
test_codes_are_stable(void **state)
{
    (void) state;
    /* Values are part of the exit codes and records: never renumber. */
    assert_int_equal(FL_ERR_PARSE, 4);
    assert_int_equal(FL_ERR_BUDGET, 12);
    assert_int_equal(FL_ERR_UNSUPPORTED, 19);
}

static void
test_fail_formats_and_returns_code(void **state)
{
    fl_errbuf_t eb = {{0}};

    (void) state;
    assert_int_equal(fl_fail(&eb, FL_ERR_RANGE, "%s:%d: x: bad", "f.ini", 3),
                     FL_ERR_RANGE);
    assert_string_equal(eb.msg, "f.ini:3: x: bad");
    assert_int_equal(fl_fail(NULL, FL_ERR_IO, "ignored"), FL_ERR_IO);
}

static void
test_prefix_keeps_old_message(void **state)
{
    fl_errbuf_t eb = {{0}};

    (void) state;
    (void) fl_fail(&eb, FL_ERR_PARSE, "line 2: bad");
    assert_int_equal(fl_fail_prefix(&eb, FL_ERR_PARSE, "node.ini"),
                     FL_ERR_PARSE);
    assert_string_equal(eb.msg, "node.ini: line 2: bad");

    memset(&eb, 0, sizeof eb);
    (void) fl_fail_prefix(&eb, FL_ERR_IO, "x");
    assert_string_equal(eb.msg, "x: input/output error");
}

static void
test_long_messages_are_truncated_not_overflowed(void **state)
{
    fl_errbuf_t eb = {{0}};
    char big[2000];

    (void) state;
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    (void) fl_fail(&eb, FL_ERR_LIMIT, "%s", big);
    assert_int_equal(strlen(eb.msg), FL_ERRBUF_SIZE - 1);
    (void) fl_fail_prefix(&eb, FL_ERR_LIMIT, "%s", big);
    assert_int_equal(strlen(eb.msg), FL_ERRBUF_SIZE - 1);
    assert_string_equal(fl_errbuf_str(NULL, FL_ERR_IO), "input/output error");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_code_has_a_distinct_name),
        cmocka_unit_test(test_codes_are_stable),
        cmocka_unit_test(test_fail_formats_and_returns_code),
        cmocka_unit_test(test_prefix_keeps_old_message),
        cmocka_unit_test(test_long_messages_are_truncated_not_overflowed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

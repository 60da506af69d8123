/* Tests for common/hex.c. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "common/hex.h"

static void
test_encode(void **state)
{
    const unsigned char in[4] = {0x00, 0x9f, 0xa0, 0xff};
    char out[9];

    (void) state;
    fl_hex_encode(in, sizeof in, out);
    assert_string_equal(out, "009fa0ff");
    fl_hex_encode(in, 0, out);
    assert_string_equal(out, "");
}

static void
test_decode_round_trip_and_case(void **state)
{
    unsigned char out[4];

    (void) state;
    assert_int_equal(fl_hex_decode("009fa0ff", out, 4, 0), 1);
    assert_int_equal(out[1], 0x9f);
    assert_int_equal(out[3], 0xff);
    /* Canonical records are lower case; configs may be either. */
    assert_int_equal(fl_hex_decode("009FA0FF", out, 4, 0), 0);
    assert_int_equal(fl_hex_decode("009FA0FF", out, 4, 1), 1);
    assert_int_equal(out[2], 0xa0);
}

static void
test_decode_rejects(void **state)
{
    unsigned char out[4];

    (void) state;
    assert_int_equal(fl_hex_decode("009fa0f", out, 4, 1), 0);   /* short */
    assert_int_equal(fl_hex_decode("009fa0ff0", out, 4, 1), 0); /* long */
    assert_int_equal(fl_hex_decode("009fa0fg", out, 4, 1), 0);
    assert_int_equal(fl_hex_decode("00 fa0ff", out, 4, 1), 0);
    assert_int_equal(fl_hex_digit('G', 1), -1);
    assert_int_equal(fl_hex_digit('F', 0), -1);
    assert_int_equal(fl_hex_digit('7', 0), 7);
    assert_true(fl_hex_is_lower("09af", 4));
    assert_true(fl_hex_is_lower("09afZ", 4)); /* only the first n count */
    assert_false(fl_hex_is_lower("09aF", 4));
    assert_false(fl_hex_is_lower("0g", 2));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_encode),
        cmocka_unit_test(test_decode_round_trip_and_case),
        cmocka_unit_test(test_decode_rejects),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* tests/unit/node/test_blas.c: OpenBLAS's kernel against the CPU's ISA. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "node/blas.h"

static void
test_lag_rule(void **state)
{
    (void) state;
    /* The case this exists for: Debian 12's OpenBLAS on Emerald Rapids. */
    assert_true(node_blas_core_lags("Prescott", NODE_ISA_AVX512));
    assert_true(node_blas_core_lags("prescott", NODE_ISA_AVX2));
    assert_true(node_blas_core_lags("Sandybridge", NODE_ISA_AVX2));
    assert_true(node_blas_core_lags("Nehalem", NODE_ISA_AVX512));
    /* Kernels with AVX2 or more are fine, whatever the CPU. */
    assert_false(node_blas_core_lags("Haswell", NODE_ISA_AVX512));
    assert_false(node_blas_core_lags("SkylakeX", NODE_ISA_AVX512));
    assert_false(node_blas_core_lags("Cooperlake", NODE_ISA_AVX512));
    assert_false(node_blas_core_lags("Zen", NODE_ISA_AVX2));
    /* A CPU without AVX2 is served right by an old kernel. */
    assert_false(node_blas_core_lags("Prescott", NODE_ISA_BASELINE));
    assert_false(node_blas_core_lags("Core2", NODE_ISA_BASELINE));
    /* Unknown names and NULL are not flagged (no false alarms). */
    assert_false(node_blas_core_lags("SapphireRapids", NODE_ISA_AVX512));
    assert_false(node_blas_core_lags("Prescott2", NODE_ISA_AVX512));
    assert_false(node_blas_core_lags(NULL, NODE_ISA_AVX512));
}

static void
test_isa_names(void **state)
{
    (void) state;
    assert_string_equal(node_cpu_isa_name(NODE_ISA_AVX512), "avx512");
    assert_string_equal(node_cpu_isa_name(NODE_ISA_AVX2), "avx2");
    assert_string_equal(node_cpu_isa_name(NODE_ISA_BASELINE), "baseline");
}

/* This process: the hint is written exactly when the rule says so. */
static void
test_check_this_process(void **state)
{
    char hint[256];
    bool lags = node_blas_core_lags(node_blas_core(), node_cpu_isa());

    (void) state;
    memset(hint, 'x', sizeof hint);
    assert_int_equal(node_blas_check(hint, sizeof hint), lags);
    if (lags) {
        assert_non_null(strstr(hint, node_blas_core()));
        assert_non_null(strstr(hint, "OPENBLAS_CORETYPE="));
    } else {
        assert_string_equal(hint, "");
    }
    assert_int_equal(node_blas_check(hint, 8), lags); /* truncates */
    assert_true(strlen(hint) < 8);
    assert_int_equal(node_blas_check(NULL, 0), lags);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lag_rule),
        cmocka_unit_test(test_isa_names),
        cmocka_unit_test(test_check_this_process),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * node/blas.c: OpenBLAS's kernel against what the CPU supports.
 */
#include "node/blas.h"

#include <cblas.h>
#include <stdio.h>
#include <strings.h>

node_cpu_isa_t
node_cpu_isa(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") &&
        __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512dq") &&
        __builtin_cpu_supports("avx512vl")) {
        return NODE_ISA_AVX512;
    }
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
        return NODE_ISA_AVX2;
    }
#endif
    return NODE_ISA_BASELINE;
}

const char *
node_cpu_isa_name(node_cpu_isa_t isa)
{
    switch (isa) {
    case NODE_ISA_AVX512:
        return "avx512";
    case NODE_ISA_AVX2:
        return "avx2";
    default:
        return "baseline";
    }
}

const char *
node_blas_core(void)
{
    const char *core = openblas_get_corename();

    return core != NULL ? core : "unknown";
}

/* OpenBLAS x86 kernels (its corename strings) that predate AVX2. */
static const char *const pre_avx2_cores[] = {
    "Prescott", "Core2",       "Penryn",     "Dunnington",   "Nehalem",
    "Atom",     "Sandybridge", "Katmai",     "Coppermine",   "Northwood",
    "Banias",   "Athlon",      "Opteron",    "Opteron_SSE3", "Barcelona",
    "Bobcat",   "Bulldozer",   "Piledriver", "Steamroller",  "Excavator",
};

bool
node_blas_core_lags(const char *core, node_cpu_isa_t isa)
{
    size_t i;

    if (core == NULL || isa == NODE_ISA_BASELINE) {
        return false;
    }
    for (i = 0; i < sizeof(pre_avx2_cores) / sizeof(pre_avx2_cores[0]); i++) {
        if (strcasecmp(core, pre_avx2_cores[i]) == 0) {
            return true;
        }
    }
    return false;
}

bool
node_blas_check(char *hint, size_t hint_size)
{
    node_cpu_isa_t isa = node_cpu_isa();
    const char *core = node_blas_core();

    if (hint_size > 0) {
        hint[0] = '\0';
    }
    if (!node_blas_core_lags(core, isa)) {
        return false;
    }
    if (hint_size > 0) {
        (void) snprintf(hint, hint_size,
                        "OpenBLAS runs its %s kernels on a CPU with %s: "
                        "training is 2-3x slower than it could be; set "
                        "OPENBLAS_CORETYPE=%s in the environment "
                        "(docs/configuration.md)",
                        core, isa == NODE_ISA_AVX512 ? "AVX-512" : "AVX2",
                        isa == NODE_ISA_AVX512 ? "SkylakeX" : "Haswell");
    }
    return true;
}

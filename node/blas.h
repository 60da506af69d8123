/*
 * node/blas.h: which OpenBLAS kernel training runs on, and whether the CPU
 * could run a faster one.
 *
 * OpenBLAS picks its kernels once, at load time, from the CPU it detects or
 * from OPENBLAS_CORETYPE. An OpenBLAS older than the CPU (Debian 12 ships
 * 0.3.21, which does not know e.g. Emerald Rapids) falls back to its
 * SSE3 "Prescott" kernels on a CPU with AVX-512: every GEMM then runs at a
 * third of the speed the hardware offers. dpfl never changes the kernel;
 * it reports the mismatch so that an operator can set OPENBLAS_CORETYPE
 * (docs/configuration.md).
 *
 * No allocation, no state: every function may be called at any time.
 */
#ifndef NODE_BLAS_H
#define NODE_BLAS_H

#include <stdbool.h>
#include <stddef.h>

/* The widest vector instruction set usable for float32 GEMM. */
typedef enum node_cpu_isa {
    NODE_ISA_BASELINE = 0, /* SSE2/SSE3 */
    NODE_ISA_AVX2 = 1,     /* AVX2 + FMA */
    NODE_ISA_AVX512 = 2    /* AVX-512 F, BW, DQ, VL */
} node_cpu_isa_t;

/* What this CPU supports (cpuid, via the compiler's builtins). */
node_cpu_isa_t node_cpu_isa(void);

/* "avx512", "avx2" or "baseline". */
const char *node_cpu_isa_name(node_cpu_isa_t isa);

/* The kernel OpenBLAS chose, e.g. "Haswell"; never NULL. */
const char *node_blas_core(void);

/*
 * True when `core` is an OpenBLAS kernel without AVX2 (Prescott, Core2,
 * Nehalem, Sandybridge, ...) while `isa` offers AVX2 or more. Pure, for
 * tests; node_blas_check() applies it to this process.
 */
bool node_blas_core_lags(const char *core, node_cpu_isa_t isa);

/*
 * Checks this process. When OpenBLAS's kernel lags the CPU, writes one
 * sentence for the log into hint (naming the OPENBLAS_CORETYPE to set) and
 * returns true; otherwise returns false and leaves hint empty.
 */
bool node_blas_check(char *hint, size_t hint_size);

#endif

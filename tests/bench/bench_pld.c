/*
 * bench_pld: wall time of the PLD accountant (privacy/pld.c), single thread.
 * Prints one JSON object: per case the median and minimum of `reps` runs,
 * the epsilon, the grid used and the FFT length.
 * Usage: bench_pld [reps]   (default 5)
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "privacy/pld.h"

#define MAX_REPS 50

typedef struct bcase {
    const char *name;
    dp_sgm_t hist[10];
    size_t n;
    double delta;
    int exact_gaussian;
} bcase_t;

static int
cmp_double(const void *a, const void *b)
{
    double x = *(const double *) a, y = *(const double *) b;
    return (x > y) - (x < y);
}

static int
run_case(const bcase_t *c, int reps, int last)
{
    double t[MAX_REPS], eps = 0.0;
    dp_pld_info_t info;
    dp_pld_opts_t o;
    fl_errbuf_t eb = {{0}};
    dp_pld_opts_init(&o);
    o.exact_gaussian = c->exact_gaussian;
    for (int r = 0; r < reps; r++) {
        int64_t t0 = fl_clock_mono_ns();
        fl_err_t rc =
            dp_pld_epsilon_opts(c->hist, c->n, c->delta, &o, &eps, &info, &eb);
        t[r] = (double) (fl_clock_mono_ns() - t0) * 1e-9;
        if (rc != FL_OK) {
            fprintf(stderr, "bench_pld: %s: %s\n", c->name, eb.msg);
            return 1;
        }
    }
    qsort(t, (size_t) reps, sizeof t[0], cmp_double);
    printf("    {\"case\": \"%s\", \"delta\": %g, \"epsilon\": %.10g, "
           "\"median_s\": %.4f, \"min_s\": %.4f, \"interval\": %g, "
           "\"grid\": %zu, \"fft_len\": %zu, \"mechanisms\": %zu}%s\n",
           c->name, c->delta, eps, t[reps / 2], t[0], info.interval, info.grid,
           info.fft_len, info.mechanisms, last ? "" : ",");
    return 0;
}

int
main(int argc, char **argv)
{
    int reps = 5;
    if (argc > 1) {
        char *end;
        long v = strtol(argv[1], &end, 10);
        if (*end != '\0' || v < 1 || v > MAX_REPS) {
            fprintf(stderr, "usage: bench_pld [reps 1..%d]\n", MAX_REPS);
            return 2;
        }
        reps = (int) v;
    }
    static const bcase_t cases[] = {
        {"q0.01_s1.1_T1e4", {{0.01, 1.1, 10000}}, 1, 1e-5, 1},
        {"q0.01_s1.1_T1e3", {{0.01, 1.1, 1000}}, 1, 1e-5, 1},
        {"q0.01_s1.1_T1e5", {{0.01, 1.1, 100000}}, 1, 1e-5, 1},
        {"C1_rounds_10_entries",
         {{0.01, 1.1, 50},
          {0.01, 1.1, 50},
          {0.01, 1.1, 50},
          {0.01, 1.1, 50},
          {0.01, 1.1, 50},
          {0.01, 2.0, 50},
          {0.01, 2.0, 50},
          {0.01, 2.0, 50},
          {0.01, 2.0, 50},
          {0.01, 2.0, 50}},
         10,
         1e-5,
         1},
        {"C3_three_phase",
         {{0.05, 0.8, 200}, {0.05, 1.5, 500}, {0.1, 4.0, 1000}},
         3,
         1e-5,
         1},
        {"q0.256_s0.5_T1e4_coarsened", {{0.256, 0.5, 10000}}, 1, 1e-5, 1},
        {"q1_s1_T100_closed_form", {{1.0, 1.0, 100}}, 1, 1e-5, 1},
        {"q1_s1_T100_fft", {{1.0, 1.0, 100}}, 1, 1e-5, 0},
    };
    size_t nc = sizeof cases / sizeof cases[0];
    printf("{\n  \"bench\": \"pld\",\n  \"default_interval\": %g,\n"
           "  \"reps\": %d,\n  \"cases\": [\n",
           DP_PLD_DEFAULT_INTERVAL, reps);
    for (size_t i = 0; i < nc; i++)
        if (run_case(&cases[i], reps, i + 1 == nc) != 0)
            return 1;
    printf("  ]\n}\n");
    return 0;
}

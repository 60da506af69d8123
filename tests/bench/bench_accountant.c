/*
 * tests/bench/bench_accountant.c: time of one epsilon (RDP, PLD), of a
 * composed history, and of a calibration.
 *
 * Prints one JSON object. Each case is repeated and reports the best and
 * the median time per call, in this thread's CPU time (the machine is
 * shared, so other processes do not count against it) and in wall time.
 * The RDP sweep times one epsilon at every (q, sigma) of a grid covering
 * q 1e-3..1 and sigma 0.3..100 and reports the slowest. Compare with the
 * reference libraries' timings in ../shared/refs (docs/perf-accountant.md).
 *
 * Usage: bench_accountant [--reps N] [--no-pld]  (default 21 repetitions).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "privacy/accountant.h"

#define MAX_REPS 1001

static volatile double sink;

static double
now_s(clockid_t id)
{
    struct timespec ts;

    clock_gettime(id, &ts);
    return (double) ts.tv_sec + (double) ts.tv_nsec * 1e-9;
}

static int
cmp_double(const void *a, const void *b)
{
    const double x = *(const double *) a;
    const double y = *(const double *) b;

    return (x > y) - (x < y);
}

typedef struct timing {
    double cpu_best, cpu_median, wall_best, wall_median;
} timing_t;

typedef struct job {
    const dp_accountant_opts_t *opts;
    const dp_sgm_t *hist;
    size_t n;
    int calibrate; /* 1: calibrate hist[0]'s q and steps to target 3 */
} job_t;

static int
run_once(const job_t *j)
{
    if (j->calibrate) {
        double sigma = 0.0;
        double eps = 0.0;

        if (dp_accountant_calibrate(j->opts, j->hist[0].sampling_rate,
                                    j->hist[0].steps, 1e-5, 3.0, &sigma, &eps,
                                    NULL) != FL_OK) {
            return -1;
        }
        sink = sigma;
    } else {
        dp_epsilon_t e;

        if (dp_accountant_epsilon(j->opts, j->hist, j->n, 1e-5, &e, NULL) !=
            FL_OK) {
            return -1;
        }
        sink = e.epsilon;
    }
    return 0;
}

static int
time_job(const job_t *j, int reps, timing_t *t)
{
    static double cpu[MAX_REPS];
    static double wall[MAX_REPS];

    for (int r = 0; r < reps; r++) {
        const double c0 = now_s(CLOCK_THREAD_CPUTIME_ID);
        const double w0 = now_s(CLOCK_MONOTONIC);

        if (run_once(j) != 0) {
            return -1;
        }
        cpu[r] = now_s(CLOCK_THREAD_CPUTIME_ID) - c0;
        wall[r] = now_s(CLOCK_MONOTONIC) - w0;
    }
    qsort(cpu, (size_t) reps, sizeof(double), cmp_double);
    qsort(wall, (size_t) reps, sizeof(double), cmp_double);
    t->cpu_best = cpu[0];
    t->cpu_median = cpu[reps / 2];
    t->wall_best = wall[0];
    t->wall_median = wall[reps / 2];
    return 0;
}

static void
print_case(const char *name, const timing_t *t, int last)
{
    printf("    \"%s\": {\"cpu_best_s\": %.3e, \"cpu_median_s\": %.3e, "
           "\"wall_best_s\": %.3e, \"wall_median_s\": %.3e}%s\n",
           name, t->cpu_best, t->cpu_median, t->wall_best, t->wall_median,
           last ? "" : ",");
}

/* The slowest single RDP epsilon (best of reps) over a (q, sigma) grid. */
static int
rdp_sweep(const dp_accountant_opts_t *o, int reps, timing_t *worst, double *wq,
          double *ws)
{
    static const double qs[] = {0.001, 0.01, 0.05, 0.256, 0.9, 1.0};
    static const double ss[] = {0.3, 0.5, 0.8, 1.1, 2.0, 10.0, 100.0};

    memset(worst, 0, sizeof(*worst));
    for (size_t i = 0; i < sizeof(qs) / sizeof(qs[0]); i++) {
        for (size_t k = 0; k < sizeof(ss) / sizeof(ss[0]); k++) {
            const dp_sgm_t h = {qs[i], ss[k], 1000000};
            const job_t j = {o, &h, 1, 0};
            timing_t t;

            if (time_job(&j, reps, &t) != 0) {
                return -1;
            }
            if (t.cpu_best > worst->cpu_best) {
                *worst = t;
                *wq = qs[i];
                *ws = ss[k];
            }
        }
    }
    return 0;
}

int
main(int argc, char **argv)
{
    static const dp_accountant_opts_t rdp = {DP_ACCOUNTANT_RDP,
                                             DP_ORDERS_DEFAULT, 0.0};
    static const dp_accountant_opts_t opa = {DP_ACCOUNTANT_RDP,
                                             DP_ORDERS_OPACUS, 0.0};
    static const dp_accountant_opts_t pld = {DP_ACCOUNTANT_PLD,
                                             DP_ORDERS_DEFAULT, 0.0};
    const uint64_t steps[] = {1, 10000, 1000000};
    dp_sgm_t c1[10];
    int reps = 21;
    int with_pld = 1;
    timing_t t;
    double wq = 0.0;
    double ws = 0.0;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--reps") == 0 && i + 1 < argc) {
            reps = atoi(argv[++i]);
        } else if (strcmp(argv[i], "--no-pld") == 0) {
            with_pld = 0;
        } else {
            fprintf(stderr, "usage: bench_accountant [--reps N] [--no-pld]\n");
            return 2;
        }
    }
    if (reps < 1 || reps > MAX_REPS) {
        fprintf(stderr, "bench_accountant: --reps must be in [1, %d]\n",
                MAX_REPS);
        return 2;
    }
    for (int i = 0; i < 10; i++) {
        c1[i] = (dp_sgm_t){0.01, i < 5 ? 1.1 : 2.0, 50};
    }
    printf("{\n  \"bench\": \"accountant\",\n  \"reps\": %d,\n", reps);
    printf("  \"cases\": {\n");
    for (size_t k = 0; k < 3; k++) {
        const dp_sgm_t h = {0.01, 1.1, steps[k]};
        const job_t jd = {&rdp, &h, 1, 0};
        const job_t jo = {&opa, &h, 1, 0};
        char name[64];

        if (time_job(&jd, reps, &t) != 0) {
            return 1;
        }
        snprintf(name, sizeof(name), "rdp_default_q0.01_s1.1_T%llu",
                 (unsigned long long) steps[k]);
        print_case(name, &t, 0);
        if (time_job(&jo, reps, &t) != 0) {
            return 1;
        }
        snprintf(name, sizeof(name), "rdp_opacus_q0.01_s1.1_T%llu",
                 (unsigned long long) steps[k]);
        print_case(name, &t, 0);
    }
    {
        const job_t j = {&rdp, c1, 10, 0};

        if (time_job(&j, reps, &t) != 0) {
            return 1;
        }
        print_case("rdp_default_C1_10_entries", &t, 0);
    }
    if (rdp_sweep(&rdp, 5, &t, &wq, &ws) != 0) {
        return 1;
    }
    print_case("rdp_default_slowest_of_sweep_T1e6", &t, 0);
    {
        const dp_sgm_t h = {0.01, 0.0, 1000};
        const job_t j = {&rdp, &h, 1, 1};

        if (time_job(&j, reps < 5 ? reps : 5, &t) != 0) {
            return 1;
        }
        print_case("rdp_calibrate_q0.01_T1000_eps3", &t, !with_pld);
    }
    if (with_pld) {
        const dp_sgm_t h = {0.01, 1.1, 10000};
        const dp_sgm_t hc = {0.01, 0.0, 1000};
        const job_t j = {&pld, &h, 1, 0};
        const job_t jc = {&pld, &hc, 1, 1};
        const job_t jm = {&pld, c1, 10, 0};

        if (time_job(&j, 5, &t) != 0) {
            return 1;
        }
        print_case("pld_q0.01_s1.1_T10000", &t, 0);
        if (time_job(&jm, 3, &t) != 0) {
            return 1;
        }
        print_case("pld_C1_10_entries", &t, 0);
        if (time_job(&jc, 1, &t) != 0) {
            return 1;
        }
        print_case("pld_calibrate_q0.01_T1000_eps3", &t, 1);
    }
    printf("  },\n  \"rdp_sweep_slowest\": {\"q\": %g, \"sigma\": %g}\n}\n", wq,
           ws);
    return 0;
}

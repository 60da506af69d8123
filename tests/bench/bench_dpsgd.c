/*
 * tests/bench/bench_dpsgd.c: DP-SGD against plain SGD on random data.
 *
 *   bench_dpsgd [--model 784-256-128-10] [--batch 256] [--steps 200]
 *               [--rows N] [--repeats 5]
 *
 * Both modes run the real trainer (Poisson sampling, q = batch / rows) on
 * standard-normal features with uniform labels, ReLU, SGD lr 0.05, DP with
 * C = 1 and sigma = 1 from a seeded generator. Samples/s counts the
 * examples actually sampled. Each mode gets a warm-up (0.3 s), then
 * `repeats` x `steps` steps per mode, run in blocks of 20 steps that
 * alternate between the modes; each figure is its mode's median over the
 * blocks (robust to bursts of load from other processes). Prints one JSON
 * object. OpenBLAS threads and kernel are left as the environment sets them.
 */
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "common/clock.h"
#include "node/blas.h"
#include "node/data.h"
#include "node/model.h"
#include "node/trainer.h"
#include "privacy/rng.h"

typedef struct run {
    double samples_per_s;
    double step_ms;
    double noise_ms;
} run_t;

/* One trainer, its parameters and generator, for one mode. */
typedef struct mode {
    node_trainer_t *t;
    dp_rng_t *rng;
    float *p;
} bench_mode_t;

static int
mode_init(bench_mode_t *md, const node_model_t *m, size_t rows, double batch,
          int nonprivate)
{
    node_train_spec_t spec;
    fl_errbuf_t eb = {{0}};
    size_t np = node_model_n_params(m);

    memset(md, 0, sizeof(*md));
    memset(&spec, 0, sizeof(spec));
    spec.optimizer = NODE_OPT_SGD;
    spec.lr = 0.05;
    spec.clip = 1.0;
    spec.noise_multiplier = 1.0;
    spec.expected_batch = batch;
    spec.nonprivate = nonprivate;
    md->p = malloc(np * sizeof(float));
    if (md->p == NULL || node_model_init(m, 1, md->p, np, &eb) != FL_OK ||
        node_trainer_new(m, &spec, rows, &md->t, &eb) != FL_OK ||
        dp_rng_new_seeded(&md->rng, 12345, &eb) != FL_OK) {
        fprintf(stderr, "bench_dpsgd: %s\n", eb.msg);
        return 1;
    }
    return 0;
}

static void
mode_free(bench_mode_t *md)
{
    node_trainer_destroy(&md->t);
    dp_rng_destroy(&md->rng);
    free(md->p);
}

/* Times `steps` steps; the model is re-initialised so runs are alike. */
static int
mode_run(bench_mode_t *md, const node_model_t *m, const node_dataset_t *ds,
         unsigned steps, run_t *out)
{
    node_train_stats_t st;
    fl_errbuf_t eb = {{0}};
    int64_t t0;
    double s;

    if (node_model_init(m, 1, md->p, node_model_n_params(m), &eb) != FL_OK) {
        return 1;
    }
    node_trainer_reset(md->t);
    t0 = fl_clock_mono_ns();
    if (node_trainer_run_steps(md->t, md->p, ds, md->rng, steps, &st, &eb) !=
        FL_OK) {
        fprintf(stderr, "bench_dpsgd: %s\n", eb.msg);
        return 1;
    }
    s = (double) (fl_clock_mono_ns() - t0) / 1e9;
    out->samples_per_s = (double) st.examples / s;
    out->step_ms = s * 1e3 / steps;
    out->noise_ms = (double) st.noise_ns / 1e6 / steps;
    return 0;
}

static double
median(double *v, size_t n)
{
    for (size_t i = 1; i < n; i++) {
        for (size_t j = i; j > 0 && v[j - 1] > v[j]; j--) {
            double t = v[j];

            v[j] = v[j - 1];
            v[j - 1] = t;
        }
    }
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/*
 * Plain and DP alternate in blocks of BLOCK steps (after a warm-up), so
 * that load from other processes hits both alike; each figure is the
 * median over the blocks of its mode.
 */
#define BLOCK 20
#define MAX_BLOCKS 4096

static int
time_modes(const node_model_t *m, const node_dataset_t *ds, double batch,
           unsigned steps, unsigned repeats, run_t *plain, run_t *dp)
{
    bench_mode_t md[2];
    run_t warm;
    size_t nb = (size_t) repeats * ((steps + BLOCK - 1) / BLOCK);
    double *sps = malloc(2 * MAX_BLOCKS * sizeof(double));
    double *ms = malloc(2 * MAX_BLOCKS * sizeof(double));
    double *noise = malloc(2 * MAX_BLOCKS * sizeof(double));
    int rc = 1;

    memset(md, 0, sizeof(md));
    if (nb > MAX_BLOCKS || sps == NULL || ms == NULL || noise == NULL ||
        mode_init(&md[0], m, node_dataset_rows(ds), batch, 1) != 0 ||
        mode_init(&md[1], m, node_dataset_rows(ds), batch, 0) != 0) {
        goto out;
    }
    for (int k = 0; k < 2; k++) {
        int64_t t0 = fl_clock_mono_ns();

        do {
            if (mode_run(&md[k], m, ds, BLOCK, &warm) != 0) {
                goto out;
            }
        } while (fl_clock_mono_ns() - t0 < 300000000);
    }
    for (size_t b = 0; b < nb; b++) {
        for (int k = 0; k < 2; k++) {
            run_t r;

            if (mode_run(&md[k], m, ds, BLOCK, &r) != 0) {
                goto out;
            }
            sps[(size_t) k * MAX_BLOCKS + b] = r.samples_per_s;
            ms[(size_t) k * MAX_BLOCKS + b] = r.step_ms;
            /* DP step time without its noise; the noise time alone. */
            noise[(size_t) k * MAX_BLOCKS + b] = r.noise_ms;
            if (k == 1) {
                ms[MAX_BLOCKS + b] = r.step_ms - r.noise_ms;
            }
        }
    }
    plain->samples_per_s = median(sps, nb);
    plain->step_ms = median(ms, nb);
    plain->noise_ms = 0.0;
    dp->samples_per_s = median(sps + MAX_BLOCKS, nb);
    dp->noise_ms = median(noise + MAX_BLOCKS, nb);
    /* step_ms of DP: median of (step - noise), plus the median noise. */
    dp->step_ms = median(ms + MAX_BLOCKS, nb) + dp->noise_ms;
    rc = 0;
out:
    mode_free(&md[0]);
    mode_free(&md[1]);
    free(sps);
    free(ms);
    free(noise);
    return rc;
}

static int
make_data(const node_model_t *m, size_t rows, node_dataset_t **ds)
{
    size_t d = node_model_n_inputs(m);
    size_t k = node_model_n_classes(m);
    float *x = malloc(rows * d * sizeof(float));
    int32_t *y = malloc(rows * sizeof(int32_t));
    dp_rng_t *rng = NULL;
    fl_errbuf_t eb = {{0}};
    int rc = 1;

    if (x == NULL || y == NULL || dp_rng_new_seeded(&rng, 99, &eb) != FL_OK) {
        goto out;
    }
    for (size_t i = 0; i < rows * d; i++) {
        x[i] = (float) dp_rng_gaussian(rng);
    }
    for (size_t i = 0; i < rows; i++) {
        y[i] = (int32_t) dp_rng_below(rng, k);
    }
    if (node_dataset_from_arrays(rows, d, x, y, (uint32_t) k, NULL, 0, NULL, ds,
                                 &eb) != FL_OK) {
        fprintf(stderr, "bench_dpsgd: %s\n", eb.msg);
        goto out;
    }
    rc = 0;
out:
    dp_rng_destroy(&rng);
    free(x);
    free(y);
    return rc;
}

static int
parse_args(int argc, char **argv, const char **model, double *batch,
           unsigned long *steps, unsigned long *rows, unsigned long *repeats)
{
    for (int i = 1; i < argc; i++) {
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        char *end = NULL;

        if (v == NULL) {
            return 1;
        }
        if (strcmp(argv[i], "--model") == 0) {
            *model = v;
        } else if (strcmp(argv[i], "--batch") == 0) {
            *batch = strtod(v, &end);
        } else if (strcmp(argv[i], "--steps") == 0) {
            *steps = strtoul(v, &end, 10);
        } else if (strcmp(argv[i], "--rows") == 0) {
            *rows = strtoul(v, &end, 10);
        } else if (strcmp(argv[i], "--repeats") == 0) {
            *repeats = strtoul(v, &end, 10);
        } else {
            return 1;
        }
        if (end != NULL && *end != '\0') {
            return 1;
        }
        i++;
    }
    return *batch > 0 && *steps > 0 && *repeats > 0 && *repeats <= 32 ? 0 : 1;
}

int
main(int argc, char **argv)
{
    const char *shape = "784-256-128-10";
    double batch = 256;
    unsigned long steps = 200;
    unsigned long rows = 0;
    unsigned long repeats = 5;
    node_model_t *m = NULL;
    node_dataset_t *ds = NULL;
    fl_errbuf_t eb = {{0}};
    run_t dp;
    run_t plain;
    struct rusage ru;
    double ratio;
    double overhead;

    if (parse_args(argc, argv, &shape, &batch, &steps, &rows, &repeats)) {
        fprintf(stderr, "usage: bench_dpsgd [--model S] [--batch B] "
                        "[--steps N] [--rows N] [--repeats R]\n");
        return 2;
    }
    if (node_model_parse(shape, NODE_ACT_RELU, &m, &eb) != FL_OK) {
        fprintf(stderr, "bench_dpsgd: %s\n", eb.msg);
        return 1;
    }
    /* The peer's data sizes: 10,000 rows for MNIST-like, 569 for WDBC. */
    if (rows == 0) {
        rows = node_model_n_inputs(m) >= 100 ? 10000 : 569;
    }
    if (make_data(m, rows, &ds) != 0 ||
        time_modes(m, ds, batch, (unsigned) steps, (unsigned) repeats, &plain,
                   &dp) != 0) {
        return 1;
    }
    getrusage(RUSAGE_SELF, &ru);
    ratio = dp.samples_per_s / plain.samples_per_s;
    overhead = (dp.step_ms - dp.noise_ms) / plain.step_ms - 1.0;
    printf("{\"model\":\"%s\",\"batch\":%g,\"steps\":%lu,\"rows\":%lu,"
           "\"params\":%zu,\"dp_samples_per_s\":%.0f,"
           "\"nondp_samples_per_s\":%.0f,\"ratio\":%.4f,"
           "\"dp_step_ms\":%.4f,\"nondp_step_ms\":%.4f,"
           "\"noise_ms_per_step\":%.4f,\"clip_overhead\":%.4f,"
           "\"peak_rss_mb\":%.1f,\"openblas_core\":\"%s\","
           "\"openblas_threads\":%d,\"cpu_isa\":\"%s\","
           "\"openblas_core_lags_cpu\":%s}\n",
           shape, batch, steps, rows, node_model_n_params(m), dp.samples_per_s,
           plain.samples_per_s, ratio, dp.step_ms, plain.step_ms, dp.noise_ms,
           overhead, (double) ru.ru_maxrss / 1024.0, node_blas_core(),
           openblas_get_num_threads(), node_cpu_isa_name(node_cpu_isa()),
           node_blas_core_lags(node_blas_core(), node_cpu_isa()) ? "true"
                                                                 : "false");
    node_dataset_destroy(&ds);
    node_model_destroy(&m);
    return 0;
}

/*
 * tests/bench/bench_dpsgd.c: DP-SGD against plain SGD on random data.
 *
 *   bench_dpsgd [--model 784-256-128-10] [--batch 256] [--steps 200]
 *               [--rows N] [--repeats 5]
 *
 * Both modes run the real trainer (Poisson sampling, q = batch / rows) on
 * standard-normal features with uniform labels, ReLU, SGD lr 0.05, DP with
 * C = 1 and sigma = 1 from a seeded generator. Samples/s counts the
 * examples actually sampled. Each mode gets a warm-up, then `repeats` timed
 * runs of `steps` steps alternate between the modes; each mode's median
 * run is reported. Prints one JSON object.
 * OpenBLAS threads and kernel are left as the environment sets them.
 */
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "common/clock.h"
#include "node/data.h"
#include "node/model.h"
#include "node/trainer.h"
#include "privacy/rng.h"

typedef struct run {
    double samples_per_s;
    double step_ms;
    double noise_ms;
} run_t;

static int
cmp_run(const void *a, const void *b)
{
    double x = ((const run_t *) a)->samples_per_s;
    double y = ((const run_t *) b)->samples_per_s;

    return (x > y) - (x < y);
}

/* One trainer, its parameters and generator, for one mode. */
typedef struct mode {
    node_trainer_t *t;
    dp_rng_t *rng;
    float *p;
    run_t runs[32];
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

/*
 * Alternates plain and DP runs (warm-up first) so that load from other
 * processes hits both alike; reports each mode's median run.
 */
static int
time_modes(const node_model_t *m, const node_dataset_t *ds, double batch,
           unsigned steps, unsigned repeats, run_t *plain, run_t *dp)
{
    bench_mode_t md[2];
    run_t warm;
    int rc = 1;

    if (mode_init(&md[0], m, node_dataset_rows(ds), batch, 1) != 0 ||
        mode_init(&md[1], m, node_dataset_rows(ds), batch, 0) != 0) {
        goto out;
    }
    for (int k = 0; k < 2; k++) {
        int64_t t0 = fl_clock_mono_ns();

        do {
            if (mode_run(&md[k], m, ds, 20, &warm) != 0) {
                goto out;
            }
        } while (fl_clock_mono_ns() - t0 < 300000000);
    }
    for (unsigned r = 0; r < repeats; r++) {
        for (int k = 0; k < 2; k++) {
            if (mode_run(&md[k], m, ds, steps, &md[k].runs[r]) != 0) {
                goto out;
            }
        }
    }
    for (int k = 0; k < 2; k++) {
        qsort(md[k].runs, repeats, sizeof(run_t), cmp_run);
    }
    *plain = md[0].runs[repeats / 2];
    *dp = md[1].runs[repeats / 2];
    rc = 0;
out:
    mode_free(&md[0]);
    mode_free(&md[1]);
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
           "\"openblas_threads\":%d}\n",
           shape, batch, steps, rows, node_model_n_params(m), dp.samples_per_s,
           plain.samples_per_s, ratio, dp.step_ms, plain.step_ms, dp.noise_ms,
           overhead, (double) ru.ru_maxrss / 1024.0, openblas_get_corename(),
           openblas_get_num_threads());
    node_dataset_destroy(&ds);
    node_model_destroy(&m);
    return 0;
}

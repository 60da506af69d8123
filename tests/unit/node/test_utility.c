/*
 * tests/unit/node/test_utility.c: central training on the WDBC breast
 * cancer data (one node, all data), 30-16-2 tanh, held-out split 20%.
 *
 * Over 5 seeds (split, initialisation, sampling and noise all from the
 * seed), the median held-out accuracy must reach 0.95 without DP and 0.93
 * with DP-SGD at epsilon 3, delta 1e-5 (RDP accountant of privacy/, sigma
 * calibrated for the steps run). The ten figures are printed.
 *
 * Scaling constants: centre and half-range of the published minimum and
 * maximum of each feature (the summary table in the data set's
 * description, as in deploy/examples/job.ini), fixed here, never computed
 * from the file. They are public in the sense the product needs (they do
 * not depend on any one hospital's records), though the published table
 * itself summarises this same data set.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node/data.h"
#include "node/eval.h"
#include "node/model.h"
#include "node/trainer.h"
#include "privacy/accountant.h"
#include "privacy/rng.h"

static const node_feature_spec_t wdbc_features[30] = {
    {"mean_radius", 17.5455, 10.5645},
    {"mean_texture", 24.495, 14.785},
    {"mean_perimeter", 116.145, 72.355},
    {"mean_area", 1322.25, 1178.75},
    {"mean_smoothness", 0.108, 0.055},
    {"mean_compactness", 0.182, 0.163},
    {"mean_concavity", 0.2135, 0.2135},
    {"mean_concave_points", 0.1005, 0.1005},
    {"mean_symmetry", 0.205, 0.099},
    {"mean_fractal_dimension", 0.0735, 0.0235},
    {"radius_se", 1.4925, 1.3805},
    {"texture_se", 2.6225, 2.2625},
    {"perimeter_se", 11.3685, 10.6115},
    {"area_se", 274.501, 267.699},
    {"smoothness_se", 0.0165, 0.0145},
    {"compactness_se", 0.0685, 0.0665},
    {"concavity_se", 0.198, 0.198},
    {"concave_points_se", 0.0265, 0.0265},
    {"symmetry_se", 0.0435, 0.0355},
    {"fractal_dimension_se", 0.0155, 0.0145},
    {"worst_radius", 21.985, 14.055},
    {"worst_texture", 30.78, 18.76},
    {"worst_perimeter", 150.805, 100.395},
    {"worst_area", 2219.6, 2034.4},
    {"worst_smoothness", 0.147, 0.076},
    {"worst_compactness", 0.5425, 0.5155},
    {"worst_concavity", 0.626, 0.626},
    {"worst_concave_points", 0.1455, 0.1455},
    {"worst_symmetry", 0.41, 0.254},
    {"worst_fractal_dimension", 0.1315, 0.0765},
};

#define EPOCHS 30.0
#define BATCH 128.0
#define HOLDOUT 0.2

static node_dataset_t *all;

static int
setup(void **state)
{
    node_data_spec_t s;
    fl_errbuf_t eb = {{0}};
    char path[1024];
    const char *src = getenv("DPFL_SOURCE_DIR");

    (void) state;
    memset(&s, 0, sizeof(s));
    s.features = wdbc_features;
    s.n_features = 30;
    s.label = "label";
    s.n_classes = 2;
    snprintf(path, sizeof(path), "%s/data/breast_cancer_wdbc.csv",
             src != NULL ? src : ".");
    if (node_dataset_load_csv(path, &s, &all, &eb) != FL_OK) {
        fprintf(stderr, "%s\n", eb.msg);
        return -1;
    }
    return 0;
}

static int
teardown(void **state)
{
    (void) state;
    node_dataset_destroy(&all);
    return 0;
}

/* Trains one seed; returns held-out accuracy (AUROC into *auroc). */
static double
run_seed(uint64_t seed, int dp, double target_eps, double *sigma_out,
         double *eps_out, double *auroc)
{
    node_dataset_t *tr = NULL;
    node_dataset_t *ho = NULL;
    node_model_t *m = NULL;
    node_trainer_t *t = NULL;
    dp_rng_t *rng = NULL;
    node_train_spec_t spec;
    node_eval_report_t rep;
    fl_errbuf_t eb = {{0}};
    float *p;
    size_t n;
    uint64_t steps;
    double acc;

    assert_int_equal(node_dataset_split(all, seed, HOLDOUT, &tr, &ho, &eb),
                     FL_OK);
    n = node_dataset_rows(tr);
    steps = (uint64_t) ceil(EPOCHS * (double) n / BATCH);
    assert_int_equal(node_model_parse("30-16-2", NODE_ACT_TANH, &m, &eb),
                     FL_OK);
    p = malloc(node_model_n_params(m) * sizeof(float));
    assert_int_equal(node_model_init(m, seed, p, node_model_n_params(m), &eb),
                     FL_OK);
    memset(&spec, 0, sizeof(spec));
    spec.optimizer = NODE_OPT_SGD;
    spec.lr = 1.0;
    spec.momentum = 0.5;
    spec.clip = 1.0;
    spec.expected_batch = BATCH;
    spec.nonprivate = !dp;
    if (dp) {
        double q = BATCH / (double) n;

        if (dp_accountant_calibrate(NULL, q, steps, 1e-5, target_eps,
                                    &spec.noise_multiplier, eps_out,
                                    &eb) != FL_OK) {
            fail_msg("calibrate: %s", eb.msg);
        }
        *sigma_out = spec.noise_multiplier;
    }
    assert_int_equal(node_trainer_new(m, &spec, n, &t, &eb), FL_OK);
    assert_int_equal(dp_rng_new_seeded(&rng, seed * 1000 + 7, &eb), FL_OK);
    assert_int_equal(node_trainer_run_steps(t, p, tr, rng, steps, NULL, &eb),
                     FL_OK);
    assert_int_equal(node_eval_run(m, p, ho, &rep, &eb), FL_OK);
    acc = rep.overall.accuracy;
    *auroc = rep.overall.auroc;
    node_eval_report_cleanup(&rep);
    dp_rng_destroy(&rng);
    node_trainer_destroy(&t);
    node_model_destroy(&m);
    node_dataset_destroy(&tr);
    node_dataset_destroy(&ho);
    free(p);
    return acc;
}

static int
cmp_double(const void *a, const void *b)
{
    double x = *(const double *) a;
    double y = *(const double *) b;

    return (x > y) - (x < y);
}

static double
median5(const double *v)
{
    double s[5];

    memcpy(s, v, sizeof(s));
    qsort(s, 5, sizeof(double), cmp_double);
    return s[2];
}

static void
test_wdbc_utility(void **state)
{
    double acc_plain[5];
    double acc_dp[5];
    double auc_plain[5];
    double auc_dp[5];
    double sigma = 0.0;
    double eps = 0.0;

    (void) state;
    for (int s = 0; s < 5; s++) {
        acc_plain[s] =
            run_seed((uint64_t) s + 1, 0, 0.0, &sigma, &eps, &auc_plain[s]);
        acc_dp[s] =
            run_seed((uint64_t) s + 1, 1, 3.0, &sigma, &eps, &auc_dp[s]);
    }
    printf("wdbc 30-16-2 tanh, B=%.0f, %.0f epochs, held-out %.0f%%\n", BATCH,
           EPOCHS, HOLDOUT * 100);
    printf("non-DP  accuracy: %.4f %.4f %.4f %.4f %.4f (median %.4f)\n",
           acc_plain[0], acc_plain[1], acc_plain[2], acc_plain[3], acc_plain[4],
           median5(acc_plain));
    printf("non-DP  AUROC:    %.4f %.4f %.4f %.4f %.4f\n", auc_plain[0],
           auc_plain[1], auc_plain[2], auc_plain[3], auc_plain[4]);
    printf("DP eps=3 accuracy: %.4f %.4f %.4f %.4f %.4f (median %.4f), "
           "sigma %.4f, eps %.4f\n",
           acc_dp[0], acc_dp[1], acc_dp[2], acc_dp[3], acc_dp[4],
           median5(acc_dp), sigma, eps);
    printf("DP eps=3 AUROC:    %.4f %.4f %.4f %.4f %.4f\n", auc_dp[0],
           auc_dp[1], auc_dp[2], auc_dp[3], auc_dp[4]);
    assert_true(eps <= 3.0);
    assert_true(median5(acc_plain) >= 0.95);
    assert_true(median5(acc_dp) >= 0.93);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wdbc_utility),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

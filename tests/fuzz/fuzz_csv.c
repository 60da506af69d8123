/*
 * tests/fuzz/fuzz_csv.c: libFuzzer target for node_dataset_load_csv, the
 * loader of a hospital's CSV data (the file is the node's own, but it is
 * exported by other systems and must never crash the node), and for
 * node_dataset_split on whatever it loads.
 *
 * The input is written to one scratch file per process. The spec is fixed:
 * features age, x1, x2 (with centre and scale), label y with 3 classes,
 * group column site (when the header has no such column, the load is
 * retried without a group), small limits. Checks: every rejection has a
 * message and leaves no dataset; an accepted dataset respects the limits,
 * has finite features, labels in range, consistent groups and squared
 * norms; the split partitions its rows; no descriptor is left open.
 */
#include "node/data.h"

#include <math.h>

#include "tests/fuzz/fuzz_file.h"

#define MAX_ROWS 64
#define MAX_COLS 16
#define MAX_LINE 256

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const node_feature_spec_t features[] = {
    {"age", 50.0, 10.0}, {"x1", 0.0, 1.0}, {"x2", 1.0, 2.0}};

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void) argc;
    (void) argv;
    fuzz_file_init("csv", "csv");
    return 0;
}

static void
check_dataset(const node_dataset_t *ds, int grouped)
{
    size_t rows = node_dataset_rows(ds);
    size_t d = node_dataset_n_features(ds);
    const float *x = node_dataset_features(ds);
    const int32_t *y = node_dataset_labels(ds);
    const float *sq = node_dataset_sqnorms(ds);
    const uint32_t *g = node_dataset_groups(ds);
    size_t ng = node_dataset_n_groups(ds);

    FUZZ_ASSERT(rows <= MAX_ROWS);
    FUZZ_ASSERT(d == sizeof features / sizeof features[0]);
    FUZZ_ASSERT(node_dataset_n_classes(ds) == 3);
    for (size_t r = 0; r < rows; r++) {
        double norm = 0;

        for (size_t j = 0; j < d; j++) {
            FUZZ_ASSERT(isfinite(x[r * d + j]));
            norm += (double) x[r * d + j] * (double) x[r * d + j];
        }
        FUZZ_ASSERT(y[r] >= 0 && y[r] < 3);
        FUZZ_ASSERT(isfinite(sq[r]) || !isfinite((float) norm));
        FUZZ_ASSERT(sq[r] >= 0);
    }
    if (grouped) {
        FUZZ_ASSERT(g != NULL && ng >= 1 && ng <= NODE_DATA_MAX_GROUPS);
        for (size_t r = 0; r < rows; r++)
            FUZZ_ASSERT(g[r] < ng);
        for (size_t k = 0; k < ng; k++) {
            const char *name = node_dataset_group_name(ds, k);

            FUZZ_ASSERT(name != NULL);
            FUZZ_ASSERT(strlen(name) <= NODE_DATA_MAX_GROUP_NAME);
        }
    }
}

static void
check_split(const node_dataset_t *ds, uint64_t seed)
{
    node_dataset_t *train = NULL, *held = NULL;
    fl_errbuf_t eb = {{0}};
    size_t rows = node_dataset_rows(ds);
    fl_err_t err = node_dataset_split(ds, seed, 0.25, &train, &held, &eb);

    if (err != FL_OK) {
        FUZZ_ASSERT(err == FL_ERR_INVALID && eb.msg[0] != '\0');
        FUZZ_ASSERT(train == NULL && held == NULL);
        return;
    }
    FUZZ_ASSERT(train != NULL && held != NULL);
    FUZZ_ASSERT(node_dataset_rows(train) + node_dataset_rows(held) == rows);
    FUZZ_ASSERT(node_dataset_rows(held) ==
                (size_t) floor((double) rows * 0.25));
    FUZZ_ASSERT(node_dataset_n_features(train) == node_dataset_n_features(ds));
    node_dataset_destroy(&train);
    node_dataset_destroy(&held);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    node_data_spec_t spec;
    node_dataset_t *ds = NULL;
    fl_errbuf_t eb = {{0}};
    int grouped = 1;
    fl_err_t err;

    int fd0 = fuzz_lowest_free_fd();

    fuzz_file_write(data, size);
    memset(&spec, 0, sizeof spec);
    spec.features = features;
    spec.n_features = sizeof features / sizeof features[0];
    spec.label = "y";
    spec.n_classes = 3;
    spec.group = "site";
    spec.limits.max_rows = MAX_ROWS;
    spec.limits.max_cols = MAX_COLS;
    spec.limits.max_line = MAX_LINE;

    err = node_dataset_load_csv(fuzz_file_path, &spec, &ds, &eb);
    if (err == FL_ERR_NOT_FOUND) {
        FUZZ_ASSERT(ds == NULL);
        spec.group = NULL;
        grouped = 0;
        eb.msg[0] = '\0';
        err = node_dataset_load_csv(fuzz_file_path, &spec, &ds, &eb);
    }
    if (err != FL_OK) {
        FUZZ_ASSERT(ds == NULL && eb.msg[0] != '\0');
    } else {
        FUZZ_ASSERT(ds != NULL);
        check_dataset(ds, grouped);
        check_split(ds, (uint64_t) size * 0x9e3779b97f4a7c15ULL);
        node_dataset_destroy(&ds);
        FUZZ_ASSERT(ds == NULL);
    }
    FUZZ_ASSERT(fuzz_lowest_free_fd() == fd0);
    return 0;
}

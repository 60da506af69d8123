/*
 * node/data.h: a hospital's dataset, loaded from CSV for a job.
 *
 * The CSV file has one header row, comma-separated fields, no quoting, LF
 * (or CRLF) line ends. The job names the feature columns (each with PUBLIC
 * scaling constants: the loader stores (value - centre) / scale, so no
 * statistic of the private data enters preprocessing), the label column
 * (integer classes 0 .. n_classes-1) and optionally a group column (any
 * short text; per-subgroup evaluation). Other columns are ignored.
 *
 * Every error names the file and the line (1 is the header) and, for a
 * field, the column: missing column, wrong field count, non-numeric or
 * non-finite value, label outside the job's classes, empty file, line too
 * long, too many rows or columns.
 *
 * Ownership: a node_dataset_t is immutable after creation and freed with
 * node_dataset_destroy(); accessors return pointers into it, valid until
 * then. Reading from several threads is safe.
 */
#ifndef NODE_DATA_H
#define NODE_DATA_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

#define NODE_DATA_MAX_CLASSES 64
#define NODE_DATA_MAX_GROUPS 256
#define NODE_DATA_MAX_GROUP_NAME 64
#define NODE_DATA_DEFAULT_MAX_ROWS 10000000
#define NODE_DATA_DEFAULT_MAX_COLS 10000
#define NODE_DATA_DEFAULT_MAX_LINE 1048576
/* Largest limits a configuration may set (FL_ERR_INVALID above them). */
#define NODE_DATA_HARD_MAX_COLS 1000000
#define NODE_DATA_HARD_MAX_LINE (64 * 1048576)

/* One feature column and its public scaling constants (scale > 0). */
typedef struct node_feature_spec {
    const char *name;
    double centre;
    double scale;
} node_feature_spec_t;

/*
 * Limits from the node's config; a field left 0 takes its default. Columns
 * and line length may not exceed the NODE_DATA_HARD_MAX_* values.
 */
typedef struct node_data_limits {
    size_t max_rows; /* data rows, header excluded */
    size_t max_cols; /* fields in the header (all columns, used or not) */
    size_t max_line; /* bytes in one line, without the line end */
} node_data_limits_t;

typedef struct node_data_spec {
    const node_feature_spec_t *features; /* model input order */
    size_t n_features;
    const char *label;  /* label column */
    uint32_t n_classes; /* 2 .. NODE_DATA_MAX_CLASSES */
    const char *group;  /* group column, or NULL */
    node_data_limits_t limits;
} node_data_spec_t;

typedef struct node_dataset node_dataset_t;

/*
 * Loads path under spec. Errors: FL_ERR_INVALID (bad spec), FL_ERR_IO
 * (open/read), FL_ERR_NOT_FOUND (missing column), FL_ERR_PARSE (empty file,
 * no data rows, wrong field count, non-numeric value, duplicate header
 * name, NUL byte), FL_ERR_RANGE (non-finite value, label outside the
 * classes), FL_ERR_LIMIT (line too long, too many rows, columns or
 * groups), FL_ERR_NOMEM. *out is NULL on error.
 */
fl_err_t node_dataset_load_csv(const char *path, const node_data_spec_t *spec,
                               node_dataset_t **out, fl_errbuf_t *eb) FL_WUR;

/*
 * Builds a dataset from arrays (copied): n rows of d features (row-major,
 * already scaled), labels in [0, n_classes). groups may be NULL; otherwise
 * group ids in [0, n_groups) with names group_names[0 .. n_groups-1]
 * (group_names may be NULL: names "0", "1", ...). n may be 0.
 */
fl_err_t node_dataset_from_arrays(size_t n, size_t d, const float *x,
                                  const int32_t *y, uint32_t n_classes,
                                  const uint32_t *groups, size_t n_groups,
                                  const char *const *group_names,
                                  node_dataset_t **out, fl_errbuf_t *eb) FL_WUR;

/* A new dataset of the rows idx[0 .. n-1] of ds (indices < rows of ds). */
fl_err_t node_dataset_subset(const node_dataset_t *ds, const size_t *idx,
                             size_t n, node_dataset_t **out,
                             fl_errbuf_t *eb) FL_WUR;

/*
 * Deterministic train/held-out split: a seeded permutation (SplitMix64
 * Fisher-Yates) puts floor(rows * heldout_fraction) rows in *heldout and
 * the rest in *train, each kept in file order. heldout_fraction in (0, 1)
 * and both parts non-empty, else FL_ERR_INVALID. The same data and seed
 * give the same split on every machine.
 */
fl_err_t node_dataset_split(const node_dataset_t *ds, uint64_t seed,
                            double heldout_fraction, node_dataset_t **train,
                            node_dataset_t **heldout, fl_errbuf_t *eb) FL_WUR;

void node_dataset_destroy(node_dataset_t **ds_p);

size_t node_dataset_rows(const node_dataset_t *ds);
size_t node_dataset_n_features(const node_dataset_t *ds);
uint32_t node_dataset_n_classes(const node_dataset_t *ds);
/* rows x n_features floats, row-major, scaled. */
const float *node_dataset_features(const node_dataset_t *ds);
/* rows labels. */
const int32_t *node_dataset_labels(const node_dataset_t *ds);
/* Row i's squared L2 norm of its features (for the DP-SGD ghost norms). */
const float *node_dataset_sqnorms(const node_dataset_t *ds);
/* Group ids (rows of them), or NULL when the dataset has no groups. */
const uint32_t *node_dataset_groups(const node_dataset_t *ds);
size_t node_dataset_n_groups(const node_dataset_t *ds);
/* Name of group g (< n_groups), or NULL. */
const char *node_dataset_group_name(const node_dataset_t *ds, size_t g);

#endif

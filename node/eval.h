/*
 * node/eval.h: evaluation of a model on a (held-out) dataset.
 *
 * Loss (mean softmax cross-entropy, natural log), accuracy, AUROC for two
 * classes (class 1 is positive, ties get half credit) and the confusion
 * counts, overall and per subgroup when the dataset has a group column.
 * DESIGN.md: nodes report these only for held-out data, never for the
 * training split.
 *
 * Ownership: node_eval_run() fills a caller-allocated report; free its
 * arrays with node_eval_report_cleanup(). Not thread-safe per report.
 */
#ifndef NODE_EVAL_H
#define NODE_EVAL_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "node/data.h"
#include "node/model.h"

typedef struct node_metrics {
    uint64_t n;          /* examples */
    double loss;         /* mean cross-entropy; NaN when n == 0 */
    double accuracy;     /* NaN when n == 0 */
    double auroc;        /* two classes with both present, else NaN */
    uint32_t n_classes;  /* K */
    uint64_t *confusion; /* K x K, [true * K + predicted] */
} node_metrics_t;

typedef struct node_eval_report {
    node_metrics_t overall;
    size_t n_groups;        /* 0 without a group column */
    node_metrics_t *groups; /* group g is node_dataset_group_name(ds, g) */
} node_eval_report_t;

/*
 * Evaluates params (node_model_n_params floats) on every row of ds.
 * report is overwritten (call node_eval_report_cleanup() on it after a
 * successful run). FL_ERR_INVALID (shape mismatch), FL_ERR_NOMEM; on error
 * report holds nothing to free.
 */
fl_err_t node_eval_run(const node_model_t *model, const float *params,
                       const node_dataset_t *ds, node_eval_report_t *report,
                       fl_errbuf_t *eb) FL_WUR;

/* Frees the report's arrays and zeroes it. */
void node_eval_report_cleanup(node_eval_report_t *report);

/*
 * AUROC of scores for the positive class (labels 1 positive, 0 negative),
 * the Mann-Whitney statistic with ties counted half. NaN when either
 * class is absent. FL_ERR_NOMEM only.
 */
fl_err_t node_eval_auroc(const float *scores, const int32_t *labels, size_t n,
                         double *auroc, fl_errbuf_t *eb) FL_WUR;

#endif

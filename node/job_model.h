/*
 * node/job_model.h: the model a job describes, as node/'s model definition.
 * The coordinator uses this (and only node/'s model definition) to create
 * and size the global model; the node uses it to train.
 */
#ifndef NODE_JOB_MODEL_H
#define NODE_JOB_MODEL_H

#include "common/err.h"
#include "node/data.h"
#include "node/model.h"
#include "proto/job.h"

/* Builds the job's model; caller destroys it with node_model_destroy(). */
fl_err_t node_job_model(const pb_job_t *job, node_model_t **out,
                        fl_errbuf_t *eb) FL_WUR;

/* Writes the job's seeded initial parameters (dim floats). */
fl_err_t node_job_model_init(const pb_job_t *job, float *params, size_t dim,
                             fl_errbuf_t *eb) FL_WUR;

/*
 * Loads the CSV at path under the job's feature columns and public scaling
 * constants, label, classes and group column, within limits (NULL: the
 * defaults). The caller destroys *out (node_dataset_destroy).
 */
fl_err_t node_job_load_csv(const pb_job_t *job, const char *path,
                           const node_data_limits_t *limits,
                           node_dataset_t **out, fl_errbuf_t *eb) FL_WUR;

#endif

/*
 * node/job_model.h: the model a job describes, as node/'s model definition.
 * The coordinator uses this (and only node/'s model definition) to create
 * and size the global model; the node uses it to train.
 */
#ifndef NODE_JOB_MODEL_H
#define NODE_JOB_MODEL_H

#include "common/err.h"
#include "node/model.h"
#include "proto/job.h"

/* Builds the job's model; caller destroys it with node_model_destroy(). */
fl_err_t node_job_model(const pb_job_t *job, node_model_t **out,
                        fl_errbuf_t *eb) FL_WUR;

/* Writes the job's seeded initial parameters (dim floats). */
fl_err_t node_job_model_init(const pb_job_t *job, float *params, size_t dim,
                             fl_errbuf_t *eb) FL_WUR;

#endif

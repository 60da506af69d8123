/* node/job_model.c: from a job's layer widths to node/'s model. */
#include "node/job_model.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

fl_err_t
node_job_model(const pb_job_t *job, node_model_t **out, fl_errbuf_t *eb)
{
    char shape[NODE_MODEL_MAX_SHAPE_LEN];
    size_t used = 0;
    fl_err_t err;

    *out = NULL;
    for (size_t i = 0; i < job->n_layers; i++) {
        int w = snprintf(shape + used, sizeof shape - used, "%s%u",
                         i ? "-" : "", job->layers[i]);

        if (w < 0 || (size_t) w >= sizeof shape - used)
            return fl_fail(eb, FL_ERR_LIMIT, "job.model: too long");
        used += (size_t) w;
    }
    err = node_model_parse(
        shape, job->activation == PB_ACT_TANH ? NODE_ACT_TANH : NODE_ACT_RELU,
        out, eb);
    if (err == FL_OK && node_model_n_params(*out) != pb_job_param_count(job)) {
        node_model_destroy(out);
        return fl_fail(eb, FL_ERR_INTERNAL,
                       "job.model: parameter counts disagree");
    }
    return err;
}

fl_err_t
node_job_model_init(const pb_job_t *job, float *params, size_t dim,
                    fl_errbuf_t *eb)
{
    node_model_t *m = NULL;
    fl_err_t err = node_job_model(job, &m, eb);

    if (err == FL_OK)
        err = node_model_init(m, job->seed, params, dim, eb);
    node_model_destroy(&m);
    return err;
}

fl_err_t
node_job_load_csv(const pb_job_t *job, const char *path,
                  const node_data_limits_t *limits, node_dataset_t **out,
                  fl_errbuf_t *eb)
{
    node_feature_spec_t *f = calloc(job->n_features, sizeof *f);
    node_data_spec_t spec;
    fl_err_t err;

    *out = NULL;
    if (f == NULL)
        return fl_fail(eb, FL_ERR_NOMEM, "features: out of memory");
    for (size_t i = 0; i < job->n_features; i++) {
        f[i].name = job->features[i].column;
        f[i].centre = job->features[i].centre;
        f[i].scale = job->features[i].scale;
    }
    memset(&spec, 0, sizeof spec);
    spec.features = f;
    spec.n_features = job->n_features;
    spec.label = job->label;
    spec.n_classes = job->classes;
    spec.group = job->group[0] ? job->group : NULL;
    if (limits != NULL)
        spec.limits = *limits;
    err = node_dataset_load_csv(path, &spec, out, eb);
    free(f);
    return err;
}

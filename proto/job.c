/* proto/job.c: parsing and validating the job file; the job hash. */
#include "proto/job.h"

#include <errno.h>
#include <math.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/config.h"
#include "common/durable.h"
#include "common/hex.h"

static const char *const activation_names[] = {"relu", "tanh"};
static const char *const optimizer_names[] = {"sgd", "adam"};
static const char *const aggregator_names[] = {"fedavg", "median",
                                               "trimmed_mean"};
static const char *const weighting_names[] = {"uniform", "records"};
static const char *const server_opt_names[] = {"plain", "momentum", "adam"};
static const char *const accountant_names[] = {"rdp", "pld"};

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

const char *
pb_aggregator_name(pb_aggregator_t a)
{
    return (size_t) a < N_OF(aggregator_names) ? aggregator_names[a] : "?";
}

const char *
pb_server_opt_name(pb_server_opt_t s)
{
    return (size_t) s < N_OF(server_opt_names) ? server_opt_names[s] : "?";
}

void
pb_hex32(const uint8_t in[32], char out[65])
{
    fl_hex_encode(in, 32, out);
}

bool
pb_name_valid(const char *s, size_t max)
{
    size_t n = s != NULL ? strlen(s) : 0;

    if (n == 0 || n > max)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.'))
            return false;
    }
    return true;
}

/* "30-16-2": at least two widths, each in [1, PB_JOB_MAX_WIDTH]. */
static fl_err_t
parse_model(fl_config_t *cfg, pb_job_t *job, fl_errbuf_t *eb)
{
    const char *s;
    const char *p;
    fl_err_t err;
    int line;

    err = fl_config_string(cfg, "job", "model", FL_CFG_REQUIRED, NULL, 160, &s,
                           eb);
    if (err != FL_OK)
        return err;
    line = fl_config_line(cfg, "job", "model");
    job->n_layers = 0;
    for (p = s;;) {
        char *end;
        unsigned long w;

        if (*p < '0' || *p > '9')
            goto bad;
        errno = 0;
        w = strtoul(p, &end, 10);
        if (errno != 0 || w < 1 || w > PB_JOB_MAX_WIDTH)
            goto bad;
        if (job->n_layers == PB_JOB_MAX_LAYERS + 1)
            return fl_fail(eb, FL_ERR_LIMIT,
                           "%s:%d: job.model: more than %d layers",
                           fl_config_name(cfg), line, PB_JOB_MAX_LAYERS);
        job->layers[job->n_layers++] = (uint32_t) w;
        if (*end == '\0')
            break;
        if (*end != '-')
            goto bad;
        p = end + 1;
    }
    if (job->n_layers < 2)
        goto bad;
    return FL_OK;
bad:
    return fl_fail(eb, FL_ERR_PARSE,
                   "%s:%d: job.model: '%s' is not widths joined by '-' "
                   "(e.g. 30-16-2), each 1..%d",
                   fl_config_name(cfg), line, s, PB_JOB_MAX_WIDTH);
}

static fl_err_t
parse_u32(fl_config_t *cfg, const char *sec, const char *key,
          fl_cfg_need_t need, int64_t def, int64_t min, int64_t max,
          uint32_t *out, fl_errbuf_t *eb)
{
    int64_t v;
    fl_err_t err = fl_config_int(cfg, sec, key, need, def, min, max, &v, eb);

    if (err == FL_OK)
        *out = (uint32_t) v;
    return err;
}

/* Training and privacy parameters of [job]. */
static fl_err_t
parse_training(fl_config_t *cfg, pb_job_t *job, fl_errbuf_t *eb)
{
    int64_t cal = 0;
    int e = 0;
    fl_err_t err;

    if ((err = parse_u32(cfg, "job", "rounds", FL_CFG_REQUIRED, 0, 1, 100000,
                         &job->rounds, eb)) != FL_OK ||
        (err = parse_u32(cfg, "job", "local_steps", FL_CFG_REQUIRED, 0, 1,
                         1000000, &job->local_steps, eb)) != FL_OK ||
        (err = parse_u32(cfg, "job", "batch_size", FL_CFG_REQUIRED, 0, 1,
                         1000000, &job->batch_size, eb)) != FL_OK ||
        (err = fl_config_double(cfg, "job", "learning_rate", FL_CFG_REQUIRED, 0,
                                1e-9, 100, &job->learning_rate, eb)) != FL_OK ||
        (err = fl_config_enum(cfg, "job", "activation", FL_CFG_OPTIONAL,
                              activation_names, N_OF(activation_names), 0, &e,
                              eb)) != FL_OK)
        return err;
    job->activation = (pb_activation_t) e;
    if ((err = fl_config_enum(cfg, "job", "optimizer", FL_CFG_OPTIONAL,
                              optimizer_names, N_OF(optimizer_names), 0, &e,
                              eb)) != FL_OK)
        return err;
    job->optimizer = (pb_optimizer_t) e;
    if ((err = fl_config_double(cfg, "job", "momentum", FL_CFG_OPTIONAL, 0, 0,
                                0.999, &job->momentum, eb)) != FL_OK ||
        (err = fl_config_bool(cfg, "job", "dp", FL_CFG_OPTIONAL, 1, &job->dp,
                              eb)) != FL_OK ||
        (err = fl_config_double(cfg, "job", "delta", FL_CFG_REQUIRED, 0, 1e-300,
                                0.1, &job->delta, eb)) != FL_OK ||
        (err = fl_config_enum(cfg, "job", "accountant", FL_CFG_OPTIONAL,
                              accountant_names, N_OF(accountant_names), 0,
                              &job->accountant, eb)) != FL_OK)
        return err;
    if (!job->dp) {
        job->clip_norm = 0;
        job->noise_multiplier = 0;
        return FL_OK;
    }
    if ((err = fl_config_double(cfg, "job", "clip_norm", FL_CFG_REQUIRED, 0,
                                1e-6, 1e6, &job->clip_norm, eb)) != FL_OK ||
        (err = fl_config_double(cfg, "job", "noise_multiplier", FL_CFG_OPTIONAL,
                                0, 0.3, 100, &job->noise_multiplier, eb)) !=
            FL_OK ||
        (err = fl_config_double(cfg, "job", "target_epsilon", FL_CFG_OPTIONAL,
                                0, 0.01, 100, &job->target_epsilon, eb)) !=
            FL_OK ||
        (err = fl_config_int(cfg, "job", "calibration_records", FL_CFG_OPTIONAL,
                             0, 1, 1000000000, &cal, eb)) != FL_OK)
        return err;
    job->calibration_records = (uint64_t) cal;
    if ((job->noise_multiplier > 0) == (job->target_epsilon > 0))
        return fl_fail(eb, FL_ERR_INVALID,
                       "%s: job: give exactly one of noise_multiplier and "
                       "target_epsilon (or dp = false)",
                       fl_config_name(cfg));
    if (job->target_epsilon > 0 && cal == 0)
        return fl_fail(eb, FL_ERR_NOT_FOUND,
                       "%s: job.calibration_records: required with "
                       "target_epsilon (the smallest hospital's record count)",
                       fl_config_name(cfg));
    if (job->target_epsilon > 0 &&
        (uint64_t) job->batch_size > job->calibration_records)
        return fl_fail(eb, FL_ERR_RANGE,
                       "%s: job.calibration_records: smaller than batch_size",
                       fl_config_name(cfg));
    return FL_OK;
}

/* Aggregation and scheduling parameters of [job]. */
static fl_err_t
parse_aggregation(fl_config_t *cfg, pb_job_t *job, fl_errbuf_t *eb)
{
    int64_t seed;
    int e = 0;
    fl_err_t err;

    if ((err = fl_config_enum(cfg, "job", "aggregator", FL_CFG_OPTIONAL,
                              aggregator_names, N_OF(aggregator_names), 0, &e,
                              eb)) != FL_OK)
        return err;
    job->aggregator = (pb_aggregator_t) e;
    if ((err = fl_config_enum(cfg, "job", "weighting", FL_CFG_OPTIONAL,
                              weighting_names, N_OF(weighting_names), 0, &e,
                              eb)) != FL_OK)
        return err;
    job->weighting = (pb_weighting_t) e;
    if ((err = fl_config_enum(cfg, "job", "server_optimizer", FL_CFG_OPTIONAL,
                              server_opt_names, N_OF(server_opt_names), 0, &e,
                              eb)) != FL_OK)
        return err;
    job->server_optimizer = (pb_server_opt_t) e;
    if ((err = fl_config_double(cfg, "job", "trim_fraction", FL_CFG_OPTIONAL,
                                0.1, 0, 0.49, &job->trim_fraction, eb)) !=
            FL_OK ||
        (err = fl_config_double(cfg, "job", "server_learning_rate",
                                FL_CFG_OPTIONAL, 1.0, 1e-6, 100,
                                &job->server_learning_rate, eb)) != FL_OK ||
        (err = fl_config_double(cfg, "job", "server_momentum", FL_CFG_OPTIONAL,
                                0.9, 0, 0.999, &job->server_momentum, eb)) !=
            FL_OK ||
        (err = parse_u32(cfg, "job", "min_nodes", FL_CFG_OPTIONAL, 1, 1, 100000,
                         &job->min_nodes, eb)) != FL_OK ||
        (err = fl_config_double(cfg, "job", "fraction", FL_CFG_OPTIONAL, 1.0,
                                0.001, 1.0, &job->fraction, eb)) != FL_OK ||
        (err = parse_u32(cfg, "job", "round_deadline_s", FL_CFG_OPTIONAL, 60, 1,
                         86400, &job->round_deadline_s, eb)) != FL_OK ||
        (err = parse_u32(cfg, "job", "eval_every", FL_CFG_OPTIONAL, 1, 0,
                         100000, &job->eval_every, eb)) != FL_OK ||
        (err = fl_config_int(cfg, "job", "seed", FL_CFG_OPTIONAL, 1, 0,
                             INT64_MAX, &seed, eb)) != FL_OK ||
        (err = fl_config_double(cfg, "job", "holdout_fraction", FL_CFG_OPTIONAL,
                                0.2, 0.05, 0.9, &job->holdout_fraction, eb)) !=
            FL_OK)
        return err;
    job->seed = (uint64_t) seed;
    return FL_OK;
}

static fl_err_t
parse_column(fl_config_t *cfg, const char *key, fl_cfg_need_t need, char *out,
             fl_errbuf_t *eb)
{
    const char *s;
    fl_err_t err =
        fl_config_string(cfg, "data", key, need, "", PB_JOB_COLUMN_MAX, &s, eb);

    if (err != FL_OK)
        return err;
    if (s[0] != '\0' && !pb_name_valid(s, PB_JOB_COLUMN_MAX))
        return fl_fail(eb, FL_ERR_INVALID,
                       "%s:%d: data.%s: '%s' is not a column name "
                       "(letters, digits, _ - .)",
                       fl_config_name(cfg), fl_config_line(cfg, "data", key),
                       key, s);
    (void) snprintf(out, PB_JOB_COLUMN_MAX + 1, "%s", s);
    return FL_OK;
}

/* One feature line: "<column> = <centre> <scale>", scale > 0, finite. */
static fl_err_t
parse_feature(fl_config_t *cfg, size_t i, pb_feature_t *f, fl_errbuf_t *eb)
{
    const char *key, *value;
    char *end1, *end2;
    int line;

    if (fl_config_section_entry(cfg, "features", i, &key, &value, &line) !=
        FL_OK)
        return fl_fail(eb, FL_ERR_INTERNAL, "features: entry %zu", i);
    if (!pb_name_valid(key, PB_JOB_COLUMN_MAX))
        return fl_fail(eb, FL_ERR_INVALID,
                       "%s:%d: features.%s: not a column name",
                       fl_config_name(cfg), line, key);
    (void) snprintf(f->column, sizeof f->column, "%s", key);
    f->centre = strtod(value, &end1);
    f->scale = end1 != value ? strtod(end1, &end2) : 0;
    if (end1 == value || end2 == end1 || *end2 != '\0' ||
        !isfinite(f->centre) || !isfinite(f->scale) || !(f->scale > 0))
        return fl_fail(eb, FL_ERR_PARSE,
                       "%s:%d: features.%s: expected '<centre> <scale>' "
                       "with finite numbers and scale > 0, got '%s'",
                       fl_config_name(cfg), line, key, value);
    return FL_OK;
}

static fl_err_t
parse_data(fl_config_t *cfg, pb_job_t *job, fl_errbuf_t *eb)
{
    size_t n = fl_config_section_size(cfg, "features");
    fl_err_t err;

    if ((err = parse_column(cfg, "label", FL_CFG_REQUIRED, job->label, eb)) !=
            FL_OK ||
        (err = parse_column(cfg, "group", FL_CFG_OPTIONAL, job->group, eb)) !=
            FL_OK ||
        (err = parse_u32(cfg, "data", "classes", FL_CFG_REQUIRED, 0, 2,
                         PB_JOB_MAX_CLASSES, &job->classes, eb)) != FL_OK)
        return err;
    if (strcmp(job->group, job->label) == 0)
        return fl_fail(eb, FL_ERR_INVALID,
                       "%s: data.group: the label cannot be the group column",
                       fl_config_name(cfg));
    if (n == 0)
        return fl_fail(eb, FL_ERR_NOT_FOUND,
                       "%s: features: no feature listed (one line per "
                       "feature: <column> = <centre> <scale>)",
                       fl_config_name(cfg));
    if (n > PB_JOB_MAX_FEATURES)
        return fl_fail(eb, FL_ERR_LIMIT, "%s: features: more than %d",
                       fl_config_name(cfg), PB_JOB_MAX_FEATURES);
    job->features = calloc(n, sizeof *job->features);
    if (job->features == NULL)
        return fl_fail(eb, FL_ERR_NOMEM, "features: out of memory");
    job->n_features = n;
    for (size_t i = 0; i < n; i++) {
        err = parse_feature(cfg, i, &job->features[i], eb);
        if (err != FL_OK)
            return err;
        if (strcmp(job->features[i].column, job->label) == 0)
            return fl_fail(eb, FL_ERR_INVALID,
                           "%s: features.%s: the label cannot be a feature",
                           fl_config_name(cfg), job->label);
        if (strcmp(job->features[i].column, job->group) == 0)
            return fl_fail(eb, FL_ERR_INVALID,
                           "%s: features.%s: the group column cannot be a "
                           "feature",
                           fl_config_name(cfg), job->group);
    }
    return FL_OK;
}

/* Cross-field rules: the model must fit the data. */
static fl_err_t
check_consistency(const char *name, const pb_job_t *job, fl_errbuf_t *eb)
{
    if (job->layers[0] != job->n_features)
        return fl_fail(eb, FL_ERR_INVALID,
                       "%s: job.model: input width %u but %zu features", name,
                       job->layers[0], job->n_features);
    if (job->layers[job->n_layers - 1] != job->classes)
        return fl_fail(eb, FL_ERR_INVALID,
                       "%s: job.model: output width %u but %u classes", name,
                       job->layers[job->n_layers - 1], job->classes);
    if (pb_job_param_count(job) > (size_t) 64 * 1024 * 1024)
        return fl_fail(eb, FL_ERR_LIMIT,
                       "%s: job.model: more than 64M parameters", name);
    return FL_OK;
}

fl_err_t
pb_job_parse(const char *name, const char *bytes, size_t len, pb_job_t *job,
             fl_errbuf_t *eb)
{
    fl_config_t *cfg = NULL;
    const char *s;
    unsigned int hlen = 0;
    fl_err_t err;

    memset(job, 0, sizeof *job);
    if (len > PB_JOB_MAX_BYTES)
        return fl_fail(eb, FL_ERR_LIMIT, "%s: job file larger than %d bytes",
                       name, PB_JOB_MAX_BYTES);
    if (EVP_Digest(bytes, len, job->hash, &hlen, EVP_sha256(), NULL) != 1)
        return fl_fail(eb, FL_ERR_CRYPTO, "%s: SHA-256 failed", name);
    pb_hex32(job->hash, job->hash_hex);
    err = fl_config_load_buffer(name, bytes, len, &cfg, eb);
    if (err != FL_OK)
        return err;
    err = fl_config_string(cfg, "job", "name", FL_CFG_REQUIRED, NULL,
                           PB_JOB_NAME_MAX, &s, eb);
    if (err != FL_OK)
        goto out;
    if (!pb_name_valid(s, PB_JOB_NAME_MAX)) {
        err = fl_fail(eb, FL_ERR_INVALID,
                      "%s:%d: job.name: '%s' is not a name (letters, digits, "
                      "_ - .)",
                      name, fl_config_line(cfg, "job", "name"), s);
        goto out;
    }
    (void) snprintf(job->name, sizeof job->name, "%s", s);
    if ((err = parse_model(cfg, job, eb)) != FL_OK ||
        (err = parse_training(cfg, job, eb)) != FL_OK ||
        (err = parse_aggregation(cfg, job, eb)) != FL_OK ||
        (err = parse_data(cfg, job, eb)) != FL_OK ||
        (err = fl_config_check_unused(cfg, eb)) != FL_OK)
        goto out;
    err = check_consistency(name, job, eb);
out:
    fl_config_destroy(&cfg);
    if (err != FL_OK)
        pb_job_cleanup(job);
    return err;
}

fl_err_t
pb_job_load(const char *path, pb_job_t *job, char **bytes, size_t *len,
            fl_errbuf_t *eb)
{
    fl_err_t err;

    memset(job, 0, sizeof *job);
    err = fl_file_read_all(path, PB_JOB_MAX_BYTES, bytes, len, eb);
    if (err != FL_OK)
        return err;
    err = pb_job_parse(path, *bytes, *len, job, eb);
    if (err != FL_OK) {
        free(*bytes);
        *bytes = NULL;
        *len = 0;
    }
    return err;
}

void
pb_job_cleanup(pb_job_t *job)
{
    free(job->features);
    job->features = NULL;
    job->n_features = 0;
}

void
pb_job_calibration_inputs(const pb_job_t *job, double *sampling_rate,
                          uint64_t *steps)
{
    double q =
        job->calibration_records > 0
            ? (double) job->batch_size / (double) job->calibration_records
            : 1.0;

    *sampling_rate = q > 1 ? 1 : q;
    *steps = (uint64_t) job->rounds * job->local_steps;
}

size_t
pb_job_param_count(const pb_job_t *job)
{
    size_t n = 0;

    for (size_t i = 0; i + 1 < job->n_layers; i++)
        n += (size_t) job->layers[i] * job->layers[i + 1] + job->layers[i + 1];
    return n;
}

/* node/policy.c: local approval of jobs. */
#include "node/policy.h"

#include <string.h>

#include "common/hex.h"

static fl_err_t
load_approved(fl_config_t *cfg, node_policy_t *p, fl_errbuf_t *eb)
{
    size_t n = fl_config_section_size(cfg, "approved_jobs");

    if (n > NODE_POLICY_MAX_APPROVED)
        return fl_fail(eb, FL_ERR_LIMIT, "%s: approved_jobs: more than %d",
                       fl_config_name(cfg), NODE_POLICY_MAX_APPROVED);
    for (size_t i = 0; i < n; i++) {
        const char *key, *value;
        int line;

        if (fl_config_section_entry(cfg, "approved_jobs", i, &key, &value,
                                    &line) != FL_OK)
            return fl_fail(eb, FL_ERR_INTERNAL, "approved_jobs");
        if (!fl_hex_decode(value, p->approved[i], 32, 1))
            return fl_fail(eb, FL_ERR_PARSE,
                           "%s:%d: approved_jobs.%s: not a job hash (64 hex "
                           "digits)",
                           fl_config_name(cfg), line, key);
    }
    p->n_approved = n;
    return FL_OK;
}

fl_err_t
node_policy_load(fl_config_t *cfg, node_policy_t *p, fl_errbuf_t *eb)
{
    static const char *const accountants[] = {"rdp", "pld"};
    int64_t rounds;
    fl_err_t err;

    memset(p, 0, sizeof *p);
    if ((err = fl_config_double(cfg, "budget", "epsilon_max", FL_CFG_REQUIRED,
                                0, 1e-3, 100, &p->epsilon_max, eb)) != FL_OK ||
        (err = fl_config_double(cfg, "budget", "delta", FL_CFG_REQUIRED, 0,
                                1e-300, 0.1, &p->delta, eb)) != FL_OK ||
        (err = fl_config_enum(cfg, "budget", "accountant", FL_CFG_OPTIONAL,
                              accountants, 2, 0, &p->accountant, eb)) !=
            FL_OK ||
        (err = fl_config_double(cfg, "policy", "min_noise_multiplier",
                                FL_CFG_OPTIONAL, 0, 0, 100,
                                &p->min_noise_multiplier, eb)) != FL_OK ||
        (err = fl_config_double(cfg, "policy", "max_clip_norm", FL_CFG_OPTIONAL,
                                0, 0, 1e6, &p->max_clip_norm, eb)) != FL_OK ||
        (err = fl_config_double(cfg, "policy", "max_delta", FL_CFG_OPTIONAL, 0,
                                0, 0.1, &p->max_delta, eb)) != FL_OK ||
        (err = fl_config_int(cfg, "policy", "max_rounds", FL_CFG_OPTIONAL, 0, 0,
                             100000, &rounds, eb)) != FL_OK ||
        (err = fl_config_bool(cfg, "policy", "allow_non_dp", FL_CFG_OPTIONAL, 0,
                              &p->allow_non_dp, eb)) != FL_OK)
        return err;
    p->max_rounds = (uint32_t) rounds;
    p->has_constraints =
        fl_config_line(cfg, "policy", "min_noise_multiplier") != 0 ||
        fl_config_line(cfg, "policy", "max_clip_norm") != 0 ||
        fl_config_line(cfg, "policy", "max_delta") != 0 ||
        fl_config_line(cfg, "policy", "max_rounds") != 0;
    if (p->has_constraints &&
        (p->min_noise_multiplier == 0 || p->max_clip_norm == 0 ||
         p->max_delta == 0 || p->max_rounds == 0))
        return fl_fail(eb, FL_ERR_NOT_FOUND,
                       "%s: policy: give all four of min_noise_multiplier, "
                       "max_clip_norm, max_delta, max_rounds",
                       fl_config_name(cfg));
    return load_approved(cfg, p, eb);
}

static int
hash_approved(const node_policy_t *p, const uint8_t hash[32])
{
    for (size_t i = 0; i < p->n_approved; i++)
        if (memcmp(p->approved[i], hash, 32) == 0)
            return 1;
    return 0;
}

fl_err_t
node_policy_check(const node_policy_t *p, const pb_job_t *job, fl_errbuf_t *eb)
{
    if (!job->dp && !p->allow_non_dp)
        return fl_fail(eb, FL_ERR_POLICY,
                       "job %s trains without differential privacy and this "
                       "hospital does not allow it",
                       job->name);
    if (job->delta > p->delta)
        return fl_fail(eb, FL_ERR_POLICY,
                       "job delta %g above this hospital's delta %g",
                       job->delta, p->delta);
    if (hash_approved(p, job->hash))
        return FL_OK;
    if (!p->has_constraints)
        return fl_fail(eb, FL_ERR_POLICY,
                       "job hash %s is not approved here and no constraints "
                       "are configured",
                       job->hash_hex);
    if (job->dp && job->noise_multiplier < p->min_noise_multiplier)
        return fl_fail(eb, FL_ERR_POLICY,
                       "noise_multiplier %g below this hospital's minimum %g",
                       job->noise_multiplier, p->min_noise_multiplier);
    if (job->dp && job->clip_norm > p->max_clip_norm)
        return fl_fail(eb, FL_ERR_POLICY,
                       "clip_norm %g above this hospital's maximum %g",
                       job->clip_norm, p->max_clip_norm);
    if (job->delta > p->max_delta)
        return fl_fail(eb, FL_ERR_POLICY,
                       "delta %g above this hospital's maximum %g", job->delta,
                       p->max_delta);
    if (job->rounds > p->max_rounds)
        return fl_fail(eb, FL_ERR_POLICY,
                       "%u rounds above this hospital's maximum %u",
                       job->rounds, p->max_rounds);
    return FL_OK;
}

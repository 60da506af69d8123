/* coordinator/config.c: reading coordinator.ini. */
#include "coordinator/config.h"

#include <stdlib.h>
#include <string.h>

#include "proto/chan_config.h"

#define PATH_MAX_LEN 190

static fl_err_t
load_allow(fl_config_t *ini, coord_config_t *cfg, fl_errbuf_t *eb)
{
    size_t n = fl_config_section_size(ini, "allow");

    if (n == 0)
        return fl_fail(eb, FL_ERR_NOT_FOUND,
                       "%s: allow: no site allowed (one line per hospital: "
                       "<site id> = <fingerprint> or any)",
                       fl_config_name(ini));
    if (n > COORD_MAX_ALLOW)
        return fl_fail(eb, FL_ERR_LIMIT, "%s: allow: more than %d sites",
                       fl_config_name(ini), COORD_MAX_ALLOW);
    cfg->allow = calloc(n, sizeof *cfg->allow);
    if (cfg->allow == NULL)
        return fl_fail(eb, FL_ERR_NOMEM, "allow: out of memory");
    for (size_t i = 0; i < n; i++) {
        const char *key, *value;
        int line;
        size_t len;

        if (fl_config_section_entry(ini, "allow", i, &key, &value, &line) !=
            FL_OK)
            return fl_fail(eb, FL_ERR_INTERNAL, "allow");
        len = strlen(key);
        if (len == 0 || len > CHAN_SITE_ID_MAX ||
            strspn(key, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                        "0123456789._-") != len)
            return fl_fail(eb, FL_ERR_INVALID,
                           "%s:%d: allow.%s: not a site id ([A-Za-z0-9._-], "
                           "at most %u)",
                           fl_config_name(ini), line, key, CHAN_SITE_ID_MAX);
        if (strcmp(value, "any") != 0 && strlen(value) != 64 &&
            strlen(value) != 95)
            return fl_fail(eb, FL_ERR_INVALID,
                           "%s:%d: allow.%s: expected a SHA-256 fingerprint "
                           "(64 hex digits, colons allowed) or 'any'",
                           fl_config_name(ini), line, key);
        cfg->allow[i].site_id = key;
        cfg->allow[i].fingerprint = strcmp(value, "any") == 0 ? NULL : value;
    }
    cfg->n_allow = n;
    return FL_OK;
}

fl_err_t
coord_config_load(const char *path, coord_config_t *cfg, fl_config_t **keep,
                  fl_errbuf_t *eb)
{
    fl_config_t *ini = NULL;
    int64_t mb, wait;
    fl_err_t err;

    memset(cfg, 0, sizeof *cfg);
    *keep = NULL;
    err = fl_config_load(path, &ini, eb);
    if (err != FL_OK)
        return err;
    if ((err = fl_config_string(ini, "coordinator", "listen", FL_CFG_REQUIRED,
                                NULL, PATH_MAX_LEN, &cfg->listen, eb)) !=
            FL_OK ||
        (err = fl_config_string(ini, "coordinator", "state_dir",
                                FL_CFG_REQUIRED, NULL, PATH_MAX_LEN,
                                &cfg->state_dir, eb)) != FL_OK ||
        (err = fl_config_string(ini, "coordinator", "name", FL_CFG_OPTIONAL,
                                "coordinator", 64, &cfg->name, eb)) != FL_OK ||
        (err = fl_config_int(ini, "coordinator", "max_message_mb",
                             FL_CFG_OPTIONAL, 64, 1, 256, &mb, eb)) != FL_OK ||
        (err =
             fl_config_string(ini, "coordinator", "log_level", FL_CFG_OPTIONAL,
                              "info", 8, &cfg->log_level, eb)) != FL_OK ||
        (err = fl_config_int(ini, "coordinator", "quorum_wait_s",
                             FL_CFG_OPTIONAL, 600, 1, 86400 * 7, &wait, eb)) !=
            FL_OK ||
        (err = chan_tls_files_load(ini, &cfg->tls, eb)) != FL_OK ||
        (err = fl_config_string(ini, "audit", "key", FL_CFG_OPTIONAL, NULL,
                                PATH_MAX_LEN, &cfg->audit_key, eb)) != FL_OK ||
        (err = load_allow(ini, cfg, eb)) != FL_OK ||
        (err = fl_config_check_unused(ini, eb)) != FL_OK)
        goto fail;
    cfg->max_message_bytes = (size_t) mb << 20;
    cfg->quorum_wait_s = (int) wait;
    *keep = ini;
    return FL_OK;
fail:
    coord_config_cleanup(cfg);
    fl_config_destroy(&ini);
    return err;
}

void
coord_config_cleanup(coord_config_t *cfg)
{
    free(cfg->allow);
    cfg->allow = NULL;
    cfg->n_allow = 0;
}

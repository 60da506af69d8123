/* node/config.c: reading node.ini. */
#include "node/config.h"

#include <string.h>

#include "proto/chan_config.h"

#define PATH_MAX_LEN 190

static fl_err_t
load_limits(fl_config_t *ini, node_config_t *cfg, fl_errbuf_t *eb)
{
    int64_t rows, cols, line;
    fl_err_t err;

    if ((err = fl_config_int(ini, "limits", "max_rows", FL_CFG_OPTIONAL,
                             1000000, 1, NODE_DATA_DEFAULT_MAX_ROWS, &rows,
                             eb)) != FL_OK ||
        (err = fl_config_int(ini, "limits", "max_columns", FL_CFG_OPTIONAL,
                             1000, 2, NODE_DATA_DEFAULT_MAX_COLS, &cols, eb)) !=
            FL_OK ||
        (err = fl_config_int(ini, "limits", "max_line_bytes", FL_CFG_OPTIONAL,
                             65536, 16, NODE_DATA_DEFAULT_MAX_LINE, &line,
                             eb)) != FL_OK)
        return err;
    cfg->limits.max_rows = (size_t) rows;
    cfg->limits.max_cols = (size_t) cols;
    cfg->limits.max_line = (size_t) line;
    return FL_OK;
}

static fl_err_t
load_paths(fl_config_t *ini, node_config_t *cfg, fl_errbuf_t *eb)
{
    fl_err_t err;

    if ((err = fl_config_string(ini, "node", "name", FL_CFG_REQUIRED, NULL, 64,
                                &cfg->name, eb)) != FL_OK ||
        (err = fl_config_string(ini, "node", "coordinator", FL_CFG_REQUIRED,
                                NULL, PATH_MAX_LEN, &cfg->coordinator, eb)) !=
            FL_OK ||
        (err = fl_config_string(ini, "node", "coordinator_name",
                                FL_CFG_REQUIRED, NULL, 128,
                                &cfg->coordinator_name, eb)) != FL_OK ||
        (err = fl_config_string(ini, "node", "coordinator_id", FL_CFG_OPTIONAL,
                                "coordinator", 64, &cfg->coordinator_id, eb)) !=
            FL_OK ||
        (err = fl_config_string(ini, "node", "data", FL_CFG_REQUIRED, NULL,
                                PATH_MAX_LEN, &cfg->data, eb)) != FL_OK ||
        (err = fl_config_string(ini, "node", "state_dir", FL_CFG_REQUIRED, NULL,
                                PATH_MAX_LEN, &cfg->state_dir, eb)) != FL_OK ||
        (err = fl_config_string(ini, "node", "log_level", FL_CFG_OPTIONAL,
                                "info", 8, &cfg->log_level, eb)) != FL_OK ||
        (err = chan_tls_files_load(ini, &cfg->tls, eb)) != FL_OK ||
        (err = fl_config_string(ini, "audit", "key", FL_CFG_OPTIONAL, NULL,
                                PATH_MAX_LEN, &cfg->audit_key, eb)) != FL_OK)
        return err;
    return FL_OK;
}

fl_err_t
node_config_load(const char *path, node_config_t *cfg, fl_config_t **keep,
                 fl_errbuf_t *eb)
{
    fl_config_t *ini = NULL;
    int64_t mb;
    fl_err_t err;

    memset(cfg, 0, sizeof *cfg);
    *keep = NULL;
    err = fl_config_load(path, &ini, eb);
    if (err != FL_OK)
        return err;
    if ((err = load_paths(ini, cfg, eb)) != FL_OK ||
        (err = fl_config_int(ini, "node", "max_message_mb", FL_CFG_OPTIONAL, 64,
                             1, 256, &mb, eb)) != FL_OK ||
        (err = node_policy_load(ini, &cfg->policy, eb)) != FL_OK ||
        (err = load_limits(ini, cfg, eb)) != FL_OK ||
        (err = fl_config_check_unused(ini, eb)) != FL_OK) {
        fl_config_destroy(&ini);
        return err;
    }
    cfg->max_message_bytes = (size_t) mb << 20;
    *keep = ini;
    return FL_OK;
}

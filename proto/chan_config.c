/* proto/chan_config.c: the [tls] section of a daemon's config. */
#include "proto/chan_config.h"

fl_err_t
chan_tls_files_load(fl_config_t *ini, chan_tls_files_t *files, fl_errbuf_t *eb)
{
    static const char *const keys[] = {"ca", "crl", "cert", "key"};
    const char **out[] = {&files->ca_file, &files->crl_file, &files->cert_file,
                          &files->key_file};

    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        fl_err_t err = fl_config_string(ini, "tls", keys[i], FL_CFG_REQUIRED,
                                        NULL, CHAN_CONFIG_PATH_MAX, out[i], eb);

        if (err != FL_OK)
            return err;
    }
    return FL_OK;
}

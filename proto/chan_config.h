/*
 * proto/chan_config.h: the [tls] section both daemons' configs share.
 *
 *   [tls]  ca, crl, cert, key   (paths, each at most 190 bytes)
 *
 * The paths point into the fl_config_t, which must outlive *files.
 */
#ifndef CHAN_CONFIG_H
#define CHAN_CONFIG_H

#include "common/config.h"
#include "common/err.h"
#include "proto/chan.h"

#define CHAN_CONFIG_PATH_MAX 190

/* Reads the four required paths of [tls] into files. */
fl_err_t chan_tls_files_load(fl_config_t *ini, chan_tls_files_t *files,
                             fl_errbuf_t *eb) FL_WUR;

#endif

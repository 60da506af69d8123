/*
 * common/config.h: INI files (libinih) with typed, validating getters.
 *
 * Loading parses the whole file into (section, key, value, line) entries and
 * rejects syntax errors, lines longer than FL_CONFIG_MAX_LINE, duplicate keys
 * and files over the size and entry limits. The getters then read one key
 * each, check its type and range, and mark it used; after reading every key
 * it knows, the caller calls fl_config_check_unused() so that a misspelt or
 * unknown key is an error and never silently ignored.
 *
 * Every error message reads "file:line: section.key: reason" (without the
 * line for a missing key).
 *
 * Ownership: fl_config_load*() give the caller an fl_config_t that it frees
 * with fl_config_destroy(). Strings returned by the getters belong to the
 * config and live until it is destroyed. Not thread-safe per object.
 */
#ifndef FL_CONFIG_H
#define FL_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

#define FL_CONFIG_MAX_BYTES (1024 * 1024)
#define FL_CONFIG_MAX_ENTRIES 4096
#define FL_CONFIG_MAX_LINE 199 /* libinih's line buffer, less the NUL */

typedef struct fl_config fl_config_t;

typedef enum fl_cfg_need {
    FL_CFG_OPTIONAL = 0, /* absent: the default is returned */
    FL_CFG_REQUIRED = 1  /* absent: FL_ERR_NOT_FOUND */
} fl_cfg_need_t;

/* Reads and parses the file at path. */
fl_err_t fl_config_load(const char *path, fl_config_t **out,
                        fl_errbuf_t *eb) FL_WUR;

/*
 * Parses len bytes of text that came from the file called name (used in
 * messages). Lets a caller hash the exact bytes it parses (the job hash).
 */
fl_err_t fl_config_load_buffer(const char *name, const char *text, size_t len,
                               fl_config_t **out, fl_errbuf_t *eb) FL_WUR;

void fl_config_destroy(fl_config_t **cfg_p);

/* The name the config was loaded under (its path). */
const char *fl_config_name(const fl_config_t *cfg);

/* A string of at most max_len bytes. */
fl_err_t fl_config_string(fl_config_t *cfg, const char *section,
                          const char *key, fl_cfg_need_t need, const char *def,
                          size_t max_len, const char **out,
                          fl_errbuf_t *eb) FL_WUR;

/* A decimal integer in [min, max]. */
fl_err_t fl_config_int(fl_config_t *cfg, const char *section, const char *key,
                       fl_cfg_need_t need, int64_t def, int64_t min,
                       int64_t max, int64_t *out, fl_errbuf_t *eb) FL_WUR;

/* A finite number in [min, max]. */
fl_err_t fl_config_double(fl_config_t *cfg, const char *section,
                          const char *key, fl_cfg_need_t need, double def,
                          double min, double max, double *out,
                          fl_errbuf_t *eb) FL_WUR;

/* true/false, yes/no, on/off, 1/0. */
fl_err_t fl_config_bool(fl_config_t *cfg, const char *section, const char *key,
                        fl_cfg_need_t need, int def, int *out,
                        fl_errbuf_t *eb) FL_WUR;

/* One of names[0..n-1]; *out is its index. */
fl_err_t fl_config_enum(fl_config_t *cfg, const char *section, const char *key,
                        fl_cfg_need_t need, const char *const *names, size_t n,
                        int def, int *out, fl_errbuf_t *eb) FL_WUR;

/* Number of entries in section (0 when absent). */
size_t fl_config_section_size(const fl_config_t *cfg, const char *section);

/*
 * The i-th entry of section in file order; marks it used. Any out pointer
 * may be NULL. Returns FL_ERR_NOT_FOUND past the end.
 */
fl_err_t fl_config_section_entry(fl_config_t *cfg, const char *section,
                                 size_t i, const char **key, const char **value,
                                 int *line) FL_WUR;

/* The line of section.key, or 0 when absent. */
int fl_config_line(const fl_config_t *cfg, const char *section,
                   const char *key);

/* FL_ERR_INVALID naming the first entry no getter has read. */
fl_err_t fl_config_check_unused(const fl_config_t *cfg, fl_errbuf_t *eb) FL_WUR;

#endif

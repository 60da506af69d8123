/* common/config.c: INI parsing through libinih, typed getters. */
#include "common/config.h"

#include <errno.h>
#include <ini.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/durable.h"

typedef struct config_entry {
    char *section;
    char *key;
    char *value;
    int line;
    int used;
} config_entry_t;

struct fl_config {
    char *name;
    config_entry_t *entries;
    size_t n;
    size_t cap;
};

/* State shared by the reader and the handler during one parse. */
typedef struct parse_ctx {
    fl_config_t *cfg;
    const char *text;
    size_t len;
    size_t pos;
    int line;      /* number of the line last handed to libinih */
    int long_line; /* first line over FL_CONFIG_MAX_LINE, or 0 */
    int nul_line;  /* first line holding a NUL byte, or 0 */
    fl_err_t err;  /* first error raised by the handler */
    fl_errbuf_t *eb;
} parse_ctx_t;

/* libinih's reader: one line per call, counting lines and checking length. */
static char *
config_reader(char *str, int num, void *stream)
{
    parse_ctx_t *ctx = stream;
    size_t start = ctx->pos;
    size_t end = start;
    size_t n;

    if (ctx->pos >= ctx->len || ctx->long_line != 0 || ctx->nul_line != 0)
        return NULL;
    while (end < ctx->len && ctx->text[end] != '\n')
        end++;
    ctx->line++;
    n = end - start;
    if (memchr(ctx->text + start, '\0', n) != NULL) {
        ctx->nul_line = ctx->line;
        return NULL;
    }
    if (n > FL_CONFIG_MAX_LINE || n + 2 > (size_t) num) {
        ctx->long_line = ctx->line;
        return NULL;
    }
    memcpy(str, ctx->text + start, n);
    if (end < ctx->len)
        str[n++] = '\n';
    str[n] = '\0';
    ctx->pos = end < ctx->len ? end + 1 : end;
    return str;
}

static config_entry_t *
config_find(const fl_config_t *cfg, const char *section, const char *key)
{
    for (size_t i = 0; i < cfg->n; i++) {
        if (strcmp(cfg->entries[i].section, section) == 0 &&
            strcmp(cfg->entries[i].key, key) == 0)
            return &cfg->entries[i];
    }
    return NULL;
}

static int
config_handler(void *user, const char *section, const char *key,
               const char *value)
{
    parse_ctx_t *ctx = user;
    fl_config_t *cfg = ctx->cfg;
    config_entry_t *prev;
    config_entry_t *e;

    if (key == NULL) /* a bare [section] line */
        return 1;
    prev = config_find(cfg, section, key);
    if (prev != NULL) {
        ctx->err = fl_fail(ctx->eb, FL_ERR_PARSE,
                           "%s:%d: %s.%s: duplicate key (first set on line %d)",
                           cfg->name, ctx->line, section, key, prev->line);
        return 0;
    }
    if (cfg->n == FL_CONFIG_MAX_ENTRIES) {
        ctx->err = fl_fail(ctx->eb, FL_ERR_LIMIT, "%s:%d: more than %d entries",
                           cfg->name, ctx->line, FL_CONFIG_MAX_ENTRIES);
        return 0;
    }
    if (cfg->n == cfg->cap) {
        size_t cap = cfg->cap ? cfg->cap * 2 : 32;
        config_entry_t *p = realloc(cfg->entries, cap * sizeof *p);
        if (p == NULL)
            goto nomem;
        cfg->entries = p;
        cfg->cap = cap;
    }
    e = &cfg->entries[cfg->n];
    memset(e, 0, sizeof *e);
    e->section = strdup(section);
    e->key = strdup(key);
    e->value = strdup(value);
    e->line = ctx->line;
    cfg->n++;
    if (e->section == NULL || e->key == NULL || e->value == NULL)
        goto nomem;
    return 1;
nomem:
    ctx->err = fl_fail(ctx->eb, FL_ERR_NOMEM, "%s: out of memory", cfg->name);
    return 0;
}

fl_err_t
fl_config_load_buffer(const char *name, const char *text, size_t len,
                      fl_config_t **out, fl_errbuf_t *eb)
{
    parse_ctx_t ctx;
    fl_config_t *cfg;
    fl_err_t err = FL_OK;
    int rc;

    *out = NULL;
    if (len > FL_CONFIG_MAX_BYTES)
        return fl_fail(eb, FL_ERR_LIMIT, "%s: larger than %d bytes", name,
                       FL_CONFIG_MAX_BYTES);
    cfg = calloc(1, sizeof *cfg);
    if (cfg == NULL || (cfg->name = strdup(name)) == NULL) {
        err = fl_fail(eb, FL_ERR_NOMEM, "%s: out of memory", name);
        goto out;
    }
    memset(&ctx, 0, sizeof ctx);
    ctx.cfg = cfg;
    ctx.text = text;
    ctx.len = len;
    ctx.eb = eb;
    rc = ini_parse_stream(config_reader, &ctx, config_handler, &ctx);
    if (ctx.err != FL_OK) {
        err = ctx.err;
    } else if (ctx.nul_line != 0) {
        err = fl_fail(eb, FL_ERR_PARSE, "%s:%d: NUL byte in line", name,
                      ctx.nul_line);
    } else if (ctx.long_line != 0) {
        err = fl_fail(eb, FL_ERR_LIMIT, "%s:%d: line longer than %d bytes",
                      name, ctx.long_line, FL_CONFIG_MAX_LINE);
    } else if (rc != 0) {
        err = fl_fail(eb, FL_ERR_PARSE,
                      "%s:%d: syntax error (expected [section] or key = value)",
                      name, rc > 0 ? rc : ctx.line);
    }
out:
    if (err != FL_OK)
        fl_config_destroy(&cfg);
    *out = cfg;
    return err;
}

fl_err_t
fl_config_load(const char *path, fl_config_t **out, fl_errbuf_t *eb)
{
    char *text = NULL;
    size_t len = 0;
    fl_err_t err;

    *out = NULL;
    err = fl_file_read_all(path, FL_CONFIG_MAX_BYTES, &text, &len, eb);
    if (err != FL_OK)
        return err;
    err = fl_config_load_buffer(path, text, len, out, eb);
    free(text);
    return err;
}

void
fl_config_destroy(fl_config_t **cfg_p)
{
    fl_config_t *cfg = *cfg_p;

    if (cfg == NULL)
        return;
    for (size_t i = 0; i < cfg->n; i++) {
        free(cfg->entries[i].section);
        free(cfg->entries[i].key);
        free(cfg->entries[i].value);
    }
    free(cfg->entries);
    free(cfg->name);
    free(cfg);
    *cfg_p = NULL;
}

const char *
fl_config_name(const fl_config_t *cfg)
{
    return cfg->name;
}

/*
 * Finds section.key and marks it used. Returns FL_OK with *e set, FL_ERR_AGAIN
 * when it is absent and optional (caller uses the default), or an error.
 */
static fl_err_t
config_lookup(fl_config_t *cfg, const char *section, const char *key,
              fl_cfg_need_t need, config_entry_t **e, fl_errbuf_t *eb)
{
    *e = config_find(cfg, section, key);
    if (*e != NULL) {
        (*e)->used = 1;
        return FL_OK;
    }
    if (need == FL_CFG_REQUIRED)
        return fl_fail(eb, FL_ERR_NOT_FOUND, "%s: %s.%s: missing required key",
                       cfg->name, section, key);
    return FL_ERR_AGAIN;
}

fl_err_t
fl_config_string(fl_config_t *cfg, const char *section, const char *key,
                 fl_cfg_need_t need, const char *def, size_t max_len,
                 const char **out, fl_errbuf_t *eb)
{
    config_entry_t *e;
    fl_err_t err = config_lookup(cfg, section, key, need, &e, eb);

    if (err == FL_ERR_AGAIN) {
        *out = def;
        return FL_OK;
    }
    if (err != FL_OK)
        return err;
    if (strlen(e->value) > max_len)
        return fl_fail(eb, FL_ERR_LIMIT, "%s:%d: %s.%s: longer than %zu bytes",
                       cfg->name, e->line, section, key, max_len);
    *out = e->value;
    return FL_OK;
}

fl_err_t
fl_config_int(fl_config_t *cfg, const char *section, const char *key,
              fl_cfg_need_t need, int64_t def, int64_t min, int64_t max,
              int64_t *out, fl_errbuf_t *eb)
{
    config_entry_t *e;
    fl_err_t err = config_lookup(cfg, section, key, need, &e, eb);
    char *end;
    long long v;

    if (err == FL_ERR_AGAIN) {
        *out = def;
        return FL_OK;
    }
    if (err != FL_OK)
        return err;
    errno = 0;
    v = strtoll(e->value, &end, 10);
    if (e->value[0] == '\0' || *end != '\0')
        return fl_fail(eb, FL_ERR_PARSE, "%s:%d: %s.%s: not an integer: '%s'",
                       cfg->name, e->line, section, key, e->value);
    if (errno == ERANGE || v < min || v > max)
        return fl_fail(eb, FL_ERR_RANGE,
                       "%s:%d: %s.%s: %s is outside [%lld, %lld]", cfg->name,
                       e->line, section, key, e->value, (long long) min,
                       (long long) max);
    *out = v;
    return FL_OK;
}

fl_err_t
fl_config_double(fl_config_t *cfg, const char *section, const char *key,
                 fl_cfg_need_t need, double def, double min, double max,
                 double *out, fl_errbuf_t *eb)
{
    config_entry_t *e;
    fl_err_t err = config_lookup(cfg, section, key, need, &e, eb);
    char *end;
    double v;

    if (err == FL_ERR_AGAIN) {
        *out = def;
        return FL_OK;
    }
    if (err != FL_OK)
        return err;
    errno = 0;
    v = strtod(e->value, &end);
    if (e->value[0] == '\0' || *end != '\0')
        return fl_fail(eb, FL_ERR_PARSE, "%s:%d: %s.%s: not a number: '%s'",
                       cfg->name, e->line, section, key, e->value);
    if (!isfinite(v))
        return fl_fail(eb, FL_ERR_RANGE, "%s:%d: %s.%s: not finite: '%s'",
                       cfg->name, e->line, section, key, e->value);
    if (v < min || v > max)
        return fl_fail(eb, FL_ERR_RANGE, "%s:%d: %s.%s: %s is outside [%g, %g]",
                       cfg->name, e->line, section, key, e->value, min, max);
    *out = v;
    return FL_OK;
}

fl_err_t
fl_config_bool(fl_config_t *cfg, const char *section, const char *key,
               fl_cfg_need_t need, int def, int *out, fl_errbuf_t *eb)
{
    static const char *const names[] = {"false", "true", "no", "yes",
                                        "off",   "on",   "0",  "1"};
    config_entry_t *e;
    fl_err_t err = config_lookup(cfg, section, key, need, &e, eb);

    if (err == FL_ERR_AGAIN) {
        *out = def;
        return FL_OK;
    }
    if (err != FL_OK)
        return err;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (strcasecmp(e->value, names[i]) == 0) {
            *out = (int) (i % 2);
            return FL_OK;
        }
    }
    return fl_fail(eb, FL_ERR_PARSE,
                   "%s:%d: %s.%s: not a boolean (true or false): '%s'",
                   cfg->name, e->line, section, key, e->value);
}

fl_err_t
fl_config_enum(fl_config_t *cfg, const char *section, const char *key,
               fl_cfg_need_t need, const char *const *names, size_t n, int def,
               int *out, fl_errbuf_t *eb)
{
    config_entry_t *e;
    fl_err_t err = config_lookup(cfg, section, key, need, &e, eb);
    char choices[256] = "";
    size_t used = 0;

    if (err == FL_ERR_AGAIN) {
        *out = def;
        return FL_OK;
    }
    if (err != FL_OK)
        return err;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(e->value, names[i]) == 0) {
            *out = (int) i;
            return FL_OK;
        }
    }
    for (size_t i = 0; i < n && used < sizeof choices; i++) {
        int w = snprintf(choices + used, sizeof choices - used, "%s%s",
                         i ? ", " : "", names[i]);
        if (w < 0)
            break;
        used += (size_t) w;
    }
    return fl_fail(eb, FL_ERR_INVALID, "%s:%d: %s.%s: '%s' is not one of: %s",
                   cfg->name, e->line, section, key, e->value, choices);
}

size_t
fl_config_section_size(const fl_config_t *cfg, const char *section)
{
    size_t count = 0;

    for (size_t i = 0; i < cfg->n; i++)
        if (strcmp(cfg->entries[i].section, section) == 0)
            count++;
    return count;
}

fl_err_t
fl_config_section_entry(fl_config_t *cfg, const char *section, size_t i,
                        const char **key, const char **value, int *line)
{
    for (size_t k = 0; k < cfg->n; k++) {
        config_entry_t *e = &cfg->entries[k];

        if (strcmp(e->section, section) != 0)
            continue;
        if (i-- > 0)
            continue;
        e->used = 1;
        if (key != NULL)
            *key = e->key;
        if (value != NULL)
            *value = e->value;
        if (line != NULL)
            *line = e->line;
        return FL_OK;
    }
    return FL_ERR_NOT_FOUND;
}

int
fl_config_line(const fl_config_t *cfg, const char *section, const char *key)
{
    const config_entry_t *e = config_find(cfg, section, key);

    return e != NULL ? e->line : 0;
}

fl_err_t
fl_config_check_unused(const fl_config_t *cfg, fl_errbuf_t *eb)
{
    for (size_t i = 0; i < cfg->n; i++) {
        const config_entry_t *e = &cfg->entries[i];

        if (!e->used)
            return fl_fail(eb, FL_ERR_INVALID, "%s:%d: %s.%s: unknown key",
                           cfg->name, e->line, e->section, e->key);
    }
    return FL_OK;
}

/*
 * node/data.c: CSV loading, subsets and the seeded split (see data.h).
 */
#include "node/data.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node/prng.h"

struct node_dataset {
    size_t rows;
    size_t d;
    uint32_t n_classes;
    float *x;
    int32_t *y;
    float *sqnorm;
    uint32_t *groups; /* NULL: no group column */
    size_t n_groups;
    char (*group_names)[NODE_DATA_MAX_GROUP_NAME + 1];
};

enum col_role { ROLE_NONE = 0, ROLE_FEATURE, ROLE_LABEL, ROLE_GROUP };

/* Everything the CSV parser carries from line to line. */
typedef struct csv_state {
    const char *path;
    const node_data_spec_t *spec;
    node_data_limits_t lim;
    FILE *f;
    char *line;   /* max_line + 1 bytes */
    char **field; /* ncols + 1 pointers */
    size_t lineno;
    size_t ncols;
    enum col_role *role; /* per header column */
    size_t *feat;        /* feature index per header column */
    node_dataset_t *ds;  /* being filled */
    size_t cap_rows;
} csv_state_t;

static fl_err_t
ds_alloc(node_dataset_t **out, size_t rows, size_t d, int groups,
         fl_errbuf_t *eb)
{
    node_dataset_t *ds = calloc(1, sizeof(*ds));
    size_t r = rows > 0 ? rows : 1;

    *out = NULL;
    if (ds == NULL) {
        return fl_fail(eb, FL_ERR_NOMEM, "dataset: out of memory");
    }
    ds->d = d;
    if (d > 0 && r > SIZE_MAX / sizeof(float) / d) {
        free(ds);
        return fl_fail(eb, FL_ERR_LIMIT, "dataset: %zu x %zu too large", r, d);
    }
    ds->x = malloc(r * d * sizeof(float) + 1);
    ds->y = malloc(r * sizeof(int32_t));
    ds->sqnorm = malloc(r * sizeof(float));
    if (groups) {
        ds->groups = malloc(r * sizeof(uint32_t));
        ds->group_names =
            calloc(NODE_DATA_MAX_GROUPS, sizeof(*ds->group_names));
    }
    if (ds->x == NULL || ds->y == NULL || ds->sqnorm == NULL ||
        (groups && (ds->groups == NULL || ds->group_names == NULL))) {
        node_dataset_destroy(&ds);
        return fl_fail(eb, FL_ERR_NOMEM, "dataset: out of memory");
    }
    *out = ds;
    return FL_OK;
}

void
node_dataset_destroy(node_dataset_t **ds_p)
{
    node_dataset_t *ds;

    if (ds_p == NULL || *ds_p == NULL) {
        return;
    }
    ds = *ds_p;
    free(ds->x);
    free(ds->y);
    free(ds->sqnorm);
    free(ds->groups);
    free(ds->group_names);
    free(ds);
    *ds_p = NULL;
}

static void
compute_sqnorms(node_dataset_t *ds)
{
    for (size_t i = 0; i < ds->rows; i++) {
        const float *row = ds->x + i * ds->d;
        double s = 0.0;

        for (size_t j = 0; j < ds->d; j++) {
            s += (double) row[j] * row[j];
        }
        ds->sqnorm[i] = (float) s;
    }
}

/* ---- spec validation --------------------------------------------------- */

static fl_err_t
check_spec(const node_data_spec_t *spec, fl_errbuf_t *eb)
{
    if (spec == NULL || spec->features == NULL || spec->n_features == 0 ||
        spec->label == NULL) {
        return fl_fail(eb, FL_ERR_INVALID,
                       "data spec: needs features and a label column");
    }
    if (spec->n_classes < 2 || spec->n_classes > NODE_DATA_MAX_CLASSES) {
        return fl_fail(eb, FL_ERR_INVALID,
                       "data spec: %u classes, expected 2 to %d",
                       spec->n_classes, NODE_DATA_MAX_CLASSES);
    }
    for (size_t k = 0; k < spec->n_features; k++) {
        const node_feature_spec_t *fs = &spec->features[k];

        if (fs->name == NULL || !isfinite(fs->centre) || !isfinite(fs->scale) ||
            !(fs->scale > 0.0)) {
            return fl_fail(eb, FL_ERR_INVALID,
                           "data spec: feature %zu needs a name, a finite "
                           "centre and a finite scale > 0",
                           k + 1);
        }
        if (strcmp(fs->name, spec->label) == 0 ||
            (spec->group != NULL && strcmp(fs->name, spec->group) == 0)) {
            return fl_fail(eb, FL_ERR_INVALID,
                           "data spec: column '%.64s' is both a feature and "
                           "the label or group",
                           fs->name);
        }
        for (size_t j = 0; j < k; j++) {
            if (strcmp(fs->name, spec->features[j].name) == 0) {
                return fl_fail(eb, FL_ERR_INVALID,
                               "data spec: feature '%.64s' listed twice",
                               fs->name);
            }
        }
    }
    if (spec->group != NULL && strcmp(spec->group, spec->label) == 0) {
        return fl_fail(eb, FL_ERR_INVALID,
                       "data spec: label and group are the same column");
    }
    return FL_OK;
}

/* ---- line reading ---------------------------------------------------- */

/*
 * Reads the next line into st->line (NUL-terminated, line end removed).
 * Returns FL_OK with *got = 1, FL_OK with *got = 0 at end of file, or an
 * error (line too long, NUL byte, read error).
 */
static fl_err_t
read_line(csv_state_t *st, size_t *len_out, int *got, fl_errbuf_t *eb)
{
    size_t len = 0;
    int c;

    *got = 0;
    while ((c = getc_unlocked(st->f)) != EOF && c != '\n') {
        if (c == '\0') {
            return fl_fail(eb, FL_ERR_PARSE, "%s:%zu: NUL byte in line",
                           st->path, st->lineno + 1);
        }
        /* One byte of slack for a '\r' before the '\n'. */
        if (len > st->lim.max_line) {
            return fl_fail(eb, FL_ERR_LIMIT,
                           "%s:%zu: line too long (limit %zu bytes)", st->path,
                           st->lineno + 1, st->lim.max_line);
        }
        st->line[len++] = (char) c;
    }
    if (ferror(st->f)) {
        return fl_fail(eb, FL_ERR_IO, "%s:%zu: read error", st->path,
                       st->lineno + 1);
    }
    if (c == EOF && len == 0) {
        return FL_OK;
    }
    if (len > 0 && st->line[len - 1] == '\r') {
        len--;
    }
    if (len > st->lim.max_line) {
        return fl_fail(eb, FL_ERR_LIMIT,
                       "%s:%zu: line too long (limit %zu bytes)", st->path,
                       st->lineno + 1, st->lim.max_line);
    }
    st->line[len] = '\0';
    st->lineno++;
    *len_out = len;
    *got = 1;
    return FL_OK;
}

/* Splits st->line at commas into st->field; at most max fields counted. */
static size_t
split_fields(char *line, size_t len, char **field, size_t max)
{
    size_t n = 0;
    char *start = line;

    for (size_t i = 0; i <= len; i++) {
        if (line[i] == ',' || line[i] == '\0') {
            if (n < max) {
                field[n] = start;
            }
            n++;
            line[i] = '\0';
            start = line + i + 1;
        }
    }
    return n;
}

/* ---- header ------------------------------------------------------------ */

static fl_err_t
find_column(csv_state_t *st, const char *name, const char *what, size_t *col,
            fl_errbuf_t *eb)
{
    for (size_t c = 0; c < st->ncols; c++) {
        if (strcmp(st->field[c], name) == 0) {
            *col = c;
            return FL_OK;
        }
    }
    return fl_fail(eb, FL_ERR_NOT_FOUND, "%s:1: missing %s column '%.64s'",
                   st->path, what, name);
}

static fl_err_t
parse_header(csv_state_t *st, fl_errbuf_t *eb)
{
    size_t len = 0;
    int got = 0;
    size_t col = 0;
    fl_err_t err = read_line(st, &len, &got, eb);

    if (err != FL_OK) {
        return err;
    }
    if (!got) {
        return fl_fail(eb, FL_ERR_PARSE, "%s:1: empty file (no header)",
                       st->path);
    }
    st->ncols = split_fields(st->line, len, st->field, st->lim.max_cols + 1);
    if (st->ncols > st->lim.max_cols) {
        return fl_fail(eb, FL_ERR_LIMIT,
                       "%s:1: %zu columns exceed the limit of %zu", st->path,
                       st->ncols, st->lim.max_cols);
    }
    for (size_t c = 0; c < st->ncols; c++) {
        for (size_t k = 0; k < c; k++) {
            if (strcmp(st->field[c], st->field[k]) == 0) {
                return fl_fail(eb, FL_ERR_PARSE,
                               "%s:1: column '%.64s' appears twice "
                               "(fields %zu and %zu)",
                               st->path, st->field[c], k + 1, c + 1);
            }
        }
    }
    st->role = calloc(st->ncols, sizeof(*st->role));
    st->feat = calloc(st->ncols, sizeof(*st->feat));
    if (st->role == NULL || st->feat == NULL) {
        return fl_fail(eb, FL_ERR_NOMEM, "%s: out of memory", st->path);
    }
    for (size_t k = 0; k < st->spec->n_features; k++) {
        err = find_column(st, st->spec->features[k].name, "feature", &col, eb);
        if (err != FL_OK) {
            return err;
        }
        st->role[col] = ROLE_FEATURE;
        st->feat[col] = k;
    }
    err = find_column(st, st->spec->label, "label", &col, eb);
    if (err != FL_OK) {
        return err;
    }
    st->role[col] = ROLE_LABEL;
    if (st->spec->group != NULL) {
        err = find_column(st, st->spec->group, "group", &col, eb);
        if (err != FL_OK) {
            return err;
        }
        st->role[col] = ROLE_GROUP;
    }
    return FL_OK;
}

/* ---- fields ---------------------------------------------------------- */

static fl_err_t
parse_feature(csv_state_t *st, size_t c, float *out, fl_errbuf_t *eb)
{
    const char *s = st->field[c];
    const node_feature_spec_t *fs = &st->spec->features[st->feat[c]];
    char *end = NULL;
    double v;
    double scaled;

    if (s[0] == '\0' || isspace((unsigned char) s[0])) {
        return fl_fail(eb, FL_ERR_PARSE,
                       "%s:%zu: column '%.64s' (field %zu): not a number: "
                       "'%.32s'",
                       st->path, st->lineno, fs->name, c + 1, s);
    }
    errno = 0;
    v = strtod(s, &end);
    if (end == s || *end != '\0') {
        return fl_fail(eb, FL_ERR_PARSE,
                       "%s:%zu: column '%.64s' (field %zu): not a number: "
                       "'%.32s'",
                       st->path, st->lineno, fs->name, c + 1, s);
    }
    scaled = (v - fs->centre) / fs->scale;
    if (!isfinite(v) || !isfinite((float) scaled)) {
        return fl_fail(eb, FL_ERR_RANGE,
                       "%s:%zu: column '%.64s' (field %zu): non-finite "
                       "value '%.32s'",
                       st->path, st->lineno, fs->name, c + 1, s);
    }
    *out = (float) scaled;
    return FL_OK;
}

static fl_err_t
parse_label(csv_state_t *st, size_t c, int32_t *out, fl_errbuf_t *eb)
{
    const char *s = st->field[c];
    long v = 0;
    size_t i = (s[0] == '-') ? 1 : 0;

    if (s[i] == '\0') {
        return fl_fail(eb, FL_ERR_PARSE,
                       "%s:%zu: label column '%.64s' (field %zu): not an "
                       "integer class: '%.32s'",
                       st->path, st->lineno, st->spec->label, c + 1, s);
    }
    for (; s[i] != '\0'; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return fl_fail(eb, FL_ERR_PARSE,
                           "%s:%zu: label column '%.64s' (field %zu): not "
                           "an integer class: '%.32s'",
                           st->path, st->lineno, st->spec->label, c + 1, s);
        }
        if (v < 1000000) {
            v = v * 10 + (s[i] - '0');
        }
    }
    if (s[0] == '-' || v >= (long) st->spec->n_classes) {
        return fl_fail(eb, FL_ERR_RANGE,
                       "%s:%zu: label column '%.64s' (field %zu): label "
                       "'%.32s' outside the job's classes 0..%u",
                       st->path, st->lineno, st->spec->label, c + 1, s,
                       st->spec->n_classes - 1);
    }
    *out = (int32_t) v;
    return FL_OK;
}

static fl_err_t
parse_group(csv_state_t *st, size_t c, uint32_t *out, fl_errbuf_t *eb)
{
    node_dataset_t *ds = st->ds;
    const char *s = st->field[c];
    size_t len = strlen(s);

    if (len == 0 || len > NODE_DATA_MAX_GROUP_NAME) {
        return fl_fail(eb, FL_ERR_PARSE,
                       "%s:%zu: group column '%.64s' (field %zu): value "
                       "empty or longer than %d bytes",
                       st->path, st->lineno, st->spec->group, c + 1,
                       NODE_DATA_MAX_GROUP_NAME);
    }
    for (size_t g = 0; g < ds->n_groups; g++) {
        if (strcmp(ds->group_names[g], s) == 0) {
            *out = (uint32_t) g;
            return FL_OK;
        }
    }
    if (ds->n_groups == NODE_DATA_MAX_GROUPS) {
        return fl_fail(eb, FL_ERR_LIMIT,
                       "%s:%zu: group column '%.64s': more than %d groups",
                       st->path, st->lineno, st->spec->group,
                       NODE_DATA_MAX_GROUPS);
    }
    memcpy(ds->group_names[ds->n_groups], s, len + 1);
    *out = (uint32_t) ds->n_groups++;
    return FL_OK;
}

/* ---- rows ------------------------------------------------------------ */

static fl_err_t
grow_rows(csv_state_t *st, fl_errbuf_t *eb)
{
    node_dataset_t *ds = st->ds;
    size_t cap = st->cap_rows * 2;
    void *p;

    if (cap > st->lim.max_rows) {
        cap = st->lim.max_rows;
    }
    if (cap > SIZE_MAX / sizeof(float) / ds->d) {
        return fl_fail(eb, FL_ERR_LIMIT, "%s: too many rows", st->path);
    }
    p = realloc(ds->x, cap * ds->d * sizeof(float));
    if (p == NULL) {
        return fl_fail(eb, FL_ERR_NOMEM, "%s: out of memory", st->path);
    }
    ds->x = p;
    p = realloc(ds->y, cap * sizeof(int32_t));
    if (p == NULL) {
        return fl_fail(eb, FL_ERR_NOMEM, "%s: out of memory", st->path);
    }
    ds->y = p;
    if (ds->groups != NULL) {
        p = realloc(ds->groups, cap * sizeof(uint32_t));
        if (p == NULL) {
            return fl_fail(eb, FL_ERR_NOMEM, "%s: out of memory", st->path);
        }
        ds->groups = p;
    }
    st->cap_rows = cap;
    return FL_OK;
}

static fl_err_t
parse_row(csv_state_t *st, size_t len, fl_errbuf_t *eb)
{
    node_dataset_t *ds = st->ds;
    size_t r = ds->rows;
    fl_err_t err = FL_OK;
    size_t n;

    if (r == st->lim.max_rows) {
        return fl_fail(eb, FL_ERR_LIMIT,
                       "%s:%zu: more than %zu data rows (limit)", st->path,
                       st->lineno, st->lim.max_rows);
    }
    n = split_fields(st->line, len, st->field, st->ncols);
    if (n != st->ncols) {
        return fl_fail(eb, FL_ERR_PARSE,
                       "%s:%zu: expected %zu fields, found %zu", st->path,
                       st->lineno, st->ncols, n);
    }
    if (r == st->cap_rows) {
        err = grow_rows(st, eb);
    }
    for (size_t c = 0; c < n && err == FL_OK; c++) {
        switch (st->role[c]) {
        case ROLE_FEATURE:
            err = parse_feature(st, c, &ds->x[r * ds->d + st->feat[c]], eb);
            break;
        case ROLE_LABEL:
            err = parse_label(st, c, &ds->y[r], eb);
            break;
        case ROLE_GROUP:
            err = parse_group(st, c, &ds->groups[r], eb);
            break;
        case ROLE_NONE:
            break;
        }
    }
    if (err == FL_OK) {
        ds->rows++;
    }
    return err;
}

static fl_err_t
parse_body(csv_state_t *st, fl_errbuf_t *eb)
{
    size_t len = 0;
    int got = 0;
    fl_err_t err;

    for (;;) {
        err = read_line(st, &len, &got, eb);
        if (err != FL_OK || !got) {
            break;
        }
        err = parse_row(st, len, eb);
        if (err != FL_OK) {
            break;
        }
    }
    if (err == FL_OK && st->ds->rows == 0) {
        err = fl_fail(eb, FL_ERR_PARSE, "%s:%zu: no data rows", st->path,
                      st->lineno + 1);
    }
    return err;
}

static void
limits_with_defaults(const node_data_limits_t *in, node_data_limits_t *out)
{
    out->max_rows = in->max_rows ? in->max_rows : NODE_DATA_DEFAULT_MAX_ROWS;
    out->max_cols = in->max_cols ? in->max_cols : NODE_DATA_DEFAULT_MAX_COLS;
    out->max_line = in->max_line ? in->max_line : NODE_DATA_DEFAULT_MAX_LINE;
}

fl_err_t
node_dataset_load_csv(const char *path, const node_data_spec_t *spec,
                      node_dataset_t **out, fl_errbuf_t *eb)
{
    csv_state_t st;
    fl_err_t err;

    *out = NULL;
    memset(&st, 0, sizeof(st));
    err = check_spec(spec, eb);
    if (err != FL_OK) {
        return err;
    }
    st.path = path;
    st.spec = spec;
    limits_with_defaults(&spec->limits, &st.lim);
    if (st.lim.max_cols > NODE_DATA_HARD_MAX_COLS ||
        st.lim.max_line > NODE_DATA_HARD_MAX_LINE) {
        return fl_fail(eb, FL_ERR_INVALID,
                       "data limits: at most %d columns and %d bytes per "
                       "line may be configured",
                       NODE_DATA_HARD_MAX_COLS, NODE_DATA_HARD_MAX_LINE);
    }
    st.line = malloc(st.lim.max_line + 2);
    st.field = calloc(st.lim.max_cols + 1, sizeof(char *));
    if (st.line == NULL || st.field == NULL) {
        err = fl_fail(eb, FL_ERR_NOMEM, "%s: out of memory", path);
        goto out;
    }
    st.cap_rows = 64 < st.lim.max_rows ? 64 : st.lim.max_rows;
    err = ds_alloc(&st.ds, st.cap_rows, spec->n_features, spec->group != NULL,
                   eb);
    if (err != FL_OK) {
        goto out;
    }
    st.ds->n_classes = spec->n_classes;
    st.f = fopen(path, "r");
    if (st.f == NULL) {
        err = fl_fail(eb, FL_ERR_IO, "%s: cannot open: %s", path,
                      strerror(errno));
        goto out;
    }
    err = parse_header(&st, eb);
    if (err == FL_OK) {
        err = parse_body(&st, eb);
    }
    if (err == FL_OK) {
        void *p = realloc(st.ds->sqnorm, st.ds->rows * sizeof(float));

        if (p == NULL) {
            err = fl_fail(eb, FL_ERR_NOMEM, "%s: out of memory", path);
            goto out;
        }
        st.ds->sqnorm = p;
        compute_sqnorms(st.ds);
    }
out:
    if (st.f != NULL) {
        (void) fclose(st.f);
    }
    free(st.line);
    free(st.field);
    free(st.role);
    free(st.feat);
    if (err != FL_OK) {
        node_dataset_destroy(&st.ds);
    }
    *out = st.ds;
    return err;
}

/* ---- arrays, subsets, split ------------------------------------------ */

fl_err_t
node_dataset_from_arrays(size_t n, size_t d, const float *x, const int32_t *y,
                         uint32_t n_classes, const uint32_t *groups,
                         size_t n_groups, const char *const *group_names,
                         node_dataset_t **out, fl_errbuf_t *eb)
{
    node_dataset_t *ds = NULL;
    fl_err_t err;

    *out = NULL;
    if (d == 0 || (n > 0 && (x == NULL || y == NULL)) || n_classes < 2 ||
        n_classes > NODE_DATA_MAX_CLASSES ||
        (groups != NULL &&
         (n_groups == 0 || n_groups > NODE_DATA_MAX_GROUPS))) {
        return fl_fail(eb, FL_ERR_INVALID,
                       "dataset from arrays: invalid "
                       "arguments");
    }
    for (size_t i = 0; i < n; i++) {
        if (y[i] < 0 || (uint32_t) y[i] >= n_classes ||
            (groups != NULL && groups[i] >= n_groups)) {
            return fl_fail(eb, FL_ERR_RANGE,
                           "dataset from arrays: row %zu: label or group "
                           "out of range",
                           i);
        }
    }
    for (size_t i = 0; i < n * d; i++) {
        if (!isfinite(x[i])) {
            return fl_fail(eb, FL_ERR_RANGE,
                           "dataset from arrays: value %zu not finite", i);
        }
    }
    err = ds_alloc(&ds, n, d, groups != NULL, eb);
    if (err != FL_OK) {
        return err;
    }
    ds->rows = n;
    ds->n_classes = n_classes;
    if (n > 0) {
        memcpy(ds->x, x, n * d * sizeof(float));
        memcpy(ds->y, y, n * sizeof(int32_t));
    }
    if (groups != NULL) {
        if (n > 0) {
            memcpy(ds->groups, groups, n * sizeof(uint32_t));
        }
        ds->n_groups = n_groups;
        for (size_t g = 0; g < n_groups; g++) {
            if (group_names != NULL && group_names[g] != NULL) {
                (void) snprintf(ds->group_names[g],
                                NODE_DATA_MAX_GROUP_NAME + 1, "%s",
                                group_names[g]);
            } else {
                (void) snprintf(ds->group_names[g],
                                NODE_DATA_MAX_GROUP_NAME + 1, "%zu", g);
            }
        }
    }
    compute_sqnorms(ds);
    *out = ds;
    return FL_OK;
}

fl_err_t
node_dataset_subset(const node_dataset_t *ds, const size_t *idx, size_t n,
                    node_dataset_t **out, fl_errbuf_t *eb)
{
    node_dataset_t *sub = NULL;
    fl_err_t err;

    *out = NULL;
    for (size_t i = 0; i < n; i++) {
        if (idx[i] >= ds->rows) {
            return fl_fail(eb, FL_ERR_RANGE,
                           "dataset subset: index %zu out of %zu rows", idx[i],
                           ds->rows);
        }
    }
    err = ds_alloc(&sub, n, ds->d, ds->groups != NULL, eb);
    if (err != FL_OK) {
        return err;
    }
    sub->rows = n;
    sub->n_classes = ds->n_classes;
    for (size_t i = 0; i < n; i++) {
        memcpy(sub->x + i * ds->d, ds->x + idx[i] * ds->d,
               ds->d * sizeof(float));
        sub->y[i] = ds->y[idx[i]];
        sub->sqnorm[i] = ds->sqnorm[idx[i]];
        if (ds->groups != NULL) {
            sub->groups[i] = ds->groups[idx[i]];
        }
    }
    if (ds->groups != NULL) {
        sub->n_groups = ds->n_groups;
        memcpy(sub->group_names, ds->group_names,
               NODE_DATA_MAX_GROUPS * sizeof(*ds->group_names));
    }
    *out = sub;
    return FL_OK;
}

static int
cmp_size(const void *a, const void *b)
{
    size_t x = *(const size_t *) a;
    size_t y = *(const size_t *) b;

    return (x > y) - (x < y);
}

fl_err_t
node_dataset_split(const node_dataset_t *ds, uint64_t seed,
                   double heldout_fraction, node_dataset_t **train,
                   node_dataset_t **heldout, fl_errbuf_t *eb)
{
    size_t n = ds->rows;
    size_t h = 0;
    size_t *perm = NULL;
    node_prng_t prng;
    fl_err_t err = FL_OK;

    *train = NULL;
    *heldout = NULL;
    if (!(heldout_fraction > 0.0 && heldout_fraction < 1.0)) {
        return fl_fail(eb, FL_ERR_INVALID,
                       "split: held-out fraction must be in (0, 1)");
    }
    h = (size_t) floor((double) n * heldout_fraction);
    if (h == 0 || h == n) {
        return fl_fail(eb, FL_ERR_INVALID, "split: %zu rows give an empty part",
                       n);
    }
    perm = malloc(n * sizeof(size_t));
    if (perm == NULL) {
        return fl_fail(eb, FL_ERR_NOMEM, "split: out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        perm[i] = i;
    }
    node__prng_seed(&prng, seed);
    for (size_t i = n - 1; i > 0; i--) {
        size_t j = (size_t) node__prng_below(&prng, (uint64_t) i + 1);
        size_t t = perm[i];

        perm[i] = perm[j];
        perm[j] = t;
    }
    qsort(perm, h, sizeof(size_t), cmp_size);
    qsort(perm + h, n - h, sizeof(size_t), cmp_size);
    err = node_dataset_subset(ds, perm, h, heldout, eb);
    if (err == FL_OK) {
        err = node_dataset_subset(ds, perm + h, n - h, train, eb);
    }
    if (err != FL_OK) {
        node_dataset_destroy(heldout);
        node_dataset_destroy(train);
    }
    free(perm);
    return err;
}

/* ---- accessors ------------------------------------------------------- */

size_t
node_dataset_rows(const node_dataset_t *ds)
{
    return ds->rows;
}

size_t
node_dataset_n_features(const node_dataset_t *ds)
{
    return ds->d;
}

uint32_t
node_dataset_n_classes(const node_dataset_t *ds)
{
    return ds->n_classes;
}

const float *
node_dataset_features(const node_dataset_t *ds)
{
    return ds->x;
}

const int32_t *
node_dataset_labels(const node_dataset_t *ds)
{
    return ds->y;
}

const float *
node_dataset_sqnorms(const node_dataset_t *ds)
{
    return ds->sqnorm;
}

const uint32_t *
node_dataset_groups(const node_dataset_t *ds)
{
    return ds->groups;
}

size_t
node_dataset_n_groups(const node_dataset_t *ds)
{
    return ds->n_groups;
}

const char *
node_dataset_group_name(const node_dataset_t *ds, size_t g)
{
    return (ds->groups != NULL && g < ds->n_groups) ? ds->group_names[g] : NULL;
}

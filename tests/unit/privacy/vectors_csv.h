/*
 * tests/unit/privacy/vectors_csv.h: loads the known-answer CSV tables kept
 * in tests/unit/privacy/vectors/ (copies of ../shared/refs, see its
 * README) for the accountant tests. Header-only, test code only.
 *
 * A table is read whole (fl_file_read_all), split into rows and fields in
 * place (double-quoted fields may hold commas), and fields are looked up by
 * header name. The vectors directory is $DPFL_SOURCE_DIR/tests/unit/
 * privacy/vectors; if a file is missing there, $DPFL_SHARED_DIR/refs.
 */
#ifndef TEST_VECTORS_CSV_H
#define TEST_VECTORS_CSV_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/durable.h"

#define VCSV_MAX_ROWS 1024
#define VCSV_MAX_COLS 64
#define VCSV_MAX_BYTES (4u << 20)

typedef struct vcsv {
    char *buf;
    size_t n_rows; /* data rows, header excluded */
    size_t n_cols;
    char *head[VCSV_MAX_COLS];
    char *cell[VCSV_MAX_ROWS][VCSV_MAX_COLS];
} vcsv_t;

/* Splits one line at commas outside quotes; strips the quotes. Returns the
 * number of fields, or 0 if there are too many. */
static inline size_t
vcsv_split(char *line, char **fields)
{
    size_t n = 0;
    char *r = line;

    while (n < VCSV_MAX_COLS) {
        char *w = r;
        int quoted = 0;

        fields[n++] = w;
        while (*r != '\0' && (quoted || *r != ',')) {
            if (*r == '"') {
                quoted = !quoted;
                r++;
                continue;
            }
            *w++ = *r++;
        }
        if (*r == '\0') {
            *w = '\0';
            return n;
        }
        r++;
        *w = '\0';
    }
    return 0;
}

/* Loads vectors/<name> (or $DPFL_SHARED_DIR/refs/<name>). Returns 0 on
 * success; the caller frees with vcsv_free. */
static inline int
vcsv_load(const char *name, vcsv_t *t)
{
    const char *src = getenv("DPFL_SOURCE_DIR");
    const char *shared = getenv("DPFL_SHARED_DIR");
    char path[1024];
    size_t len = 0;
    fl_errbuf_t eb = {{0}};
    char *line;
    char *next;

    memset(t, 0, sizeof(*t));
    snprintf(path, sizeof(path), "%s/tests/unit/privacy/vectors/%s",
             src != NULL ? src : ".", name);
    if (fl_file_read_all(path, VCSV_MAX_BYTES, &t->buf, &len, &eb) != FL_OK) {
        snprintf(path, sizeof(path), "%s/refs/%s",
                 shared != NULL ? shared : "../shared", name);
        if (fl_file_read_all(path, VCSV_MAX_BYTES, &t->buf, &len, &eb) !=
            FL_OK) {
            fprintf(stderr, "cannot read %s: %s\n", name, eb.msg);
            return -1;
        }
    }
    line = t->buf;
    for (size_t row = 0; line != NULL && *line != '\0'; row++) {
        char *fields[VCSV_MAX_COLS];
        size_t nf;

        next = strchr(line, '\n');
        if (next != NULL) {
            *next++ = '\0';
        }
        if (*line != '\0' && line[strlen(line) - 1] == '\r') {
            line[strlen(line) - 1] = '\0'; /* CRLF files */
        }
        if (*line == '\0') {
            line = next;
            continue;
        }
        nf = vcsv_split(line, fields);
        if (row == 0) {
            t->n_cols = nf;
            memcpy(t->head, fields, nf * sizeof(char *));
        } else if (nf == t->n_cols && t->n_rows < VCSV_MAX_ROWS) {
            memcpy(t->cell[t->n_rows++], fields, nf * sizeof(char *));
        } else {
            fprintf(stderr, "%s: row %zu has %zu fields, want %zu\n", name, row,
                    nf, t->n_cols);
            return -1;
        }
        line = next;
    }
    return t->n_cols > 0 ? 0 : -1;
}

static inline void
vcsv_free(vcsv_t *t)
{
    free(t->buf);
    t->buf = NULL;
}

/* Column index of a header name, or -1. */
static inline int
vcsv_col(const vcsv_t *t, const char *name)
{
    for (size_t c = 0; c < t->n_cols; c++) {
        if (strcmp(t->head[c], name) == 0) {
            return (int) c;
        }
    }
    return -1;
}

/* The cell as a double; NaN if empty or not a number. */
static inline double
vcsv_num(const vcsv_t *t, size_t row, int col)
{
    const char *s;
    char *end;
    double v;

    if (col < 0 || row >= t->n_rows) {
        return NAN;
    }
    s = t->cell[row][col];
    if (*s == '\0') {
        return NAN;
    }
    v = strtod(s, &end);
    return *end == '\0' ? v : NAN;
}

static inline const char *
vcsv_str(const vcsv_t *t, size_t row, int col)
{
    if (col < 0 || row >= t->n_rows) {
        return "";
    }
    return t->cell[row][col];
}

#endif

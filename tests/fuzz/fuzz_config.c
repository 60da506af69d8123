/*
 * tests/fuzz/fuzz_config.c: libFuzzer target for fl_config_load_buffer, the
 * INI parser behind every configuration and job file, and for the typed
 * getters and fl_config_check_unused over whatever it loads. Seeds: the
 * example configurations of deploy/examples/.
 *
 * The config has no list of its sections, so the target finds the candidate
 * section names in the text the way libinih reads them ([name] after
 * leading blanks, cut to libinih's 49 bytes) and walks each one. Checks:
 * every rejection has a message; before any key is read check_unused fails
 * when there are entries; every entry reads back as its own string, its line
 * agrees with fl_config_line, each typed getter either succeeds within its
 * range or explains why; once every entry was read check_unused passes.
 */
#include "common/config.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef FUZZ_ASSERT
#define FUZZ_ASSERT(cond)                                                      \
    do {                                                                       \
        if (!(cond)) {                                                         \
            (void) fprintf(stderr, "%s:%d: %s\n", __FILE__, __LINE__, #cond);  \
            abort();                                                           \
        }                                                                      \
    } while (0)
#endif

#define MAX_CANDIDATES 256
#define INIH_MAX_SECTION 49 /* libinih's section buffer (50) less the NUL */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct candidates {
    char name[MAX_CANDIDATES][FL_CONFIG_MAX_LINE + 1];
    size_t n;
} candidates_t;

static void
add_candidate(candidates_t *c, const char *p, size_t len)
{
    if (len > FL_CONFIG_MAX_LINE)
        len = FL_CONFIG_MAX_LINE;
    for (size_t i = 0; i < c->n; i++) {
        if (strlen(c->name[i]) == len && memcmp(c->name[i], p, len) == 0)
            return;
    }
    if (c->n == MAX_CANDIDATES)
        return;
    memcpy(c->name[c->n], p, len);
    c->name[c->n][len] = '\0';
    c->n++;
}

/* The global section "" and every "[name]" line, whole and cut. */
static void
find_sections(const char *text, size_t size, candidates_t *c)
{
    size_t pos = 0;

    c->n = 0;
    add_candidate(c, "", 0);
    if (size >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0)
        pos = 3;
    while (pos < size) {
        const char *nl = memchr(text + pos, '\n', size - pos);
        size_t end = nl != NULL ? (size_t) (nl - text) : size;
        size_t s = pos;

        while (s < end && isspace((unsigned char) text[s]))
            s++;
        if (s < end && text[s] == '[') {
            const char *close = memchr(text + s + 1, ']', end - s - 1);

            if (close != NULL) {
                size_t len = (size_t) (close - (text + s + 1));

                add_candidate(c, text + s + 1, len);
                if (len > INIH_MAX_SECTION)
                    add_candidate(c, text + s + 1, INIH_MAX_SECTION);
            }
        }
        pos = end + 1;
    }
}

/* Reads section.key with every typed getter. */
static void
read_entry(fl_config_t *cfg, const char *section, const char *key,
           const char *value)
{
    static const char *const names[] = {"rdp", "pld", "plain", "adam"};
    fl_errbuf_t eb = {{0}};
    const char *s = NULL;
    int64_t i = 0;
    double d = 0;
    int b = -1, e = -1;
    size_t vlen = strlen(value);
    fl_err_t err;

    FUZZ_ASSERT(fl_config_string(cfg, section, key, FL_CFG_REQUIRED, NULL,
                                 FL_CONFIG_MAX_LINE, &s, &eb) == FL_OK);
    FUZZ_ASSERT(s == value);
    err =
        fl_config_string(cfg, section, key, FL_CFG_REQUIRED, NULL, 3, &s, &eb);
    FUZZ_ASSERT(vlen > 3 ? err == FL_ERR_LIMIT : err == FL_OK);

    eb.msg[0] = '\0';
    err = fl_config_int(cfg, section, key, FL_CFG_REQUIRED, 0, -1000, 1000000,
                        &i, &eb);
    if (err == FL_OK)
        FUZZ_ASSERT(i >= -1000 && i <= 1000000);
    else
        FUZZ_ASSERT((err == FL_ERR_PARSE || err == FL_ERR_RANGE) &&
                    eb.msg[0] != '\0');
    err = fl_config_int(cfg, section, key, FL_CFG_REQUIRED, 0, INT64_MIN,
                        INT64_MAX, &i, &eb);
    FUZZ_ASSERT(err == FL_OK || err == FL_ERR_PARSE || err == FL_ERR_RANGE);

    eb.msg[0] = '\0';
    err = fl_config_double(cfg, section, key, FL_CFG_REQUIRED, 0, -1.0, 1e6, &d,
                           &eb);
    if (err == FL_OK)
        FUZZ_ASSERT(isfinite(d) && d >= -1.0 && d <= 1e6);
    else
        FUZZ_ASSERT((err == FL_ERR_PARSE || err == FL_ERR_RANGE) &&
                    eb.msg[0] != '\0');

    eb.msg[0] = '\0';
    err = fl_config_bool(cfg, section, key, FL_CFG_REQUIRED, 0, &b, &eb);
    if (err == FL_OK)
        FUZZ_ASSERT(b == 0 || b == 1);
    else
        FUZZ_ASSERT(err == FL_ERR_PARSE && eb.msg[0] != '\0');

    eb.msg[0] = '\0';
    err = fl_config_enum(cfg, section, key, FL_CFG_REQUIRED, names,
                         sizeof names / sizeof names[0], 0, &e, &eb);
    if (err == FL_OK)
        FUZZ_ASSERT(e >= 0 && strcmp(names[e], value) == 0);
    else
        FUZZ_ASSERT(err == FL_ERR_INVALID && eb.msg[0] != '\0');
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static candidates_t cand;
    fl_config_t *cfg = NULL;
    fl_errbuf_t eb = {{0}};
    const char *text = (const char *) data;
    size_t entries = 0;
    int64_t i = 0;
    fl_err_t err;

    err = fl_config_load_buffer("fuzz.ini", text, size, &cfg, &eb);
    if (err != FL_OK) {
        FUZZ_ASSERT(cfg == NULL && eb.msg[0] != '\0');
        return 0;
    }
    FUZZ_ASSERT(cfg != NULL && strcmp(fl_config_name(cfg), "fuzz.ini") == 0);

    find_sections(text, size, &cand);
    for (size_t c = 0; c < cand.n; c++)
        entries += fl_config_section_size(cfg, cand.name[c]);
    if (entries > 0) {
        eb.msg[0] = '\0';
        FUZZ_ASSERT(fl_config_check_unused(cfg, &eb) == FL_ERR_INVALID &&
                    eb.msg[0] != '\0');
    }
    /* An absent key: the default when optional, an error when required. */
    FUZZ_ASSERT(fl_config_int(cfg, "no such section", "k", FL_CFG_OPTIONAL, 7,
                              0, 10, &i, &eb) == FL_OK &&
                i == 7);
    FUZZ_ASSERT(fl_config_int(cfg, "no such section", "k", FL_CFG_REQUIRED, 7,
                              0, 10, &i, &eb) == FL_ERR_NOT_FOUND);

    for (size_t c = 0; c < cand.n; c++) {
        const char *section = cand.name[c];
        size_t n = fl_config_section_size(cfg, section);

        for (size_t k = 0; k < n; k++) {
            const char *key = NULL, *value = NULL;
            int line = 0;

            FUZZ_ASSERT(fl_config_section_entry(cfg, section, k, &key, &value,
                                                &line) == FL_OK);
            FUZZ_ASSERT(key != NULL && value != NULL && line >= 1);
            FUZZ_ASSERT(fl_config_line(cfg, section, key) == line);
            read_entry(cfg, section, key, value);
        }
        FUZZ_ASSERT(fl_config_section_entry(cfg, section, n, NULL, NULL,
                                            NULL) == FL_ERR_NOT_FOUND);
    }
    eb.msg[0] = '\0';
    err = fl_config_check_unused(cfg, &eb);
    if (err != FL_OK) {
        (void) fprintf(stderr, "entry in no section found: %s\n", eb.msg);
        abort();
    }
    fl_config_destroy(&cfg);
    FUZZ_ASSERT(cfg == NULL);
    return 0;
}

/*
 * tests/unit/node/test_data.c: the CSV loader (every error it names),
 * scaling, groups, subsets and the seeded split.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "node/data.h"

static char dir[64];
static char path[128];

static const node_feature_spec_t feats[] = {
    {"a", 1.0, 2.0},
    {"b", 0.0, 1.0},
};

static node_data_spec_t
spec2(void)
{
    node_data_spec_t s;

    memset(&s, 0, sizeof(s));
    s.features = feats;
    s.n_features = 2;
    s.label = "y";
    s.n_classes = 2;
    return s;
}

static int
setup(void **state)
{
    (void) state;
    snprintf(dir, sizeof(dir), "/tmp/dpfl-test-data-XXXXXX");
    if (mkdtemp(dir) == NULL) {
        return -1;
    }
    snprintf(path, sizeof(path), "%s/t.csv", dir);
    return 0;
}

static int
teardown(void **state)
{
    (void) state;
    unlink(path);
    rmdir(dir);
    return 0;
}

static void
write_file(const char *text, size_t len)
{
    FILE *f = fopen(path, "wb");

    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

/* Loads text under spec; expects err and every fragment in the message. */
static void
expect(const char *text, const node_data_spec_t *s, fl_err_t want,
       const char *frag1, const char *frag2)
{
    node_dataset_t *ds = NULL;
    fl_errbuf_t eb = {{0}};
    fl_err_t err;

    write_file(text, strlen(text));
    err = node_dataset_load_csv(path, s, &ds, &eb);
    if (err != want) {
        fail_msg("got %d (%s), want %d for:\n%s", (int) err, eb.msg, (int) want,
                 text);
    }
    assert_null(ds);
    /* Every message names the file. */
    assert_non_null(strstr(eb.msg, path));
    if (frag1 != NULL && strstr(eb.msg, frag1) == NULL) {
        fail_msg("message '%s' lacks '%s'", eb.msg, frag1);
    }
    if (frag2 != NULL && strstr(eb.msg, frag2) == NULL) {
        fail_msg("message '%s' lacks '%s'", eb.msg, frag2);
    }
}

static void
test_load_ok(void **state)
{
    node_data_spec_t s = spec2();
    node_dataset_t *ds = NULL;
    fl_errbuf_t eb = {{0}};
    const char *text = "id,b,y,a,site\r\n"
                       "7,0.5,1,3,north\r\n"
                       "8,-2,0,1,south\n"
                       "9,1e-3,1,-1,north";
    const float *x;

    (void) state;
    s.group = "site";
    write_file(text, strlen(text));
    assert_int_equal(node_dataset_load_csv(path, &s, &ds, &eb), FL_OK);
    assert_int_equal(node_dataset_rows(ds), 3);
    assert_int_equal(node_dataset_n_features(ds), 2);
    x = node_dataset_features(ds);
    /* Column order follows the spec; a' = (a - 1) / 2. */
    assert_true(x[0] == 1.0f && x[1] == 0.5f);
    assert_true(x[2] == 0.0f && x[3] == -2.0f);
    assert_true(x[4] == -1.0f && fabsf(x[5] - 1e-3f) < 1e-9f);
    assert_int_equal(node_dataset_labels(ds)[0], 1);
    assert_int_equal(node_dataset_labels(ds)[1], 0);
    assert_true(fabsf(node_dataset_sqnorms(ds)[0] - 1.25f) < 1e-6f);
    assert_int_equal(node_dataset_n_groups(ds), 2);
    assert_string_equal(node_dataset_group_name(ds, 0), "north");
    assert_string_equal(node_dataset_group_name(ds, 1), "south");
    assert_int_equal(node_dataset_groups(ds)[2], 0);
    node_dataset_destroy(&ds);
    assert_null(ds);
}

static void
test_errors(void **state)
{
    node_data_spec_t s = spec2();
    node_data_spec_t g = spec2();

    (void) state;
    g.group = "site";
    /* Empty file and header without rows. */
    expect("", &s, FL_ERR_PARSE, ":1:", "empty file");
    expect("a,b,y\n", &s, FL_ERR_PARSE, ":2:", "no data rows");
    /* Missing columns: feature, label, group. */
    expect("a,y\n1,0\n", &s, FL_ERR_NOT_FOUND, ":1:", "'b'");
    expect("a,b,label\n1,2,0\n", &s, FL_ERR_NOT_FOUND, "label column", "'y'");
    expect("a,b,y\n1,2,0\n", &g, FL_ERR_NOT_FOUND, "group column", "'site'");
    /* Wrong field count, too few and too many, and an empty line. */
    expect("a,b,y\n1,2,0\n1,2\n", &s, FL_ERR_PARSE,
           ":3:", "expected 3 fields, found 2");
    expect("a,b,y\n1,2,0,4\n", &s, FL_ERR_PARSE,
           ":2:", "expected 3 fields, found 4");
    expect("a,b,y\n1,2,0\n\n1,2,0\n", &s, FL_ERR_PARSE, ":3:", "found 1");
    /* Non-numeric values: text, empty, trailing junk, leading space. */
    expect("a,b,y\n1,2,0\n1,x,0\n", &s, FL_ERR_PARSE, ":3: column 'b'",
           "not a number");
    expect("a,b,y\n,2,0\n", &s, FL_ERR_PARSE, ":2: column 'a' (field 1)",
           "not a number");
    expect("a,b,y\n1,2.5kg,0\n", &s, FL_ERR_PARSE, "column 'b' (field 2)",
           "'2.5kg'");
    expect("a,b,y\n1, 2,0\n", &s, FL_ERR_PARSE, "column 'b'", "not a number");
    /* Non-finite values. */
    expect("a,b,y\n1,inf,0\n", &s, FL_ERR_RANGE, ":2: column 'b'",
           "non-finite");
    expect("a,b,y\nnan,1,0\n", &s, FL_ERR_RANGE, "column 'a'", "non-finite");
    expect("a,b,y\n1,1e999,0\n", &s, FL_ERR_RANGE, "column 'b'", "non-finite");
    expect("a,b,y\n1,-Infinity,0\n", &s, FL_ERR_RANGE, "column 'b'",
           "non-finite");
    /* Labels outside the job's classes, or not integers. */
    expect("a,b,y\n1,2,2\n", &s, FL_ERR_RANGE, ":2: label column 'y'",
           "outside the job's classes 0..1");
    expect("a,b,y\n1,2,0\n1,2,-1\n", &s, FL_ERR_RANGE, ":3:", "outside");
    expect("a,b,y\n1,2,1.0\n", &s, FL_ERR_PARSE, "label column 'y'",
           "not an integer");
    expect("a,b,y\n1,2,\n", &s, FL_ERR_PARSE, "label column 'y' (field 3)",
           "not an integer");
    /* NUL byte, duplicate header, empty group value. */
    {
        static const char nul[] = "a,b,y\n1,2\0,0\n";
        node_dataset_t *ds = NULL;
        fl_errbuf_t eb = {{0}};

        write_file(nul, sizeof(nul) - 1);
        assert_int_equal(node_dataset_load_csv(path, &s, &ds, &eb),
                         FL_ERR_PARSE);
        assert_non_null(strstr(eb.msg, ":2: NUL"));
    }
    expect("a,b,y,a\n1,2,0,1\n", &s, FL_ERR_PARSE, ":1:", "appears twice");
    expect("a,b,y,site\n1,2,0,\n", &g, FL_ERR_PARSE, ":2: group column",
           "empty");
    /* A missing file. */
    {
        node_dataset_t *ds = NULL;
        fl_errbuf_t eb = {{0}};

        assert_int_equal(
            node_dataset_load_csv("/nonexistent/x.csv", &s, &ds, &eb),
            FL_ERR_IO);
        assert_non_null(strstr(eb.msg, "/nonexistent/x.csv"));
    }
}

static void
test_limits(void **state)
{
    node_data_spec_t s = spec2();

    (void) state;
    /* Line length: 12 bytes allowed, the 13-byte line 3 is refused; the
     * '\r' of CRLF does not count. */
    s.limits.max_line = 12;
    {
        node_dataset_t *ds = NULL;
        fl_errbuf_t eb = {{0}};
        const char *ok = "a,b,y\r\n1.234567,2,0\r\n";

        write_file(ok, strlen(ok));
        assert_int_equal(node_dataset_load_csv(path, &s, &ds, &eb), FL_OK);
        node_dataset_destroy(&ds);
    }
    expect("a,b,y\n1,2,0\n1.2345678,2,0\n", &s, FL_ERR_LIMIT,
           ":3:", "line too long");
    /* A line far longer than the limit (no newline at all). */
    {
        char big[4096];

        memset(big, '1', sizeof(big) - 1);
        big[sizeof(big) - 1] = '\0';
        memcpy(big, "a,b,y\n", 6);
        expect(big, &s, FL_ERR_LIMIT, ":2:", "line too long");
    }
    /* Rows. */
    s = spec2();
    s.limits.max_rows = 2;
    expect("a,b,y\n1,2,0\n1,2,1\n3,4,0\n", &s, FL_ERR_LIMIT,
           ":4:", "more than 2 data rows");
    /* Columns (counted in the header, used or not). */
    s = spec2();
    s.limits.max_cols = 3;
    expect("a,b,y,z\n1,2,0,9\n", &s, FL_ERR_LIMIT,
           ":1:", "4 columns exceed the limit of 3");
}

static void
test_bad_spec(void **state)
{
    node_data_spec_t s = spec2();
    node_dataset_t *ds = NULL;
    fl_errbuf_t eb = {{0}};
    node_feature_spec_t bad[2] = {{"a", 0.0, 0.0}, {"b", 0.0, 1.0}};

    (void) state;
    write_file("a,b,y\n1,2,0\n", 12);
    s.n_classes = 1;
    assert_int_equal(node_dataset_load_csv(path, &s, &ds, &eb), FL_ERR_INVALID);
    s = spec2();
    s.features = bad; /* scale 0 */
    assert_int_equal(node_dataset_load_csv(path, &s, &ds, &eb), FL_ERR_INVALID);
    bad[0].scale = 1.0;
    bad[0].centre = NAN;
    assert_int_equal(node_dataset_load_csv(path, &s, &ds, &eb), FL_ERR_INVALID);
    s = spec2();
    s.limits.max_line = (size_t) 1 << 40; /* beyond the hard limit */
    assert_int_equal(node_dataset_load_csv(path, &s, &ds, &eb), FL_ERR_INVALID);
    s = spec2();
    s.label = "a"; /* label is also a feature */
    assert_int_equal(node_dataset_load_csv(path, &s, &ds, &eb), FL_ERR_INVALID);
    assert_null(ds);
}

static void
test_split(void **state)
{
    enum { N = 1000 };
    float x[N];
    int32_t y[N];
    uint32_t grp[N];
    node_dataset_t *ds = NULL;
    node_dataset_t *tr = NULL;
    node_dataset_t *ho = NULL;
    node_dataset_t *tr2 = NULL;
    node_dataset_t *ho2 = NULL;
    fl_errbuf_t eb = {{0}};
    int seen[N] = {0};
    size_t same = 0;

    (void) state;
    for (int i = 0; i < N; i++) {
        x[i] = (float) i; /* the feature identifies the row */
        y[i] = i % 2;
        grp[i] = (uint32_t) (i % 3);
    }
    assert_int_equal(
        node_dataset_from_arrays(N, 1, x, y, 2, grp, 3, NULL, &ds, &eb), FL_OK);
    assert_int_equal(node_dataset_split(ds, 11, 0.2, &tr, &ho, &eb), FL_OK);
    assert_int_equal(node_dataset_rows(ho), 200);
    assert_int_equal(node_dataset_rows(tr), 800);
    for (size_t i = 0; i < 200; i++) {
        int r = (int) node_dataset_features(ho)[i];

        seen[r]++;
        assert_int_equal(node_dataset_labels(ho)[i], r % 2);
        assert_int_equal(node_dataset_groups(ho)[i], (uint32_t) (r % 3));
        assert_true(i == 0 || node_dataset_features(ho)[i - 1] < (float) r);
    }
    for (size_t i = 0; i < 800; i++) {
        seen[(int) node_dataset_features(tr)[i]]++;
    }
    for (int i = 0; i < N; i++) {
        assert_int_equal(seen[i], 1); /* a partition */
    }
    /* Same seed, same split; another seed, another split. */
    assert_int_equal(node_dataset_split(ds, 11, 0.2, &tr2, &ho2, &eb), FL_OK);
    assert_memory_equal(node_dataset_features(ho), node_dataset_features(ho2),
                        200 * sizeof(float));
    node_dataset_destroy(&tr2);
    node_dataset_destroy(&ho2);
    assert_int_equal(node_dataset_split(ds, 12, 0.2, &tr2, &ho2, &eb), FL_OK);
    for (size_t i = 0; i < 200; i++) {
        same += node_dataset_features(ho)[i] == node_dataset_features(ho2)[i];
    }
    assert_true(same < 50);
    assert_string_equal(node_dataset_group_name(ho2, 2), "2");
    node_dataset_destroy(&tr2);
    node_dataset_destroy(&ho2);
    assert_int_equal(node_dataset_split(ds, 1, 0.0, &tr2, &ho2, &eb),
                     FL_ERR_INVALID);
    assert_int_equal(node_dataset_split(ds, 1, 1e-4, &tr2, &ho2, &eb),
                     FL_ERR_INVALID);
    node_dataset_destroy(&tr);
    node_dataset_destroy(&ho);
    node_dataset_destroy(&ds);
}

/* The repository's WDBC file loads whole under its 30 columns. */
static void
test_wdbc(void **state)
{
    static const char *names[] = {"mean_radius", "mean_texture", "worst_area",
                                  "worst_symmetry"};
    node_feature_spec_t f[4];
    node_data_spec_t s;
    node_dataset_t *ds = NULL;
    fl_errbuf_t eb = {{0}};
    char p[1024];
    const char *src = getenv("DPFL_SOURCE_DIR");
    size_t pos = 0;

    (void) state;
    for (int i = 0; i < 4; i++) {
        f[i].name = names[i];
        f[i].centre = 0.0;
        f[i].scale = 1.0;
    }
    memset(&s, 0, sizeof(s));
    s.features = f;
    s.n_features = 4;
    s.label = "label";
    s.n_classes = 2;
    snprintf(p, sizeof(p), "%s/data/breast_cancer_wdbc.csv",
             src != NULL ? src : ".");
    assert_int_equal(node_dataset_load_csv(p, &s, &ds, &eb), FL_OK);
    assert_int_equal(node_dataset_rows(ds), 569);
    /* First row: 17.99, 10.38, ..., worst_area 2019, label 1. */
    assert_true(node_dataset_features(ds)[0] == 17.99f);
    assert_true(node_dataset_features(ds)[2] == 2019.0f);
    assert_int_equal(node_dataset_labels(ds)[0], 1);
    for (size_t i = 0; i < 569; i++) {
        pos += node_dataset_labels(ds)[i] == 1;
    }
    assert_int_equal(pos, 212); /* malignant, per data/README.md */
    node_dataset_destroy(&ds);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_load_ok), cmocka_unit_test(test_errors),
        cmocka_unit_test(test_limits),  cmocka_unit_test(test_bad_spec),
        cmocka_unit_test(test_split),   cmocka_unit_test(test_wdbc),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

/* tests/unit/privacy/test_ledger.c: the write-ahead budget ledger. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/durable.h"
#include "privacy/ledger.h"

static const char JOB_A[] =
    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
static const char JOB_B[] =
    "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210";

typedef struct fixture {
    char dir[64];
    char path[128];
} fixture_t;

static int
setup(void **state)
{
    fixture_t *f = calloc(1, sizeof *f);

    assert_non_null(f);
    snprintf(f->dir, sizeof f->dir, "/tmp/dpfl-ledger-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->path, sizeof f->path, "%s/budget.ledger", f->dir);
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    fixture_t *f = *state;

    (void) unlink(f->path);
    (void) rmdir(f->dir);
    free(f);
    return 0;
}

/* Bitwise CRC-32 (IEEE), independent of the table-driven one under test. */
static uint32_t
crc32_ref(const char *p, size_t n)
{
    uint32_t c = 0xffffffffU;

    for (size_t i = 0; i < n; i++) {
        c ^= (unsigned char) p[i];
        for (int k = 0; k < 8; k++)
            c = (c & 1U) ? (c >> 1) ^ 0xedb88320U : c >> 1;
    }
    return c ^ 0xffffffffU;
}

static dp_ledger_entry_t
make_entry(const char *job, uint64_t round, double q, double sigma,
           uint64_t steps, double eps)
{
    dp_ledger_entry_t e;

    memset(&e, 0, sizeof e);
    snprintf(e.job_hash, sizeof e.job_hash, "%s", job);
    e.round = round;
    e.sgm.sampling_rate = q;
    e.sgm.noise_multiplier = sigma;
    e.sgm.steps = steps;
    e.clip = 1.0;
    e.delta = 1e-5;
    snprintf(e.accountant, sizeof e.accountant, "rdp");
    e.epsilon = eps;
    return e;
}

static char *
read_file(const char *path, size_t *len)
{
    char *buf = NULL;
    fl_errbuf_t eb = {{0}};

    assert_int_equal(fl_file_read_all(path, 1 << 24, &buf, len, &eb), FL_OK);
    return buf;
}

static void
write_file(const char *path, const char *data, size_t len)
{
    FILE *fp = fopen(path, "wb");

    assert_non_null(fp);
    assert_int_equal(fwrite(data, 1, len, fp), len);
    assert_int_equal(fclose(fp), 0);
}

/* Writes 3 reservations (values with no short decimal form), commits 1, 3. */
static void
write_sample(const char *path)
{
    dp_ledger_t *l = NULL;
    fl_errbuf_t eb = {{0}};
    dp_ledger_entry_t e;
    uint64_t seq;

    assert_int_equal(dp_ledger_open(path, &l, &eb), FL_OK);
    e = make_entry(JOB_A, 0, 0.1 / 3.0, 1.1, 100, 0.7 / 3.0);
    assert_int_equal(dp_ledger_reserve(l, &e, &seq, &eb), FL_OK);
    assert_int_equal(seq, 1);
    assert_int_equal(dp_ledger_commit(l, 1, &eb), FL_OK);
    e = make_entry(JOB_A, 1, 0.1 / 3.0, 1.1, 100, 0.35);
    assert_int_equal(dp_ledger_reserve(l, &e, &seq, &eb), FL_OK);
    assert_int_equal(seq, 2);
    e = make_entry(JOB_B, 0, 0.02, 0.8 + 1e-13, 7, 0.5);
    assert_int_equal(dp_ledger_reserve(l, &e, &seq, &eb), FL_OK);
    assert_int_equal(seq, 3);
    assert_int_equal(dp_ledger_commit(l, 3, &eb), FL_OK);
    assert_int_equal(dp_ledger_uncommitted_count(l), 1);
    dp_ledger_close(&l);
    assert_null(l);
}

static void
test_roundtrip(void **state)
{
    fixture_t *f = *state;
    dp_ledger_t *l = NULL;
    fl_errbuf_t eb = {{0}};
    dp_sgm_t *h = NULL;
    size_t n = 0;
    const dp_ledger_entry_t *e;
    struct stat st;

    write_sample(f->path);
    assert_int_equal(stat(f->path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(dp_ledger_open(f->path, &l, &eb), FL_OK);
    assert_int_equal(dp_ledger_count(l), 3);
    assert_int_equal(dp_ledger_uncommitted_count(l), 1);
    /* Doubles survive the text form bit for bit. */
    e = dp_ledger_get(l, 0);
    assert_non_null(e);
    assert_true(e->sgm.sampling_rate == 0.1 / 3.0);
    assert_true(e->epsilon == 0.7 / 3.0);
    assert_true(e->committed);
    assert_true(e->time_ms > 1600000000000LL);
    e = dp_ledger_get(l, 1);
    assert_false(e->committed);
    assert_int_equal(e->round, 1);
    e = dp_ledger_get(l, 2);
    assert_true(e->sgm.noise_multiplier == 0.8 + 1e-13);
    assert_int_equal(e->sgm.steps, 7);
    assert_string_equal(e->job_hash, JOB_B);
    assert_string_equal(e->accountant, "rdp");
    assert_null(dp_ledger_get(l, 3));
    assert_true(dp_ledger_last_epsilon(l) == 0.5);

    /* All jobs: the budget history, committed or not, in order. */
    assert_int_equal(dp_ledger_history(l, NULL, &h, &n, &eb), FL_OK);
    assert_int_equal(n, 3);
    assert_int_equal(h[0].steps, 100);
    assert_int_equal(h[2].steps, 7);
    free(h);
    assert_int_equal(dp_ledger_history(l, JOB_B, &h, &n, &eb), FL_OK);
    assert_int_equal(n, 1);
    assert_true(h[0].sampling_rate == 0.02);
    free(h);
    assert_int_equal(dp_ledger_history(l, "abc", &h, &n, &eb), FL_ERR_INVALID);

    /* The uncommitted reservation can still be committed after a restart. */
    assert_int_equal(dp_ledger_commit(l, 2, &eb), FL_OK);
    assert_int_equal(dp_ledger_commit(l, 2, &eb), FL_ERR_STATE);
    assert_int_equal(dp_ledger_commit(l, 9, &eb), FL_ERR_NOT_FOUND);
    assert_int_equal(dp_ledger_uncommitted_count(l), 0);
    dp_ledger_close(&l);
    assert_int_equal(dp_ledger_open(f->path, &l, &eb), FL_OK);
    assert_int_equal(dp_ledger_uncommitted_count(l), 0);
    assert_int_equal(dp_ledger_count(l), 3);
    dp_ledger_close(&l);
}

static void
test_format_is_documented_text(void **state)
{
    fixture_t *f = *state;
    size_t len;
    char *buf;
    char *second;
    char *nl;

    write_sample(f->path);
    buf = read_file(f->path, &len);
    assert_memory_equal(buf, "dpfl-ledger 1 *", 15);
    second = strchr(buf, '\n') + 1;
    assert_memory_equal(second, "R seq=1 job=", 12);
    assert_non_null(strstr(second, " acct=rdp "));
    /* Every line's suffix is the CRC-32 of the text before " *". */
    for (char *p = buf; p < buf + len; p = nl + 1) {
        char want[16];
        size_t n;

        nl = strchr(p, '\n');
        assert_non_null(nl);
        n = (size_t) (nl - p);
        snprintf(want, sizeof want, " *%08" PRIx32, crc32_ref(p, n - 10));
        assert_memory_equal(p + n - 10, want, 10);
    }
    /* 1 header + 3 reservations + 2 commits, in write order. */
    {
        size_t lines = 0;

        for (size_t i = 0; i < len; i++)
            lines += buf[i] == '\n';
        assert_int_equal(lines, 6);
    }
    assert_true(strstr(buf, "C seq=1") < strstr(buf, "R seq=2"));
    assert_true(strstr(buf, "R seq=3") < strstr(buf, "C seq=3"));
    free(buf);
}

/* Opening must fail with a message naming want_line, leaving the bytes. */
static void
expect_refused(const char *path, const char *data, size_t len,
               const char *want_where, const char *want_why)
{
    dp_ledger_t *l = NULL;
    fl_errbuf_t eb = {{0}};
    size_t after_len;
    char *after;
    fl_err_t err;

    write_file(path, data, len);
    err = dp_ledger_open(path, &l, &eb);
    assert_int_not_equal(err, FL_OK);
    assert_null(l);
    if (strstr(eb.msg, want_where) == NULL || strstr(eb.msg, want_why) == NULL)
        fail_msg("message `%s` lacks `%s` / `%s`", eb.msg, want_where,
                 want_why);
    after = read_file(path, &after_len);
    assert_int_equal(after_len, len);
    assert_memory_equal(after, data, len);
    free(after);
}

static void
test_torn_final_line_refused(void **state)
{
    fixture_t *f = *state;
    char where[160];
    size_t len;
    char *buf;

    write_sample(f->path);
    buf = read_file(f->path, &len);
    /* Cut the last line (a commit) in the middle. */
    snprintf(where, sizeof where, "%s:6:", f->path);
    expect_refused(f->path, buf, len - 5, where, "incomplete final line");
    /* Only the newline missing: still refused (the CRC may be fine). */
    expect_refused(f->path, buf, len - 1, where, "truncate -s");
    free(buf);
}

static void
test_every_changed_byte_detected(void **state)
{
    fixture_t *f = *state;
    size_t len, line = 1;
    char *buf;
    char *copy;

    write_sample(f->path);
    buf = read_file(f->path, &len);
    copy = malloc(len);
    assert_non_null(copy);
    for (size_t i = 0; i < len; i++) {
        char where[160];

        if (buf[i] == '\n') {
            line++;
            continue;
        }
        memcpy(copy, buf, len);
        copy[i] = (char) (copy[i] ^ 0x01);
        snprintf(where, sizeof where, "%s:%zu:", f->path, line);
        expect_refused(f->path, copy, len, where, "");
    }
    free(copy);
    free(buf);
}

/* Builds a checksummed line as the ledger would. */
static void
add_line(char *dst, size_t cap, const char *body)
{
    size_t n = strlen(dst);

    snprintf(dst + n, cap - n, "%s *%08" PRIx32 "\n", body,
             crc32_ref(body, strlen(body)));
}

/* Copies body into dst with its '@' replaced by JOB_A. */
static void
subst_job(char *dst, size_t cap, const char *body)
{
    const char *at = strchr(body, '@');

    if (at == NULL) {
        snprintf(dst, cap, "%s", body);
        return;
    }
    snprintf(dst, cap, "%.*s%s%s", (int) (at - body), body, JOB_A, at + 1);
}

static void
test_valid_crc_bad_content_refused(void **state)
{
    fixture_t *f = *state;
    char where[160];
    char rline[512];
    char buf[4096];
    static const struct {
        const char *body;
        int line; /* of the bad line */
        const char *why;
    } cases[] = {
        {"R seq=2 job=@ round=0 q=0.01 sigma=1 steps=1 clip=1 "
         "delta=1e-05 acct=rdp eps=0.1 time=1",
         2, "seq 2 where 1"},
        {"R seq=1 job=@ round=0 q=1.5 sigma=1 steps=1 clip=1 "
         "delta=1e-05 acct=rdp eps=0.1 time=1",
         2, "sampling rate"},
        {"R seq=1 job=@ round=0 q=0.01 sigma=nan steps=1 clip=1 "
         "delta=1e-05 acct=rdp eps=0.1 time=1",
         2, "sigma="},
        {"R seq=1 job=@ round=0 q=0.01 sigma=1 steps=0 clip=1 "
         "delta=1e-05 acct=rdp eps=0.1 time=1",
         2, "steps"},
        {"R seq=1 job=@ round=0 q=0.01 sigma=1 steps=1 clip=1 "
         "delta=1e-05 acct=RDP eps=0.1 time=1",
         2, "acct="},
        {"R seq=1 job=@ round=0 q=0.01 sigma=1 steps=1 clip=1 "
         "delta=1e-05 acct=rdp eps=0.1 time=1 extra=1",
         2, "after time="},
        {"R seq=01 job=@ round=0 q=0.01 sigma=1 steps=1 clip=1 "
         "delta=1e-05 acct=rdp eps=0.1 time=1",
         2, "seq="},
        {"X seq=1", 2, "unknown record"},
        {"C seq=1 time=5", 2, "does not precede"},
    };

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        buf[0] = '\0';
        add_line(buf, sizeof buf, "dpfl-ledger 1");
        subst_job(rline, sizeof rline, cases[i].body);
        add_line(buf, sizeof buf, rline);
        snprintf(where, sizeof where, "%s:%d:", f->path, cases[i].line);
        expect_refused(f->path, buf, strlen(buf), where, cases[i].why);
    }

    /* A deleted reservation shows as a gap; a repeated commit is refused. */
    buf[0] = '\0';
    add_line(buf, sizeof buf, "dpfl-ledger 1");
    subst_job(rline, sizeof rline,
              "R seq=1 job=@ round=0 q=0.01 sigma=1 steps=1 clip=1 "
              "delta=1e-05 acct=rdp eps=0.1 time=1");
    add_line(buf, sizeof buf, rline);
    add_line(buf, sizeof buf, "C seq=1 time=2");
    add_line(buf, sizeof buf, "C seq=1 time=3");
    snprintf(where, sizeof where, "%s:4:", f->path);
    expect_refused(f->path, buf, strlen(buf), where, "second commit");

    buf[0] = '\0';
    add_line(buf, sizeof buf, "not a ledger");
    snprintf(where, sizeof where, "%s:1:", f->path);
    expect_refused(f->path, buf, strlen(buf), where, "not a dpfl ledger");

    /* NUL-filled block (a crash on some file systems). */
    memset(buf, 0, 64);
    buf[63] = '\n';
    expect_refused(f->path, buf, 64, where, "NUL byte");
}

static void
test_line_too_long_refused(void **state)
{
    fixture_t *f = *state;
    char where[160];
    char *buf = malloc(DP_LEDGER_MAX_LINE + 64);

    assert_non_null(buf);
    memset(buf, 'x', DP_LEDGER_MAX_LINE + 10);
    buf[DP_LEDGER_MAX_LINE + 10] = '\n';
    snprintf(where, sizeof where, "%s:1:", f->path);
    expect_refused(f->path, buf, DP_LEDGER_MAX_LINE + 11, where, "longer");
    free(buf);
}

static void
test_reserve_validates(void **state)
{
    fixture_t *f = *state;
    dp_ledger_t *l = NULL;
    fl_errbuf_t eb = {{0}};
    dp_ledger_entry_t e;
    uint64_t seq = 77;
    size_t len;
    char *buf;

    assert_int_equal(dp_ledger_open(f->path, &l, &eb), FL_OK);
    e = make_entry(JOB_A, 0, 0.0, 1.0, 1, 0.1);
    assert_int_equal(dp_ledger_reserve(l, &e, &seq, &eb), FL_ERR_INVALID);
    e = make_entry(JOB_A, 0, 0.01, -1.0, 1, 0.1);
    assert_int_equal(dp_ledger_reserve(l, &e, &seq, &eb), FL_ERR_INVALID);
    e = make_entry(JOB_A, 0, 0.01, 1.0, 1, 0.1);
    e.delta = 1.0;
    assert_int_equal(dp_ledger_reserve(l, &e, &seq, &eb), FL_ERR_INVALID);
    e = make_entry("0123", 0, 0.01, 1.0, 1, 0.1);
    assert_int_equal(dp_ledger_reserve(l, &e, &seq, &eb), FL_ERR_INVALID);
    e = make_entry(JOB_A, 0, 0.01, 1.0, 1, 0.1);
    snprintf(e.accountant, sizeof e.accountant, "r d");
    assert_int_equal(dp_ledger_reserve(l, &e, &seq, &eb), FL_ERR_INVALID);
    assert_int_equal(seq, 77);
    assert_int_equal(dp_ledger_count(l), 0);
    dp_ledger_close(&l);
    buf = read_file(f->path, &len);
    assert_int_equal(len, strlen("dpfl-ledger 1 *xxxxxxxx\n"));
    free(buf);
}

static void
test_second_process_locked_out(void **state)
{
    fixture_t *f = *state;
    dp_ledger_t *l = NULL;
    fl_errbuf_t eb = {{0}};
    pid_t pid;
    int status = 0;

    assert_int_equal(dp_ledger_open(f->path, &l, &eb), FL_OK);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dp_ledger_t *l2 = NULL;
        fl_errbuf_t eb2 = {{0}};
        fl_err_t err = dp_ledger_open(f->path, &l2, &eb2);

        _exit(err == FL_ERR_STATE && strstr(eb2.msg, "locked") ? 0 : 1);
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    dp_ledger_close(&l);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_roundtrip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_format_is_documented_text, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_torn_final_line_refused, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_every_changed_byte_detected, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_valid_crc_bad_content_refused,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_line_too_long_refused, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_reserve_validates, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_second_process_locked_out, setup,
                                        teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

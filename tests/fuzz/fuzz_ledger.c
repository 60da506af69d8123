/*
 * tests/fuzz/fuzz_ledger.c: libFuzzer target for dp_ledger_open, which
 * replays the node's privacy budget ledger (docs/ledger.md). A ledger is
 * the node's own file, but a damaged or edited one must be refused with a
 * message, never crash the node or let budget go back.
 *
 * Each input is replayed twice from one scratch file per process: as it
 * is, then with the CRC-32 of every line recomputed (a trailing ` *xxxxxxxx`
 * replaced, or appended), so that mutations reach the record parser behind
 * the checksum. The file is removed after each replay (the ledger creates
 * it when absent and writes a header into an empty one). Checks: a refusal
 * has a message and leaves the file untouched; an accepted ledger numbers
 * its reservations 1, 2, ..., its counts and history agree, its last
 * epsilon is the largest; no descriptor is left open (the ledger holds a
 * locked one while open).
 */
#include "privacy/ledger.h"

#include <math.h>
#include <sys/stat.h>

#include "tests/fuzz/fuzz_file.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void) argc;
    (void) argv;
    fuzz_file_init("ledger", "ledger");
    return 0;
}

static uint32_t
crc32_bitwise(const uint8_t *p, size_t n)
{
    uint32_t c = 0xffffffffU;

    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++)
            c = (c >> 1) ^ (0xedb88320U & (0U - (c & 1U)));
    }
    return c ^ 0xffffffffU;
}

/* data with every line's checksum suffix recomputed; *len its size. */
static uint8_t *
fix_checksums(const uint8_t *data, size_t size, size_t *len)
{
    uint8_t *out = malloc((size + 1) * 11);
    size_t pos = 0, o = 0;

    FUZZ_ASSERT(out != NULL);
    while (pos < size) {
        const uint8_t *nl = memchr(data + pos, '\n', size - pos);
        size_t end = nl != NULL ? (size_t) (nl - data) : size;
        size_t n = end - pos;
        char suffix[16];

        if (n >= 10 && data[end - 10] == ' ' && data[end - 9] == '*')
            n -= 10;
        memcpy(out + o, data + pos, n);
        (void) snprintf(suffix, sizeof suffix, " *%08lx",
                        (unsigned long) crc32_bitwise(data + pos, n));
        memcpy(out + o + n, suffix, 10);
        o += n + 10;
        if (nl != NULL)
            out[o++] = '\n';
        pos = end + 1;
    }
    *len = o;
    return out;
}

static void
check_ledger(const dp_ledger_t *l)
{
    size_t n = dp_ledger_count(l);
    dp_sgm_t *hist = NULL;
    size_t nh = 0;
    fl_errbuf_t eb = {{0}};
    double max_eps = 0;
    size_t uncommitted = 0;

    FUZZ_ASSERT(n <= DP_LEDGER_MAX_ENTRIES);
    for (size_t i = 0; i < n; i++) {
        const dp_ledger_entry_t *e = dp_ledger_get(l, i);

        FUZZ_ASSERT(e != NULL && e->seq == i + 1);
        FUZZ_ASSERT(strlen(e->job_hash) == DP_LEDGER_JOB_HASH_LEN);
        FUZZ_ASSERT(e->sgm.sampling_rate > 0 && e->sgm.sampling_rate <= 1);
        FUZZ_ASSERT(e->sgm.noise_multiplier > 0);
        FUZZ_ASSERT(e->sgm.steps >= 1 && e->sgm.steps <= DP_LEDGER_MAX_STEPS);
        FUZZ_ASSERT(e->clip > 0 && e->delta > 0 && e->delta < 1);
        FUZZ_ASSERT(e->epsilon >= 0);
        FUZZ_ASSERT(e->accountant[0] != '\0');
        if (e->epsilon > max_eps)
            max_eps = e->epsilon;
        if (!e->committed)
            uncommitted++;
    }
    FUZZ_ASSERT(dp_ledger_get(l, n) == NULL);
    FUZZ_ASSERT(dp_ledger_uncommitted_count(l) == uncommitted);
    FUZZ_ASSERT(dp_ledger_last_epsilon(l) == max_eps);
    FUZZ_ASSERT(dp_ledger_history(l, NULL, &hist, &nh, &eb) == FL_OK);
    FUZZ_ASSERT(nh == n && (n == 0) == (hist == NULL));
    for (size_t i = 0; i < n; i++)
        FUZZ_ASSERT(
            memcmp(&hist[i], &dp_ledger_get(l, i)->sgm, sizeof hist[i]) == 0);
    free(hist);
    if (n > 0) {
        FUZZ_ASSERT(dp_ledger_history(l, dp_ledger_get(l, 0)->job_hash, &hist,
                                      &nh, &eb) == FL_OK);
        FUZZ_ASSERT(nh >= 1 && nh <= n);
        free(hist);
    }
}

static void
replay(const uint8_t *data, size_t size)
{
    dp_ledger_t *l = NULL;
    fl_errbuf_t eb = {{0}};
    struct stat st;
    fl_err_t err;

    int fd0 = fuzz_lowest_free_fd();

    fuzz_file_write(data, size);
    err = dp_ledger_open(fuzz_file_path, &l, &eb);
    if (err != FL_OK) {
        FUZZ_ASSERT(l == NULL && eb.msg[0] != '\0');
        /* Refused: nothing was written. */
        FUZZ_ASSERT(stat(fuzz_file_path, &st) == 0);
        FUZZ_ASSERT((size_t) st.st_size == size);
    } else {
        FUZZ_ASSERT(l != NULL);
        check_ledger(l);
        dp_ledger_close(&l);
        FUZZ_ASSERT(l == NULL);
    }
    (void) unlink(fuzz_file_path);
    FUZZ_ASSERT(fuzz_lowest_free_fd() == fd0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *fixed;
    size_t len = 0;

    replay(data, size);
    fixed = fix_checksums(data, size, &len);
    replay(fixed, len);
    free(fixed);
    return 0;
}

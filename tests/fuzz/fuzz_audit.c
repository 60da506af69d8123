/*
 * tests/fuzz/fuzz_audit.c: libFuzzer target for the audit log reader
 * (dp_audit_reader_open / dp_audit_reader_next), which `dpfl-audit` and the
 * verifier run over logs that come from other parties.
 *
 * The input is written to one scratch file per process and read twice:
 * as it is, with the fixed public key of the seeds (fuzz_file.h; mutated
 * inputs mostly fail the signature check, which is the point: they must
 * fail cleanly), then with every line's "prev" hash recomputed over the
 * line before it and no key, which checks everything but the signatures,
 * so that mutations reach the JSON, field and order checks behind the
 * chain. Checks: errors
 * have a message and stick; entries are numbered 1, 2, ... by line, have a
 * type, an actor and an object body; the owner is known after the first
 * entry; no descriptor is left open.
 */
#include "privacy/audit.h"

#include <openssl/sha.h>

#include "tests/fuzz/fuzz_file.h"

#define MAX_ENTRIES 4096

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static EVP_PKEY *pub;
static void
free_key(void)
{
    EVP_PKEY_free(pub);
    pub = NULL;
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void) argc;
    (void) argv;
    fuzz_file_init("audit", "log");
    pub = fuzz_audit_public_key();
    FUZZ_ASSERT(pub != NULL);
    (void) atexit(free_key);
    return 0;
}

static void
read_all(EVP_PKEY *key)
{
    dp_audit_reader_t *r = NULL;
    fl_errbuf_t eb = {{0}};
    fl_err_t err;
    uint64_t n = 0;

    err = dp_audit_reader_open(fuzz_file_path, key, &r, &eb);
    FUZZ_ASSERT(err == FL_OK && r != NULL);
    FUZZ_ASSERT(strcmp(dp_audit_reader_path(r), fuzz_file_path) == 0);
    FUZZ_ASSERT(strcmp(dp_audit_reader_owner(r), "") == 0);
    while (n < MAX_ENTRIES) {
        dp_audit_entry_t e;
        int eof = 0;

        memset(&e, 0, sizeof e);
        eb.msg[0] = '\0';
        err = dp_audit_reader_next(r, &e, &eof, &eb);
        if (err != FL_OK) {
            FUZZ_ASSERT(eb.msg[0] != '\0');
            FUZZ_ASSERT(err == FL_ERR_PARSE || err == FL_ERR_LIMIT ||
                        err == FL_ERR_AUTH || err == FL_ERR_IO ||
                        err == FL_ERR_NOMEM);
            /* A failed reader stays failed. */
            eb.msg[0] = '\0';
            FUZZ_ASSERT(dp_audit_reader_next(r, &e, &eof, &eb) != FL_OK);
            break;
        }
        if (eof)
            break;
        n++;
        FUZZ_ASSERT(e.line == n && e.seq == n);
        FUZZ_ASSERT(e.type != NULL && e.type[0] != '\0' &&
                    strlen(e.type) <= DP_AUDIT_MAX_TYPE);
        FUZZ_ASSERT(e.actor != NULL && strlen(e.actor) <= DP_AUDIT_MAX_ACTOR);
        FUZZ_ASSERT(e.body != NULL && json_is_object(e.body));
        if (n == 1)
            FUZZ_ASSERT(strcmp(e.type, DP_AUDIT_EV_LOG_CREATED) == 0);
        FUZZ_ASSERT(dp_audit_reader_owner(r)[0] != '\0');
    }
    dp_audit_reader_close(&r);
    FUZZ_ASSERT(r == NULL);
}

/*
 * data with the 64 hex digits after the first "prev":" of every line but
 * the first replaced by the SHA-256 of the line before (as rewritten).
 */
static uint8_t *
fix_chain(const uint8_t *data, size_t size)
{
    static const char tag[] = "\"prev\":\"";
    uint8_t *out = malloc(size + 1);
    size_t pos = 0, prev_start = 0, prev_len = 0;
    int first = 1;

    FUZZ_ASSERT(out != NULL);
    if (size > 0)
        memcpy(out, data, size);
    while (pos < size) {
        uint8_t *nl = memchr(out + pos, '\n', size - pos);
        size_t end = nl != NULL ? (size_t) (nl - out) : size;

        if (!first) {
            size_t t = pos;

            while (t + sizeof tag - 1 + 64 <= end &&
                   memcmp(out + t, tag, sizeof tag - 1) != 0)
                t++;
            if (t + sizeof tag - 1 + 64 <= end) {
                unsigned char md[SHA256_DIGEST_LENGTH];
                char hex[2 * SHA256_DIGEST_LENGTH + 1];

                SHA256(out + prev_start, prev_len, md);
                dp_audit_hex(md, sizeof md, hex);
                memcpy(out + t + sizeof tag - 1, hex, 64);
            }
        }
        first = 0;
        prev_start = pos;
        prev_len = end - pos;
        pos = end + 1;
    }
    return out;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int fd0 = fuzz_lowest_free_fd();
    uint8_t *chained;

    fuzz_file_write(data, size);
    read_all(pub);
    chained = fix_chain(data, size);
    fuzz_file_write(chained, size);
    free(chained);
    read_all(NULL);
    (void) unlink(fuzz_file_path);
    FUZZ_ASSERT(fuzz_lowest_free_fd() == fd0);
    return 0;
}

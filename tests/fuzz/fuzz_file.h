/*
 * tests/fuzz/fuzz_file.h: helpers of the fuzz targets whose parser reads a
 * file (CSV, ledger, audit log, checkpoint): one scratch path per process
 * under /tmp, removed at exit; a check that an iteration left no descriptor
 * open; the fixed audit key shared by fuzz_audit and the seed generator
 * (header-only; each target is its own program).
 */
#ifndef FUZZ_FILE_H
#define FUZZ_FILE_H

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#ifndef FUZZ_ASSERT
/* Stops the fuzzer with the reason: libFuzzer reports abort() as a crash. */
#define FUZZ_ASSERT(cond)                                                      \
    do {                                                                       \
        if (!(cond)) {                                                         \
            (void) fprintf(stderr, "%s:%d: %s\n", __FILE__, __LINE__, #cond);  \
            abort();                                                           \
        }                                                                      \
    } while (0)
#endif

/* The scratch file of this process, set by fuzz_file_init(). */
static char fuzz_file_path[128];

static inline void
fuzz_file_remove(void)
{
    if (fuzz_file_path[0] != '\0')
        (void) unlink(fuzz_file_path);
}

/*
 * Sets the scratch path to /tmp/dpfl-fuzz-<tag>-<pid>.<ext> and removes it
 * at exit. Call once, from LLVMFuzzerInitialize.
 */
static inline void
fuzz_file_init(const char *tag, const char *ext)
{
    int n = snprintf(fuzz_file_path, sizeof fuzz_file_path,
                     "/tmp/dpfl-fuzz-%s-%ld.%s", tag, (long) getpid(), ext);

    FUZZ_ASSERT(n > 0 && (size_t) n < sizeof fuzz_file_path);
    (void) atexit(fuzz_file_remove);
}

/* Replaces the scratch file with exactly size bytes of data. */
static inline void
fuzz_file_write(const uint8_t *data, size_t size)
{
    int fd =
        open(fuzz_file_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    size_t off = 0;

    FUZZ_ASSERT(fd >= 0);
    while (off < size) {
        ssize_t w = write(fd, data + off, size - off);

        FUZZ_ASSERT(w > 0);
        off += (size_t) w;
    }
    FUZZ_ASSERT(close(fd) == 0);
}

/*
 * The lowest free descriptor: taken before and after the code under test
 * within one iteration (libFuzzer itself opens descriptors between
 * iterations, e.g. pipes to the symbolizer), a different value means the
 * code left a descriptor open (or closed one it did not own).
 */
static inline int
fuzz_lowest_free_fd(void)
{
    int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);

    FUZZ_ASSERT(fd >= 0);
    (void) close(fd);
    return fd;
}

/*
 * The Ed25519 private key (RFC 8032 raw 32-byte seed) of the audit log
 * seeds: fixed, so that the seeds fuzz_corpus_gen_files writes verify under
 * the public key fuzz_audit derives at start. A test key, nothing else.
 */
static const unsigned char fuzz_audit_seed[32] = {
    0x64, 0x70, 0x66, 0x6c, 0x2d, 0x66, 0x75, 0x7a, 0x7a, 0x2d, 0x61,
    0x75, 0x64, 0x69, 0x74, 0x2d, 0x6b, 0x65, 0x79, 0x2d, 0x6e, 0x6f,
    0x74, 0x2d, 0x61, 0x2d, 0x73, 0x65, 0x63, 0x72, 0x65, 0x74};

/* The private key above (caller owns: EVP_PKEY_free), or NULL. */
static inline EVP_PKEY *
fuzz_audit_private_key(void)
{
    return EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, fuzz_audit_seed,
                                        sizeof fuzz_audit_seed);
}

/* Its public half alone (caller owns: EVP_PKEY_free), or NULL. */
static inline EVP_PKEY *
fuzz_audit_public_key(void)
{
    EVP_PKEY *priv = fuzz_audit_private_key();
    EVP_PKEY *pub = NULL;
    unsigned char raw[32];
    size_t len = sizeof raw;

    if (priv != NULL && EVP_PKEY_get_raw_public_key(priv, raw, &len) == 1 &&
        len == sizeof raw)
        pub = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, raw, len);
    EVP_PKEY_free(priv);
    return pub;
}

#endif

/*
 * privacy/rng.c: the generator behind every privacy mechanism.
 *
 * Stream: AES-256 in counter mode through OpenSSL EVP (AES-NI where the CPU
 * has it), producing DP_RNG_BUF_BYTES of keystream at a time into a buffer
 * the samplers read word by word. The two kinds differ only in where the
 * 32-byte key comes from:
 *   secure: RAND_priv_bytes (OpenSSL's private DRBG, seeded by the OS);
 *   seeded: SHA-256("dpfl rng seeded v1" || seed as 8 little-endian bytes),
 *           reproducible, for tests and simulations only.
 * The counter block starts at zero; a key is never reused with another
 * stream, and a 128-bit counter does not wrap in practice. AES-CTR output
 * is indistinguishable from uniform bytes to anyone without the key (the
 * standard PRP assumption on AES, plus the PRP/PRF switching term q^2/2^129
 * for q blocks: 2^-49 after 16 TB), which is what the privacy proofs need
 * of the noise: the adversary cannot predict it. Words are read from the
 * keystream in native byte order (little-endian on every platform dpfl
 * supports), which fixes the seeded streams.
 *
 * Uniform doubles: 53 random bits k, k = 0 rejected, u = k * 2^-53. Every
 * value is exactly representable, lies in (0, 1) and the set is symmetric
 * about 1/2.
 *
 * Gaussian: the ziggurat of Marsaglia and Tsang (2000) with 256 layers of
 * equal area, one 64-bit word per attempt split into disjoint bit fields
 * (bits 0-7 layer, bit 8 sign, bits 11-63 a 53-bit uniform), so the layer
 * and the abscissa are independent (the flaw Doornik (2005) found in the
 * original code, which reused bits, does not arise). Correctness: the
 * layers cover the region under f(x) = exp(-x^2/2), x >= 0, plus the tail;
 * picking a layer uniformly and a point uniformly in it, then keeping the
 * point only if it lies under f, samples uniformly from the region under f,
 * whose abscissa has the half-normal density; the sign bit makes it
 * normal. Points with x < x[i+1] are under f without evaluating it (the
 * fast path, about 99% of draws); the wedge test evaluates f with a fresh
 * uniform; the base layer's overhang is the tail beyond r, sampled exactly
 * by Marsaglia's (1964) method: a = -ln(u1)/r, b = -ln(u2), accept when
 * 2b > a^2, return r + a. A rejected attempt restarts from a fresh word.
 * So the output is exactly normal given exact uniform inputs, up to the
 * rounding of the table (closure error below 1e-12, checked in tests) and
 * the 2^-53 grid of the uniforms.
 */
#include "privacy/rng.h"

#include <assert.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#define DP_RNG_BUF_WORDS 2048 /* 16 KiB of keystream per refill */
#define DP_RNG_BUF_BYTES (DP_RNG_BUF_WORDS * 8)
#define DP_RNG_KEY_BYTES 32
#define ZIG_N 256
/* Right edge of the base layer for 256 layers (solved so layers close). */
#define ZIG_R 3.6541528853610088
#define SQRT_HALF_PI 1.2533141373155002512 /* sqrt(pi/2) */
#define SQRT2 1.4142135623730950488

static const char SEED_LABEL[] = "dpfl rng seeded v1";
/* CTR input: the keystream is the encryption of zeros. */
static const unsigned char ZEROS[DP_RNG_BUF_BYTES];

struct dp_rng {
    EVP_CIPHER_CTX *ctx;
    dp_rng_kind_t kind;
    size_t pos; /* next unread word of buf */
    uint64_t buf[DP_RNG_BUF_WORDS];
    /* Ziggurat tables, layer i spans [0, zx[i]] x [zf[i], zf[i+1]]. */
    /* zscale[i | s << 8] = (s ? -1 : 1) * zx[i] * 2^-53: the low 9 bits
     * of a word pick layer and sign in one lookup. */
    double zscale[2 * ZIG_N];
    double zx[ZIG_N + 1];
    double zf[ZIG_N + 1];
    double zarea;
};

static void
rng_refill(dp_rng_t *rng)
{
    int outl = 0;

    /* CTR keystream = encryption of zeros. A failure here cannot be
     * reported through the void samplers, and carrying on would emit
     * predictable "noise": fail closed as libsodium's misuse handler does.
     */
    if (EVP_EncryptUpdate(rng->ctx, (unsigned char *) rng->buf, &outl, ZEROS,
                          DP_RNG_BUF_BYTES) != 1 ||
        outl != DP_RNG_BUF_BYTES)
        abort();
    rng->pos = 0;
}

static void
zig_tables(dp_rng_t *rng)
{
    const double r = ZIG_R;
    const double fr = exp(-0.5 * r * r);
    const double v = r * fr + SQRT_HALF_PI * erfc(r / SQRT2);
    double x = r;

    rng->zarea = v;
    rng->zx[0] = v / fr; /* base layer: rectangle [0,r]x[0,f(r)] + tail */
    rng->zf[0] = 0.0;
    rng->zx[1] = r;
    rng->zf[1] = fr;
    for (int i = 2; i < ZIG_N; i++) {
        double a = v / x + exp(-0.5 * x * x);
        x = sqrt(-2.0 * log(a));
        rng->zx[i] = x;
        rng->zf[i] = exp(-0.5 * x * x);
    }
    rng->zx[ZIG_N] = 0.0;
    rng->zf[ZIG_N] = 1.0;
    for (int i = 0; i < ZIG_N; i++) {
        rng->zscale[i] = rng->zx[i] * 0x1p-53;
        rng->zscale[i + ZIG_N] = -rng->zx[i] * 0x1p-53;
    }
}

static fl_err_t
rng_create(dp_rng_t **out, dp_rng_kind_t kind, const unsigned char *key,
           fl_errbuf_t *eb)
{
    static const unsigned char iv[16] = {0};
    fl_err_t err = FL_OK;
    dp_rng_t *rng = calloc(1, sizeof(*rng));

    if (rng == NULL) {
        err = fl_fail(eb, FL_ERR_NOMEM, "rng: out of memory");
        goto out;
    }
    rng->kind = kind;
    rng->ctx = EVP_CIPHER_CTX_new();
    if (rng->ctx == NULL ||
        EVP_EncryptInit_ex(rng->ctx, EVP_aes_256_ctr(), NULL, key, iv) != 1) {
        err = fl_fail(eb, FL_ERR_CRYPTO, "rng: AES-256-CTR init failed");
        goto out;
    }
    zig_tables(rng);
    rng_refill(rng);
    *out = rng;
    rng = NULL;
out:
    dp_rng_destroy(&rng);
    return err;
}

fl_err_t
dp_rng_new_secure(dp_rng_t **out, fl_errbuf_t *eb)
{
    unsigned char key[DP_RNG_KEY_BYTES];
    fl_err_t err;

    if (out == NULL)
        return fl_fail(eb, FL_ERR_INVALID, "rng: out is NULL");
    *out = NULL;
    if (RAND_priv_bytes(key, (int) sizeof(key)) != 1) {
        err = fl_fail(eb, FL_ERR_CRYPTO, "rng: RAND_priv_bytes failed");
        goto out;
    }
    err = rng_create(out, DP_RNG_SECURE, key, eb);
out:
    OPENSSL_cleanse(key, sizeof(key));
    return err;
}

fl_err_t
dp_rng_new_seeded(dp_rng_t **out, uint64_t seed, fl_errbuf_t *eb)
{
    unsigned char msg[sizeof(SEED_LABEL) - 1 + 8];
    unsigned char key[EVP_MAX_MD_SIZE];
    unsigned int keylen = 0;
    fl_err_t err;

    if (out == NULL)
        return fl_fail(eb, FL_ERR_INVALID, "rng: out is NULL");
    *out = NULL;
    memcpy(msg, SEED_LABEL, sizeof(SEED_LABEL) - 1);
    for (int i = 0; i < 8; i++)
        msg[sizeof(SEED_LABEL) - 1 + (size_t) i] =
            (unsigned char) (seed >> (8 * i));
    if (EVP_Digest(msg, sizeof(msg), key, &keylen, EVP_sha256(), NULL) != 1 ||
        keylen != DP_RNG_KEY_BYTES) {
        err = fl_fail(eb, FL_ERR_CRYPTO, "rng: SHA-256 of the seed failed");
        goto out;
    }
    err = rng_create(out, DP_RNG_SEEDED, key, eb);
out:
    OPENSSL_cleanse(key, sizeof(key));
    OPENSSL_cleanse(msg, sizeof(msg));
    return err;
}

void
dp_rng_destroy(dp_rng_t **rng_p)
{
    dp_rng_t *rng;

    if (rng_p == NULL || *rng_p == NULL)
        return;
    rng = *rng_p;
    EVP_CIPHER_CTX_free(rng->ctx); /* wipes the expanded key */
    OPENSSL_cleanse(rng, sizeof(*rng));
    free(rng);
    *rng_p = NULL;
}

dp_rng_kind_t
dp_rng_kind(const dp_rng_t *rng)
{
    return rng->kind;
}

const char *
dp_rng_kind_name(dp_rng_kind_t kind)
{
    switch (kind) {
    case DP_RNG_SECURE:
        return "secure";
    case DP_RNG_SEEDED:
        return "seeded";
    }
    return "unknown";
}

const char *
dp_rng_stream_name(void)
{
    return "aes-256-ctr";
}

const char *
dp_rng_gaussian_kernel_name(void)
{
    return "ziggurat";
}

uint64_t
dp_rng_u64(dp_rng_t *rng)
{
    if (rng->pos == DP_RNG_BUF_WORDS)
        rng_refill(rng);
    return rng->buf[rng->pos++];
}

void
dp_rng_bytes(dp_rng_t *rng, void *buf, size_t n)
{
    unsigned char *p = buf;

    while (n > 0) {
        size_t avail, take;

        if (rng->pos == DP_RNG_BUF_WORDS)
            rng_refill(rng);
        avail = (DP_RNG_BUF_WORDS - rng->pos) * 8;
        take = n < avail ? n : avail;
        memcpy(p, rng->buf + rng->pos, take);
        /* Whole words only: a partial word is not reused. */
        rng->pos += (take + 7) / 8;
        p += take;
        n -= take;
    }
}

double
dp_rng_uniform(dp_rng_t *rng)
{
    uint64_t k;

    do {
        k = dp_rng_u64(rng) >> 11;
    } while (k == 0);
    return (double) (int64_t) k * 0x1p-53;
}

uint64_t
dp_rng_below(dp_rng_t *rng, uint64_t n)
{
    /* Reject the lowest (2^64 mod n) values so every residue has the same
     * number of preimages. */
    uint64_t threshold, r;

    assert(n > 0);
    if (n == 0)
        return 0;
    threshold = (0 - n) % n;
    do {
        r = dp_rng_u64(rng);
    } while (r < threshold);
    return r % n;
}

/* Applies the sign bit (bit 8 of w) to x >= 0. */
static inline double
zig_sign(uint64_t w, double x)
{
    uint64_t bits;

    memcpy(&bits, &x, sizeof(bits));
    bits |= (w & 0x100) << 55;
    memcpy(&x, &bits, sizeof(x));
    return x;
}

/* Marsaglia (1964): exact sample of a standard normal conditioned on > r. */
static double
zig_tail(dp_rng_t *rng)
{
    double a, b;

    do {
        a = -log(dp_rng_uniform(rng)) / ZIG_R;
        b = -log(dp_rng_uniform(rng));
    } while (b + b < a * a);
    return ZIG_R + a;
}

/*
 * Finishes one normal draw whose first attempt, word w, missed the fast
 * path; further attempts draw fresh words.
 */
static double
zig_slow(dp_rng_t *rng, uint64_t w)
{
    for (;;) {
        unsigned i = (unsigned) (w & 0xff);
        double x = (double) (int64_t) (w >> 11) * rng->zscale[i];

        if (x < rng->zx[i + 1])
            return zig_sign(w, x);
        if (i == 0)
            return zig_sign(w, zig_tail(rng));
        {
            double y = rng->zf[i] +
                       dp_rng_uniform(rng) * (rng->zf[i + 1] - rng->zf[i]);
            if (y < exp(-0.5 * x * x))
                return zig_sign(w, x);
        }
        w = dp_rng_u64(rng);
    }
}

double
dp_rng_gaussian(dp_rng_t *rng)
{
    return zig_slow(rng, dp_rng_u64(rng));
}

/*
 * The hot loop shared by the fill and add kernels: one word per value on
 * the fast path, straight from the keystream buffer; a miss hands over to
 * zig_slow (which may refill the buffer) and resumes.
 */
static inline void
zig_f32(dp_rng_t *rng, float *v, size_t n, double stddev, int add)
{
    size_t j = 0;

    while (j < n) {
        const uint64_t *b;
        size_t m, k;

        if (rng->pos == DP_RNG_BUF_WORDS)
            rng_refill(rng);
        b = rng->buf + rng->pos;
        m = DP_RNG_BUF_WORDS - rng->pos;
        if (m > n - j)
            m = n - j;
        for (k = 0; k < m; k++) {
            uint64_t w = b[k];
            /* Signed abscissa in one multiply; same draw as zig_slow. */
            double x = (double) (int64_t) (w >> 11) * rng->zscale[w & 0x1ff];
            double base = add ? (double) v[j + k] : 0.0;

            if (fabs(x) < rng->zx[(w & 0xff) + 1]) {
                v[j + k] = (float) (base + stddev * x);
                continue;
            }
            rng->pos += k + 1;
            v[j + k] = (float) (base + stddev * zig_slow(rng, w));
            k++;
            goto resume;
        }
        rng->pos += m;
    resume:
        j += k;
    }
}

void
dp_rng_gaussian_fill_f32(dp_rng_t *rng, float *out, size_t n, double stddev)
{
    zig_f32(rng, out, n, stddev, 0);
}

void
dp_rng_gaussian_add_f32(dp_rng_t *rng, float *v, size_t n, double stddev)
{
    zig_f32(rng, v, n, stddev, 1);
}

double
dp__rng_zig_closure_error(const dp_rng_t *rng)
{
    /* Area of the top layer against the common area: 0 when the table
     * closes exactly. */
    double x = rng->zx[ZIG_N - 1];
    double top = x * (1.0 - exp(-0.5 * x * x));

    return fabs(top - rng->zarea) / rng->zarea;
}

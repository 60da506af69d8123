/*
 * tests/fuzz/fuzz_checkpoint.c: libFuzzer target for coord_ckpt_load, the
 * coordinator's reader of its round checkpoint. The file is the
 * coordinator's own, but a damaged one must be refused with a message.
 *
 * The job is fixed once at start: a job hash, dimension FUZZ_DIM and the
 * Adam server optimiser (two state vectors, the longest layout). Each input
 * is loaded twice from one scratch file per process: as it is, then with a
 * correct SHA-256 trailer appended, so that mutations reach the body parser
 * behind the checksum. Checks: a refusal has a message; an accepted
 * checkpoint gives a finite model and state, and sites whose ids, epsilons
 * and histories are valid; no descriptor is left open.
 */
#include "coordinator/checkpoint.h"

#include <math.h>
#include <openssl/sha.h>

#include "tests/fuzz/fuzz_file.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The job the seeds were written for (fuzz_corpus_gen_files uses it too). */
#include "tests/fuzz/fuzz_ckpt_job.h"

static coord_server_opt_t *opt;
static float model[FUZZ_DIM];
static void
free_opt(void)
{
    coord_server_opt_destroy(&opt);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    fl_errbuf_t eb = {{0}};

    (void) argc;
    (void) argv;
    fuzz_file_init("ckpt", "ckpt");
    FUZZ_ASSERT(coord_server_opt_new(PB_SERVER_ADAM, FUZZ_DIM, 0.1, 0.9, &opt,
                                     &eb) == FL_OK);
    (void) atexit(free_opt);
    return 0;
}

static void
check_loaded(const coord_ckpt_t *ck)
{
    const coord_budget_t *b = ck->budget;

    for (size_t i = 0; i < FUZZ_DIM; i++) {
        FUZZ_ASSERT(isfinite(ck->model[i]));
        FUZZ_ASSERT(isfinite(opt->m[i]) && isfinite(opt->v[i]));
    }
    FUZZ_ASSERT(b->n <= COORD_MAX_SITES);
    for (size_t s = 0; s < b->n; s++) {
        const coord_site_t *site = &b->sites[s];

        FUZZ_ASSERT(site->id[0] != '\0' &&
                    strlen(site->id) <= COORD_SITE_ID_MAX);
        FUZZ_ASSERT(site->records > 0);
        FUZZ_ASSERT(site->epsilon_max > 0 && isfinite(site->epsilon_max));
        FUZZ_ASSERT(site->delta > 0 && site->delta < 1);
        FUZZ_ASSERT(site->epsilon >= 0 && isfinite(site->epsilon));
        FUZZ_ASSERT(site->exhausted == 0 || site->exhausted == 1);
        FUZZ_ASSERT(site->n_hist <= COORD_MAX_HISTORY);
        for (size_t h = 0; h < site->n_hist; h++) {
            const dp_sgm_t *m = &site->hist[h];

            FUZZ_ASSERT(m->sampling_rate > 0 && m->sampling_rate <= 1);
            FUZZ_ASSERT(m->noise_multiplier > 0 &&
                        isfinite(m->noise_multiplier));
            FUZZ_ASSERT(m->steps > 0);
        }
    }
}

static void
load(const uint8_t *data, size_t size)
{
    coord_budget_t budget;
    coord_ckpt_t ck;
    fl_errbuf_t eb = {{0}};
    fl_err_t err;

    int fd0 = fuzz_lowest_free_fd();

    fuzz_file_write(data, size);
    coord_budget_init(&budget, DP_ACCOUNTANT_RDP);
    memset(&ck, 0, sizeof ck);
    memcpy(ck.job_hash, fuzz_ckpt_job_hash, sizeof ck.job_hash);
    ck.dim = FUZZ_DIM;
    ck.model = model;
    ck.opt = opt;
    ck.budget = &budget;
    err = coord_ckpt_load(fuzz_file_path, &ck, &eb);
    if (err != FL_OK)
        FUZZ_ASSERT(eb.msg[0] != '\0');
    else
        check_loaded(&ck);
    coord_budget_cleanup(&budget);
    (void) unlink(fuzz_file_path);
    FUZZ_ASSERT(fuzz_lowest_free_fd() == fd0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *sealed = malloc(size + SHA256_DIGEST_LENGTH);

    FUZZ_ASSERT(sealed != NULL);
    load(data, size);
    if (size > 0)
        memcpy(sealed, data, size);
    FUZZ_ASSERT(
        EVP_Digest(data, size, sealed + size, NULL, EVP_sha256(), NULL) == 1);
    load(sealed, size + SHA256_DIGEST_LENGTH);
    free(sealed);
    return 0;
}

/* sim/run_setup.c: the simulation's data, job, folder and configs. */
#include "sim/run_internal.h"

#include "node/job_model.h"

#include <errno.h>
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#define MSG_BYTES ((size_t) 16 << 20)
/* The sim starts every node: the coordinator waits for all of them (so
 * round 1 never starts with a seed-independent subset). */
#define QUORUM_WAIT_S 600

double
sim__cpu_seconds(void)
{
    struct rusage ru;

    if (getrusage(RUSAGE_SELF, &ru) != 0)
        return 0;
    return (double) ru.ru_utime.tv_sec + (double) ru.ru_utime.tv_usec / 1e6 +
           (double) ru.ru_stime.tv_sec + (double) ru.ru_stime.tv_usec / 1e6;
}

long
sim__peak_rss_kb(void)
{
    struct rusage ru;

    return getrusage(RUSAGE_SELF, &ru) == 0 ? ru.ru_maxrss : -1;
}

static fl_err_t
load_csv(sim_ctx_t *s, const pb_job_t *job, fl_errbuf_t *eb)
{
    return node_job_load_csv(job, s->o->data_path, NULL, &s->all, eb);
}

/* Rows a node needs so that its split leaves both parts non-empty (what
 * quantity partitions give every node); and the held-out rows of a node of
 * r rows. A smaller node trains on all its rows (node/daemon.c). */
static size_t
heldout_rows(size_t r, double h)
{
    return (size_t) floor((double) r * h);
}

static size_t
min_rows_for(double h)
{
    size_t r = 2;

    while (r < 1000000 && (heldout_rows(r, h) == 0 || heldout_rows(r, h) == r))
        r++;
    return r;
}

/* The job as the simulation runs it: seed, epsilon, aggregator, rounds,
 * deadline from the options. */
static fl_err_t
rewrite_job(sim_ctx_t *s, const char *bytes, size_t len, double job_target,
            uint64_t min_train, fl_errbuf_t *eb)
{
    const sim_opts_t *o = s->o;
    const char *key[8], *val[8];
    char seed[32], eps[40], rec[32], rounds[16], dl[16], ho[40];
    size_t n = 0;
    fl_err_t err;

    (void) snprintf(seed, sizeof seed, "%llu", (unsigned long long) o->seed);
    key[n] = "seed";
    val[n++] = seed;
    if (o->epsilon > 0) {
        (void) snprintf(eps, sizeof eps, "%.17g", o->epsilon);
        key[n] = "target_epsilon";
        val[n++] = eps;
        key[n] = "noise_multiplier";
        val[n++] = NULL;
    }
    /* A target epsilon holds for the smallest hospital, so every one of
     * them can afford every round. */
    if (o->epsilon > 0 || job_target > 0) {
        (void) snprintf(rec, sizeof rec, "%llu",
                        (unsigned long long) min_train);
        key[n] = "calibration_records";
        val[n++] = rec;
    }
    if (o->aggregator != NULL) {
        key[n] = "aggregator";
        val[n++] = o->aggregator;
    }
    if (o->rounds > 0) {
        (void) snprintf(rounds, sizeof rounds, "%u", o->rounds);
        key[n] = "rounds";
        val[n++] = rounds;
    }
    if (o->deadline_s > 0) {
        (void) snprintf(dl, sizeof dl, "%u", o->deadline_s);
        key[n] = "round_deadline_s";
        val[n++] = dl;
    }
    if (o->holdout > 0) {
        (void) snprintf(ho, sizeof ho, "%.17g", o->holdout);
        key[n] = "holdout_fraction";
        val[n++] = ho;
    }
    err = sim_job_override(bytes, len, key, val, n, &s->job_bytes, &s->job_len,
                           eb);
    if (err != FL_OK)
        return err;
    err = pb_job_parse(o->job_path, s->job_bytes, s->job_len, &s->job, eb);
    s->have_job = err == FL_OK;
    return err;
}

static void
fill_result_job(sim_ctx_t *s, const sim_partition_t *p)
{
    sim_result_t *r = s->res;

    (void) snprintf(r->job_name, sizeof r->job_name, "%s", s->job.name);
    (void) snprintf(r->job_hash, sizeof r->job_hash, "%s", s->job.hash_hex);
    (void) snprintf(r->aggregator, sizeof r->aggregator, "%s",
                    pb_aggregator_name(s->job.aggregator));
    if (s->o->partition.kind == SIM_PART_IID)
        (void) snprintf(r->partition, sizeof r->partition, "iid");
    else
        (void) snprintf(r->partition, sizeof r->partition, "%s:%g",
                        sim_part_kind_name(s->o->partition.kind),
                        s->o->partition.alpha);
    r->n_rows = p->n_rows;
    r->rounds_planned = s->job.rounds;
    r->batch_size = s->job.batch_size;
    r->local_steps = s->job.local_steps;
    r->delta = s->job.delta;
    r->target_epsilon = s->job.target_epsilon;
    r->calibration_records = s->job.calibration_records;
}

static fl_err_t
make_parts(sim_ctx_t *s, const sim_partition_t *p, fl_errbuf_t *eb)
{
    fl_err_t err = FL_OK;

    s->parts = calloc(p->n_nodes, sizeof *s->parts);
    if (s->parts == NULL)
        return fl_fail(eb, FL_ERR_NOMEM, "partitions: out of memory");
    for (size_t k = 0; err == FL_OK && k < p->n_nodes; k++) {
        s->res->nodes[k].rows = sim_partition_size(p, k);
        err = node_dataset_subset(s->all, p->idx + p->start[k],
                                  sim_partition_size(p, k), &s->parts[k], eb);
    }
    return err;
}

fl_err_t
sim__load_and_partition(sim_ctx_t *s, fl_errbuf_t *eb)
{
    const sim_opts_t *o = s->o;
    sim_partition_t p = {0, 0, NULL, NULL};
    pb_job_t job0;
    char *bytes = NULL;
    size_t len = 0, min_rows;
    uint64_t min_train = UINT64_MAX;
    fl_err_t err;

    memset(&job0, 0, sizeof job0);
    err = pb_job_load(o->job_path, &job0, &bytes, &len, eb);
    if (err != FL_OK)
        return err;
    if (o->holdout > 0)
        job0.holdout_fraction = o->holdout;
    err = load_csv(s, &job0, eb);
    min_rows = min_rows_for(job0.holdout_fraction);
    if (err == FL_OK)
        err = sim_partition_make(&o->partition, node_dataset_labels(s->all),
                                 node_dataset_rows(s->all), job0.classes,
                                 o->n_nodes, min_rows, sim_mix64(o->seed ^ 1),
                                 &p, eb);
    for (size_t k = 0; err == FL_OK && k < p.n_nodes; k++) {
        size_t r = sim_partition_size(&p, k);
        size_t held = heldout_rows(r, job0.holdout_fraction);
        uint64_t train = held > 0 && held < r ? r - held : r;

        if (r > 0 && train < min_train)
            min_train = train;
    }
    if (err == FL_OK && min_train == UINT64_MAX)
        err = fl_fail(eb, FL_ERR_INVALID, "%zu nodes leave every node empty",
                      o->n_nodes);
    /* Under batch_size records q is 1, as calibrating at batch_size. */
    if (err == FL_OK && min_train < job0.batch_size)
        min_train = job0.batch_size;
    if (err == FL_OK)
        err = rewrite_job(s, bytes, len, job0.target_epsilon, min_train, eb);
    if (err == FL_OK)
        err = sim_partition_label_skew(&p, node_dataset_labels(s->all),
                                       job0.classes, &s->res->label_skew, eb);
    if (err == FL_OK) {
        fill_result_job(s, &p);
        err = make_parts(s, &p, eb);
    }
    sim_partition_cleanup(&p);
    pb_job_cleanup(&job0);
    free(bytes);
    return err;
}

fl_err_t
sim__make_tmp(sim_ctx_t *s, fl_errbuf_t *eb)
{
    const char *parent = s->o->tmp_parent;

    if (parent == NULL)
        parent = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : getenv("TMPDIR");
    if (parent == NULL || parent[0] == '\0')
        parent = "/tmp";
    if (strlen(parent) > sizeof s->tmp - 32)
        return fl_fail(eb, FL_ERR_INVALID, "%s: path too long", parent);
    (void) snprintf(s->tmp, sizeof s->tmp, "%s/dpfl-sim.XXXXXX", parent);
    if (mkdtemp(s->tmp) == NULL) {
        int e = errno;

        s->tmp[0] = '\0';
        return fl_fail(eb, FL_ERR_IO, "%s: cannot make a temporary folder: %s",
                       parent, strerror(e));
    }
    return FL_OK;
}

/* Removes the files of dir, then its subfolders' files (the simulation
 * writes two levels only), then the folders. */
static void
remove_level(const char *dir, int depth)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char path[PATH_MAX];
    struct stat sb;

    while (d != NULL && (e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        if (snprintf(path, sizeof path, "%s/%s", dir, e->d_name) >=
            (int) sizeof path)
            continue;
        if (lstat(path, &sb) == 0 && S_ISDIR(sb.st_mode) && depth > 0)
            remove_level(path, depth - 1);
        else
            (void) unlink(path);
    }
    if (d != NULL)
        (void) closedir(d);
    (void) rmdir(dir);
}

void
sim__remove_tmp(sim_ctx_t *s)
{
    if (s->tmp[0] == '\0' || s->o->keep_tmp)
        return;
    remove_level(s->tmp, 1);
    s->tmp[0] = '\0';
}

fl_err_t
sim__coord_config(sim_ctx_t *s, fl_errbuf_t *eb)
{
    static unsigned counter;
    coord_config_t *c = &s->ccfg;
    size_t n = s->o->n_nodes;
    char *dir = malloc(PATH_MAX);

    memset(c, 0, sizeof *c);
    c->allow = calloc(n, sizeof *c->allow);
    if (dir == NULL || c->allow == NULL) {
        free(dir);
        return fl_fail(eb, FL_ERR_NOMEM, "coordinator config: out of memory");
    }
    (void) snprintf(dir, PATH_MAX, "%s/coordinator", s->tmp);
    c->state_dir = dir;
    if (s->o->transport == SIM_TRANSPORT_TCP)
        (void) snprintf(s->endpoint, sizeof s->endpoint, "tcp://127.0.0.1:*");
    else
        (void) snprintf(s->endpoint, sizeof s->endpoint,
                        "inproc://dpfl-sim-%ld-%u", (long) getpid(), ++counter);
    c->listen = s->endpoint;
    c->name = SIM_PKI_COORD_ID;
    c->max_message_bytes = MSG_BYTES;
    c->log_level = "warn";
    c->quorum_wait_s = QUORUM_WAIT_S;
    sim_pki_coord_files(s->pki, &c->tls);
    for (size_t i = 0; i < n; i++) {
        c->allow[i].site_id = sim_pki_node_id(s->pki, i);
        c->allow[i].fingerprint = sim_pki_node_fingerprint(s->pki, i);
    }
    c->n_allow = n;
    c->audit_key = NULL;
    return FL_OK;
}

static double
node_budget(const sim_ctx_t *s)
{
    if (s->o->epsilon > 0)
        return s->o->epsilon;
    if (s->o->budget > 0)
        return s->o->budget;
    return s->job.target_epsilon > 0 ? s->job.target_epsilon : 1e6;
}

/* Which nodes are byzantine: the first k of a seeded permutation. */
static void
pick_byzantine(sim_ctx_t *s)
{
    size_t n = s->o->n_nodes, k = s->o->n_byzantine;
    size_t *perm = malloc(n * sizeof *perm);
    sim_rng_t r;

    if (perm == NULL || s->faults == NULL) {
        free(perm);
        return;
    }
    for (size_t i = 0; i < n; i++)
        perm[i] = i;
    sim_rng_seed(&r, sim_mix64(s->o->seed ^ 0xb1ca7eULL));
    for (size_t i = 0; i < k && i < n; i++) {
        size_t j = i + (size_t) sim_rng_below(&r, n - i);
        size_t t = perm[i];

        perm[i] = perm[j];
        perm[j] = t;
        s->faults[perm[i]].byzantine =
            s->o->byzantine != NODE_HONEST ? s->o->byzantine : NODE_BYZ_SCALED;
        s->res->nodes[perm[i]].byzantine = (int) s->faults[perm[i]].byzantine;
    }
    free(perm);
}

fl_err_t
sim__node_configs(sim_ctx_t *s, fl_errbuf_t *eb)
{
    size_t n = s->o->n_nodes;
    int faulty =
        s->o->drop_rate > 0 || s->o->straggle_rate > 0 || s->o->n_byzantine > 0;

    s->ncfg = calloc(n, sizeof *s->ncfg);
    s->state_dirs = calloc(n, sizeof *s->state_dirs);
    s->nodes = calloc(n, sizeof *s->nodes);
    s->faults = faulty ? calloc(n, sizeof *s->faults) : NULL;
    if (!s->ncfg || !s->state_dirs || !s->nodes || (faulty && !s->faults))
        return fl_fail(eb, FL_ERR_NOMEM, "node configs: out of memory");
    for (size_t i = 0; i < n; i++) {
        node_config_t *c = &s->ncfg[i];

        (void) snprintf(s->state_dirs[i], PATH_MAX, "%s/%s", s->tmp,
                        sim_pki_node_id(s->pki, i));
        c->name = sim_pki_node_id(s->pki, i);
        c->coordinator = s->endpoint;
        c->coordinator_name = SIM_PKI_SERVER_NAME;
        c->coordinator_id = SIM_PKI_COORD_ID;
        c->data = NULL;
        c->state_dir = s->state_dirs[i];
        c->log_level = "warn";
        c->max_message_bytes = MSG_BYTES;
        sim_pki_node_files(s->pki, i, &c->tls);
        c->policy.epsilon_max = node_budget(s);
        c->policy.delta = s->job.delta;
        c->policy.accountant = s->job.accountant;
        memcpy(c->policy.approved[0], s->job.hash, 32);
        c->policy.n_approved = 1;
        c->audit_key = NULL;
        (void) snprintf(s->res->nodes[i].id, sizeof s->res->nodes[i].id, "%s",
                        c->name);
        if (s->faults != NULL) {
            s->faults[i].drop_rate = s->o->drop_rate;
            s->faults[i].straggle_rate = s->o->straggle_rate;
        }
    }
    pick_byzantine(s);
    return FL_OK;
}

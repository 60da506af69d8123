/*
 * dpfl-coordinator: runs one federated job over the TLS channel.
 *
 *   dpfl-coordinator --config coordinator.ini --job job.ini [--json]
 *
 * Exit codes: 0 the job finished; 1 a runtime error stopped it (state up
 * to the last completed round is checkpointed); 2 bad arguments, config
 * or job (nothing was changed); 3 stopped by SIGINT or SIGTERM before the
 * job finished (restart to resume). SIGHUP re-reads the TLS files (a new
 * CRL, a renewed certificate) for new handshakes.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/durable.h"
#include "common/log.h"
#include "coordinator/coordinator.h"

static volatile sig_atomic_t stop_requested;
static volatile sig_atomic_t reload_requested;

static void
on_signal(int sig)
{
    if (sig == SIGHUP)
        reload_requested = 1;
    else
        stop_requested = 1;
}

static void
usage(FILE *f)
{
    (void) fprintf(f,
                   "usage: dpfl-coordinator --config FILE --job FILE "
                   "[--json]\n"
                   "       dpfl-coordinator --help | --version\n"
                   "Runs one federated job: offers it to the hospitals of "
                   "the allow-list,\nruns the rounds under their privacy "
                   "budgets, checkpoints after each round.\n"
                   "  --config FILE  coordinator.ini (docs/configuration.md)\n"
                   "  --job FILE     the job file; its SHA-256 is the job "
                   "hash\n"
                   "  --json         progress and summary as JSON lines\n"
                   "Exit: 0 done, 1 runtime error, 2 bad input, 3 stopped "
                   "by a signal.\n");
}

typedef struct args {
    const char *config;
    const char *job;
    int json;
} args_t;

/* Returns -1 to go on, or an exit code. */
static int
parse_args(int argc, char **argv, args_t *a)
{
    memset(a, 0, sizeof *a);
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(argv[i], "--version") == 0) {
            (void) printf("dpfl-coordinator %s\n", DPFL_VERSION);
            return 0;
        } else if (strcmp(argv[i], "--json") == 0) {
            a->json = 1;
        } else if (strcmp(argv[i], "--config") == 0 && i + 1 < argc) {
            a->config = argv[++i];
        } else if (strcmp(argv[i], "--job") == 0 && i + 1 < argc) {
            a->job = argv[++i];
        } else {
            (void) fprintf(stderr,
                           "dpfl-coordinator: unknown or incomplete "
                           "argument '%s'\n",
                           argv[i]);
            usage(stderr);
            return 2;
        }
    }
    if (a->config == NULL || a->job == NULL) {
        (void) fprintf(stderr,
                       "dpfl-coordinator: --config and --job are required\n");
        return 2;
    }
    return -1;
}

static int
run(coord_t *c)
{
    fl_errbuf_t eb = {{0}};

    while (!stop_requested && coord_phase(c) != COORD_PHASE_DONE) {
        fl_err_t err;

        if (reload_requested) {
            reload_requested = 0;
            err = coord_reload(c, &eb);
            if (err != FL_OK)
                fl_log_error("reload refused, the old TLS files stay in "
                             "force: %s",
                             fl_errbuf_str(&eb, err));
            else
                fl_log_info("reloaded the CA, CRL, certificate and key");
        }
        err = coord_step(c, 100, &eb);

        if (err != FL_OK) {
            fl_log_error("%s", fl_errbuf_str(&eb, err));
            return 1;
        }
    }
    if (coord_phase(c) == COORD_PHASE_DONE)
        return 0;
    fl_log_info("stopping on a signal after %u rounds; restart to resume",
                coord_rounds_done(c));
    return 3;
}

int
main(int argc, char **argv)
{
    fl_config_t *ini = NULL;
    coord_config_t cfg;
    coord_opts_t o;
    coord_t *c = NULL;
    fl_errbuf_t eb = {{0}};
    fl_log_level_t level;
    char *job = NULL;
    size_t job_len = 0;
    args_t a;
    int rc = parse_args(argc, argv, &a);
    fl_err_t err;

    if (rc >= 0)
        return rc;
    fl_log_set_json(a.json);
    if ((err = coord_config_load(a.config, &cfg, &ini, &eb)) != FL_OK ||
        (err = fl_file_read_all(a.job, 256 * 1024, &job, &job_len, &eb)) !=
            FL_OK) {
        fl_log_error("%s", fl_errbuf_str(&eb, err));
        rc = 2;
        goto out;
    }
    if (fl_log_level_parse(cfg.log_level, &level) != FL_OK) {
        fl_log_error("%s: coordinator.log_level: '%s' is not one of: debug, "
                     "info, warn, error",
                     a.config, cfg.log_level);
        rc = 2;
        goto out;
    }
    fl_log_set_level(level);
    (void) signal(SIGINT, on_signal);
    (void) signal(SIGTERM, on_signal);
    (void) signal(SIGHUP, on_signal);
    (void) signal(SIGPIPE, SIG_IGN);
    memset(&o, 0, sizeof o);
    o.cfg = &cfg;
    o.config_path = a.config;
    o.job_path = a.job;
    o.job_bytes = job;
    o.job_len = job_len;
    o.json = a.json;
    err = coord_new(&o, &c, &eb);
    if (err != FL_OK) {
        fl_log_error("%s", fl_errbuf_str(&eb, err));
        rc = err == FL_ERR_IO || err == FL_ERR_NOMEM ? 1 : 2;
        goto out;
    }
    rc = run(c);
out:
    coord_destroy(&c);
    coord_config_cleanup(&cfg);
    fl_config_destroy(&ini);
    free(job);
    return rc;
}

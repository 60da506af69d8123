/*
 * dpfl-node: a hospital's node.
 *
 *   dpfl-node --config node.ini [--json]
 *
 * Exit codes: 0 the coordinator ended the job; 1 a runtime error; 2 bad
 * arguments or config, or a ledger that does not parse (nothing was
 * changed); 3 stopped by SIGINT or SIGTERM.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "common/log.h"
#include "node/blas.h"
#include "node/daemon.h"

static volatile sig_atomic_t stop_requested;

static void
on_signal(int sig)
{
    (void) sig;
    stop_requested = 1;
}

static void
usage(FILE *f)
{
    (void) fprintf(f, "usage: dpfl-node --config FILE [--json]\n"
                      "       dpfl-node --help | --version\n"
                      "Joins the coordinator's job when local policy and the "
                      "privacy budget allow,\ntrains with DP-SGD on the local "
                      "records and sends only clipped, noised updates.\n"
                      "  --config FILE  node.ini (docs/configuration.md)\n"
                      "  --json         log lines as JSON\n"
                      "Exit: 0 job done, 1 runtime error, 2 bad input, 3 "
                      "stopped by a signal.\n");
}

/* Returns -1 to go on, or an exit code. */
static int
parse_args(int argc, char **argv, const char **config, int *json)
{
    *config = NULL;
    *json = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(argv[i], "--version") == 0) {
            (void) printf("dpfl-node %s\n", DPFL_VERSION);
            return 0;
        } else if (strcmp(argv[i], "--json") == 0) {
            *json = 1;
        } else if (strcmp(argv[i], "--config") == 0 && i + 1 < argc) {
            *config = argv[++i];
        } else {
            (void) fprintf(stderr,
                           "dpfl-node: unknown or incomplete argument '%s'\n",
                           argv[i]);
            usage(stderr);
            return 2;
        }
    }
    if (*config == NULL) {
        (void) fprintf(stderr, "dpfl-node: --config is required\n");
        return 2;
    }
    return -1;
}

int
main(int argc, char **argv)
{
    fl_config_t *ini = NULL;
    node_config_t cfg;
    node_daemon_opts_t o;
    node_daemon_t *d = NULL;
    fl_errbuf_t eb = {{0}};
    fl_log_level_t level;
    const char *config;
    char hint[256];
    int json, rc = parse_args(argc, argv, &config, &json);
    fl_err_t err;

    if (rc >= 0)
        return rc;
    fl_log_set_json(json);
    err = node_config_load(config, &cfg, &ini, &eb);
    if (err != FL_OK) {
        fl_log_error("%s", fl_errbuf_str(&eb, err));
        return 2;
    }
    if (fl_log_level_parse(cfg.log_level, &level) != FL_OK) {
        fl_log_error("%s: node.log_level: '%s' is not one of: debug, info, "
                     "warn, error",
                     config, cfg.log_level);
        fl_config_destroy(&ini);
        return 2;
    }
    fl_log_set_level(level);
    if (node_blas_check(hint, sizeof hint)) {
        fl_log_warn("%s", hint);
    }
    (void) signal(SIGINT, on_signal);
    (void) signal(SIGTERM, on_signal);
    (void) signal(SIGPIPE, SIG_IGN);
    memset(&o, 0, sizeof o);
    o.cfg = &cfg;
    err = node_daemon_new(&o, &d, &eb);
    if (err != FL_OK) {
        fl_log_error("%s", fl_errbuf_str(&eb, err));
        fl_config_destroy(&ini);
        return err == FL_ERR_IO || err == FL_ERR_NOMEM ? 1 : 2;
    }
    rc = 3;
    while (!stop_requested) {
        err = node_daemon_step(d, 100, &eb);
        if (err != FL_OK) {
            fl_log_error("%s", fl_errbuf_str(&eb, err));
            rc = 1;
            break;
        }
        if (node_daemon_finished(d)) {
            rc = 0;
            break;
        }
    }
    fl_log_info("%s: stopping after %llu trained rounds", cfg.name,
                (unsigned long long) node_daemon_rounds_trained(d));
    node_daemon_destroy(&d);
    fl_config_destroy(&ini);
    return rc;
}

/*
 * sim/run_internal.h: state shared by sim/run.c (the loop, the records)
 * and sim/run_setup.c (data, job, PKI, configs). Not for use outside sim/.
 */
#ifndef SIM_RUN_INTERNAL_H
#define SIM_RUN_INTERNAL_H

#include <limits.h>

#include "coordinator/coordinator.h"
#include "node/config.h"
#include "node/daemon.h"
#include "node/data.h"
#include "proto/job.h"
#include "sim/pki.h"
#include "sim/run.h"

typedef struct sim_ctx {
    const sim_opts_t *o;
    sim_result_t *res;
    char tmp[1024]; /* the temporary folder */
    char endpoint[PATH_MAX];
    pb_job_t job; /* the job as run (after overrides) */
    int have_job;
    char *job_bytes;
    size_t job_len;
    node_dataset_t *all;
    node_dataset_t **parts; /* n_nodes */
    sim_pki_t *pki;
    coord_config_t ccfg;
    coord_t *coord;
    void *zctx; /* the one ZeroMQ context of the run */
    FILE *devnull;
    node_config_t *ncfg; /* n_nodes */
    char (*state_dirs)[PATH_MAX];
    node_faults_t *faults; /* n_nodes, or NULL */
    node_daemon_t **nodes; /* n_nodes */
    size_t n_started;
    double last_cpu;
    double prev_eps_sum;
} sim_ctx_t;

/* run_setup.c */
fl_err_t sim__load_and_partition(sim_ctx_t *s, fl_errbuf_t *eb);
fl_err_t sim__make_tmp(sim_ctx_t *s, fl_errbuf_t *eb);
void sim__remove_tmp(sim_ctx_t *s);
fl_err_t sim__coord_config(sim_ctx_t *s, fl_errbuf_t *eb);
fl_err_t sim__node_configs(sim_ctx_t *s, fl_errbuf_t *eb);
double sim__cpu_seconds(void);
long sim__peak_rss_kb(void);

#endif

/*
 * coordinator/checkpoint.h: the coordinator's state after a completed round.
 *
 * One file holds the job hash, the number of completed rounds, the global
 * model, the server optimiser's state and the budget mirror, written with
 * fl_file_replace_atomic() so a crash at any moment leaves either the
 * previous round's file or this one, never a mix. A SHA-256 trailer over
 * the whole file catches corruption; every field is validated on load.
 *
 * Layout (little-endian): "DPFLCKP1", u32 version (2), 32-byte job hash,
 * u32 completed rounds, u64 dimension, f32[dim] model, u32 optimiser kind,
 * u64 optimiser steps, f32[dim] per state vector, u32 site count, then per
 * site: u8 id length, id, u64 records, f64 epsilon_max, f64 delta,
 * u8 accountant, f64 epsilon, u32 rounds charged, u8 exhausted, u32
 * history length,
 * history (f64 q, f64 sigma, u64 steps); then SHA-256 of all of it.
 */
#ifndef COORD_CHECKPOINT_H
#define COORD_CHECKPOINT_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "coordinator/budget.h"
#include "coordinator/server_opt.h"

#define COORD_CKPT_MAX_BYTES ((size_t) 2 * 1024 * 1024 * 1024)

/* What a checkpoint holds; the pointers are borrowed for a save. */
typedef struct coord_ckpt {
    uint8_t job_hash[32];
    uint32_t rounds_done;
    size_t dim;
    float *model;
    coord_server_opt_t *opt;
    coord_budget_t *budget;
} coord_ckpt_t;

/* Writes the checkpoint atomically to path. */
fl_err_t coord_ckpt_save(const char *path, const coord_ckpt_t *ck,
                         fl_errbuf_t *eb) FL_WUR;

/*
 * Loads path into ck, whose job_hash, dim, model (dim floats), opt (of the
 * job's kind and dim) and budget (empty, initialised) the caller set up for
 * the current job. Refuses a checkpoint of another job, dimension or
 * optimiser (FL_ERR_STATE) and any corruption (FL_ERR_PARSE). On error the
 * model, optimiser and budget may have been partly written: the caller
 * must not use them.
 */
fl_err_t coord_ckpt_load(const char *path, coord_ckpt_t *ck,
                         fl_errbuf_t *eb) FL_WUR;

#endif

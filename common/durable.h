/*
 * common/durable.h: files that survive a crash.
 *
 * fl_file_replace_atomic() gives readers either the old or the new content,
 * never a mix, even across power loss: write a temporary file beside the
 * target, fsync it, rename it over the target, fsync the directory.
 *
 * fl_appender_t appends records and fsyncs each before returning, so a record
 * the caller was told is written is on disk (write-ahead logs, audit logs).
 *
 * Ownership: buffers returned by fl_file_read_all() belong to the caller
 * (free()). An fl_appender_t is freed with fl_appender_close().
 */
#ifndef FL_DURABLE_H
#define FL_DURABLE_H

#include <stddef.h>

#include "common/err.h"

/*
 * Reads the whole file into a new NUL-terminated buffer. Files larger than
 * max_bytes give FL_ERR_LIMIT. *out is NULL on error, and whatever was read
 * before the error is wiped (the file may hold a key).
 */
fl_err_t fl_file_read_all(const char *path, size_t max_bytes, char **out,
                          size_t *len, fl_errbuf_t *eb) FL_WUR;

/*
 * As fl_file_read_all(), through an open descriptor (read with pread from
 * offset 0; the descriptor's offset does not move), naming the file `name`
 * in errors. For files that must stay open, e.g. under a record lock.
 */
fl_err_t fl_fd_read_all(int fd, const char *name, size_t max_bytes, char **out,
                        size_t *len, fl_errbuf_t *eb) FL_WUR;

/* Atomically replaces path with data (mode 0600 for new files). */
fl_err_t fl_file_replace_atomic(const char *path, const void *data, size_t len,
                                fl_errbuf_t *eb) FL_WUR;

/* fsyncs the directory that holds path (after a create or rename). */
fl_err_t fl_dir_fsync_parent(const char *path, fl_errbuf_t *eb) FL_WUR;

typedef struct fl_appender fl_appender_t;

/*
 * Opens path for appending, creating it (mode 0600) when absent; a created
 * file's directory is fsynced so the file itself survives a crash.
 */
fl_err_t fl_appender_open(const char *path, fl_appender_t **out,
                          fl_errbuf_t *eb) FL_WUR;

/* Appends len bytes and fsyncs before returning. */
fl_err_t fl_appender_write(fl_appender_t *a, const void *data, size_t len,
                           fl_errbuf_t *eb) FL_WUR;

/* Closes and frees *a_p, setting it to NULL. */
void fl_appender_close(fl_appender_t **a_p);

/* Opens, appends with fsync, and closes: for occasional records. */
fl_err_t fl_file_append_sync(const char *path, const void *data, size_t len,
                             fl_errbuf_t *eb) FL_WUR;

/*
 * Opens path read-write (creating it, mode 0600, when absent; *created says
 * which) and takes an exclusive POSIX record lock on it, so that a second
 * process gets FL_ERR_STATE ("locked by another process") instead of
 * writing the same record file. *fd is the locked descriptor; the caller
 * closes it to unlock. POSIX record locks drop when the process closes ANY
 * descriptor of the file: read the file through *fd while it is locked.
 * On error *fd is -1 (any descriptor opened is closed).
 */
fl_err_t fl_file_lock_exclusive(const char *path, int *fd, int *created,
                                fl_errbuf_t *eb) FL_WUR;

#endif

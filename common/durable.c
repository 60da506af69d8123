/* common/durable.c: atomic replace and fsynced append. */
#define _DEFAULT_SOURCE /* explicit_bzero */
#include "common/durable.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct fl_appender {
    int fd;
    char *path;
};

static fl_err_t
write_all(int fd, const void *data, size_t len)
{
    const char *p = data;

    while (len > 0) {
        ssize_t w = write(fd, p, len);

        if (w < 0) {
            if (errno == EINTR)
                continue;
            return FL_ERR_IO;
        }
        p += w;
        len -= (size_t) w;
    }
    return FL_OK;
}

fl_err_t
fl_fd_read_all(int fd, const char *name, size_t max_bytes, char **out,
               size_t *len, fl_errbuf_t *eb)
{
    struct stat st;
    char *buf = NULL;
    size_t n = 0;
    fl_err_t err = FL_OK;

    *out = NULL;
    *len = 0;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
        return fl_fail(eb, FL_ERR_IO, "%s: not a regular file", name);
    if ((uintmax_t) st.st_size > max_bytes)
        return fl_fail(eb, FL_ERR_LIMIT, "%s: larger than %zu bytes", name,
                       max_bytes);
    buf = malloc((size_t) st.st_size + 1);
    if (buf == NULL)
        return fl_fail(eb, FL_ERR_NOMEM, "%s: out of memory", name);
    /* Read until EOF, but never past the size seen: the file may grow. */
    for (;;) {
        size_t room = (size_t) st.st_size - n;
        char extra;
        ssize_t r = room == 0 ? pread(fd, &extra, 1, (off_t) n)
                              : pread(fd, buf + n, room, (off_t) n);

        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            err = fl_fail(eb, FL_ERR_IO, "%s: %s", name, strerror(errno));
            break;
        }
        if (r > 0 && room == 0) {
            err = fl_fail(eb, FL_ERR_IO, "%s: changed while read", name);
            break;
        }
        if (r == 0)
            break;
        n += (size_t) r;
    }
    if (err != FL_OK) { /* partial content may be a secret: wipe it */
        explicit_bzero(buf, n);
        free(buf);
        return err;
    }
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return FL_OK;
}

fl_err_t
fl_file_read_all(const char *path, size_t max_bytes, char **out, size_t *len,
                 fl_errbuf_t *eb)
{
    fl_err_t err;
    int fd;

    *out = NULL;
    *len = 0;
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return fl_fail(eb, errno == ENOENT ? FL_ERR_NOT_FOUND : FL_ERR_IO,
                       "%s: %s", path, strerror(errno));
    err = fl_fd_read_all(fd, path, max_bytes, out, len, eb);
    (void) close(fd);
    return err;
}

fl_err_t
fl_dir_fsync_parent(const char *path, fl_errbuf_t *eb)
{
    char dir[PATH_MAX];
    const char *slash = strrchr(path, '/');
    size_t n;
    fl_err_t err = FL_OK;
    int fd;

    if (slash == NULL) {
        (void) snprintf(dir, sizeof dir, ".");
    } else {
        n = (size_t) (slash - path);
        if (n >= sizeof dir)
            return fl_fail(eb, FL_ERR_LIMIT, "%s: path too long", path);
        memcpy(dir, path, n);
        dir[n == 0 ? 1 : n] = '\0';
        if (n == 0)
            dir[0] = '/';
    }
    fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return fl_fail(eb, FL_ERR_IO, "%s: %s", dir, strerror(errno));
    if (fsync(fd) != 0)
        err = fl_fail(eb, FL_ERR_IO, "%s: fsync: %s", dir, strerror(errno));
    (void) close(fd);
    return err;
}

fl_err_t
fl_file_replace_atomic(const char *path, const void *data, size_t len,
                       fl_errbuf_t *eb)
{
    char tmp[PATH_MAX];
    fl_err_t err = FL_OK;
    int fd;

    if (snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long) getpid()) >=
        (int) sizeof tmp)
        return fl_fail(eb, FL_ERR_LIMIT, "%s: path too long", path);
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return fl_fail(eb, FL_ERR_IO, "%s: %s", tmp, strerror(errno));
    if (write_all(fd, data, len) != FL_OK) {
        err = fl_fail(eb, FL_ERR_IO, "%s: write: %s", tmp, strerror(errno));
        goto fail;
    }
    if (fsync(fd) != 0) {
        err = fl_fail(eb, FL_ERR_IO, "%s: fsync: %s", tmp, strerror(errno));
        goto fail;
    }
    if (close(fd) != 0) {
        fd = -1;
        err = fl_fail(eb, FL_ERR_IO, "%s: close: %s", tmp, strerror(errno));
        goto fail;
    }
    fd = -1;
    if (rename(tmp, path) != 0) {
        err = fl_fail(eb, FL_ERR_IO, "%s: rename: %s", path, strerror(errno));
        goto fail;
    }
    return fl_dir_fsync_parent(path, eb);
fail:
    if (fd >= 0)
        (void) close(fd);
    (void) unlink(tmp);
    return err;
}

fl_err_t
fl_appender_open(const char *path, fl_appender_t **out, fl_errbuf_t *eb)
{
    fl_appender_t *a;
    struct stat st;
    int created;
    fl_err_t err;

    *out = NULL;
    created = stat(path, &st) != 0;
    a = calloc(1, sizeof *a);
    if (a == NULL || (a->path = strdup(path)) == NULL) {
        free(a);
        return fl_fail(eb, FL_ERR_NOMEM, "%s: out of memory", path);
    }
    a->fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (a->fd < 0) {
        err = fl_fail(eb, FL_ERR_IO, "%s: %s", path, strerror(errno));
        free(a->path);
        free(a);
        return err;
    }
    if (created) {
        err = fl_dir_fsync_parent(path, eb);
        if (err != FL_OK) {
            fl_appender_close(&a);
            return err;
        }
    }
    *out = a;
    return FL_OK;
}

fl_err_t
fl_appender_write(fl_appender_t *a, const void *data, size_t len,
                  fl_errbuf_t *eb)
{
    if (write_all(a->fd, data, len) != FL_OK)
        return fl_fail(eb, FL_ERR_IO, "%s: write: %s", a->path,
                       strerror(errno));
    if (fdatasync(a->fd) != 0)
        return fl_fail(eb, FL_ERR_IO, "%s: fsync: %s", a->path,
                       strerror(errno));
    return FL_OK;
}

void
fl_appender_close(fl_appender_t **a_p)
{
    fl_appender_t *a = *a_p;

    if (a == NULL)
        return;
    (void) close(a->fd);
    free(a->path);
    free(a);
    *a_p = NULL;
}

fl_err_t
fl_file_append_sync(const char *path, const void *data, size_t len,
                    fl_errbuf_t *eb)
{
    fl_appender_t *a;
    fl_err_t err = fl_appender_open(path, &a, eb);

    if (err != FL_OK)
        return err;
    err = fl_appender_write(a, data, len, eb);
    fl_appender_close(&a);
    return err;
}

fl_err_t
fl_file_lock_exclusive(const char *path, int *fd, int *created, fl_errbuf_t *eb)
{
    struct flock fl;
    struct stat st;
    fl_err_t err;

    *created = stat(path, &st) != 0 && errno == ENOENT;
    *fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (*fd < 0)
        return fl_fail(eb, FL_ERR_IO, "%s: %s", path, strerror(errno));
    memset(&fl, 0, sizeof fl);
    fl.l_type = F_WRLCK;
    fl.l_whence = SEEK_SET;
    if (fcntl(*fd, F_SETLK, &fl) == 0)
        return FL_OK;
    err = errno == EACCES || errno == EAGAIN
              ? fl_fail(eb, FL_ERR_STATE, "%s: locked by another process", path)
              : fl_fail(eb, FL_ERR_IO, "%s: lock: %s", path, strerror(errno));
    (void) close(*fd);
    *fd = -1;
    return err;
}

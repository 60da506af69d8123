/* Tests for common/durable.c: atomic replace, fsynced append, bounded read. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/durable.h"

typedef struct fixture {
    char dir[64];
    char path[128];
} fixture_t;

static int
setup(void **state)
{
    fixture_t *f = calloc(1, sizeof *f);

    if (f == NULL)
        return -1;
    (void) snprintf(f->dir, sizeof f->dir, "/tmp/dpfl-test-durable-XXXXXX");
    if (mkdtemp(f->dir) == NULL)
        return -1;
    (void) snprintf(f->path, sizeof f->path, "%s/state.bin", f->dir);
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    fixture_t *f = *state;
    DIR *d = opendir(f->dir);
    struct dirent *de;
    char p[512];

    while (d != NULL && (de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        (void) snprintf(p, sizeof p, "%s/%s", f->dir, de->d_name);
        (void) unlink(p);
    }
    if (d != NULL)
        (void) closedir(d);
    (void) rmdir(f->dir);
    free(f);
    return 0;
}

static size_t
count_files(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    size_t n = 0;

    while ((de = readdir(d)) != NULL)
        if (de->d_name[0] != '.')
            n++;
    (void) closedir(d);
    return n;
}

static void
test_replace_atomic_replaces_and_leaves_no_temp(void **state)
{
    fixture_t *f = *state;
    fl_errbuf_t eb = {{0}};
    struct stat st;
    char *buf;
    size_t len;

    assert_int_equal(fl_file_replace_atomic(f->path, "old", 3, &eb), FL_OK);
    assert_int_equal(fl_file_replace_atomic(f->path, "newer", 5, &eb), FL_OK);
    assert_int_equal(fl_file_read_all(f->path, 100, &buf, &len, &eb), FL_OK);
    assert_int_equal(len, 5);
    assert_string_equal(buf, "newer");
    free(buf);
    assert_int_equal(count_files(f->dir), 1);
    assert_int_equal(stat(f->path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
}

static void
test_replace_into_missing_dir_fails_cleanly(void **state)
{
    fixture_t *f = *state;
    fl_errbuf_t eb = {{0}};
    char p[256];

    (void) snprintf(p, sizeof p, "%s/no/such/file", f->dir);
    assert_int_equal(fl_file_replace_atomic(p, "x", 1, &eb), FL_ERR_IO);
    assert_non_null(strstr(eb.msg, "no/such/file.tmp."));
}

static void
test_appender_appends_in_order(void **state)
{
    fixture_t *f = *state;
    fl_errbuf_t eb = {{0}};
    fl_appender_t *a;
    char *buf;
    size_t len;

    assert_int_equal(fl_appender_open(f->path, &a, &eb), FL_OK);
    assert_int_equal(fl_appender_write(a, "one\n", 4, &eb), FL_OK);
    assert_int_equal(fl_appender_write(a, "two\n", 4, &eb), FL_OK);
    fl_appender_close(&a);
    assert_null(a);
    assert_int_equal(fl_file_append_sync(f->path, "three\n", 6, &eb), FL_OK);
    assert_int_equal(fl_file_read_all(f->path, 100, &buf, &len, &eb), FL_OK);
    assert_string_equal(buf, "one\ntwo\nthree\n");
    free(buf);
}

static void
test_read_all_limits_and_errors(void **state)
{
    fixture_t *f = *state;
    fl_errbuf_t eb = {{0}};
    char *buf = (char *) 1;
    size_t len = 1;

    assert_int_equal(fl_file_replace_atomic(f->path, "0123456789", 10, &eb),
                     FL_OK);
    assert_int_equal(fl_file_read_all(f->path, 9, &buf, &len, &eb),
                     FL_ERR_LIMIT);
    assert_null(buf);
    assert_int_equal(len, 0);
    assert_non_null(strstr(eb.msg, "larger than 9 bytes"));
    assert_int_equal(fl_file_read_all(f->dir, 100, &buf, &len, &eb), FL_ERR_IO);
    assert_non_null(strstr(eb.msg, "not a regular file"));
    assert_int_equal(fl_file_read_all("/nonexistent/x", 100, &buf, &len, &eb),
                     FL_ERR_NOT_FOUND);
    assert_int_equal(fl_file_read_all(f->path, 10, &buf, &len, &eb), FL_OK);
    assert_int_equal(len, 10);
    free(buf);
}

static void
test_appender_open_error(void **state)
{
    fl_errbuf_t eb = {{0}};
    fl_appender_t *a = (fl_appender_t *) 1;

    (void) state;
    assert_int_equal(fl_appender_open("/nonexistent/dir/log", &a, &eb),
                     FL_ERR_IO);
    assert_null(a);
    assert_non_null(strstr(eb.msg, "/nonexistent/dir/log"));
}

static void
test_exclusive_lock_refuses_another_process(void **state)
{
    fixture_t *f = *state;
    fl_errbuf_t eb = {{0}};
    int fd = -1, created = 0, status = 0;
    pid_t pid;

    assert_int_equal(fl_file_lock_exclusive(f->path, &fd, &created, &eb),
                     FL_OK);
    assert_true(fd >= 0);
    assert_true(created);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        /* POSIX record locks are per process: the child must be refused. */
        int cfd = 7, ccreated = 7;
        fl_errbuf_t ceb = {{0}};
        fl_err_t err = fl_file_lock_exclusive(f->path, &cfd, &ccreated, &ceb);

        _exit(err == FL_ERR_STATE && cfd == -1 && ccreated == 0 &&
                      strstr(ceb.msg, "locked by another process") != NULL
                  ? 0
                  : 1);
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    (void) close(fd);
    assert_int_equal(
        fl_file_lock_exclusive("/nonexistent/dir/x", &fd, &created, &eb),
        FL_ERR_IO);
    assert_int_equal(fd, -1);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(
            test_replace_atomic_replaces_and_leaves_no_temp, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_replace_into_missing_dir_fails_cleanly, setup, teardown),
        cmocka_unit_test_setup_teardown(test_appender_appends_in_order, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_read_all_limits_and_errors, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_appender_open_error, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(
            test_exclusive_lock_refuses_another_process, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

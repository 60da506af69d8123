/* common/clock.c: thin wrappers over clock_gettime. */
#include "common/clock.h"

#include <stdio.h>
#include <time.h>

static int64_t
clock_ns(clockid_t id)
{
    struct timespec ts;

    (void) clock_gettime(id, &ts);
    return (int64_t) ts.tv_sec * 1000000000 + (int64_t) ts.tv_nsec;
}

int64_t
fl_clock_mono_ms(void)
{
    return clock_ns(CLOCK_MONOTONIC) / 1000000;
}

int64_t
fl_clock_mono_ns(void)
{
    return clock_ns(CLOCK_MONOTONIC);
}

int64_t
fl_clock_wall_ms(void)
{
    return clock_ns(CLOCK_REALTIME) / 1000000;
}

void
fl_clock_iso8601(char *out, size_t outlen, int64_t wall_ms)
{
    time_t secs = (time_t) (wall_ms / 1000);
    struct tm tm;

    if (gmtime_r(&secs, &tm) == NULL) {
        (void) snprintf(out, outlen, "1970-01-01T00:00:00.000Z");
        return;
    }
    (void) snprintf(out, outlen, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
                    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                    tm.tm_min, tm.tm_sec, (int) (wall_ms % 1000));
}

/* common/clock.h: monotonic and wall-clock time in milliseconds. */
#ifndef FL_CLOCK_H
#define FL_CLOCK_H

#include <stddef.h>
#include <stdint.h>

/* Milliseconds of CLOCK_MONOTONIC: for deadlines and durations. */
int64_t fl_clock_mono_ms(void);

/* Nanoseconds of CLOCK_MONOTONIC: for benchmarks. */
int64_t fl_clock_mono_ns(void);

/* Milliseconds since the Unix epoch (CLOCK_REALTIME): for records. */
int64_t fl_clock_wall_ms(void);

/* Formats wall_ms as "2026-11-26T16:51:39.123Z" into out (>= 25 bytes). */
void fl_clock_iso8601(char *out, size_t outlen, int64_t wall_ms);

#endif

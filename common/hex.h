/*
 * common/hex.h: lower-case hexadecimal, the form dpfl writes every hash,
 * fingerprint and signature in (records, logs, configs).
 */
#ifndef FL_HEX_H
#define FL_HEX_H

#include <stddef.h>

/* Writes 2n lower-case hex digits of in[0..n) and a NUL into out. */
void fl_hex_encode(const void *in, size_t n, char *out);

/* The value of one hex digit, or -1. Upper case only when allow_upper. */
int fl_hex_digit(char c, int allow_upper);

/* Whether s[0..n) are n lower-case hex digits (s need not end there). */
int fl_hex_is_lower(const char *s, size_t n);

/*
 * Decodes exactly 2n hex digits (the whole string) into out[0..n).
 * Returns 1, or 0 when hex has another length or a non-hex character
 * (upper case counts as non-hex unless allow_upper: canonical records are
 * lower case).
 */
int fl_hex_decode(const char *hex, void *out, size_t n, int allow_upper);

#endif

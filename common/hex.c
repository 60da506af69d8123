/* common/hex.c: lower-case hexadecimal. */
#include "common/hex.h"

#include <string.h>

void
fl_hex_encode(const void *in, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    const unsigned char *p = in;

    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[p[i] >> 4];
        out[2 * i + 1] = digits[p[i] & 15];
    }
    out[2 * n] = '\0';
}

int
fl_hex_digit(char c, int allow_upper)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (allow_upper && c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int
fl_hex_is_lower(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (fl_hex_digit(s[i], 0) < 0)
            return 0;
    return 1;
}

int
fl_hex_decode(const char *hex, void *out, size_t n, int allow_upper)
{
    unsigned char *p = out;

    if (strlen(hex) != 2 * n)
        return 0;
    for (size_t i = 0; i < n; i++) {
        int hi = fl_hex_digit(hex[2 * i], allow_upper);
        int lo = fl_hex_digit(hex[2 * i + 1], allow_upper);

        if (hi < 0 || lo < 0)
            return 0;
        p[i] = (unsigned char) (hi * 16 + lo);
    }
    return 1;
}

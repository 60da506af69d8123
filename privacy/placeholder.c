/* privacy/placeholder.c: keeps the library non-empty until the module lands. */
int dpfl_privacy_placeholder(void);

int
dpfl_privacy_placeholder(void)
{
    return 0;
}

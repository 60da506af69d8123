/* coordinator/placeholder.c: keeps the library non-empty until the module
 * lands. */
int dpfl_coordinator_placeholder(void);

int
dpfl_coordinator_placeholder(void)
{
    return 0;
}

/* sim/placeholder.c: keeps the library non-empty until the module lands. */
int dpfl_sim_placeholder(void);

int
dpfl_sim_placeholder(void)
{
    return 0;
}

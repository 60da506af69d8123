/* node/placeholder.c: keeps the library non-empty until the module lands. */
int dpfl_node_placeholder(void);

int
dpfl_node_placeholder(void)
{
    return 0;
}

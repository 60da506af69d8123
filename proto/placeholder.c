/* proto/placeholder.c: keeps the library non-empty until the module lands. */
int dpfl_proto_placeholder(void);

int
dpfl_proto_placeholder(void)
{
    return 0;
}

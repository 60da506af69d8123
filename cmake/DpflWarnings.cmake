# One interface target carries the warning set for every dpfl target.
add_library(dpfl_warnings INTERFACE)
target_compile_options(dpfl_warnings INTERFACE
    -Wall -Wextra -Werror -Wpedantic -Wshadow -Wconversion
    -Wstrict-prototypes -Wmissing-prototypes -Wformat=2 -Wundef)

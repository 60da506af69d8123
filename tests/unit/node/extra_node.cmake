# tests/unit/node: per-test properties.
# The WDBC utility test trains 10 models (5 seeds, with and without DP).
set_tests_properties(node_test_utility PROPERTIES TIMEOUT 90)

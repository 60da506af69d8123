# privacy/pld: the reference-table test runs ~200 PLD compositions, some on
# grids of 4M points (about 25 s in RelWithDebInfo, several times that under
# sanitizers).
set_tests_properties(privacy_test_pld PROPERTIES TIMEOUT 900)

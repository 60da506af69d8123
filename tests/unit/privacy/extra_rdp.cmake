# Per-test properties of the RDP accountant, accountant facade and
# calibration tests, and the dpfl-privacy CLI test (included from
# tests/CMakeLists.txt).
if(TEST privacy_test_reference)
    # Every reference row through RDP (two grids) and PLD.
    set_tests_properties(privacy_test_reference PROPERTIES TIMEOUT 900)
endif()
if(TEST privacy_test_calibrate)
    set_tests_properties(privacy_test_calibrate PROPERTIES TIMEOUT 300)
endif()

# The command-line program: outputs, JSON, exit codes, bad arguments.
add_test(NAME integration_dpfl_privacy
         COMMAND sh ${CMAKE_SOURCE_DIR}/tests/integration/test_dpfl_privacy.sh
                 $<TARGET_FILE:dpfl-privacy>)
set_tests_properties(integration_dpfl_privacy PROPERTIES
    LABELS "integration" TIMEOUT 300
    ENVIRONMENT "DPFL_SOURCE_DIR=${CMAKE_SOURCE_DIR};DPFL_BUILD_DIR=${CMAKE_BINARY_DIR}")

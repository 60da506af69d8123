# Privacy records (budget ledger, audit log): per-test properties and the
# dpfl-audit integration test with its log-writing fixture.
set_tests_properties(privacy_test_audit_verify PROPERTIES TIMEOUT 300)

add_executable(dpfl_audit_fixture
               ${CMAKE_SOURCE_DIR}/tests/integration/audit_fixture.c)
target_link_libraries(dpfl_audit_fixture PRIVATE dpfl_privacy dpfl_warnings)
set_target_properties(dpfl_audit_fixture PROPERTIES
    RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)

add_test(NAME integration_dpfl_audit
         COMMAND sh ${CMAKE_SOURCE_DIR}/tests/integration/test_dpfl_audit.sh
                 $<TARGET_FILE:dpfl-audit> $<TARGET_FILE:dpfl_audit_fixture>)
set_tests_properties(integration_dpfl_audit PROPERTIES
    LABELS integration TIMEOUT 120)

# tests/unit/sim: per-test properties. The run tests start whole
# federations (8 to 50 nodes over TLS on loopback); the report test parses
# report.html with libxml2's XML parser (the page is XHTML).
foreach(t sim_test_run sim_test_report)
    if(TEST ${t})
        set_tests_properties(${t} PROPERTIES TIMEOUT 60 LABELS "unit;sim")
    endif()
endforeach()
if(TARGET sim_test_report)
    pkg_check_modules(LIBXML2 REQUIRED IMPORTED_TARGET libxml-2.0)
    target_link_libraries(sim_test_report PRIVATE PkgConfig::LIBXML2
                          PkgConfig::JANSSON)
endif()

# dpfl_unit_test(NAME module SOURCES ... LIBS ...)
# One cmocka binary and one ctest per source file under test, labelled
# "unit" and the module name so `ctest -L unit` runs exactly the unit tests.
function(dpfl_unit_test name)
    cmake_parse_arguments(T "" "MODULE;TIMEOUT" "SOURCES;LIBS" ${ARGN})
    add_executable(${name} ${T_SOURCES})
    target_link_libraries(${name} PRIVATE ${T_LIBS} PkgConfig::CMOCKA
                          dpfl_warnings)
    add_test(NAME ${name} COMMAND ${name})
    if(NOT T_TIMEOUT)
        set(T_TIMEOUT 120)
    endif()
    set_tests_properties(${name} PROPERTIES
        LABELS "unit;${T_MODULE}" TIMEOUT ${T_TIMEOUT}
        ENVIRONMENT "DPFL_SOURCE_DIR=${CMAKE_SOURCE_DIR};DPFL_SHARED_DIR=${CMAKE_SOURCE_DIR}/../shared;OPENBLAS_NUM_THREADS=1")
endfunction()

# dpfl_integration_test(NAME COMMAND ... [TIMEOUT s])
function(dpfl_integration_test name)
    cmake_parse_arguments(T "" "TIMEOUT" "COMMAND" ${ARGN})
    add_test(NAME ${name} COMMAND ${T_COMMAND})
    if(NOT T_TIMEOUT)
        set(T_TIMEOUT 300)
    endif()
    set_tests_properties(${name} PROPERTIES
        LABELS "integration" TIMEOUT ${T_TIMEOUT}
        ENVIRONMENT "DPFL_SOURCE_DIR=${CMAKE_SOURCE_DIR};DPFL_BUILD_DIR=${CMAKE_BINARY_DIR};OPENBLAS_NUM_THREADS=1")
endfunction()

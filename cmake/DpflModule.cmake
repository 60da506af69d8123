# dpfl_module(NAME <folder> LINKS <targets...>)
#
# One folder, one library: every <folder>/*.c except the programs becomes
# the static library dpfl_<folder>; what it links is the folder's dependency
# rule. Every <folder>/dpfl-*.c is a program of that name linked with it.
# Generated sources (protobuf-c) are added by the folder with
# target_sources() after this call.
function(dpfl_module)
    cmake_parse_arguments(M "" "NAME" "LINKS" ${ARGN})
    set(name ${M_NAME})
    file(GLOB all_sources CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/*.c)
    set(lib_sources "")
    set(programs "")
    foreach(src ${all_sources})
        get_filename_component(base ${src} NAME_WE)
        if(base MATCHES "^dpfl-")
            list(APPEND programs ${src})
        else()
            list(APPEND lib_sources ${src})
        endif()
    endforeach()
    add_library(dpfl_${name} STATIC ${lib_sources})
    target_link_libraries(dpfl_${name} PUBLIC ${M_LINKS} PRIVATE dpfl_warnings)
    foreach(src ${programs})
        get_filename_component(prog ${src} NAME_WE)
        add_executable(${prog} ${src})
        target_link_libraries(${prog} PRIVATE dpfl_${name} dpfl_warnings)
        set_target_properties(${prog} PROPERTIES
            RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/bin)
    endforeach()
endfunction()

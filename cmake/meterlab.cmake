# Shared CMake helpers for meterlab.

set(ML_ROOT ${CMAKE_CURRENT_LIST_DIR}/..)

# Flags for firmware/core and firmware/apps (STYLE.md rule 26): stricter than the bench.
set(ML_CORE_WARNINGS
    -Wall -Wextra -Werror -Wconversion -Wshadow -Wundef -Wcast-qual
    -Wstrict-prototypes -Wmissing-prototypes -Wdouble-promotion)

# The include roots every firmware module sees.
set(ML_FIRMWARE_INCLUDES
    ${ML_ROOT}/firmware/core
    ${ML_ROOT}/firmware/core/common
    ${ML_ROOT}/firmware/config
    ${ML_ROOT}/firmware/hal)

# On cross builds, core and apps see only the compiler's freestanding headers
# (stdint.h, stddef.h, stdbool.h, ...): <stdio.h>, <stdlib.h> or any POSIX header
# fails to compile there. That is the first half of the freestanding guard; the
# nm check in tools/check-freestanding is the second.
if(CMAKE_CROSSCOMPILING)
    execute_process(COMMAND ${CMAKE_C_COMPILER} -print-file-name=include
                    OUTPUT_VARIABLE ML_GCC_INCLUDE OUTPUT_STRIP_TRAILING_WHITESPACE)
    # -fstack-usage / -fcallgraph-info=su: per-function stack report next to each object.
    set(ML_FREESTANDING_FLAGS -ffreestanding -nostdinc -isystem ${ML_GCC_INCLUDE}
        -fstack-usage -fcallgraph-info=su)
else()
    set(ML_FREESTANDING_FLAGS -ffreestanding)
endif()

# ml_core_module(NAME SOURCES a.c b.c DEPS ml_core_x ...)
# Creates the static library ml_core_<NAME> for firmware/core/<NAME>.
function(ml_core_module name)
    cmake_parse_arguments(M "" "" "SOURCES;DEPS" ${ARGN})
    set(lib ml_core_${name})
    add_library(${lib} STATIC ${M_SOURCES})
    target_include_directories(${lib} PUBLIC ${ML_FIRMWARE_INCLUDES})
    target_compile_options(${lib} PRIVATE ${ML_CORE_WARNINGS} ${ML_FREESTANDING_FLAGS})
    target_link_libraries(${lib} PUBLIC ${M_DEPS})
    if(NOT CMAKE_CROSSCOMPILING)
        # ML_ASSERT calls hal_sys_fault(); host programs get the abort() one.
        target_link_libraries(${lib} INTERFACE ml_host_fault)
    endif()
    set_property(GLOBAL APPEND PROPERTY ML_FREESTANDING_LIBS ${lib})
endfunction()

# ml_unit_test(NAME SOURCES ... LIBS ...): a CUnit test registered with ctest.
function(ml_unit_test name)
    cmake_parse_arguments(T "" "" "SOURCES;LIBS" ${ARGN})
    add_executable(${name} ${T_SOURCES})
    target_link_libraries(${name} PRIVATE ${T_LIBS} ml_test_support cunit)
    target_compile_options(${name} PRIVATE -Wall -Wextra -Werror)
    add_test(NAME unit.${name} COMMAND ${name})
    set_tests_properties(unit.${name} PROPERTIES LABELS unit TIMEOUT 120
        ENVIRONMENT "ML_SOURCE_DIR=${ML_ROOT}")
endfunction()

# ml_fuzz_target(NAME SOURCES ... LIBS ... CORPUS dir): a libFuzzer target.
function(ml_fuzz_target name)
    cmake_parse_arguments(F "" "" "SOURCES;LIBS;CORPUS" ${ARGN})
    if(NOT ML_FUZZ)
        # Outside the fuzz preset the target still builds (as a corpus replayer),
        # so a broken fuzz target is caught by every build.
        add_executable(${name} ${F_SOURCES} ${ML_ROOT}/tests/fuzz/fuzz_main.c)
    else()
        add_executable(${name} ${F_SOURCES})
        target_compile_options(${name} PRIVATE -fsanitize=fuzzer)
        target_link_options(${name} PRIVATE -fsanitize=fuzzer)
    endif()
    target_link_libraries(${name} PRIVATE ${F_LIBS})
    set_property(GLOBAL APPEND PROPERTY ML_FUZZ_TARGETS "${name}=${F_CORPUS}")
    if(NOT ML_FUZZ AND F_CORPUS)
        add_test(NAME fuzzcorpus.${name} COMMAND ${name} ${F_CORPUS})
        set_tests_properties(fuzzcorpus.${name} PROPERTIES LABELS fuzz TIMEOUT 120)
    endif()
endfunction()

# ml_add_subdirs(): add_subdirectory() every direct subdirectory of the current
# source dir that has a CMakeLists.txt (pieces are discovered, not listed).
function(ml_add_subdirs)
    file(GLOB dirs LIST_DIRECTORIES true ${CMAKE_CURRENT_SOURCE_DIR}/*)
    foreach(dir ${dirs})
        if(EXISTS ${dir}/CMakeLists.txt)
            add_subdirectory(${dir})
        endif()
    endforeach()
endfunction()

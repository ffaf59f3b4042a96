# The bench's YAML parsers (host code, libyaml): scenarios and rig files.
# Seeds: the repository's scenarios and rig files.
if(TARGET ml_scenario)
    ml_fuzz_target(fuzz_scenario SOURCES ${ML_ROOT}/tests/fuzz/fuzz_scenario.c LIBS ml_scenario
                   CORPUS ${ML_ROOT}/scenarios)
endif()
if(TARGET ml_hil)
    ml_fuzz_target(fuzz_rig SOURCES ${ML_ROOT}/tests/fuzz/fuzz_rig.c LIBS ml_hil
                   CORPUS ${ML_ROOT}/rigs)
endif()

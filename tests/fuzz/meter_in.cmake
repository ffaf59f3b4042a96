# The one meter input (firmware/core/meter_in): any bytes, as P1 and as TIC, whole vs
# chunked. Seeds: the TIC recordings (the replay test below adds the P1 ones).
ml_fuzz_target(fuzz_meter_in SOURCES ${ML_ROOT}/tests/fuzz/fuzz_meter_in.c
               LIBS ml_core_meter_in ml_host_fault CORPUS ${ML_ROOT}/scenarios/telegrams/tic)
if(NOT ML_FUZZ)
    add_test(NAME fuzzcorpus.fuzz_meter_in_p1 COMMAND fuzz_meter_in
             ${ML_ROOT}/scenarios/telegrams/dsmr)
    set_tests_properties(fuzzcorpus.fuzz_meter_in_p1 PROPERTIES LABELS fuzz TIMEOUT 120)
endif()

# TIC framer + parser (firmware/core/tic): seeds are the recorded frames.
ml_fuzz_target(fuzz_tic SOURCES ${ML_ROOT}/tests/fuzz/fuzz_tic.c LIBS ml_core_tic ml_host_fault
               CORPUS ${ML_ROOT}/scenarios/telegrams/tic)

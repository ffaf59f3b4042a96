# DSMR framer/parser + MQTT payload builder fuzz target (corpus: the DSMR telegrams).
ml_fuzz_target(fuzz_dsmr SOURCES ${ML_ROOT}/tests/fuzz/fuzz_dsmr.c
               LIBS ml_core_dsmr ml_core_mqtt ml_host_fault
               CORPUS ${ML_ROOT}/scenarios/telegrams/dsmr)

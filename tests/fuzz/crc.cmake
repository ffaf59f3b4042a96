# CRC-16 (core/common crc.c) against its bitwise definition (corpus: the DSMR telegrams,
# whose first 3 bytes are read as initial CRC and split point).
ml_fuzz_target(fuzz_crc SOURCES ${ML_ROOT}/tests/fuzz/fuzz_crc.c LIBS ml_core_common
               CORPUS ${ML_ROOT}/scenarios/telegrams/dsmr)

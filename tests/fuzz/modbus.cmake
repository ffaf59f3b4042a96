# Modbus slave engine fuzz targets (TCP/MBAP and RTU framing over regmap snapshots).
ml_fuzz_target(fuzz_mb_tcp SOURCES ${ML_ROOT}/tests/fuzz/fuzz_mb_tcp.c
               LIBS ml_core_modbus ml_core_regmap ml_host_fault
               CORPUS ${ML_ROOT}/tests/fuzz/corpus/mb_tcp)
ml_fuzz_target(fuzz_mb_rtu SOURCES ${ML_ROOT}/tests/fuzz/fuzz_mb_rtu.c
               LIBS ml_core_modbus ml_core_regmap ml_host_fault
               CORPUS ${ML_ROOT}/tests/fuzz/corpus/mb_rtu)

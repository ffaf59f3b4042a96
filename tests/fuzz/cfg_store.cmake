# Config store flash image (firmware/core/config/cfg_store.c + cfg_decode): seeds are
# images of saved configurations, erased and torn slots (tests/fuzz/fuzz_cfg_store.c).
ml_fuzz_target(fuzz_cfg_store SOURCES ${ML_ROOT}/tests/fuzz/fuzz_cfg_store.c
               LIBS ml_core_config ml_core_common ml_host_fault
               CORPUS ${ML_ROOT}/tests/fuzz/corpus/cfg_store)

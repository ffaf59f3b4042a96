# JSON config codec (firmware/core/config): seeds are the manual's examples and edge cases.
ml_fuzz_target(fuzz_cfg_json SOURCES ${ML_ROOT}/tests/fuzz/fuzz_cfg_json.c
               LIBS ml_core_config ml_host_fault CORPUS ${ML_ROOT}/tests/fuzz/corpus/cfg_json)

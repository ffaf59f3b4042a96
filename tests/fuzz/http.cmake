# HTTP/1.1 server core (firmware/core/http): seeds are requests of the Smart Connect API.
ml_fuzz_target(fuzz_http SOURCES ${ML_ROOT}/tests/fuzz/fuzz_http.c
               LIBS ml_core_http ml_host_fault CORPUS ${ML_ROOT}/tests/fuzz/corpus/http)

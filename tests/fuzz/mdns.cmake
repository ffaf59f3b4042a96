# mDNS responder (firmware/core/mdns): the input is datagrams received on port 5353.
ml_fuzz_target(fuzz_mdns SOURCES ${ML_ROOT}/tests/fuzz/fuzz_mdns.c LIBS ml_core_mdns ml_host_fault
               CORPUS ${ML_ROOT}/tests/fuzz/corpus/mdns)

# ESP-AT client (firmware/core/esp_at): the input is the module's side of the UART.
ml_fuzz_target(fuzz_esp_at SOURCES ${ML_ROOT}/tests/fuzz/fuzz_esp_at.c LIBS ml_core_esp_at ml_host_fault
               CORPUS ${ML_ROOT}/tests/fuzz/corpus/esp_at)

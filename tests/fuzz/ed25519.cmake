# Ed25519 verification (firmware/core/ed25519), differential against libsodium's
# crypto_sign_verify_detached (Debian libsodium-dev): the results must agree.
find_package(PkgConfig REQUIRED)
pkg_check_modules(ML_SODIUM REQUIRED IMPORTED_TARGET libsodium)
ml_fuzz_target(fuzz_ed25519 SOURCES ${ML_ROOT}/tests/fuzz/fuzz_ed25519.c
               LIBS ml_core_ed25519 ml_host_fault PkgConfig::ML_SODIUM
               CORPUS ${ML_ROOT}/tests/fuzz/corpus/ed25519)

# The Ed25519 public key the firmware accepts images from (docs/firmware-update.md).
#
# ML_FW_PUBKEY (cache): 64 hex digits, e.g. from `meterlab fw-sign pubkey --key prod.pem`.
# Empty (the default): a development key pair is made once per build directory,
# ${CMAKE_BINARY_DIR}/fw-dev-key.pem (mode 0600) and fw-dev-key.pub.pem, with
# openssl (same PEM formats as `meterlab fw-sign keygen`). It never lands in the
# source tree; the tests sign their images with it (ML_FW_DEV_KEY).
#
# Result: ML_FW_PUBKEY_C (the key as a C initialiser) and ML_FW_DEV_KEY (the
# secret key path, empty with a production key).
set(ML_FW_PUBKEY "" CACHE STRING
    "Ed25519 public key (64 hex digits) of firmware images; empty: a development key in the build dir")
set(ML_FW_DEV_KEY "")
if(ML_FW_PUBKEY STREQUAL "")
    set(ML_FW_DEV_KEY ${CMAKE_BINARY_DIR}/fw-dev-key.pem)
    if(NOT EXISTS ${ML_FW_DEV_KEY})
        find_program(ML_OPENSSL openssl REQUIRED)
        execute_process(COMMAND sh -c "umask 077 && \"$0\" genpkey -algorithm ed25519 -out \"$1\""
                                ${ML_OPENSSL} ${ML_FW_DEV_KEY}
                        RESULT_VARIABLE rc ERROR_VARIABLE err)
        if(NOT rc EQUAL 0)
            message(FATAL_ERROR "fw_key.cmake: openssl could not make ${ML_FW_DEV_KEY}: ${err}")
        endif()
        message(STATUS "Firmware signing: made the development key ${ML_FW_DEV_KEY}")
    endif()
    find_program(ML_OPENSSL openssl REQUIRED)
    execute_process(COMMAND ${ML_OPENSSL} pkey -in ${ML_FW_DEV_KEY} -pubout
                            -out ${CMAKE_BINARY_DIR}/fw-dev-key.pub.pem RESULT_VARIABLE rc1)
    execute_process(COMMAND ${ML_OPENSSL} pkey -in ${ML_FW_DEV_KEY} -pubout -outform DER
                            -out ${CMAKE_BINARY_DIR}/fw-dev-key.pub.der RESULT_VARIABLE rc2)
    if(NOT rc1 EQUAL 0 OR NOT rc2 EQUAL 0)
        message(FATAL_ERROR "fw_key.cmake: cannot read the key ${ML_FW_DEV_KEY}")
    endif()
    file(READ ${CMAKE_BINARY_DIR}/fw-dev-key.pub.der der HEX)
    string(LENGTH "${der}" n)
    if(NOT n EQUAL 88)
        message(FATAL_ERROR "fw_key.cmake: ${ML_FW_DEV_KEY} is not an Ed25519 key")
    endif()
    string(SUBSTRING "${der}" 24 64 ml_fw_key_hex)
else()
    string(TOLOWER "${ML_FW_PUBKEY}" ml_fw_key_hex)
    if(NOT ml_fw_key_hex MATCHES "^[0-9a-f]+$")
        message(FATAL_ERROR "ML_FW_PUBKEY must be 64 hex digits, got '${ML_FW_PUBKEY}'")
    endif()
    string(LENGTH "${ml_fw_key_hex}" n)
    if(NOT n EQUAL 64)
        message(FATAL_ERROR "ML_FW_PUBKEY must be 64 hex digits, got ${n}")
    endif()
    message(STATUS "Firmware signing: production public key ${ml_fw_key_hex}")
endif()
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1, " ML_FW_PUBKEY_C "${ml_fw_key_hex}")

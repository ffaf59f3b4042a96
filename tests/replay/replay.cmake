# ml_core_replay_sources(VAR): the replay program's sources (replay.h), with the
# corpus embedded by a build step that reruns when a corpus file changes.
function(ml_core_replay_sources var)
    file(GLOB corpus ${ML_ROOT}/scenarios/telegrams/dsmr/*.txt
                     ${ML_ROOT}/scenarios/telegrams/tic/*.bin)
    set(gen ${CMAKE_CURRENT_BINARY_DIR}/replay_corpus.c)
    add_custom_command(OUTPUT ${gen}
        COMMAND ${CMAKE_COMMAND} -DOUT=${gen} -DROOT=${ML_ROOT}
                -P ${ML_ROOT}/tests/replay/embed_corpus.cmake
        DEPENDS ${corpus} ${ML_ROOT}/tests/replay/embed_corpus.cmake
        COMMENT "core replay: embedding the scenario corpus")
    set(${var} ${ML_ROOT}/tests/replay/replay.c ${gen} PARENT_SCOPE)
endfunction()
set(ML_CORE_REPLAY_LIBS ml_core_dsmr ml_core_tic ml_core_reading ml_core_regmap ml_core_modbus
    ml_core_common)

/**
 * @file ml_p1mb_id.h
 * @brief What a Modbus master on the bench knows of a P1MB (host only, one copy
 * for `meterlab p1mb-config` and the rig back-end's preflight): the registers
 * of its configuration block (docs/p1mb.md, firmware/apps/p1mb/p1mb_config.h)
 * and its variants, in the order of their codes (register 0xF003) and of
 * enum p1mb_variant, with the meter each emulates and that meter's identity
 * register. The bench keeps its own copy of these numbers on purpose: it talks
 * to boards of any firmware version, and the wire layout is the contract.
 */
#ifndef SIM_RIG_ML_P1MB_ID_H
#define SIM_RIG_ML_P1MB_ID_H

#include <stdint.h>

/* The configuration block (holding registers). */
#define ML_P1MB_REG_SIG       0xF000 /**< "P1" "MB" (2 registers) */
#define ML_P1MB_REG_LAYOUT    0xF002
#define ML_P1MB_REG_VARIANT   0xF003 /**< the variant's code, 1..4 */
#define ML_P1MB_REG_STORED    0xF010 /**< baud/100, parity, address, termination */
#define ML_P1MB_REG_ACTIVE    0xF020
#define ML_P1MB_REG_REBOOT    0xF030
#define ML_P1MB_REG_FACTORY   0xF031
#define ML_P1MB_SIG_P1        0x5031
#define ML_P1MB_SIG_MB        0x4D42
#define ML_P1MB_REBOOT_MAGIC  0x5AA5
#define ML_P1MB_FACTORY_MAGIC 0xFAC7

/** One variant of the P1MB. */
struct ml_p1mb_variant {
    const char *name;  /**< as in rig files and `--variant` ("sdm630") */
    const char *meter; /**< the meter it emulates ("Eastron SDM630") */
    uint16_t code;     /**< register 0xF003 */
    int id_addr;       /**< the meter map's identity register (modbus-maps.md) */
    uint16_t id_value; /**< and what it holds */
};

/** The variants, by code (1..4). */
#define ML_P1MB_VARIANTS 4
extern const struct ml_p1mb_variant ml_p1mb_variants[ML_P1MB_VARIANTS];

/** The variant with code @p code, or NULL. */
const struct ml_p1mb_variant *ml_p1mb_variant_by_code(uint16_t code);

/** The variant named @p name (any case), or NULL. */
const struct ml_p1mb_variant *ml_p1mb_variant_by_name(const char *name);

#endif /* SIM_RIG_ML_P1MB_ID_H */

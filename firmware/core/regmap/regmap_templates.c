/*
 * The built-in register-map templates (data only). Addresses, units and word
 * orders come from the meters' published register maps (section given per table);
 * docs/modbus-maps.md is generated from these tables by `meterlab regmap`.
 */
#include "regmap.h"

#include "err.h"

/* Entry builders: field F with register unit 10^x, constants, presence bits. */
#define F32(a, f, x)                                                                               \
    {                                                                                              \
        (a), REGMAP_F32, REGMAP_ORDER_DEFAULT, READING_##f, (x), 0, NULL                           \
    }
#define I32(a, f, x)                                                                               \
    {                                                                                              \
        (a), REGMAP_I32, REGMAP_ORDER_DEFAULT, READING_##f, (x), 0, NULL                           \
    }
#define U32(a, f, x)                                                                               \
    {                                                                                              \
        (a), REGMAP_U32, REGMAP_ORDER_DEFAULT, READING_##f, (x), 0, NULL                           \
    }
#define I16(a, f, x)                                                                               \
    {                                                                                              \
        (a), REGMAP_I16, REGMAP_ORDER_DEFAULT, READING_##f, (x), 0, NULL                           \
    }
#define U16(a, f, x)                                                                               \
    {                                                                                              \
        (a), REGMAP_U16, REGMAP_ORDER_DEFAULT, READING_##f, (x), 0, NULL                           \
    }
/* constant: value = k * 10^x */
#define KONST(a, type, k, x, name)                                                                 \
    {                                                                                              \
        (a), (type), REGMAP_ORDER_DEFAULT, REGMAP_SRC_CONST, (x), (k), (name)                      \
    }
#define PRESENT(a, w, name)                                                                        \
    {                                                                                              \
        (a), REGMAP_U16, REGMAP_ORDER_DEFAULT, REGMAP_SRC_PRESENT, 0, (w), (name)                  \
    }

#define SPACE(tbl)                                                                                 \
    {                                                                                              \
        (tbl), (uint16_t)ML_ARRAY_SIZE(tbl)                                                        \
    }

/* ------------------------------------------------------------------------- */
/* Phoenix Contact EMpro (modbus-maps.md §1.2; seed v1.8 table + OE/GGGss)     */
/* float32 CDAB, V A W var VA Hz, energies in Wh; FC03 = FC04                  */
/* ------------------------------------------------------------------------- */

static const struct regmap_entry empro[] = {
    F32(0x8000, U12, 0),
    F32(0x8002, U23, 0),
    F32(0x8004, U31, 0),
    F32(0x8006, L1_U, 0),
    F32(0x8008, L2_U, 0),
    F32(0x800A, L3_U, 0),
    F32(0x800C, FREQ, 0),
    F32(0x800E, L1_I, 0),
    F32(0x8010, L2_I, 0),
    F32(0x8012, L3_I, 0),
    F32(0x8014, I_N, 0),
    F32(0x8016, P, 0),
    F32(0x8018, Q, 0),
    F32(0x801A, S, 0),
    F32(0x801C, PF, 0),
    F32(0x801E, L1_P, 0),
    F32(0x8020, L2_P, 0),
    F32(0x8022, L3_P, 0),
    F32(0x8024, L1_Q, 0),
    F32(0x8026, L2_Q, 0),
    F32(0x8028, L3_Q, 0),
    F32(0x802A, L1_S, 0),
    F32(0x802C, L2_S, 0),
    F32(0x802E, L3_S, 0),
    F32(0x8030, L1_PF, 0),
    F32(0x8032, L2_PF, 0),
    F32(0x8034, L3_PF, 0),
    F32(0x8100, E_IMP, 0),
    F32(0x8106, E_EXP, 0),
    /* 0x8C00 block: seed v1.8 only (probably a Xemex extension, modbus-maps.md §1.3) */
    F32(0x8C00, Q_IMP, 0),
    F32(0x8C02, Q_EXP, 0),
    F32(0x8C04, L1_Q_IMP, 0),
    F32(0x8C06, L1_Q_EXP, 0),
    F32(0x8C08, L2_Q_IMP, 0),
    F32(0x8C0A, L2_Q_EXP, 0),
    F32(0x8C0C, L3_Q_IMP, 0),
    F32(0x8C0E, L3_Q_EXP, 0),
    F32(0x8C10, EQ1, 0),
    F32(0x8C12, EQ2, 0),
    F32(0x8C14, EQ3, 0),
    F32(0x8C16, EQ4, 0),
    F32(0x8C18, L1_SAGS, 0),
    F32(0x8C1A, L2_SAGS, 0),
    F32(0x8C1C, L3_SAGS, 0),
    F32(0x8C1E, L1_SWELLS, 0),
    F32(0x8C20, L2_SWELLS, 0),
    F32(0x8C22, L3_SWELLS, 0),
    F32(0x8C24, PFAIL, 0),
    F32(0x8C26, LPFAIL, 0),
    F32(0x8C28, P_IMP, 0),
    F32(0x8C2A, P_EXP, 0),
    F32(0x8C2C, L1_P_IMP, 0),
    F32(0x8C2E, L1_P_EXP, 0),
    F32(0x8C30, L2_P_IMP, 0),
    F32(0x8C32, L2_P_EXP, 0),
    F32(0x8C34, L3_P_IMP, 0),
    F32(0x8C36, L3_P_EXP, 0),
};

/* ------------------------------------------------------------------------- */
/* Eastron SDM630 Modbus V2 (modbus-maps.md §2.2, §2.3)                        */
/* float32 ABCD; measurements FC04 (energies kWh/kvarh), identity FC03         */
/* ------------------------------------------------------------------------- */

static const struct regmap_entry sdm630_input[] = {
    F32(0x0000, L1_U, 0),       F32(0x0002, L2_U, 0),       F32(0x0004, L3_U, 0),
    F32(0x0006, L1_I, 0),       F32(0x0008, L2_I, 0),       F32(0x000A, L3_I, 0),
    F32(0x000C, L1_P, 0),       F32(0x000E, L2_P, 0),       F32(0x0010, L3_P, 0),
    F32(0x0012, L1_S, 0),       F32(0x0014, L2_S, 0),       F32(0x0016, L3_S, 0),
    F32(0x0018, L1_Q, 0),       F32(0x001A, L2_Q, 0),       F32(0x001C, L3_Q, 0),
    F32(0x001E, L1_PF, 0),      F32(0x0020, L2_PF, 0),      F32(0x0022, L3_PF, 0),
    F32(0x0034, P, 0),          F32(0x0038, S, 0),          F32(0x003C, Q, 0),
    F32(0x003E, PF, 0),         F32(0x0046, FREQ, 0),       F32(0x0048, E_IMP, 3),
    F32(0x004A, E_EXP, 3),      F32(0x004C, EQ_IMP, 3),     F32(0x004E, EQ_EXP, 3),
    F32(0x0054, DEMAND_AVG, 0), F32(0x0056, DEMAND_MAX, 0), F32(0x00C8, U12, 0),
    F32(0x00CA, U23, 0),        F32(0x00CC, U31, 0),        F32(0x00E0, I_N, 0),
};

static const struct regmap_entry sdm630_holding[] = {
    KONST(0x000A, REGMAP_F32, 3, 0, "system type (3 = 3P4W)"),
    KONST(0xFC00, REGMAP_U32, 1, 0, "serial number"),
    KONST(0xFC02, REGMAP_U16, 0x0070, 0, "meter code (0x0070 = SDM630)"),
};

/* ------------------------------------------------------------------------- */
/* Inepro PRO380-Mod (modbus-maps.md §3.2-§3.4)                                */
/* float32 ABCD; V A Hz, powers kW/kvar/kVA, energies kWh/kvarh; FC03 = FC04   */
/* ------------------------------------------------------------------------- */

static const struct regmap_entry pro380[] = {
    KONST(0x1010, REGMAP_U16, 0x2007, 0, "model (0x2007, Victron probe)"),
    KONST(0x4000, REGMAP_U32, 1, 0, "serial number"),
    KONST(0x4005, REGMAP_F32, 118, -2, "protocol version (1.18)"),
    KONST(0x4007, REGMAP_F32, 1, 0, "software version"),
    KONST(0x4009, REGMAP_F32, 1, 0, "hardware version"),
    F32(0x5002, L1_U, 0),
    F32(0x5004, L2_U, 0),
    F32(0x5006, L3_U, 0),
    F32(0x5008, FREQ, 0),
    F32(0x500C, L1_I, 0),
    F32(0x500E, L2_I, 0),
    F32(0x5010, L3_I, 0),
    F32(0x5012, P, 3),
    F32(0x5014, L1_P, 3),
    F32(0x5016, L2_P, 3),
    F32(0x5018, L3_P, 3),
    F32(0x501A, Q, 3),
    F32(0x501C, L1_Q, 3),
    F32(0x501E, L2_Q, 3),
    F32(0x5020, L3_Q, 3),
    F32(0x5022, S, 3),
    F32(0x5024, L1_S, 3),
    F32(0x5026, L2_S, 3),
    F32(0x5028, L3_S, 3),
    F32(0x502A, PF, 0),
    F32(0x502C, L1_PF, 0),
    F32(0x502E, L2_PF, 0),
    F32(0x5030, L3_PF, 0),
    F32(0x600C, E_IMP, 3),
    F32(0x600E, E_IMP_T1, 3),
    F32(0x6010, E_IMP_T2, 3),
    F32(0x6018, E_EXP, 3),
    F32(0x601A, E_EXP_T1, 3),
    F32(0x601C, E_EXP_T2, 3),
    F32(0x6030, EQ_IMP, 3),
    F32(0x603C, EQ_EXP, 3),
};

/* ------------------------------------------------------------------------- */
/* Acrel ACR10RH, harmonic-meter layout (modbus-maps.md §4.3, LOW confidence)  */
/* integers, 32-bit high word first; ratio registers 1.0 so values are primary */
/* ------------------------------------------------------------------------- */

static const struct regmap_entry acr10rh[] = {
    KONST(0x0003, REGMAP_U16, 1, 0, "wiring (1 = 3P4W)"),
    KONST(0x000E, REGMAP_F32, 1, 0, "voltage ratio"),
    KONST(0x0010, REGMAP_F32, 1, 0, "current ratio"),
    KONST(0x0012, REGMAP_F32, 1, 0, "power/energy ratio"),
    U16(0x00F2, I_N, -2),
    U16(0x00F3, L1_U, -1),
    U16(0x00F4, L2_U, -1),
    U16(0x00F5, L3_U, -1),
    U16(0x00F6, U12, -1),
    U16(0x00F7, U23, -1),
    U16(0x00F8, U31, -1),
    U16(0x00F9, L1_I, -2),
    U16(0x00FA, L2_I, -2),
    U16(0x00FB, L3_I, -2),
    U16(0x00FC, FREQ, -2),
    I32(0x00FD, L1_P, 0),
    I32(0x00FF, L2_P, 0),
    I32(0x0101, L3_P, 0),
    I32(0x0103, P, 0),
    I32(0x0105, L1_Q, 0),
    I32(0x0107, L2_Q, 0),
    I32(0x0109, L3_Q, 0),
    I32(0x010B, Q, 0),
    I32(0x010D, L1_S, 0),
    I32(0x010F, L2_S, 0),
    I32(0x0111, L3_S, 0),
    I32(0x0113, S, 0),
    I16(0x0115, L1_PF, -3),
    I16(0x0116, L2_PF, -3),
    I16(0x0117, L3_PF, -3),
    I16(0x0118, PF, -3),
    U32(0x012D, DEMAND_MAX, 0),
};

/* ------------------------------------------------------------------------- */
/* Xemex native map, version 1 (our design, docs/modbus.md)                    */
/* every reading field as int64 in the reading's own fixed point, ABCD,        */
/* at 0x0100 + 4 * field; presence bits at 0x0010; CSMB compatibility block    */
/* ------------------------------------------------------------------------- */

#define XEMEX_MAP_VERSION 1u
#define XEMEX_FIELD_BASE  0x0100u
/* reading.h is append-only (new fields go at the end of READING_FIELDS), so a field's
 * address never moves; new fields add registers and raise the count at 0x0002. Moving
 * or removing a field needs map version 2 (the docs drift test shows such a change). */
_Static_assert(READING_FIELD_COUNT <= 128, "Xemex map: add presence words beyond 0x0017");
_Static_assert(XEMEX_FIELD_BASE + 4u * READING_FIELD_COUNT <= 0x4000u,
               "Xemex map: fields overlap 0x4000");

#define XEMEX_X(id, key, unit, x, comment)                                                         \
    {(uint16_t)(XEMEX_FIELD_BASE + 4u * READING_##id),                                             \
     REGMAP_I64,                                                                                   \
     REGMAP_ORDER_DEFAULT,                                                                         \
     READING_##id,                                                                                 \
     (x),                                                                                          \
     0,                                                                                            \
     NULL},

static const struct regmap_entry xemex[] = {
    KONST(0x0000, REGMAP_U16, 0x584D, 0, "magic 'XM'"),
    KONST(0x0001, REGMAP_U16, XEMEX_MAP_VERSION, 0, "map version"),
    KONST(0x0002, REGMAP_U16, READING_FIELD_COUNT, 0, "number of fields"),
    KONST(0x0003, REGMAP_U16, XEMEX_FIELD_BASE, 0, "address of field 0"),
    {0x0004, REGMAP_U32, REGMAP_ORDER_DEFAULT, REGMAP_SRC_AGE, 0, 0,
     "data age: s since the last good telegram (0xFFFFFFFF: none yet)"},
    {0x0006, REGMAP_U16, REGMAP_ORDER_DEFAULT, REGMAP_SRC_STATE, 0, 0,
     "data state: 0 none yet, 1 live, 2 meter lost (instantaneous values 0)"},
    PRESENT(0x0010, 0, "presence bits of fields 0-15 (bit n = field n)"),
    PRESENT(0x0011, 1, "presence bits of fields 16-31"),
    PRESENT(0x0012, 2, "presence bits of fields 32-47"),
    PRESENT(0x0013, 3, "presence bits of fields 48-63"),
    PRESENT(0x0014, 4, "presence bits of fields 64-79"),
    PRESENT(0x0015, 5, "presence bits of fields 80-95"),
    PRESENT(0x0016, 6, "presence bits of fields 96-111"),
    PRESENT(0x0017, 7, "presence bits of fields 112-127"),
    READING_FIELDS(XEMEX_X)
    /* Xemex CSMB compatibility (modbus-maps.md §5): device code and float currents */
    KONST(0x4000, REGMAP_U32, 1, 0, "CSMB serial number"),
    KONST(0x4002, REGMAP_U16, 20802, 0, "CSMB device code (20802)"),
    F32(0x500C, L1_I, 0),
    F32(0x500E, L2_I, 0),
    F32(0x5010, L3_I, 0),
};

/* ------------------------------------------------------------------------- */
/* The list                                                                  */
/* ------------------------------------------------------------------------- */

static const struct regmap_template templates[] = {
    {"PhoenixContact-EMPro", "Phoenix Contact EMpro EEM-MA370/371 (Smart Connect, Modbus TCP)",
     "Seed v1.8 table plus the registers OpenEMS and GGGss read (0x8000-0x8004, 0x800C, "
     "0x8014, 0x8030-0x8034). FC03 and FC04 return the same data. The 0x8C00 block comes "
     "from the seed only.",
     1, REGMAP_CDAB, SPACE(empro), SPACE(empro)},
    {"PhoenixContact-EMPro-HighWordFirst",
     "Phoenix Contact EMpro registers, high word first (Smart Connect, Modbus TCP)",
     "The PhoenixContact-EMPro table with each float32 sent high word first (ABCD), for "
     "chargers set up as the manual's Alfen appendix says (\"Word order: High to Low\"). "
     "FC03 and FC04 return the same data.",
     1, REGMAP_ABCD, SPACE(empro), SPACE(empro)},
    {"Eastron-SDM630", "Eastron SDM630 Modbus V2 (P1MB variant)",
     "Measurements are input registers (FC04); FC03 serves the identity registers that "
     "Tinkerforge WARP (meter code 0xFC02) and openWB (serial 0xFC00) read, and the system "
     "type. On the Smart Connect FC03 and FC04 both serve the measurements, and the "
     "identity registers where no measurement sits (0xFC00, 0xFC02; manual 002 §5.3).",
     1, REGMAP_ABCD, SPACE(sdm630_holding), SPACE(sdm630_input)},
    {"Inepro-PRO380", "Inepro PRO380-Mod V2 map (P1MB variant)",
     "Powers in kW/kvar/kVA, energies in kWh/kvarh. FC03 and FC04 return the same data. "
     "0x1010 = 0x2007 answers the Victron probe.",
     1, REGMAP_ABCD, SPACE(pro380), SPACE(pro380)},
    {"Acrel-ACR10RH", "Acrel ACR10RH harmonic meter layout (P1MB variant), LOW confidence",
     "Integer registers with assumed decimals (0.1 V, 0.01 A, 0.01 Hz, 1 W, 0.001 PF); "
     "ratio registers read 1.0 so values are primary. Energy registers are unknown and "
     "not served. FC03 and FC04 return the same data.",
     1, REGMAP_ABCD, SPACE(acr10rh), SPACE(acr10rh)},
    {"Xemex", "Xemex native map v1 (P1MB variant, our design)",
     "Every reading field as int64 (4 registers, ABCD) in the reading's fixed point "
     "(mostly milli-units) at 0x0100 + 4 x field index; presence bits at 0x0010; a Xemex "
     "CSMB compatible block at 0x4000/0x500C. FC03 and FC04 return the same data.",
     XEMEX_MAP_VERSION, REGMAP_ABCD, SPACE(xemex), SPACE(xemex)},
};

size_t regmap_template_count(void)
{
    return ML_ARRAY_SIZE(templates);
}

const struct regmap_template *regmap_template_at(size_t i)
{
    return i < ML_ARRAY_SIZE(templates) ? &templates[i] : NULL;
}

const struct regmap_template *regmap_template_find(const char *name, size_t len)
{
    if (name == NULL) {
        return NULL;
    }
    for (size_t i = 0; i < ML_ARRAY_SIZE(templates); i++) {
        const char *n = templates[i].name;
        size_t j = 0;
        while (j < len && n[j] != '\0' && n[j] == name[j]) {
            j++;
        }
        if (j == len && n[j] == '\0') {
            return &templates[i];
        }
    }
    return NULL;
}

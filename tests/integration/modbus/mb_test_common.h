/*
 * Shared fixture of the libmodbus integration tests: one reading with values
 * chosen so every encoding shows (fractions, negatives, kilo units), and the
 * register words each template must serve for it, written by hand from
 * modbus-maps.md (IEEE-754 patterns: 230.1 = 0x4366199A, 16.0 = 0x41800000,
 * -1234.5 = 0xC49A5000, -1.2345 = 0xBF9E0419, -2.3 = 0xC0133333, 1.0 = 0x3F800000,
 * 12345.678 = 0x4640E6B6, 50.0 = 0x42480000).
 */
#ifndef TESTS_INTEGRATION_MODBUS_MB_TEST_COMMON_H
#define TESTS_INTEGRATION_MODBUS_MB_TEST_COMMON_H

#include <string.h>

#include "mb_sim_app.h"

static inline void mb_test_reading(struct reading *r)
{
    reading_init(r);
    reading_set(r, READING_L1_U, 230100);    /* 230.1 V */
    reading_set(r, READING_L2_U, 230000);    /* 230.0 V */
    reading_set(r, READING_L1_I, 16000);     /* 16 A */
    reading_set(r, READING_L2_I, 5250);      /* 5.25 A */
    reading_set(r, READING_P, -1234500);     /* -1234.5 W (export) */
    reading_set(r, READING_L1_P, -2300000);  /* -2300 W */
    reading_set(r, READING_E_IMP, 12345678); /* 12345.678 Wh */
    reading_set(r, READING_E_EXP, 1000000);  /* 1000 Wh = 1 kWh */
    reading_set(r, READING_FREQ, 50000);     /* 50 Hz */
    reading_set(r, READING_PF, -950);        /* -0.95 */
}

struct mb_expect {
    uint8_t fc;
    uint16_t addr;
    uint16_t n;
    uint16_t words[4];
};

/* Per template: registers and their hand-computed words for mb_test_reading(). */
static const struct mb_expect mb_expect_empro[] = {
    {3, 0x8006, 2, {0x199A, 0x4366}}, /* 230.1 V, CDAB */
    {4, 0x8008, 2, {0x0000, 0x4366}}, /* 230.0 V */
    {3, 0x800A, 2, {0x0000, 0x0000}}, /* L3 missing: 0 */
    {3, 0x800C, 2, {0x0000, 0x4248}}, /* 50 Hz */
    {3, 0x800E, 2, {0x0000, 0x4180}}, /* 16 A */
    {3, 0x8016, 2, {0x5000, 0xC49A}}, /* -1234.5 W */
    {4, 0x8100, 2, {0xE6B6, 0x4640}}, /* 12345.678 Wh */
    {3, 0x8106, 2, {0x0000, 0x447A}}, /* 1000 Wh */
    {3, 0x8040, 2, {0x0000, 0x0000}}, /* gap */
};
static const struct mb_expect mb_expect_sdm630[] = {
    {4, 0x0000, 2, {0x4366, 0x199A}}, /* 230.1 V, ABCD */
    {4, 0x0006, 2, {0x4180, 0x0000}}, /* 16 A */
    {4, 0x000C, 2, {0xC50F, 0xC000}}, /* -2300 W */
    {4, 0x0034, 2, {0xC49A, 0x5000}}, /* -1234.5 W */
    {4, 0x004A, 2, {0x3F80, 0x0000}}, /* 1 kWh */
    {3, 0x0000, 2, {0x0000, 0x0000}}, /* FC03 has no measurements */
    {3, 0xFC02, 1, {0x0070}},         /* meter code SDM630 */
};
static const struct mb_expect mb_expect_pro380[] = {
    {3, 0x5002, 2, {0x4366, 0x199A}},                 /* 230.1 V */
    {3, 0x500C, 4, {0x4180, 0x0000, 0x40A8, 0x0000}}, /* 16 A, 5.25 A */
    {3, 0x5012, 2, {0xBF9E, 0x0419}},                 /* -1.2345 kW */
    {4, 0x5014, 2, {0xC013, 0x3333}},                 /* -2.3 kW */
    {3, 0x6018, 2, {0x3F80, 0x0000}},                 /* 1 kWh */
    {3, 0x1010, 1, {0x2007}},
};
static const struct mb_expect mb_expect_acrel[] = {
    {3, 0x00F3, 2, {2301, 2300}},     /* 0.1 V */
    {3, 0x00F9, 2, {1600, 525}},      /* 0.01 A */
    {3, 0x00FC, 1, {5000}},           /* 0.01 Hz */
    {3, 0x0103, 2, {0xFFFF, 0xFB2D}}, /* -1234.5 W -> -1235 */
    {4, 0x00FD, 2, {0xFFFF, 0xF704}}, /* -2300 W */
    {3, 0x0118, 1, {0xFC4A}},         /* PF -0.950 */
};
static const struct mb_expect mb_expect_xemex[] = {
    {3, 0x0000, 2, {0x584D, 0x0001}},
    {3, 0x01D4, 4, {0x0000, 0x0000, 0x00BC, 0x614E}}, /* e_imp 12345678 mWh */
    {4, 0x0108, 4, {0xFFFF, 0xFFFF, 0xFFED, 0x29BC}}, /* p -1234500 mW */
    {3, 0x4002, 1, {20802}},
    {3, 0x500C, 2, {0x4180, 0x0000}},
};

struct mb_expect_set {
    const char *tpl;
    const struct mb_expect *e;
    size_t n;
};

static const struct mb_expect_set mb_expect_all[] = {
    {"PhoenixContact-EMPro", mb_expect_empro, sizeof mb_expect_empro / sizeof mb_expect_empro[0]},
    {"Eastron-SDM630", mb_expect_sdm630, sizeof mb_expect_sdm630 / sizeof mb_expect_sdm630[0]},
    {"Inepro-PRO380", mb_expect_pro380, sizeof mb_expect_pro380 / sizeof mb_expect_pro380[0]},
    {"Acrel-ACR10RH", mb_expect_acrel, sizeof mb_expect_acrel / sizeof mb_expect_acrel[0]},
    {"Xemex", mb_expect_xemex, sizeof mb_expect_xemex / sizeof mb_expect_xemex[0]},
};

#endif /* TESTS_INTEGRATION_MODBUS_MB_TEST_COMMON_H */

/*
 * Unit tests of the register-map templates: table invariants, encodings
 * (float word orders, scaled and saturated integers, int64), missing values,
 * the FC03/FC04 spaces, and snapshot consistency through the double buffer.
 * Expected register words are written by hand (IEEE-754 bit patterns as in
 * modbus-maps.md §0.2: 230.0 = 0x4366 0x0000).
 */
#include <string.h>

#include "err.h"
#include "ml_test.h"
#include "modbus/modbus.h"
#include "regmap/regmap.h"

static struct reading rd;
static struct regmap_snapshot snap;
static uint16_t w[130];

static void setup(void)
{
    reading_init(&rd);
    memset(&snap, 0, sizeof snap);
    memset(w, 0xEE, sizeof w);
}

static const struct regmap_template *tpl(const char *name)
{
    const struct regmap_template *t = regmap_template_find(name, strlen(name));
    CU_ASSERT_PTR_NOT_NULL_FATAL(t);
    return t;
}

static void rd_read(const char *name, uint8_t fc, uint16_t addr, uint16_t count)
{
    CU_ASSERT_EQUAL_FATAL(regmap_render(tpl(name), &rd, &snap), ML_OK);
    CU_ASSERT_EQUAL(regmap_snapshot_read(&snap, fc, addr, count, w), 0);
}

static void test_regmap_templates_are_valid(void)
{
    CU_ASSERT_EQUAL(regmap_template_count(), 6);
    for (size_t i = 0; i < regmap_template_count(); i++) {
        const struct regmap_template *t = regmap_template_at(i);
        CU_ASSERT_EQUAL(regmap_template_check(t), ML_OK);
        CU_ASSERT_PTR_EQUAL(regmap_template_find(t->name, strlen(t->name)), t);
    }
    CU_ASSERT_PTR_NULL(regmap_template_at(6));
    CU_ASSERT_PTR_NULL(regmap_template_find("Xemex2", 6));
    CU_ASSERT_PTR_NULL(regmap_template_find("Xeme", 4));
    CU_ASSERT_PTR_NOT_NULL(regmap_template_find("Xemex-extra", 5));
}

static void test_regmap_empro_float_cdab(void)
{
    reading_set(&rd, READING_L1_U, 230100);    /* 230.1 V = 0x4366199A */
    reading_set(&rd, READING_L2_U, 230000);    /* 230.0 V = 0x43660000 */
    reading_set(&rd, READING_L1_I, 16000);     /* 16 A = 0x41800000 */
    reading_set(&rd, READING_P, -1234500);     /* -1234.5 W = 0xC49A5000 */
    reading_set(&rd, READING_E_IMP, 12345678); /* 12345.678 Wh = 0x4640E6B6 */
    rd_read("PhoenixContact-EMPro", 0x03, 0x8006, 30);
    CU_ASSERT_EQUAL(w[0], 0x199A);
    CU_ASSERT_EQUAL(w[1], 0x4366);
    CU_ASSERT_EQUAL(w[2], 0x0000);
    CU_ASSERT_EQUAL(w[3], 0x4366);
    CU_ASSERT_EQUAL(w[4], 0); /* L3 missing */
    CU_ASSERT_EQUAL(w[5], 0);
    CU_ASSERT_EQUAL(w[8], 0x0000); /* 0x800E */
    CU_ASSERT_EQUAL(w[9], 0x4180);
    CU_ASSERT_EQUAL(w[16], 0x5000); /* 0x8016 */
    CU_ASSERT_EQUAL(w[17], 0xC49A);
    /* FC04 gives the same data */
    uint16_t w4[30];
    regmap_snapshot_read(&snap, 0x04, 0x8006, 30, w4);
    CU_ASSERT_EQUAL(memcmp(w, w4, sizeof w4), 0);
    /* the OE-dev block 0x8006 x 57 runs past 0x8035: gaps read 0 */
    regmap_snapshot_read(&snap, 0x03, 0x8006, 57, w);
    CU_ASSERT_EQUAL(w[56], 0);
    regmap_snapshot_read(&snap, 0x03, 0x8100, 2, w);
    CU_ASSERT_EQUAL(w[0], 0xE6B6);
    CU_ASSERT_EQUAL(w[1], 0x4640);
    /* a read starting in the middle of a float gets its second word only */
    regmap_snapshot_read(&snap, 0x03, 0x8007, 1, w);
    CU_ASSERT_EQUAL(w[0], 0x4366);
}

static void test_regmap_sdm630_spaces_and_identity(void)
{
    reading_set(&rd, READING_L1_I, 5250);     /* 5.25 A = 0x40A80000 */
    reading_set(&rd, READING_E_IMP, 1500000); /* 1500 Wh = 1.5 kWh = 0x3FC00000 */
    reading_set(&rd, READING_FREQ, 50000);    /* 50 Hz = 0x42480000 */
    rd_read("Eastron-SDM630", 0x04, 0x0006, 2);
    CU_ASSERT_EQUAL(w[0], 0x40A8);
    CU_ASSERT_EQUAL(w[1], 0x0000);
    regmap_snapshot_read(&snap, 0x04, 0x0046, 6, w);
    CU_ASSERT_EQUAL(w[0], 0x4248);
    CU_ASSERT_EQUAL(w[2], 0x3FC0);
    CU_ASSERT_EQUAL(w[3], 0x0000);
    CU_ASSERT_EQUAL(w[4], 0); /* export missing */
    /* FC03 holds the identity, not the measurements */
    regmap_snapshot_read(&snap, 0x03, 0x0006, 2, w);
    CU_ASSERT_EQUAL(w[0], 0);
    regmap_snapshot_read(&snap, 0x03, 0xFC00, 3, w);
    CU_ASSERT_EQUAL(w[0], 0x0000);
    CU_ASSERT_EQUAL(w[1], 0x0001);
    CU_ASSERT_EQUAL(w[2], 0x0070);
    regmap_snapshot_read(&snap, 0x03, 0x000A, 2, w); /* system type 3.0 */
    CU_ASSERT_EQUAL(w[0], 0x4040);
    CU_ASSERT_EQUAL(w[1], 0x0000);
}

/* The Smart Connect's view (manual 002 §5.3): FC03 = FC04, identity where no measurement is */
static void test_regmap_sdm630_same_data_both_fcs(void)
{
    reading_set(&rd, READING_L3_I, 5250); /* 5.25 A = 0x40A80000 at 0x000A (system type in FC03) */
    rd_read("Eastron-SDM630", 0x04, 0x000A, 2);
    regmap_snapshot_read_same(&snap, 0x0008, 4, w, 0);
    CU_ASSERT_EQUAL(w[2], 0x40A8); /* the measurement wins over the holding constant */
    CU_ASSERT_EQUAL(w[3], 0x0000);
    regmap_snapshot_read_same(&snap, 0xFC00, 3, w, 0);
    CU_ASSERT_EQUAL(w[1], 0x0001); /* serial */
    CU_ASSERT_EQUAL(w[2], 0x0070); /* meter code */
}

/* "PhoenixContact-EMPro-HighWordFirst": the EMPro table, high word first */
static void test_regmap_empro_high_word_first(void)
{
    reading_set(&rd, READING_L1_I, 5250); /* 5.25 A = 0x40A80000 */
    rd_read("PhoenixContact-EMPro-HighWordFirst", 0x03, 0x800E, 2);
    CU_ASSERT_EQUAL(w[0], 0x40A8);
    CU_ASSERT_EQUAL(w[1], 0x0000);
    rd_read("PhoenixContact-EMPro", 0x03, 0x800E, 2);
    CU_ASSERT_EQUAL(w[0], 0x0000);
    CU_ASSERT_EQUAL(w[1], 0x40A8);
}

/* Xemex map: data age (0x0004, u32 s, read time) and state (0x0006); meter loss */
static void test_regmap_xemex_data_age_and_loss(void)
{
    static struct regmap_live live;
    uint16_t a[3];
    regmap_live_init(&live, tpl("Xemex"));
    regmap_live_set_now(&live, 1000);
    CU_ASSERT_EQUAL(regmap_mb_read(&live, 3, 0x0004, 3, a), 0);
    CU_ASSERT_EQUAL(a[0], 0xFFFF); /* no data yet */
    CU_ASSERT_EQUAL(a[1], 0xFFFF);
    CU_ASSERT_EQUAL(a[2], 0);
    reading_set(&rd, READING_P, 1500000);
    reading_set(&rd, READING_E_IMP, 7000);
    reading_set(&rd, READING_TARIFF, 2);
    CU_ASSERT_EQUAL(regmap_live_update_at(&live, &rd, 2000, REGMAP_DATA_LIVE), ML_OK);
    regmap_live_set_now(&live, 2000 + 70999); /* 70.999 s later: 70 */
    regmap_mb_read(&live, 4, 0x0004, 3, a);
    CU_ASSERT_EQUAL(a[0], 0);
    CU_ASSERT_EQUAL(a[1], 70);
    CU_ASSERT_EQUAL(a[2], 1);
    reading_clear_instant(&rd);
    CU_ASSERT_FALSE(reading_has(&rd, READING_P));
    CU_ASSERT_TRUE(reading_has(&rd, READING_E_IMP));
    CU_ASSERT_TRUE(reading_has(&rd, READING_TARIFF));
    regmap_live_update_at(&live, &rd, 2000, REGMAP_DATA_LOST);
    regmap_mb_read(&live, 3, 0x0004, 3, a);
    CU_ASSERT_EQUAL(a[1], 70); /* still the age of the last good telegram */
    CU_ASSERT_EQUAL(a[2], 2);
    uint16_t p[4];
    regmap_mb_read(&live, 3, (uint16_t)(0x0100 + 4 * READING_P), 4, p);
    CU_ASSERT_EQUAL(p[0] | p[1] | p[2] | p[3], 0);
    regmap_mb_read(&live, 3, (uint16_t)(0x0100 + 4 * READING_E_IMP), 4, p);
    CU_ASSERT_EQUAL(p[3], 7000);
}

static void test_regmap_pro380_kilo_units(void)
{
    reading_set(&rd, READING_P, 1500000);     /* 1500 W -> 1.5 kW = 0x3FC00000 */
    reading_set(&rd, READING_L1_P, -2300000); /* -2.3 kW = 0xC0133333 */
    reading_set(&rd, READING_E_EXP, 1000000); /* 1 kWh = 0x3F800000 */
    rd_read("Inepro-PRO380", 0x03, 0x5012, 4);
    CU_ASSERT_EQUAL(w[0], 0x3FC0);
    CU_ASSERT_EQUAL(w[1], 0x0000);
    CU_ASSERT_EQUAL(w[2], 0xC013);
    CU_ASSERT_EQUAL(w[3], 0x3333);
    regmap_snapshot_read(&snap, 0x04, 0x6018, 2, w);
    CU_ASSERT_EQUAL(w[0], 0x3F80);
    regmap_snapshot_read(&snap, 0x03, 0x4005, 2, w); /* 1.18 = 0x3F970A3D */
    CU_ASSERT_EQUAL(w[0], 0x3F97);
    CU_ASSERT_EQUAL(w[1], 0x0A3D);
    regmap_snapshot_read(&snap, 0x03, 0x1010, 1, w);
    CU_ASSERT_EQUAL(w[0], 0x2007);
}

static void test_regmap_acrel_scaled_integers(void)
{
    reading_set(&rd, READING_L1_U, 230100);   /* 0.1 V: 2301 = 0x08FD */
    reading_set(&rd, READING_L1_I, 1005);     /* 0.01 A: 100.5 rounds to 101 */
    reading_set(&rd, READING_L2_I, 700000);   /* 700 A: 70000 saturates at 65535 */
    reading_set(&rd, READING_L3_I, -20);      /* negative into uint16: 0 */
    reading_set(&rd, READING_L1_P, -1234500); /* -1234.5 W rounds to -1235 = 0xFFFFFB2D */
    reading_set(&rd, READING_PF, -950);       /* -0.95: -950 = 0xFC4A */
    rd_read("Acrel-ACR10RH", 0x03, 0x00F3, 16);
    CU_ASSERT_EQUAL(w[0], 0x08FD);
    CU_ASSERT_EQUAL(w[6], 101);     /* 0x00F9 */
    CU_ASSERT_EQUAL(w[7], 65535);   /* 0x00FA */
    CU_ASSERT_EQUAL(w[8], 0);       /* 0x00FB */
    CU_ASSERT_EQUAL(w[10], 0xFFFF); /* 0x00FD high word first */
    CU_ASSERT_EQUAL(w[11], 0xFB2D);
    regmap_snapshot_read(&snap, 0x04, 0x0118, 1, w);
    CU_ASSERT_EQUAL(w[0], 0xFC4A);
}

static void test_regmap_xemex_int64_and_presence(void)
{
    reading_set(&rd, READING_E_IMP, 123456789); /* 0x00000000075BCD15 */
    reading_set(&rd, READING_P, -1);            /* -1 mW: all ones */
    reading_set(&rd, READING_TS_UTC, 1700000000);
    rd_read("Xemex", 0x03, 0x0000, 4);
    CU_ASSERT_EQUAL(w[0], 0x584D);
    CU_ASSERT_EQUAL(w[1], 1);
    CU_ASSERT_EQUAL(w[2], READING_FIELD_COUNT);
    CU_ASSERT_EQUAL(w[3], 0x0100);
    uint16_t a = 0x01D4; /* e_imp is field 53 (reading.h is append-only) */
    regmap_snapshot_read(&snap, 0x04, a, 4, w);
    CU_ASSERT_EQUAL(w[0], 0);
    CU_ASSERT_EQUAL(w[1], 0);
    CU_ASSERT_EQUAL(w[2], 0x075B);
    CU_ASSERT_EQUAL(w[3], 0xCD15);
    regmap_snapshot_read(&snap, 0x03, 0x0108, 4, w); /* p is field 2 */
    CU_ASSERT_EQUAL(w[0], 0xFFFF);
    CU_ASSERT_EQUAL(w[3], 0xFFFF);
    /* presence: TS_UTC is field 0, P field 2 */
    regmap_snapshot_read(&snap, 0x03, 0x0010, 6, w);
    CU_ASSERT_EQUAL(w[0] & 0x0007, 0x0005);
    CU_ASSERT_EQUAL(w[READING_E_IMP / 16] >> (READING_E_IMP % 16) & 1, 1);
    /* CSMB block */
    regmap_snapshot_read(&snap, 0x03, 0x4002, 1, w);
    CU_ASSERT_EQUAL(w[0], 20802);
}

static void test_regmap_live_swap_keeps_one_telegram(void)
{
    static struct regmap_live live;
    regmap_live_init(&live, tpl("PhoenixContact-EMPro"));
    /* before any telegram: zeros */
    CU_ASSERT_EQUAL(regmap_mb_read(&live, 0x03, 0x8006, 4, w), 0);
    CU_ASSERT_EQUAL(w[1], 0);
    reading_set(&rd, READING_L1_U, 230000);
    reading_set(&rd, READING_L2_U, 230000);
    CU_ASSERT_EQUAL(regmap_live_update(&live, &rd), ML_OK);
    CU_ASSERT_EQUAL(regmap_live_current(&live)->seq, 1);
    /* telegram 2 rendered into the spare but not yet published */
    reading_set(&rd, READING_L1_U, 231500);
    reading_set(&rd, READING_L2_U, 231500);
    regmap_render(tpl("PhoenixContact-EMPro"), &rd, regmap_live_spare(&live));
    regmap_mb_read(&live, 0x03, 0x8006, 4, w);
    CU_ASSERT_EQUAL(w[1], 0x4366);
    CU_ASSERT_EQUAL(w[3], 0x4366);
    regmap_live_swap(&live);
    regmap_mb_read(&live, 0x03, 0x8006, 4, w);
    CU_ASSERT_EQUAL(w[0], 0x8000); /* 231.5 = 0x43678000 */
    CU_ASSERT_EQUAL(w[1], 0x4367);
    CU_ASSERT_EQUAL(w[3], 0x4367);
}

static void test_regmap_serves_the_modbus_engine(void)
{
    static struct regmap_live live;
    regmap_live_init(&live, tpl("Eastron-SDM630"));
    reading_set(&rd, READING_L1_U, 230000);
    regmap_live_update(&live, &rd);
    struct mb_slave s;
    mb_slave_init(&s, regmap_mb_read, NULL, &live);
    static const uint8_t req[] = {0x04, 0x00, 0x00, 0x00, 0x02};
    uint8_t out[16];
    CU_ASSERT_EQUAL(mb_slave_handle_pdu(&s, req, 5, out, sizeof out), 6);
    static const uint8_t want[] = {0x04, 0x04, 0x43, 0x66, 0x00, 0x00};
    CU_ASSERT_EQUAL(memcmp(out, want, 6), 0);
    static const uint8_t wr[] = {0x06, 0x00, 0x00, 0x00, 0x01};
    CU_ASSERT_EQUAL(mb_slave_handle_pdu(&s, wr, 5, out, sizeof out), 2);
    CU_ASSERT_EQUAL(out[0], 0x86);
    CU_ASSERT_EQUAL(out[1], 0x01);
}

int main(void)
{
    static const struct ml_test_case cases[] = {
        {"test_regmap_templates_are_valid", test_regmap_templates_are_valid},
        {"test_regmap_empro_float_cdab", test_regmap_empro_float_cdab},
        {"test_regmap_sdm630_spaces_and_identity", test_regmap_sdm630_spaces_and_identity},
        {"test_regmap_sdm630_same_data_both_fcs", test_regmap_sdm630_same_data_both_fcs},
        {"test_regmap_empro_high_word_first", test_regmap_empro_high_word_first},
        {"test_regmap_xemex_data_age_and_loss", test_regmap_xemex_data_age_and_loss},
        {"test_regmap_pro380_kilo_units", test_regmap_pro380_kilo_units},
        {"test_regmap_acrel_scaled_integers", test_regmap_acrel_scaled_integers},
        {"test_regmap_xemex_int64_and_presence", test_regmap_xemex_int64_and_presence},
        {"test_regmap_live_swap_keeps_one_telegram", test_regmap_live_swap_keeps_one_telegram},
        {"test_regmap_serves_the_modbus_engine", test_regmap_serves_the_modbus_engine},
    };
    return ml_test_run("regmap", cases, ML_ARRAY_SIZE(cases), setup, NULL);
}

/* Unit tests for core/reading: presence, derivation rules, local time to UTC. */
#include <string.h>

#include "err.h"
#include "ml_test.h"
#include "reading/reading.h"

static struct reading r;

static void setup(void)
{
    reading_init(&r);
}

static void test_reading_fields_start_absent(void)
{
    for (int f = 0; f < READING_FIELD_COUNT; f++) {
        CU_ASSERT_FALSE(reading_has(&r, (enum reading_field)f));
    }
    int64_t v = 42;
    CU_ASSERT_FALSE(reading_get(&r, READING_P, &v));
    CU_ASSERT_EQUAL(v, 42);
    CU_ASSERT_FALSE(reading_has(&r, READING_FIELD_COUNT));
}

static void test_reading_set_get_clear(void)
{
    reading_set(&r, READING_L3_SWELLS, 7);
    int64_t v;
    CU_ASSERT_TRUE(reading_get(&r, READING_L3_SWELLS, &v));
    CU_ASSERT_EQUAL(v, 7);
    reading_clear(&r, READING_L3_SWELLS);
    CU_ASSERT_FALSE(reading_has(&r, READING_L3_SWELLS));
}

static void test_reading_keys_unique_and_found(void)
{
    for (int f = 0; f < READING_FIELD_COUNT; f++) {
        const char *k = reading_field_info((enum reading_field)f)->key;
        CU_ASSERT_EQUAL(reading_field_by_key(k, strlen(k)), f);
    }
    CU_ASSERT_EQUAL(reading_field_by_key("l1_p", 4), READING_L1_P);
    CU_ASSERT_EQUAL(reading_field_by_key("l1_", 3), ML_ENOENT);
    CU_ASSERT_EQUAL(reading_field_by_key("nope", 4), ML_ENOENT);
}

static void test_reading_derive_p_from_parts(void)
{
    reading_set(&r, READING_P_IMP, 0);
    reading_set(&r, READING_P_EXP, 4023000); /* 4.023 kW exported, in mW */
    reading_set(&r, READING_L2_P_IMP, 959000);
    reading_set(&r, READING_L2_P_EXP, 0);
    reading_derive(&r);
    int64_t v;
    CU_ASSERT_TRUE(reading_get(&r, READING_P, &v));
    CU_ASSERT_EQUAL(v, -4023000);
    CU_ASSERT_TRUE(reading_get(&r, READING_L2_P, &v));
    CU_ASSERT_EQUAL(v, 959000);
    /* nothing invented: L1/L3 had no parts, Q had none */
    CU_ASSERT_FALSE(reading_has(&r, READING_L1_P));
    CU_ASSERT_FALSE(reading_has(&r, READING_Q));
    CU_ASSERT_DOUBLE_EQUAL(reading_get_si(&r, READING_P), -4023.0, 1e-9);
}

static void test_reading_derive_parts_from_signed(void)
{
    reading_set(&r, READING_P, -1500000);
    reading_derive(&r);
    int64_t a, b;
    CU_ASSERT_TRUE(reading_get(&r, READING_P_IMP, &a));
    CU_ASSERT_TRUE(reading_get(&r, READING_P_EXP, &b));
    CU_ASSERT_EQUAL(a, 0);
    CU_ASSERT_EQUAL(b, 1500000);
}

static void test_reading_derive_never_overwrites(void)
{
    reading_set(&r, READING_P, 5);
    reading_set(&r, READING_P_IMP, 100);
    reading_set(&r, READING_P_EXP, 1);
    reading_set(&r, READING_E_IMP, 77);
    reading_set(&r, READING_E_IMP_T1, 1000);
    reading_derive(&r);
    int64_t v;
    reading_get(&r, READING_P, &v);
    CU_ASSERT_EQUAL(v, 5);
    reading_get(&r, READING_E_IMP, &v);
    CU_ASSERT_EQUAL(v, 77);
}

static int64_t get(enum reading_field f)
{
    int64_t v = -999999;
    CU_ASSERT_TRUE(reading_get(&r, f, &v));
    return v;
}

/* products.md "S and PF"; expected values worked out by hand. */
static void test_reading_derive_s_pf(void)
{
    reading_set(&r, READING_P_IMP, 3000000); /* 3 kW */
    reading_set(&r, READING_P_EXP, 0);
    reading_set(&r, READING_Q_IMP, 4000000); /* 4 kvar */
    reading_set(&r, READING_Q_EXP, 0);
    reading_set(&r, READING_L1_P, -4023000); /* no Q on L1 */
    reading_set(&r, READING_L2_P, 0);
    reading_set(&r, READING_L3_P, 1500000); /* 1.5 kW, 0.12 kvar */
    reading_set(&r, READING_L3_Q, 120000);
    reading_derive(&r);
    CU_ASSERT_EQUAL(get(READING_S), 5000000);
    CU_ASSERT_EQUAL(get(READING_PF), 600);
    CU_ASSERT_EQUAL(get(READING_L1_S), 4023000);
    CU_ASSERT_EQUAL(get(READING_L1_PF), -1000);
    CU_ASSERT_EQUAL(get(READING_L2_S), 0); /* nothing flows: S 0, PF 0 */
    CU_ASSERT_EQUAL(get(READING_L2_PF), 0);
    /* sqrt(1500^2 + 120^2) = 1504.7923 VA; 1500 / 1504.7923 = 0.99682 */
    CU_ASSERT_EQUAL(get(READING_L3_S), 1504792);
    CU_ASSERT_EQUAL(get(READING_L3_PF), 997);
}

static void test_reading_derive_s_pf_limits(void)
{
    /* no P: nothing derived, even with Q */
    reading_set(&r, READING_Q, 5);
    /* a sent S and PF win; PF from P and the sent S */
    reading_set(&r, READING_L1_P, 100000);
    reading_set(&r, READING_L1_S, 200000);
    reading_set(&r, READING_L2_P, 1);
    reading_set(&r, READING_L2_PF, 123);
    /* the extremes of int64 neither overflow nor leave [-1, 1] */
    reading_set(&r, READING_L3_P, INT64_MIN);
    reading_set(&r, READING_L3_Q, INT64_MAX);
    reading_derive(&r);
    CU_ASSERT_FALSE(reading_has(&r, READING_S));
    CU_ASSERT_FALSE(reading_has(&r, READING_PF));
    CU_ASSERT_EQUAL(get(READING_L1_S), 200000);
    CU_ASSERT_EQUAL(get(READING_L1_PF), 500);
    CU_ASSERT_EQUAL(get(READING_L2_PF), 123);
    CU_ASSERT_EQUAL(get(READING_L2_S), 1);
    CU_ASSERT_EQUAL(get(READING_L3_S), INT64_MAX);     /* sqrt(2) * 2^63 saturates */
    CU_ASSERT_EQUAL(get(READING_L3_PF), -707);         /* -1 / sqrt(2) */
    CU_ASSERT_EQUAL(get(READING_L3_P_EXP), INT64_MAX); /* |INT64_MIN| saturates */
    CU_ASSERT_EQUAL(get(READING_L3_P_IMP), 0);
}

static void test_reading_derive_energy_sum_and_gas(void)
{
    reading_set(&r, READING_E_IMP_T1, 1581123000); /* 1581.123 kWh in mWh */
    reading_set(&r, READING_E_IMP_T2, 1000);
    r.mbus[1].present = true;
    r.mbus[1].type = READING_MBUS_GAS;
    r.mbus[1].has_value = true;
    r.mbus[1].value_milli = 12785123;
    r.mbus[1].ts_utc = 1000;
    reading_derive(&r);
    int64_t v;
    CU_ASSERT_TRUE(reading_get(&r, READING_E_IMP, &v));
    CU_ASSERT_EQUAL(v, 1581124000);
    CU_ASSERT_FALSE(reading_has(&r, READING_E_EXP));
    CU_ASSERT_TRUE(reading_get(&r, READING_GAS, &v));
    CU_ASSERT_EQUAL(v, 12785123);
    CU_ASSERT_FALSE(reading_has(&r, READING_WATER));
}

static void test_reading_local_to_utc(void)
{
    /* 2010-12-09 11:30:20 W (CET) = 10:30:20 UTC = 1291890620 (date -u -d @1291890620). */
    CU_ASSERT_EQUAL(reading_local_to_utc(2010, 12, 9, 11, 30, 20, 0), 1291890620);
    /* 2020-05-09 13:45:58 S (CEST) = 11:45:58 UTC = 1589024758. */
    CU_ASSERT_EQUAL(reading_local_to_utc(2020, 5, 9, 13, 45, 58, 1), 1589024758);
    /* unknown DST: 2009-02-12 16:00:00 is winter -> 15:00 UTC = 1234450800 */
    CU_ASSERT_EQUAL(reading_local_to_utc(2009, 2, 12, 16, 0, 0, -1), 1234450800);
    /* unknown DST in July: summer -> 2021-07-01 12:00 local = 10:00 UTC = 1625133600 */
    CU_ASSERT_EQUAL(reading_local_to_utc(2021, 7, 1, 12, 0, 0, -1), 1625133600);
    /* placeholders: month 25, day 0, Feb 29 of a non-leap year */
    CU_ASSERT_EQUAL(reading_local_to_utc(2063, 25, 25, 25, 25, 25, 0), ML_EINVAL);
    CU_ASSERT_EQUAL(reading_local_to_utc(2000, 1, 0, 0, 0, 0, 0), ML_EINVAL);
    CU_ASSERT_EQUAL(reading_local_to_utc(2023, 2, 29, 0, 0, 0, 0), ML_EINVAL);
    CU_ASSERT_TRUE(reading_local_to_utc(2024, 2, 29, 0, 0, 0, 0) > 0);
}

static void test_reading_raw_objects_bounded(void)
{
    for (int i = 0; i < ML_READING_RAW_MAX + 3; i++) {
        reading_raw_add(&r, "1-0:94.32.1", 11, "400", 3);
    }
    CU_ASSERT_EQUAL(r.raw_count, ML_READING_RAW_MAX);
    CU_ASSERT_EQUAL(r.raw_dropped, 3);
    CU_ASSERT_STRING_EQUAL(r.raw[0].id, "1-0:94.32.1");
    char big[100];
    memset(big, 'x', sizeof big);
    reading_init(&r);
    reading_raw_add(&r, "X", 1, big, sizeof big);
    CU_ASSERT_TRUE(r.raw[0].truncated);
    CU_ASSERT_EQUAL(strlen(r.raw[0].value), sizeof r.raw[0].value - 1);
}

int main(void)
{
    static const struct ml_test_case cases[] = {
        {"test_reading_fields_start_absent", test_reading_fields_start_absent},
        {"test_reading_set_get_clear", test_reading_set_get_clear},
        {"test_reading_keys_unique_and_found", test_reading_keys_unique_and_found},
        {"test_reading_derive_p_from_parts", test_reading_derive_p_from_parts},
        {"test_reading_derive_parts_from_signed", test_reading_derive_parts_from_signed},
        {"test_reading_derive_never_overwrites", test_reading_derive_never_overwrites},
        {"test_reading_derive_energy_sum_and_gas", test_reading_derive_energy_sum_and_gas},
        {"test_reading_derive_s_pf", test_reading_derive_s_pf},
        {"test_reading_derive_s_pf_limits", test_reading_derive_s_pf_limits},
        {"test_reading_local_to_utc", test_reading_local_to_utc},
        {"test_reading_raw_objects_bounded", test_reading_raw_objects_bounded},
    };
    return ml_test_run("reading", cases, ML_ARRAY_SIZE(cases), setup, NULL);
}

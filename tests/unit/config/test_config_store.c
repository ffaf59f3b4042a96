/*
 * Tests of the two-slot config store: a RAM NOR fake for the logic, and the
 * sim port's flash (with its power-cut switch) for the power-cut guarantee
 * (STYLE.md rule 23: every N).
 */
#include <stdio.h>
#include <string.h>

#include "cfg_flash_hal.h"
#include "config/cfg_store.h"
#include "crc.h"
#include "err.h"
#include "ml_test.h"
#include "sim.h"

/* ------------------------------------------------------------------------- */
/* RAM NOR fake                                                              */
/* ------------------------------------------------------------------------- */

#define FAKE_SLOT 512u

struct fake_flash {
    uint8_t mem[2][FAKE_SLOT];
    unsigned writes;
};

static int f_read(void *ctx, unsigned slot, uint32_t off, void *buf, size_t len)
{
    struct fake_flash *f = ctx;
    if (slot > 1 || off + len > FAKE_SLOT) {
        return ML_EINVAL;
    }
    memcpy(buf, &f->mem[slot][off], len);
    return 0;
}

static int f_erase(void *ctx, unsigned slot)
{
    struct fake_flash *f = ctx;
    memset(f->mem[slot], 0xFF, FAKE_SLOT);
    f->writes++;
    return 0;
}

static int f_write(void *ctx, unsigned slot, uint32_t off, const void *buf, size_t len)
{
    struct fake_flash *f = ctx;
    const uint8_t *p = buf;
    if (slot > 1 || off + len > FAKE_SLOT) {
        return ML_EINVAL;
    }
    for (size_t i = 0; i < len; i++) {
        f->mem[slot][off + i] &= p[i];
    }
    f->writes++;
    return 0;
}

static struct fake_flash fake;
static struct cfg_flash_ops fake_ops = {f_read, f_erase, f_write, FAKE_SLOT, &fake};

static void fake_reset(void)
{
    memset(&fake, 0xFF, sizeof fake);
    fake.writes = 0;
}

/* ------------------------------------------------------------------------- */
/* Cases on the fake                                                         */
/* ------------------------------------------------------------------------- */

static void test_cfg_store_empty_is_enoent(void)
{
    fake_reset();
    uint8_t buf[32];
    size_t len = 99;
    CU_ASSERT_EQUAL(cfg_store_load(&fake_ops, buf, sizeof buf, &len, NULL), ML_ENOENT);
    CU_ASSERT_EQUAL(len, 99);
}

static void test_cfg_store_roundtrip_and_alternates(void)
{
    fake_reset();
    char buf[64];
    size_t len;
    uint32_t seq;
    for (int i = 0; i < 7; i++) {
        char blob[32];
        int n = snprintf(blob, sizeof blob, "config number %d", i);
        CU_ASSERT_EQUAL(cfg_store_save(&fake_ops, blob, (size_t)n), 0);
        CU_ASSERT_EQUAL(cfg_store_load(&fake_ops, buf, sizeof buf, &len, &seq), 0);
        CU_ASSERT_EQUAL(len, (size_t)n);
        CU_ASSERT_EQUAL(memcmp(buf, blob, len), 0);
        CU_ASSERT_EQUAL(seq, (uint32_t)i + 1);
    }
    /* both slots hold valid copies now (seq 6 and 7) */
    CU_ASSERT_EQUAL(fake.mem[0][0], 0x4D);
    CU_ASSERT_EQUAL(fake.mem[1][0], 0x4D);
}

static void test_cfg_store_empty_blob(void)
{
    fake_reset();
    uint8_t buf[4];
    size_t len = 7;
    CU_ASSERT_EQUAL(cfg_store_save(&fake_ops, NULL, 0), 0);
    CU_ASSERT_EQUAL(cfg_store_load(&fake_ops, buf, sizeof buf, &len, NULL), 0);
    CU_ASSERT_EQUAL(len, 0);
}

static void test_cfg_store_too_big_and_small_cap(void)
{
    fake_reset();
    static uint8_t big[FAKE_SLOT];
    memset(big, 0x5A, sizeof big);
    CU_ASSERT_EQUAL(cfg_store_save(&fake_ops, big, FAKE_SLOT - CFG_STORE_HDR_SIZE + 1),
                    ML_EMSGSIZE);
    CU_ASSERT_EQUAL(cfg_store_save(&fake_ops, big, FAKE_SLOT - CFG_STORE_HDR_SIZE), 0);
    uint8_t small[16];
    CU_ASSERT_EQUAL(cfg_store_load(&fake_ops, small, sizeof small, NULL, NULL), ML_ENOSPC);
    CU_ASSERT_EQUAL(cfg_store_load(NULL, small, sizeof small, NULL, NULL), ML_EFAULT);
}

static void test_cfg_store_bitrot_falls_back(void)
{
    fake_reset();
    char buf[32];
    size_t len;
    uint32_t seq;
    CU_ASSERT_EQUAL(cfg_store_save(&fake_ops, "AAAA", 4), 0); /* slot 0, seq 1 */
    CU_ASSERT_EQUAL(cfg_store_save(&fake_ops, "BBBB", 4), 0); /* slot 1, seq 2 */
    fake.mem[1][CFG_STORE_HDR_SIZE + 2] ^= 0x01;              /* rot one payload bit */
    CU_ASSERT_EQUAL(cfg_store_load(&fake_ops, buf, sizeof buf, &len, &seq), 0);
    CU_ASSERT_EQUAL(seq, 1);
    CU_ASSERT_EQUAL(memcmp(buf, "AAAA", 4), 0);
    /* the next save overwrites the rotten slot, not the good one */
    CU_ASSERT_EQUAL(cfg_store_save(&fake_ops, "CCCC", 4), 0);
    CU_ASSERT_EQUAL(cfg_store_load(&fake_ops, buf, sizeof buf, &len, &seq), 0);
    CU_ASSERT_EQUAL(seq, 2);
    CU_ASSERT_EQUAL(memcmp(buf, "CCCC", 4), 0);
    /* rot in a header field (seq) too */
    fake.mem[1][5] ^= 0x10;
    CU_ASSERT_EQUAL(cfg_store_load(&fake_ops, buf, sizeof buf, &len, &seq), 0);
    CU_ASSERT_EQUAL(memcmp(buf, "AAAA", 4), 0);
    /* both rotten: nothing */
    fake.mem[0][CFG_STORE_HDR_SIZE] ^= 0x80;
    CU_ASSERT_EQUAL(cfg_store_load(&fake_ops, buf, sizeof buf, &len, &seq), ML_ENOENT);
}

static void test_cfg_store_seq_wraps(void)
{
    fake_reset();
    /* Forge a slot with seq 0xFFFFFFFF by saving and patching is not possible on
     * NOR (bits only clear), so write it by hand through the fake. */
    uint8_t hdr[16] = {0x4D, 0x4C, 0x43, 0x46, 0xFF, 0xFF, 0xFF, 0xFF, 1, 0, 0, 0};
    uint8_t payload = 'X';
    uint32_t crc = ml_crc32(ML_CRC32_INIT, &hdr[4], 8);
    crc = ml_crc32(crc, &payload, 1);
    hdr[12] = (uint8_t)crc;
    hdr[13] = (uint8_t)(crc >> 8);
    hdr[14] = (uint8_t)(crc >> 16);
    hdr[15] = (uint8_t)(crc >> 24);
    f_write(&fake, 0, 0, hdr, sizeof hdr);
    f_write(&fake, 0, 16, &payload, 1);
    char buf[8];
    uint32_t seq;
    CU_ASSERT_EQUAL(cfg_store_load(&fake_ops, buf, sizeof buf, NULL, &seq), 0);
    CU_ASSERT_EQUAL(seq, 0xFFFFFFFFu);
    CU_ASSERT_EQUAL(cfg_store_save(&fake_ops, "Y", 1), 0); /* seq wraps to 0 */
    CU_ASSERT_EQUAL(cfg_store_load(&fake_ops, buf, sizeof buf, NULL, &seq), 0);
    CU_ASSERT_EQUAL(seq, 0);
    CU_ASSERT_EQUAL(buf[0], 'Y');
}

static void test_cfg_store_erase_all(void)
{
    fake_reset();
    CU_ASSERT_EQUAL(cfg_store_save(&fake_ops, "AAAA", 4), 0);
    CU_ASSERT_EQUAL(cfg_store_save(&fake_ops, "BBBB", 4), 0);
    CU_ASSERT_EQUAL(cfg_store_erase_all(&fake_ops), 0);
    char buf[8];
    CU_ASSERT_EQUAL(cfg_store_load(&fake_ops, buf, sizeof buf, NULL, NULL), ML_ENOENT);
}

/* ------------------------------------------------------------------------- */
/* Power cut on the sim port's flash                                         */
/* ------------------------------------------------------------------------- */

static void idle_app(void)
{
    while (!hal_sys_should_stop()) {
        hal_time_wait_until(UINT64_MAX);
    }
}

/* Two payloads that differ in every byte and are long enough to span several
 * program units (the sim's write_unit is 256 bytes). */
static uint8_t blob_a[700];
static uint8_t blob_b[900];

static void fill_blobs(void)
{
    for (size_t i = 0; i < sizeof blob_a; i++) {
        blob_a[i] = (uint8_t)(i * 7u + 1u);
    }
    for (size_t i = 0; i < sizeof blob_b; i++) {
        blob_b[i] = (uint8_t) ~(i * 7u + 1u);
    }
}

/* The exhaustive cut: for N = 1, 2, ... cut power during the save of B, reboot,
 * and check the store returns exactly A or exactly B. Repeated from a state
 * where A was saved once (B slot empty) and twice (both slots valid). */
static void run_cut_series(int saves_of_a)
{
    struct sim_config cfg = {.time_mode = SIM_TIME_VIRTUAL};
    struct cfg_flash_ops ops;
    uint8_t buf[1024];
    int completed_at = 0;
    int saw_a = 0;
    int saw_b = 0;
    for (uint32_t n = 1; n < 100 && completed_at == 0; n++) {
        CU_ASSERT_EQUAL_FATAL(sim_start(&cfg, idle_app), 0); /* fresh erased flash */
        CU_ASSERT_EQUAL_FATAL(cfg_flash_hal_ops(&ops), 0);
        for (int i = 0; i < saves_of_a; i++) {
            CU_ASSERT_EQUAL_FATAL(cfg_store_save(&ops, blob_a, sizeof blob_a), 0);
        }
        sim_flash_cut_after(n);
        int err = cfg_store_save(&ops, blob_b, sizeof blob_b);
        sim_flash_cut_after(0); /* power is back: reboot */
        CU_ASSERT_EQUAL(sim_power_cycle(), 0);
        size_t len = 0;
        CU_ASSERT_EQUAL_FATAL(cfg_store_load(&ops, buf, sizeof buf, &len, NULL), 0);
        bool is_a = len == sizeof blob_a && memcmp(buf, blob_a, len) == 0;
        bool is_b = len == sizeof blob_b && memcmp(buf, blob_b, len) == 0;
        CU_ASSERT(is_a || is_b);
        if (err == 0) {
            CU_ASSERT(is_b); /* a completed save is durable */
            completed_at = (int)n;
        } else {
            CU_ASSERT(is_a); /* an interrupted save leaves the old copy */
        }
        saw_a += is_a;
        saw_b += is_b;
        sim_stop();
    }
    /* erase + 4 data pages (900 B over 256-byte units from off 16) + tail + magic */
    CU_ASSERT(completed_at >= 7);
    CU_ASSERT(saw_a == completed_at - 1);
    CU_ASSERT(saw_b == 1);
}

static void test_cfg_store_power_cut_every_n_one_copy(void)
{
    fill_blobs();
    run_cut_series(1);
}

static void test_cfg_store_power_cut_every_n_two_copies(void)
{
    fill_blobs();
    run_cut_series(2);
}

static void test_cfg_store_power_cut_during_erase_all(void)
{
    fill_blobs();
    struct sim_config cfg = {.time_mode = SIM_TIME_VIRTUAL};
    struct cfg_flash_ops ops;
    uint8_t buf[1024];
    for (uint32_t n = 1; n <= 3; n++) {
        CU_ASSERT_EQUAL_FATAL(sim_start(&cfg, idle_app), 0);
        CU_ASSERT_EQUAL_FATAL(cfg_flash_hal_ops(&ops), 0);
        CU_ASSERT_EQUAL(cfg_store_save(&ops, blob_a, sizeof blob_a), 0);
        CU_ASSERT_EQUAL(cfg_store_save(&ops, blob_b, sizeof blob_b), 0);
        sim_flash_cut_after(n);
        int err = cfg_store_erase_all(&ops);
        sim_flash_cut_after(0);
        size_t len = 0;
        int lerr = cfg_store_load(&ops, buf, sizeof buf, &len, NULL);
        if (err == 0) {
            CU_ASSERT_EQUAL(lerr, ML_ENOENT);
        } else {
            /* never the older A: either newest B or nothing */
            CU_ASSERT(lerr == ML_ENOENT ||
                      (lerr == 0 && len == sizeof blob_b && memcmp(buf, blob_b, len) == 0));
        }
        sim_stop();
    }
}

static void test_cfg_store_bitrot_on_sim_flash(void)
{
    fill_blobs();
    struct sim_config cfg = {.time_mode = SIM_TIME_VIRTUAL};
    struct cfg_flash_ops ops;
    uint8_t buf[1024];
    size_t len;
    CU_ASSERT_EQUAL_FATAL(sim_start(&cfg, idle_app), 0);
    CU_ASSERT_EQUAL_FATAL(cfg_flash_hal_ops(&ops), 0);
    CU_ASSERT_EQUAL(cfg_store_save(&ops, blob_a, sizeof blob_a), 0); /* CONFIG_A */
    CU_ASSERT_EQUAL(cfg_store_save(&ops, blob_b, sizeof blob_b), 0); /* CONFIG_B */
    uint8_t zero = 0x00; /* a bit flips 1 -> 0 in B's payload */
    CU_ASSERT_EQUAL(hal_flash_write(HAL_FLASH_CONFIG_B, CFG_STORE_HDR_SIZE + 100, &zero, 1), 0);
    CU_ASSERT_EQUAL(cfg_store_load(&ops, buf, sizeof buf, &len, NULL), 0);
    CU_ASSERT_EQUAL(len, sizeof blob_a);
    CU_ASSERT_EQUAL(memcmp(buf, blob_a, len), 0);
    sim_stop();
}

int main(void)
{
    static const struct ml_test_case cases[] = {
        {"test_cfg_store_empty_is_enoent", test_cfg_store_empty_is_enoent},
        {"test_cfg_store_roundtrip_and_alternates", test_cfg_store_roundtrip_and_alternates},
        {"test_cfg_store_empty_blob", test_cfg_store_empty_blob},
        {"test_cfg_store_too_big_and_small_cap", test_cfg_store_too_big_and_small_cap},
        {"test_cfg_store_bitrot_falls_back", test_cfg_store_bitrot_falls_back},
        {"test_cfg_store_seq_wraps", test_cfg_store_seq_wraps},
        {"test_cfg_store_erase_all", test_cfg_store_erase_all},
        {"test_cfg_store_power_cut_every_n_one_copy", test_cfg_store_power_cut_every_n_one_copy},
        {"test_cfg_store_power_cut_every_n_two_copies",
         test_cfg_store_power_cut_every_n_two_copies},
        {"test_cfg_store_power_cut_during_erase_all", test_cfg_store_power_cut_during_erase_all},
        {"test_cfg_store_bitrot_on_sim_flash", test_cfg_store_bitrot_on_sim_flash},
    };
    return ml_test_run("config_store", cases, ML_ARRAY_SIZE(cases), NULL, NULL);
}

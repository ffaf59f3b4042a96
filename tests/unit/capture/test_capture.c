#define _GNU_SOURCE
/*
 * Unit tests for sim/capture (ml_capture): protocol detection of corpus files, the line
 * end a P1 telegram keeps whatever the chunking, the time of a telegram cut off by the
 * next one, and the times of an imported dump. Expected protocols, sizes and times are
 * written by hand from the files (scenarios/telegrams, tests/data/recordings and
 * tests/data/make_recordings.py), never computed by the code under test.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ml_capture.h"
#include "ml_test.h"

static struct ml_capture cap;
static char tmpdir[64];

static void setup(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/ml-test-capture-XXXXXX");
    CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(tmpdir));
}

static void teardown(void)
{
    ml_capture_free(&cap);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    CU_ASSERT_EQUAL(system(cmd), 0);
}

static int detect_file(const char *path, bool *stripped)
{
    size_t len;
    uint8_t *b = ml_test_read_file(path, &len);
    if (b == NULL) {
        return -2;
    }
    struct ml_capture_detect d;
    int p = ml_capture_detect(b, len, ML_CAP_ANY, &d);
    if (stripped) {
        *stripped = d.parity_stripped;
    }
    free(b);
    return p;
}

static void test_capture_detect_corpus(void)
{
    static const struct {
        const char *file;
        int proto;
    } want[] = {
        {"src:scenarios/telegrams/dsmr/dsmr22_iskra_mt382.txt", ML_METER_DSMR30},
        {"src:scenarios/telegrams/dsmr/dsmr30_iskra_mt382.txt", ML_METER_DSMR30},
        {"src:scenarios/telegrams/dsmr/dsmr42_kaifa_3ph.txt", ML_METER_DSMR42},
        {"src:scenarios/telegrams/dsmr/dsmr50_iskra_3ph.txt", ML_METER_DSMR50},
        {"src:scenarios/telegrams/dsmr/emucs171_fluvius_3ph.txt", ML_METER_EMUCS171},
        {"src:scenarios/telegrams/tic/std-1ph.bin", ML_METER_TIC},
        {"src:scenarios/telegrams/tic/std-3ph-producer.bin", ML_METER_TIC},
        {"src:scenarios/telegrams/tic/hist-1ph.bin", ML_METER_TIC_HISTORIC},
        {"src:tests/data/recordings/linky-historic.bin", ML_METER_TIC_HISTORIC},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        bool stripped = true;
        int p = detect_file(want[i].file, &stripped);
        if (p != want[i].proto) {
            fprintf(stderr, "\n%s: protocol %d, want %d\n", want[i].file, p, want[i].proto);
        }
        CU_ASSERT_EQUAL(p, want[i].proto);
        CU_ASSERT_FALSE(stripped);
    }
    /* DSMR 3.0 with the parity bit in bit 7 (7E1 read at 8N1) */
    bool stripped = false;
    CU_ASSERT_EQUAL(detect_file("src:tests/data/recordings/attic-dsmr30-8bit.bin", &stripped),
                    ML_METER_DSMR30);
    CU_ASSERT_TRUE(stripped);
    /* nothing good: no protocol */
    static const uint8_t junk[] = "log line 1\r\nlog line 2\r\n";
    struct ml_capture_detect d;
    CU_ASSERT_EQUAL(ml_capture_detect(junk, sizeof junk - 1, ML_CAP_ANY, &d), -1);
    CU_ASSERT_EQUAL(d.family, ML_CAP_ANY);
    /* --protocol tic on P1 bytes finds nothing */
    size_t len;
    uint8_t *b = ml_test_read_file("src:scenarios/telegrams/dsmr/dsmr50_iskra_3ph.txt", &len);
    CU_ASSERT_EQUAL(ml_capture_detect(b, len, ML_CAP_TIC, &d), -1);
    CU_ASSERT_EQUAL(ml_capture_guess_proto(b, len), ML_METER_DSMR50);
    free(b);
}

static uint8_t *read_kept(size_t k, const char *ext, size_t *len)
{
    char path[1200];
    snprintf(path, sizeof path, "%s/%06zu.%s", cap.dir, k, ext);
    return ml_test_read_file(path, len);
}

/* Two DSMR 2.2 telegrams (413 bytes each, "!\r\n" at the end) in every chunk size: both
 * kept with their line end, byte for byte as in the corpus file. */
static void test_capture_p1_line_end_every_chunking(void)
{
    size_t tl;
    uint8_t *tg = ml_test_read_file("src:scenarios/telegrams/dsmr/dsmr22_iskra_mt382.txt", &tl);
    CU_ASSERT_EQUAL_FATAL(tl, 413);
    uint8_t stream[2 * 413];
    memcpy(stream, tg, tl);
    memcpy(stream + tl, tg, tl);
    for (size_t chunk = 1; chunk <= sizeof stream; chunk += chunk < 20 ? 1 : 97) {
        char out[128], err[256];
        snprintf(out, sizeof out, "%s/c%zu.yaml", tmpdir, chunk);
        CU_ASSERT_EQUAL_FATAL(ml_capture_open(&cap, out, false, err, sizeof err), 0);
        for (size_t o = 0; o < sizeof stream; o += chunk) {
            size_t n = sizeof stream - o < chunk ? sizeof stream - o : chunk;
            ml_capture_feed(&cap, stream + o, n, (double)o);
        }
        CU_ASSERT_EQUAL_FATAL(ml_capture_finish(&cap, err, sizeof err), 0);
        CU_ASSERT_EQUAL(cap.n, 2);
        CU_ASSERT_EQUAL(cap.count[ML_CAP_OK], 2);
        CU_ASSERT_EQUAL(cap.meter_proto, ML_METER_DSMR30);
        for (size_t k = 1; k <= 2; k++) {
            size_t len;
            uint8_t *b = read_kept(k, "txt", &len);
            CU_ASSERT_EQUAL(len, 413);
            CU_ASSERT_TRUE(b && len == tl && memcmp(b, tg, tl) == 0);
            free(b);
        }
        ml_capture_free(&cap);
    }
    free(tg);
}

/* A telegram cut off (at a line start, or mid-line by "/ISk5") by the next one, whose
 * bytes arrive 1 s later: the cut one keeps its own time. */
static void test_capture_cut_off_time(void)
{
    size_t tl;
    uint8_t *tg = ml_test_read_file("src:scenarios/telegrams/dsmr/dsmr50_iskra_3ph.txt", &tl);
    CU_ASSERT_FATAL(tg != NULL && tl > 400);
    /* cut after 300 bytes (mid-line) and after the 2nd line (a line start) */
    const uint8_t *nl = memchr(tg + 1, '\n', tl - 1);
    nl = memchr(nl + 1, '\n', tl - (size_t)(nl + 1 - tg));
    size_t cuts[2] = {300, (size_t)(nl + 1 - tg)};
    for (int c = 0; c < 2; c++) {
        char out[128], err[256];
        snprintf(out, sizeof out, "%s/cut%d.yaml", tmpdir, c);
        CU_ASSERT_EQUAL_FATAL(ml_capture_open(&cap, out, false, err, sizeof err), 0);
        ml_capture_feed(&cap, tg, tl, 10.0);         /* good, t = 10 */
        ml_capture_feed(&cap, tg, cuts[c], 11.0);    /* cut off, t = 11 */
        ml_capture_feed(&cap, tg, 3, 12.0);          /* "/IS" of the next one: t = 12 */
        ml_capture_feed(&cap, tg + 3, tl - 3, 12.5); /* the rest */
        CU_ASSERT_EQUAL_FATAL(cap.n, 3);
        CU_ASSERT_EQUAL(cap.tel[0].verdict, ML_CAP_OK);
        CU_ASSERT_EQUAL(cap.tel[1].verdict, ML_CAP_FRAME);
        CU_ASSERT_EQUAL(cap.tel[2].verdict, ML_CAP_OK);
        CU_ASSERT_DOUBLE_EQUAL(cap.tel[0].t, 0.0, 1e-9);
        CU_ASSERT_DOUBLE_EQUAL(cap.tel[1].t, 1.0, 1e-9);
        CU_ASSERT_DOUBLE_EQUAL(cap.tel[2].t, 2.5, 1e-9);
        CU_ASSERT_EQUAL(cap.tel[1].len, cuts[c]);
        ml_capture_free(&cap);
    }
    free(tg);
}

/* The garage dump (make_recordings.py): clocks 12:00:00, :10, (bad CRC), :30 -> 0, 10,
 * 20 (spread), 30; the kitchen dump (DSMR 2.2, no clock): every 10 s. */
static void test_capture_import_times(void)
{
    char out[128], err[512];
    snprintf(out, sizeof out, "%s/garage.yaml", tmpdir);
    const char *src = getenv("ML_SOURCE_DIR");
    char in[1024];
    snprintf(in, sizeof in, "%s/tests/data/recordings/garage-dsmr50.txt", src ? src : ".");
    CU_ASSERT_EQUAL_FATAL(ml_capture_import(&cap, in, out, true, ML_CAP_ANY, 0, err, sizeof err),
                          0);
    CU_ASSERT_EQUAL_FATAL(cap.n, 4);
    static const double want[4] = {0, 10, 20, 30};
    for (int i = 0; i < 4; i++) {
        CU_ASSERT_DOUBLE_EQUAL(cap.tel[i].t, want[i], 1e-9);
    }
    CU_ASSERT_EQUAL(cap.tel[2].verdict, ML_CAP_CRC);
    CU_ASSERT_EQUAL(cap.utc_first, 1796641200); /* 2026-12-07 12:00:00 CET */
    ml_capture_free(&cap);
    snprintf(in, sizeof in, "%s/tests/data/recordings/kitchen-dsmr22.txt", src ? src : ".");
    snprintf(out, sizeof out, "%s/kitchen.yaml", tmpdir);
    CU_ASSERT_EQUAL_FATAL(ml_capture_import(&cap, in, out, false, ML_CAP_ANY, 2, err, sizeof err),
                          0);
    CU_ASSERT_EQUAL_FATAL(cap.n, 2); /* max 2 */
    CU_ASSERT_DOUBLE_EQUAL(cap.tel[1].t, 10.0, 1e-9);
    CU_ASSERT_EQUAL(cap.utc_first, 0);
    ml_capture_free(&cap);
    /* a dump with nothing good: 1, nothing written */
    snprintf(in, sizeof in, "%s/junk.txt", tmpdir);
    FILE *f = fopen(in, "w");
    fputs("/XXX5 nothing\r\n", f);
    fclose(f);
    snprintf(out, sizeof out, "%s/junk.yaml", tmpdir);
    CU_ASSERT_EQUAL(ml_capture_import(&cap, in, out, false, ML_CAP_ANY, 0, err, sizeof err), 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "no good P1 telegram or TIC frame"));
    CU_ASSERT_NOT_EQUAL(access(out, F_OK), 0);
}

int main(void)
{
    static const struct ml_test_case cases[] = {
        {"test_capture_detect_corpus", test_capture_detect_corpus},
        {"test_capture_p1_line_end_every_chunking", test_capture_p1_line_end_every_chunking},
        {"test_capture_cut_off_time", test_capture_cut_off_time},
        {"test_capture_import_times", test_capture_import_times},
    };
    return ml_test_run("capture", cases, sizeof cases / sizeof cases[0], setup, teardown);
}

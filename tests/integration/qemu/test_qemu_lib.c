/*
 * sim/qemu (ml_qemu.h) on its own, as the QEMU rig driver will use it: the
 * P1MB image started with a monitor socket, its banner and ptys, a reset
 * through the monitor's `system_reset` seen as a new banner on the console
 * (the board rebooted, configuration kept), and a stop that leaves neither
 * QEMU nor the socket behind. Errors: a missing image, a reset without monitor.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ml_qemu.h"
#include "ml_test.h"
#include "qemu_dev.h"

static char image[1200];

static void test_errors(void)
{
    struct ml_qemu_opts o = {.image = "/nonexistent/p1mb.elf", .p1mb = true};
    struct ml_qemu *q = (struct ml_qemu *)1;
    char err[2048] = "";
    CU_ASSERT_EQUAL(ml_qemu_start(&q, &o, NULL, err, sizeof err), -1);
    CU_ASSERT_PTR_NULL(q);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "/nonexistent/p1mb.elf"));
    o.image = image;
    o.qemu = "/nonexistent/qemu-system-arm";
    CU_ASSERT_EQUAL(ml_qemu_start(&q, &o, NULL, err, sizeof err), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "not found"));
}

/* Lines until "ready" after a "meterlab " line, within @p secs: 1 seen, 0 not. */
static int wait_reboot(struct ml_qemu *q, double secs, char *reset, size_t cap)
{
    double until = qd_now_s() + secs;
    bool in_banner = false;
    char line[512];
    while (qd_now_s() < until) {
        int r = ml_qemu_line(q, line, sizeof line, 200);
        if (r < 0) {
            return 0;
        }
        if (r == 0) {
            continue;
        }
        if (strncmp(line, "meterlab ", 9) == 0) {
            in_banner = true;
        } else if (in_banner && strncmp(line, "serial ", 7) == 0 && strstr(line, ", reset ")) {
            snprintf(reset, cap, "%s", strstr(line, ", reset ") + 8);
        } else if (in_banner && strcmp(line, "ready") == 0) {
            return 1;
        }
    }
    return 0;
}

static void test_p1mb_reset_through_monitor(void)
{
    char dir[] = "/tmp/qemu-lib.XXXXXX";
    CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
    char mon[64];
    snprintf(mon, sizeof mon, "%s/monitor.sock", dir);
    struct ml_qemu_opts o = {.image = image, .p1mb = true, .monitor = mon, .boot_ms = 30000};
    struct ml_qemu *q = NULL;
    struct ml_qemu_banner b;
    char err[2048] = "";
    double t0 = qd_now_s();
    int rc = ml_qemu_start(&q, &o, &b, err, sizeof err);
    if (rc != 0) {
        fprintf(stderr, "\n  %s\n", err);
    }
    CU_ASSERT_EQUAL_FATAL(rc, 0);
    printf("\n  booted in %.2f s\n", qd_now_s() - t0);
    CU_ASSERT_PTR_NOT_NULL(strstr(b.title, "meterlab p1mb"));
    CU_ASSERT_PTR_NOT_NULL(strstr(b.title, "sdm630"));
    CU_ASSERT_STRING_EQUAL(b.rs485, "9600 8E1, address 16, termination off");
    CU_ASSERT_STRING_NOT_EQUAL(ml_qemu_pty(q, ML_QEMU_RS485), "");
    CU_ASSERT_STRING_NOT_EQUAL(ml_qemu_pty(q, ML_QEMU_P1_IN), "");
    CU_ASSERT_STRING_EQUAL(ml_qemu_pty(q, ML_QEMU_P1_OUT), "");
    CU_ASSERT_EQUAL(access(mon, F_OK), 0);

    /* nothing reboots by itself */
    char reset[32] = "";
    CU_ASSERT_EQUAL(wait_reboot(q, 1.0, reset, sizeof reset), 0);
    /* the monitor's system_reset: the image boots again and prints its banner */
    t0 = qd_now_s();
    CU_ASSERT_EQUAL(ml_qemu_reset(q, err, sizeof err), 0);
    CU_ASSERT_EQUAL(wait_reboot(q, 30.0, reset, sizeof reset), 1);
    printf("  rebooted %.2f s after system_reset (reset %s)\n", qd_now_s() - t0, reset);
    CU_ASSERT_TRUE(ml_qemu_alive(q));

    ml_qemu_stop(q);
    CU_ASSERT_NOT_EQUAL(access(mon, F_OK), 0); /* the socket is gone with QEMU */
    rmdir(dir);

    /* without a monitor there is no reset, said so */
    o.monitor = NULL;
    CU_ASSERT_EQUAL_FATAL(ml_qemu_start(&q, &o, NULL, err, sizeof err), 0);
    CU_ASSERT_EQUAL(ml_qemu_reset(q, err, sizeof err), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "without a monitor"));
    ml_qemu_stop(q);
}

int main(void)
{
    int no_image = qd_init("qemu.lib", "p1mb_sdm630.elf");
    if (no_image != 0) {
        return no_image;
    }
    const char *dir = getenv("ML_QEMU_IMAGE_DIR");
    snprintf(image, sizeof image, "%s/p1mb_sdm630.elf", dir != NULL ? dir : "build/target/bin");
    signal(SIGPIPE, SIG_IGN);
    static const struct ml_test_case cases[] = {
        {"errors", test_errors},
        {"P1MB: banner, ptys, reset through the monitor", test_p1mb_reset_through_monitor},
    };
    return ml_test_run("qemu_lib", cases, sizeof cases / sizeof cases[0], NULL, NULL);
}

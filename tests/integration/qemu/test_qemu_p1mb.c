/*
 * The P1MB target image (p1mb_sdm630.elf, Cortex-M port) in QEMU, driven
 * through the real `meterlab device --target qemu` and observed from outside:
 * a DSMR 5 telegram is written into the P1-in pty, libmodbus reads the
 * registers as an RTU master over the RS485 pty, and a frame for another slave
 * id gets no answer; a new slave address written to the configuration
 * registers holds after the image's reboot (SYSRESETREQ, the emulated flash
 * survives it). Then SIGTERM stops meterlab and QEMU with it.
 *
 * Expected values (as tests/integration/p1mb for the sim): from
 * scenarios/telegrams/dsmr/dsmr50_spec_3ph.txt, 32.7.0 = 220.1 V, P = 1.193 kW - 0 =
 * 1193 W, energies 123456.789 * 2 = 246913.578 kWh.
 *
 * A host program (built by the host build) registered as ctest qemu.p1mb in
 * the target build (tests/target/CMakeLists.txt), which sets ML_QEMU_IMAGE_DIR
 * and ML_QEMU_REQUIRED=1. Run by hand without the image it skips (exit 77).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <modbus.h> /* libmodbus */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ml_test.h"
#include "qemu_dev.h"

static char p1_path[128], rs_path[128];
static uint8_t *tel;
static size_t tel_len;

static int run_quick(char *const argv[], char *out, size_t cap)
{
    int fd;
    pid_t pid = qd_spawn(argv, &fd);
    size_t len = 0;
    ssize_t n;
    while (len + 1 < cap && (n = read(fd, out + len, cap - 1 - len)) > 0) {
        len += (size_t)n;
    }
    out[len] = '\0';
    close(fd);
    int status;
    waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* ------------------------------------------------------------------------- */

static void test_errors(void)
{
    char out[2048];
    /* the image is missing: say which preset builds it */
    char *a1[] = {ML_METERLAB, "device",    "--target", "qemu",    "--product",
                  "p1mb",      "--variant", "sdm630",   "--image", "/nonexistent/p1mb.elf",
                  NULL};
    CU_ASSERT_EQUAL(run_quick(a1, out, sizeof out), 2);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "/nonexistent/p1mb.elf"));
    char *a2[] = {ML_METERLAB, "device", "--target", "qemu", "--product", "p1mb", NULL};
    CU_ASSERT_EQUAL(run_quick(a2, out, sizeof out), 2);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "--variant"));
    char *a3[] = {ML_METERLAB, "device", "--target", "vm", "--product", "p1mb", NULL};
    CU_ASSERT_EQUAL(run_quick(a3, out, sizeof out), 2);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "must be qemu"));
    /* qemu-system-arm missing */
    const char *q = getenv("QEMU");
    char qemu_was[1024];
    snprintf(qemu_was, sizeof qemu_was, "%s", q != NULL ? q : "");
    setenv("QEMU", "/nonexistent/qemu-system-arm", 1);
    char *a4[] = {ML_METERLAB, "device",    "--target", "qemu", "--product",
                  "p1mb",      "--variant", "sdm630",   NULL};
    CU_ASSERT_EQUAL(run_quick(a4, out, sizeof out), 2);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "not found"));
    if (qemu_was[0] != '\0') {
        setenv("QEMU", qemu_was, 1);
    } else {
        unsetenv("QEMU");
    }
}

static double rd_float(modbus_t *mb, int addr)
{
    uint16_t r[2] = {0xDEAD, 0xBEEF};
    CU_ASSERT_EQUAL(modbus_read_input_registers(mb, addr, 2, r), 2);
    return modbus_get_float_abcd(r);
}

static void test_p1mb_sdm630_in_qemu(void)
{
    double t0 = qd_now_s();
    char *argv[] = {ML_METERLAB, "device",    "--target", "qemu", "--product",
                    "p1mb",      "--variant", "sdm630",   NULL};
    qd_start(argv, 15.0, NULL);
    printf("\n  booted in %.2f s\n", qd_now_s() - t0);
    CU_ASSERT_PTR_NOT_NULL(strstr(qd_seen(), "meterlab device: P1MB, variant sdm630"));
    CU_ASSERT_PTR_NOT_NULL(strstr(qd_seen(), "(9600 8E1, address 16, termination off)"));
    qd_after("  P1 in ", p1_path, sizeof p1_path);
    qd_after("  RS485 ", rs_path, sizeof rs_path);
    CU_ASSERT_FATAL(strncmp(p1_path, "/dev/", 5) == 0 && strncmp(rs_path, "/dev/", 5) == 0);

    modbus_t *mb = modbus_new_rtu(rs_path, 9600, 'E', 8, 1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(mb);
    modbus_set_slave(mb, 16);
    modbus_set_response_timeout(mb, 0, 500000);
    CU_ASSERT_EQUAL_FATAL(modbus_connect(mb), 0);
    uint16_t code = 0;
    CU_ASSERT_EQUAL(modbus_read_registers(mb, 0xFC02, 1, &code), 1);
    CU_ASSERT_EQUAL(code, 0x0070);                            /* SDM630 meter code */
    CU_ASSERT_DOUBLE_EQUAL(rd_float(mb, 0x0000), 0.0, 1e-12); /* no telegram yet */

    /* the telegram into the P1-in pty */
    int p1 = open(p1_path, O_WRONLY | O_NOCTTY);
    CU_ASSERT_FATAL(p1 >= 0);
    CU_ASSERT_EQUAL((size_t)write(p1, tel, tel_len), tel_len);
    int ok = qd_wait_for("telegrams: 1 ok, 0 crc fail", 5.0);
    CU_ASSERT(ok);
    CU_ASSERT(qd_wait_for("P1 LED: on", 2.0));

    CU_ASSERT_DOUBLE_EQUAL(rd_float(mb, 0x0000), 220.1, 1e-3);      /* L1 voltage */
    CU_ASSERT_DOUBLE_EQUAL(rd_float(mb, 0x0034), 1193.0, 1e-3);     /* total power, W */
    CU_ASSERT_DOUBLE_EQUAL(rd_float(mb, 0x0048), 246913.578, 0.02); /* import kWh */
    uint16_t raw[2] = {0, 0};
    CU_ASSERT_EQUAL(modbus_read_input_registers(mb, 0x0034, 2, raw), 2);
    CU_ASSERT_EQUAL(raw[0], 0x4495); /* 1193.0f, high word first */
    CU_ASSERT_EQUAL(raw[1], 0x2000);

    /* another slave id: the device stays silent */
    modbus_set_slave(mb, 17);
    uint16_t r[2];
    errno = 0;
    CU_ASSERT_EQUAL(modbus_read_input_registers(mb, 0x0000, 2, r), -1);
    CU_ASSERT_EQUAL(errno, ETIMEDOUT);
    modbus_set_slave(mb, 16);
    CU_ASSERT_DOUBLE_EQUAL(rd_float(mb, 0x0002), 220.2, 1e-3); /* still answers us */

    /* a telegram with a broken CRC: counted, the P1 LED blinks */
    char crc_digit = (char)tel[tel_len - 3];
    tel[tel_len - 3] = crc_digit == '0' ? '1' : '0';
    CU_ASSERT_EQUAL((size_t)write(p1, tel, tel_len), tel_len);
    tel[tel_len - 3] = (uint8_t)crc_digit; /* the good telegram again, for later tests */
    CU_ASSERT(qd_wait_for("telegrams: 1 ok, 1 crc fail", 5.0));
    CU_ASSERT(qd_wait_for("P1 LED: blinking", 2.0));
    close(p1);

    /* a new address through the configuration registers, then a reboot: the
     * image resets (SYSRESETREQ) and comes back with the stored configuration
     * (the emulated flash survives the reset) */
    CU_ASSERT_EQUAL(modbus_write_register(mb, 0xF012, 22), 1);
    CU_ASSERT_EQUAL(modbus_write_register(mb, 0xF030, 0x5AA5), 1);
    CU_ASSERT(qd_wait_for("rebooted (reset soft): RS485 9600 8E1, address 22", 5.0));
    modbus_set_slave(mb, 22);
    uint16_t cfg[4] = {0, 0, 0, 0};
    CU_ASSERT_EQUAL(modbus_read_registers(mb, 0xF010, 4, cfg), 4);
    CU_ASSERT_EQUAL(cfg[0], 96); /* 9600 */
    CU_ASSERT_EQUAL(cfg[2], 22);
    modbus_set_slave(mb, 16);
    errno = 0;
    CU_ASSERT_EQUAL(modbus_read_registers(mb, 0xF010, 1, cfg), -1); /* the old address: silent */
    modbus_close(mb);
    modbus_free(mb);

    /* stop: meterlab exits 0 and QEMU (the pty's owner) is gone */
    qd_stop();
    usleep(100000);
    CU_ASSERT_NOT_EQUAL(access(rs_path, F_OK), 0); /* QEMU's pty was released */
    qd_dump_on_failure();
    printf("  whole run %.2f s\n", qd_now_s() - t0);
}

/* No meter and no master for longer than the 4 s watchdog: the image must not reset;
 * one telegram, then the meter is lost after the 30 s timeout; then the configurator cable on the
 * P1 pty (meterlab p1mb-config --via p1): the image answers on its P1 UART's transmit side, stores
 * address 9, reboots, and the tool verifies over the same cable; RS485 answers at address 9. */
static void test_p1mb_idle_and_config_cable_in_qemu(void)
{
    char *argv[] = {ML_METERLAB, "device",    "--target", "qemu", "--product",
                    "p1mb",      "--variant", "sdm630",   NULL};
    qd_start(argv, 15.0, NULL);
    qd_after("  P1 in ", p1_path, sizeof p1_path);
    qd_after("  RS485 ", rs_path, sizeof rs_path);
    CU_ASSERT_FATAL(strncmp(p1_path, "/dev/", 5) == 0 && strncmp(rs_path, "/dev/", 5) == 0);
    sleep(6);
    CU_ASSERT_PTR_NULL(strstr(qd_seen(), "WATCHDOG"));

    /* meter loss: one telegram, then none; about 30 s later the instantaneous values
     * read 0 and the energy keeps its value (products.md "Meter loss"); polled, bounded */
    modbus_t *mb = modbus_new_rtu(rs_path, 9600, 'E', 8, 1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(mb);
    modbus_set_slave(mb, 16);
    modbus_set_response_timeout(mb, 0, 500000);
    CU_ASSERT_EQUAL_FATAL(modbus_connect(mb), 0);
    int p1 = open(p1_path, O_WRONLY | O_NOCTTY);
    CU_ASSERT_FATAL(p1 >= 0);
    CU_ASSERT_EQUAL((size_t)write(p1, tel, tel_len), tel_len);
    close(p1);
    CU_ASSERT(qd_wait_for("telegrams: 1 ok", 5.0));
    double t_tel = qd_now_s();
    CU_ASSERT_DOUBLE_EQUAL(rd_float(mb, 0x0034), 1193.0, 1e-3); /* total power, W */
    double p_now = -1.0;
    while (qd_now_s() - t_tel < 45.0) {
        sleep(1);
        uint16_t r[2];
        if (modbus_read_input_registers(mb, 0x0034, 2, r) == 2) { /* a lost poll is retried */
            p_now = modbus_get_float_abcd(r);
            if (p_now == 0.0) {
                break;
            }
        }
    }
    double lost_after = qd_now_s() - t_tel;
    printf("\n  meter lost after %.1f s\n", lost_after);
    CU_ASSERT_DOUBLE_EQUAL(p_now, 0.0, 1e-12);
    CU_ASSERT(lost_after > 28.0);
    CU_ASSERT_DOUBLE_EQUAL(rd_float(mb, 0x0000), 0.0, 1e-12);       /* L1 voltage */
    CU_ASSERT_DOUBLE_EQUAL(rd_float(mb, 0x0048), 246913.578, 0.02); /* import kWh kept */
    modbus_close(mb);
    modbus_free(mb);

    char cmd[512], out[4096];
    snprintf(cmd, sizeof cmd, "%s p1mb-config --port %s --via p1 --set-address 9 2>&1", ML_METERLAB,
             p1_path);
    FILE *p = popen(cmd, "r");
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    size_t n = fread(out, 1, sizeof out - 1, p);
    out[n] = '\0';
    int st = pclose(p);
    CU_ASSERT(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "active   9600 8E1, address 16"));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "verified"));
    CU_ASSERT(qd_wait_for("rebooted (reset soft): RS485 9600 8E1, address 9", 5.0));

    mb = modbus_new_rtu(rs_path, 9600, 'E', 8, 1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(mb);
    modbus_set_slave(mb, 9);
    modbus_set_response_timeout(mb, 0, 500000);
    CU_ASSERT_EQUAL_FATAL(modbus_connect(mb), 0);
    uint16_t code = 0;
    CU_ASSERT_EQUAL(modbus_read_registers(mb, 0xFC02, 1, &code), 1);
    CU_ASSERT_EQUAL(code, 0x0070);
    modbus_close(mb);
    modbus_free(mb);
    qd_stop();
    if (CU_get_number_of_failures() > 0) {
        fprintf(stderr, "\n%s\n", out);
        qd_dump_on_failure();
    }
}

int main(void)
{
    int no_image = qd_init("qemu.p1mb", "p1mb_sdm630.elf");
    if (no_image != 0) {
        return no_image;
    }
    if (CU_initialize_registry() != CUE_SUCCESS) {
        return 1;
    }
    tel = ml_test_read_file("src:scenarios/telegrams/dsmr/dsmr50_spec_3ph.txt", &tel_len);
    if (tel == NULL || tel_len < 16) {
        fprintf(stderr, "qemu.p1mb: cannot read scenarios/telegrams/dsmr/dsmr50_spec_3ph.txt\n");
        return 1;
    }
    CU_cleanup_registry();
    static const struct ml_test_case cases[] = {
        {"test_errors", test_errors},
        {"test_p1mb_sdm630_in_qemu", test_p1mb_sdm630_in_qemu},
        {"test_p1mb_idle_and_config_cable_in_qemu", test_p1mb_idle_and_config_cable_in_qemu},
    };
    int rc = ml_test_run("qemu_p1mb", cases, sizeof cases / sizeof cases[0], NULL, NULL);
    qd_cleanup();
    free(tel);
    return rc;
}

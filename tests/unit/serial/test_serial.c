/* The bench serial module: settings parsing and a pty round trip through termios. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "ml_serial.h"
#include "ml_test.h"

static void test_serial_parse_cfg(void)
{
    struct ml_serial_cfg c;
    char err[128];
    CU_ASSERT_EQUAL(ml_serial_parse_cfg("115200", &c, err, sizeof err), 0);
    CU_ASSERT_EQUAL(c.baud, 115200);
    CU_ASSERT_EQUAL(c.data_bits, 8);
    CU_ASSERT_EQUAL(c.parity, 'N');
    CU_ASSERT_EQUAL(ml_serial_parse_cfg("9600,7e1", &c, err, sizeof err), 0);
    CU_ASSERT_EQUAL(c.data_bits, 7);
    CU_ASSERT_EQUAL(c.parity, 'E');
    CU_ASSERT_EQUAL(ml_serial_parse_cfg("1200:8O2", &c, err, sizeof err), 0);
    CU_ASSERT_EQUAL(c.parity, 'O');
    CU_ASSERT_EQUAL(c.stop_bits, 2);
    CU_ASSERT_EQUAL(ml_serial_parse_cfg("12345", &c, err, sizeof err), -EINVAL);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "baud"));
    CU_ASSERT_EQUAL(ml_serial_parse_cfg("9600,9X1", &c, err, sizeof err), -EINVAL);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "8N1"));
    CU_ASSERT_EQUAL(ml_serial_parse_cfg("fast", &c, NULL, 0), -EINVAL);
}

static void test_serial_pty_round_trip_is_8bit_clean(void)
{
    char path[128];
    int m = ml_serial_open_pty(path, sizeof path);
    CU_ASSERT_TRUE_FATAL(m >= 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(path, "/dev/pts/"));
    char err[256];
    int s = ml_serial_open(path, &ml_serial_p1_v4, err, sizeof err);
    CU_ASSERT_TRUE_FATAL(s >= 0);
    /* CR LF, '!' and a high byte must pass unchanged in both directions */
    const uint8_t msg[] = {'/', 'X', '\r', '\n', 0x00, 0xFF, 0x11, 0x13, '!', 0x7F};
    CU_ASSERT_EQUAL(write(s, msg, sizeof msg), (ssize_t)sizeof msg);
    uint8_t got[32];
    size_t n = 0;
    for (int i = 0; i < 50 && n < sizeof msg; i++) {
        struct pollfd p = {m, POLLIN, 0};
        poll(&p, 1, 100);
        ssize_t r = read(m, got + n, sizeof got - n);
        if (r > 0) {
            n += (size_t)r;
        }
    }
    CU_ASSERT_EQUAL(n, sizeof msg);
    CU_ASSERT_EQUAL(memcmp(got, msg, sizeof msg), 0);
    CU_ASSERT_EQUAL(write(m, msg, sizeof msg), (ssize_t)sizeof msg);
    n = 0;
    for (int i = 0; i < 50 && n < sizeof msg; i++) {
        struct pollfd p = {s, POLLIN, 0};
        poll(&p, 1, 100);
        ssize_t r = read(s, got + n, sizeof got - n);
        if (r > 0) {
            n += (size_t)r;
        }
    }
    CU_ASSERT_EQUAL(n, sizeof msg);
    CU_ASSERT_EQUAL(memcmp(got, msg, sizeof msg), 0);
    struct termios t;
    tcgetattr(s, &t);
    CU_ASSERT_EQUAL(cfgetospeed(&t), B115200);
    CU_ASSERT_EQUAL(ml_serial_set_cfg(s, &ml_serial_tic_std), 0);
    tcgetattr(s, &t);
    CU_ASSERT_EQUAL(cfgetospeed(&t), B9600);
    /* Platform fact (Linux pty_set_termios): a pty keeps CS8 and drops PARENB,
     * so 7E1 "over a pty" is 8 bits clean; the meter emulator must therefore
     * send 7-bit bytes itself (the top bit is 0 in every telegram). */
    CU_ASSERT_EQUAL(t.c_cflag & CSIZE, CS8);
    close(s);
    close(m);
}

static void test_serial_pty_7e1_twice(void)
{
    /* glibc answers EINVAL when a pty already at 9600 is asked for 7E1 again
     * (a pty has no parity to set); opening a TIC port twice must still work */
    char path[128], err[256];
    int m = ml_serial_open_pty(path, sizeof path);
    CU_ASSERT_TRUE_FATAL(m >= 0);
    int a = ml_serial_open(path, &ml_serial_tic_std, err, sizeof err);
    CU_ASSERT_TRUE_FATAL(a >= 0);
    CU_ASSERT_EQUAL(ml_serial_set_cfg(a, &ml_serial_tic_std), 0);
    int b = -1;
    for (int i = 0; i < 3; i++) { /* record, play and the rig runner each open it again */
        if (b >= 0) {
            close(b);
        }
        b = ml_serial_open(path, &ml_serial_tic_std, err, sizeof err);
        CU_ASSERT_TRUE(b >= 0);
    }
    /* a bad rate is still an error */
    struct ml_serial_cfg bad = ml_serial_tic_std;
    bad.baud = 1234;
    CU_ASSERT_EQUAL(ml_serial_set_cfg(a, &bad), -EINVAL);
    if (b >= 0) {
        close(b);
    }
    close(a);
    close(m);
}

static void test_serial_open_errors_name_the_path(void)
{
    char err[256];
    int fd = ml_serial_open("/dev/does-not-exist-42", &ml_serial_p1_v4, err, sizeof err);
    CU_ASSERT_EQUAL(fd, -ENOENT);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "/dev/does-not-exist-42"));
    fd = ml_serial_open("/dev/null", &ml_serial_p1_v4, err, sizeof err);
    CU_ASSERT_EQUAL(fd, -ENOTTY);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "not a serial port"));
}

static void test_serial_find_usb_spec(void)
{
    char path[128];
    CU_ASSERT_EQUAL(ml_serial_find_usb("zz", path, sizeof path), -EINVAL);
    CU_ASSERT_EQUAL(ml_serial_find_usb("1234", path, sizeof path), -EINVAL);
    /* no such adapter on a CI machine */
    CU_ASSERT_EQUAL(ml_serial_find_usb("dead:beef:NOPE", path, sizeof path), -ENOENT);
}

int main(void)
{
    static const struct ml_test_case cases[] = {
        {"test_serial_parse_cfg", test_serial_parse_cfg},
        {"test_serial_pty_round_trip_is_8bit_clean", test_serial_pty_round_trip_is_8bit_clean},
        {"test_serial_pty_7e1_twice", test_serial_pty_7e1_twice},
        {"test_serial_open_errors_name_the_path", test_serial_open_errors_name_the_path},
        {"test_serial_find_usb_spec", test_serial_find_usb_spec},
    };
    return ml_test_run("serial", cases, sizeof cases / sizeof cases[0], NULL, NULL);
}

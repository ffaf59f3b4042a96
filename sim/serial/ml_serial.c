#define _GNU_SOURCE
#include "ml_serial.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <libserialport.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "ml_serial_net.h"

const struct ml_serial_cfg ml_serial_p1_v4 = {115200, 8, 'N', 1};
const struct ml_serial_cfg ml_serial_p1_v2 = {9600, 7, 'E', 1};
const struct ml_serial_cfg ml_serial_tic_std = {9600, 7, 'E', 1};
const struct ml_serial_cfg ml_serial_tic_hist = {1200, 7, 'E', 1};

static void set_err(char *err, size_t cap, const char *fmt, const char *a, const char *b)
{
    if (err != NULL && cap > 0) {
        snprintf(err, cap, fmt, a, b);
    }
}

static speed_t baud_const(uint32_t baud)
{
    switch (baud) {
    case 1200:
        return B1200;
    case 2400:
        return B2400;
    case 4800:
        return B4800;
    case 9600:
        return B9600;
    case 19200:
        return B19200;
    case 38400:
        return B38400;
    case 57600:
        return B57600;
    case 115200:
        return B115200;
    case 230400:
        return B230400;
    case 460800:
        return B460800;
    case 921600:
        return B921600;
    default:
        return 0;
    }
}

int ml_serial_parse_cfg(const char *s, struct ml_serial_cfg *out, char *err, size_t errcap)
{
    char *end;
    errno = 0;
    unsigned long baud = strtoul(s, &end, 10);
    if (errno != 0 || end == s || baud_const((uint32_t)baud) == 0) {
        set_err(err, errcap, "'%s': not a supported baud rate (1200..921600)%s", s, "");
        return -EINVAL;
    }
    struct ml_serial_cfg c = {(uint32_t)baud, 8, 'N', 1};
    while (*end == ',' || *end == ':' || *end == ' ') {
        end++;
    }
    if (*end != '\0') {
        if (strlen(end) != 3 || (end[0] != '7' && end[0] != '8') ||
            strchr("NEOneo", end[1]) == NULL || (end[2] != '1' && end[2] != '2')) {
            set_err(err, errcap, "'%s': format must look like 8N1, 7E1 or 8E1 (got '%s')", s, end);
            return -EINVAL;
        }
        c.data_bits = (uint8_t)(end[0] - '0');
        c.parity = (char)toupper((unsigned char)end[1]);
        c.stop_bits = (uint8_t)(end[2] - '0');
    }
    *out = c;
    return 0;
}

/* Is @p fd a pseudo-terminal (either end)? */
static bool is_pty(int fd)
{
    char link[64], target[128];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, target, sizeof target - 1);
    if (n <= 0) {
        return false;
    }
    target[n] = '\0';
    return strncmp(target, "/dev/pts/", 9) == 0 || strcmp(target, "/dev/ptmx") == 0;
}

int ml_serial_set_cfg(int fd, const struct ml_serial_cfg *cfg)
{
    struct termios t;
    speed_t sp = baud_const(cfg->baud);
    if (sp == 0) {
        return -EINVAL;
    }
    if (ml_serial_net_is_fd(fd)) {
        /* a remote port: RFC 2217 sends the settings; raw TCP has the exporter's */
        int rc = ml_serial_net_set_cfg(fd, cfg);
        return rc == -ENOENT ? 0 : rc;
    }
    if (tcgetattr(fd, &t) != 0) {
        return -errno;
    }
    cfmakeraw(&t);
    t.c_cflag &= ~(tcflag_t)(CSIZE | PARENB | PARODD | CSTOPB | CRTSCTS);
    t.c_cflag |= CLOCAL | CREAD | (cfg->data_bits == 7 ? CS7 : CS8);
    if (cfg->parity == 'E' || cfg->parity == 'O') {
        t.c_cflag |= PARENB;
        if (cfg->parity == 'O') {
            t.c_cflag |= PARODD;
        }
    }
    if (cfg->stop_bits == 2) {
        t.c_cflag |= CSTOPB;
    }
    t.c_iflag &= ~(tcflag_t)(IXON | IXOFF | IXANY | INPCK);
    t.c_cc[VMIN] = 0;
    t.c_cc[VTIME] = 0;
    cfsetispeed(&t, sp);
    cfsetospeed(&t, sp);
    if (tcsetattr(fd, TCSANOW, &t) != 0) {
        int e = errno;
        /* A pty keeps 8 data bits and no parity whatever is asked; glibc then
         * reports EINVAL for a 7E1 request on a pty already at that speed
         * (nothing it could change). The line is as good as a pty gets. */
        struct termios now;
        if (e == EINVAL && is_pty(fd) && tcgetattr(fd, &now) == 0 && cfgetospeed(&now) == sp) {
            return 0;
        }
        return -e;
    }
    return 0;
}

int ml_serial_open(const char *path, const struct ml_serial_cfg *cfg, char *err, size_t errcap)
{
    if (ml_serial_is_net(path)) {
        return ml_serial_net_open(path, cfg, err, errcap);
    }
    int fd = open(path, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        set_err(err, errcap, "cannot open serial port %s: %s", path, strerror(e));
        return -e;
    }
    if (!isatty(fd)) {
        close(fd);
        set_err(err, errcap, "%s is not a serial port or pty%s", path, "");
        return -ENOTTY;
    }
    int rc = ml_serial_set_cfg(fd, cfg);
    if (rc < 0) {
        close(fd);
        set_err(err, errcap, "cannot set line settings on %s: %s", path, strerror(-rc));
        return rc;
    }
    return fd;
}

int ml_serial_open_pty(char *path, size_t cap)
{
    int fd = posix_openpt(O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        return -errno;
    }
    if (grantpt(fd) != 0 || unlockpt(fd) != 0) {
        int e = errno;
        close(fd);
        return -e;
    }
    const char *name = ptsname(fd);
    if (name == NULL || strlen(name) >= cap) {
        close(fd);
        return -ENAMETOOLONG;
    }
    strcpy(path, name);
    /* Raw on both sides: no echo, no CR/LF translation, 8 bits clean. */
    struct termios t;
    if (tcgetattr(fd, &t) == 0) {
        cfmakeraw(&t);
        tcsetattr(fd, TCSANOW, &t);
    }
    /* Keep one slave fd open for the life of the process: with no slave open,
     * the master reports POLLHUP forever and a poll loop would spin (seen with
     * the simulated devices before a user opened the pty). Users may open and
     * close the slave as often as they like. */
    int s = open(path, O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (s >= 0 && tcgetattr(s, &t) == 0) {
        cfmakeraw(&t);
        tcsetattr(s, TCSANOW, &t);
    }
    return fd;
}

static void copy_str(char *dst, size_t cap, const char *src)
{
    snprintf(dst, cap, "%s", src != NULL ? src : "");
}

int ml_serial_list(struct ml_serial_port_info *out, size_t cap)
{
    struct sp_port **ports;
    if (sp_list_ports(&ports) != SP_OK) {
        return -EIO;
    }
    int n = 0;
    for (int i = 0; ports[i] != NULL; i++, n++) {
        if ((size_t)n >= cap) {
            continue;
        }
        struct ml_serial_port_info *o = &out[n];
        memset(o, 0, sizeof *o);
        copy_str(o->name, sizeof o->name, sp_get_port_name(ports[i]));
        copy_str(o->description, sizeof o->description, sp_get_port_description(ports[i]));
        if (sp_get_port_transport(ports[i]) == SP_TRANSPORT_USB) {
            int vid = 0, pid = 0;
            o->usb = true;
            if (sp_get_port_usb_vid_pid(ports[i], &vid, &pid) == SP_OK) {
                o->vid = (uint16_t)vid;
                o->pid = (uint16_t)pid;
            }
            copy_str(o->usb_serial, sizeof o->usb_serial, sp_get_port_usb_serial(ports[i]));
            copy_str(o->manufacturer, sizeof o->manufacturer,
                     sp_get_port_usb_manufacturer(ports[i]));
            copy_str(o->product, sizeof o->product, sp_get_port_usb_product(ports[i]));
        }
    }
    sp_free_port_list(ports);
    return n;
}

int ml_serial_find_usb(const char *spec, char *path, size_t cap)
{
    unsigned vid, pid;
    char serial[64] = "";
    int k = sscanf(spec, "%x:%x:%63s", &vid, &pid, serial);
    if (k < 2 || vid > 0xFFFF || pid > 0xFFFF) {
        return -EINVAL;
    }
    struct ml_serial_port_info ports[64];
    int n = ml_serial_list(ports, 64);
    if (n < 0) {
        return n;
    }
    int found = 0;
    for (int i = 0; i < n && i < 64; i++) {
        if (!ports[i].usb || ports[i].vid != vid || ports[i].pid != pid) {
            continue;
        }
        if (serial[0] != '\0' && strcmp(serial, ports[i].usb_serial) != 0) {
            continue;
        }
        if (found++ == 0) {
            copy_str(path, cap, ports[i].name);
        }
    }
    if (found == 0) {
        return -ENOENT;
    }
    return found > 1 ? -EEXIST : 0;
}

/* Identity of the simulated devices (serial, label password), kept in a state dir. */
#define _GNU_SOURCE
#include "cli_identity.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

/* ------------------------------------------------------------------------- */

static void random_chars(char *out, size_t n, const char *alphabet)
{
    size_t k = strlen(alphabet);
    unsigned char rnd[32];
    FILE *f = fopen("/dev/urandom", "rb");
    if (f == NULL || fread(rnd, 1, n, f) != n) {
        for (size_t i = 0; i < n; i++) {
            rnd[i] = (unsigned char)(rand() ^ (int)time(NULL));
        }
    }
    if (f != NULL) {
        fclose(f);
    }
    for (size_t i = 0; i < n; i++) {
        out[i] = alphabet[rnd[i] % k];
    }
    out[n] = '\0';
}

int ml_cli_identity_load(const char *dir, const char *prefix, char *serial, size_t scap, char *pw,
                         size_t pcap)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/identity", dir);
    FILE *f = fopen(path, "r");
    if (f != NULL && fchmod(fileno(f), 0600) != 0) {
        fprintf(stderr, "meterlab device: cannot make %s owner-only: %s\n", path, strerror(errno));
        fclose(f);
        return -1;
    }
    if (f != NULL) {
        char line[256];
        while (fgets(line, sizeof line, f) != NULL) {
            line[strcspn(line, "\r\n")] = '\0';
            const char *v = NULL;
            char *dst = NULL;
            size_t cap = 0;
            if (strncmp(line, "serial=", 7) == 0 && serial[0] == '\0') {
                v = line + 7, dst = serial, cap = scap;
            } else if (strncmp(line, "password=", 9) == 0) {
                v = line + 9, dst = pw, cap = pcap;
            }
            if (v != NULL) {
                size_t n = strlen(v);
                if (n == 0 || n >= cap) {
                    fprintf(stderr, "meterlab device: %s: '%s' must be 1..%zu characters\n", path,
                            line, cap - 1);
                    fclose(f);
                    return -1;
                }
                memcpy(dst, v, n + 1);
            }
        }
        fclose(f);
    }
    bool changed = false;
    if (serial[0] == '\0') {
        char digits[9];
        random_chars(digits, 8, "0123456789");
        snprintf(serial, scap, "%s%s", prefix, digits);
        changed = true;
    }
    if (strlen(pw) != 8) {
        /* no look-alike characters: the label is read by people */
        random_chars(pw, 8, "abcdefghjkmnpqrstuvwxyzACDEFGHJKLMNPQRTUVWXY3479");
        changed = true;
    }
    if (changed) {
        /* the label password is the login: owner only (docs/security.md) */
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        f = fd >= 0 ? fdopen(fd, "w") : NULL;
        if (f == NULL) {
            fprintf(stderr, "meterlab device: cannot write %s: %s\n", path, strerror(errno));
            return -1;
        }
        fprintf(f, "serial=%s\npassword=%s\n", serial, pw);
        fclose(f);
    }
    return 0;
}

int ml_cli_state_dir_prepare(const char *dir, const char *prefix, char *serial, size_t scap,
                             char *pw, size_t pcap, char *flash, size_t fcap)
{
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        fprintf(stderr, "meterlab device: cannot create state dir %s: %s\n", dir, strerror(errno));
        return -1;
    }
    if (ml_cli_identity_load(dir, prefix, serial, scap, pw, pcap) != 0) {
        return -1;
    }
    if ((size_t)snprintf(flash, fcap, "%s/flash.bin", dir) >= fcap) {
        fprintf(stderr, "meterlab device: state dir path too long: %s\n", dir);
        return -1;
    }
    return 0;
}

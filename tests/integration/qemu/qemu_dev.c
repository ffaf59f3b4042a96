/* The QEMU test programs' device start, banner reading and stop: qemu_dev.h. */
#define _GNU_SOURCE
#include "qemu_dev.h"

#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ml_test.h"

static char image_dir[1024];
static pid_t dev_pid;
static int dev_out = -1; /* meterlab's stdout+stderr */
static char seen[32768]; /* everything meterlab printed (for failure messages) */
static size_t seen_len;
static size_t seen_pos; /* lines before this were consumed by qd_wait_for() */

double qd_now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int qd_init(const char *name, const char *image)
{
    const char *dir = getenv("ML_QEMU_IMAGE_DIR");
    snprintf(image_dir, sizeof image_dir, "%s", dir != NULL ? dir : "build/target/bin");
    char img[1100];
    snprintf(img, sizeof img, "%s/%s", image_dir, image);
    if (access(img, R_OK) == 0) {
        return 0;
    }
    const char *req = getenv("ML_QEMU_REQUIRED");
    fprintf(stderr, "%s: no image %s (build the 'target' preset: make target)%s\n", name, img,
            req != NULL && req[0] == '1' ? "" : ": skipped");
    return req != NULL && req[0] == '1' ? 1 : QD_SKIP;
}

pid_t qd_spawn(char *const argv[], int *out)
{
    int p[2];
    if (pipe(p) != 0) {
        return -1;
    }
    pid_t pid = fork();
    if (pid == 0) {
        dup2(p[1], 1);
        dup2(p[1], 2);
        close(p[0]);
        close(p[1]);
        setenv("ML_TARGET_BIN", image_dir, 1);
        execv(argv[0], argv);
        _exit(127);
    }
    close(p[1]);
    *out = p[0];
    return pid;
}

int qd_start(char *const argv[], double secs, const char *unless)
{
    seen_len = seen_pos = 0;
    seen[0] = '\0';
    dev_pid = qd_spawn(argv, &dev_out);
    CU_ASSERT_FATAL(dev_pid > 0);
    int up = qd_wait_for("stop with Ctrl-C", secs);
    if (up || (unless != NULL && strstr(seen, unless) != NULL)) {
        return up;
    }
    fprintf(stderr, "\nmeterlab printed:\n%s\n", seen);
    CU_ASSERT_FATAL(up);
    return 0;
}

int qd_wait_for(const char *text, double secs)
{
    double until = qd_now_s() + secs;
    for (;;) {
        seen[seen_len] = '\0';
        char *hit = strstr(seen + seen_pos, text);
        if (hit != NULL) {
            seen_pos = (size_t)(hit - seen) + strlen(text);
            return 1;
        }
        double left = until - qd_now_s();
        if (left <= 0) {
            return 0;
        }
        struct pollfd pfd = {dev_out, POLLIN, 0};
        if (poll(&pfd, 1, (int)(left * 1000) + 1) <= 0) {
            continue;
        }
        ssize_t n = read(dev_out, seen + seen_len, sizeof seen - 1 - seen_len);
        if (n <= 0) {
            return 0; /* meterlab ended */
        }
        seen_len += (size_t)n;
    }
}

const char *qd_seen(void)
{
    return seen;
}

void qd_after(const char *label, char *out, size_t cap)
{
    const char *p = strstr(seen, label);
    out[0] = '\0';
    if (p != NULL) {
        p += strlen(label);
        while (*p == ' ') {
            p++;
        }
        size_t n = strcspn(p, " ,\n");
        snprintf(out, cap, "%.*s", (int)(n < cap ? n : cap - 1), p);
    }
}

void qd_stop(void)
{
    kill(dev_pid, SIGTERM);
    CU_ASSERT(qd_wait_for("meterlab device: stopping", 5.0));
    int status = -1;
    for (int i = 0; i < 500 && waitpid(dev_pid, &status, WNOHANG) != dev_pid; i++) {
        usleep(10000);
    }
    CU_ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    dev_pid = 0;
    close(dev_out);
    dev_out = -1;
}

void qd_dump_on_failure(void)
{
    if (CU_get_number_of_failures() > 0) {
        fprintf(stderr, "\nmeterlab printed:\n%s\n", seen);
    }
}

void qd_cleanup(void)
{
    if (dev_pid > 0) {
        kill(dev_pid, SIGTERM);
        waitpid(dev_pid, NULL, 0);
    }
}

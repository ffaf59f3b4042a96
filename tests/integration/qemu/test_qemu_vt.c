/*
 * sim/qemu's leash (ml_qemu_vt.h) on its own: the P1MB image started on QEMU's
 * instruction-count clock with a QMP socket; the leash takes the clock, makes
 * QEMU's threads 5 nice steps nicer than the caller when asked to (read back
 * from /proc/PID/task/TID/stat), and a run to an instant 3 s of guest time
 * ahead gets there. Errors: no QMP socket.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "ml_qemu.h"
#include "ml_qemu_vt.h"
#include "ml_test.h"
#include "qemu_dev.h"

static char image[1200];

static void test_no_qmp_socket(void)
{
    struct ml_qemu_vt *v = (struct ml_qemu_vt *)1;
    char err[512] = "";
    CU_ASSERT_EQUAL(ml_qemu_vt_open(&v, "/nonexistent/qmp", NULL, err, sizeof err), -1);
    CU_ASSERT_PTR_NULL(v);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "/nonexistent/qmp"));
}

/* The pid of the qemu-system process whose command line names @p needle (0: none). */
static pid_t find_qemu(const char *needle)
{
    DIR *d = opendir("/proc");
    pid_t found = 0;
    for (struct dirent *e; d != NULL && found == 0 && (e = readdir(d)) != NULL;) {
        char path[300], cmd[4096];
        snprintf(path, sizeof path, "/proc/%s/cmdline", e->d_name);
        FILE *f = atoi(e->d_name) > 0 ? fopen(path, "r") : NULL;
        if (f == NULL) {
            continue;
        }
        size_t n = fread(cmd, 1, sizeof cmd - 1, f);
        fclose(f);
        for (size_t i = 0; i < n; i++) {
            cmd[i] = cmd[i] == 0 ? ' ' : cmd[i];
        }
        cmd[n] = 0;
        if (strstr(cmd, "qemu-system") != NULL && strstr(cmd, needle) != NULL) {
            found = (pid_t)atoi(e->d_name);
        }
    }
    if (d != NULL) {
        closedir(d);
    }
    return found;
}

/* The nice values of @p pid's threads: how many, and how many equal @p want. */
static void thread_nice(pid_t pid, int want, int *threads, int *equal)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/task", (int)pid);
    DIR *d = opendir(path);
    *threads = *equal = 0;
    for (struct dirent *e; d != NULL && (e = readdir(d)) != NULL;) {
        char p[320], st[1024];
        snprintf(p, sizeof p, "/proc/%d/task/%s/stat", (int)pid, e->d_name);
        FILE *f = atoi(e->d_name) > 0 ? fopen(p, "r") : NULL;
        if (f == NULL) {
            continue;
        }
        size_t n = fread(st, 1, sizeof st - 1, f);
        fclose(f);
        st[n] = 0;
        /* after "(comm)": state is field 3, nice field 19 */
        const char *c = strrchr(st, ')');
        int field = 2, nice = 99;
        for (const char *s = c; s != NULL && *s; s++) {
            if (*s == ' ' && ++field == 19) {
                nice = atoi(s + 1);
                break;
            }
        }
        (*threads)++;
        *equal += nice == want;
    }
    if (d != NULL) {
        closedir(d);
    }
}

static void test_leash_nice_and_run_to(void)
{
    char dir[] = "/tmp/qemu-vt.XXXXXX";
    CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
    char qmp[64];
    snprintf(qmp, sizeof qmp, "%s/qmp", dir);
    struct ml_qemu_opts o = {
        .image = image, .p1mb = true, .icount = ML_QEMU_VT_ICOUNT, .qmp = qmp, .boot_ms = 30000};
    struct ml_qemu *q = NULL;
    char err[2048] = "";
    int rc = ml_qemu_start(&q, &o, NULL, err, sizeof err);
    if (rc != 0) {
        fprintf(stderr, "\n  %s\n", err);
    }
    CU_ASSERT_EQUAL_FATAL(rc, 0);
    pid_t pid = find_qemu(qmp);
    CU_ASSERT_FATAL(pid > 0);
    errno = 0;
    int mine = getpriority(PRIO_PROCESS, 0);
    CU_ASSERT_EQUAL(errno, 0);
    int want = mine + 5 > 19 ? 19 : mine + 5;
    int threads, equal;
    thread_nice(pid, mine, &threads, &equal);
    CU_ASSERT(threads >= 2);         /* the main loop and the vCPU at least */
    CU_ASSERT_EQUAL(equal, threads); /* as started: the caller's */

    /* by default QEMU is left as it is */
    struct ml_qemu_vt *v = NULL;
    struct ml_qemu_vt_opts vo = {.pace = 1.0, .max_speed = 0};
    rc = ml_qemu_vt_open(&v, qmp, &vo, err, sizeof err);
    if (rc != 0) {
        fprintf(stderr, "\n  %s\n", err);
    }
    CU_ASSERT_EQUAL_FATAL(rc, 0);
    thread_nice(pid, mine, &threads, &equal);
    CU_ASSERT_EQUAL(equal, threads);
    ml_qemu_vt_close(v);

    v = NULL;
    vo.qemu_nice = 5;
    rc = ml_qemu_vt_open(&v, qmp, &vo, err, sizeof err);
    if (rc != 0) {
        fprintf(stderr, "\n  %s\n", err);
    }
    CU_ASSERT_EQUAL_FATAL(rc, 0);
    thread_nice(pid, want, &threads, &equal);
    printf("\n  QEMU pid %d: %d threads at nice %d (caller %d)\n", (int)pid, equal, want, mine);
    CU_ASSERT(threads >= 2);
    CU_ASSERT_EQUAL(equal, threads);

    uint64_t t0 = ml_qemu_vt_now_us(v), target = t0 + 3000000u;
    CU_ASSERT_EQUAL(ml_qemu_vt_run_to(v, target), 0);
    CU_ASSERT(ml_qemu_vt_now_us(v) >= target);
    struct ml_qemu_vt_stats st;
    ml_qemu_vt_stats(v, &st);
    CU_ASSERT_EQUAL(st.run_to_calls, 1u);
    CU_ASSERT(st.run_to_guest_s >= 3.0);
    printf("  3 s of guest time in %.3f s of wall time (%llu bursts)\n", st.run_to_host_s,
           (unsigned long long)st.bursts);
    ml_qemu_vt_close(v);
    ml_qemu_stop(q);
    CU_ASSERT_EQUAL(find_qemu(qmp), 0);
    rmdir(dir);
}

int main(void)
{
    int no_image = qd_init("qemu.vt", "p1mb_sdm630.elf");
    if (no_image != 0) {
        return no_image;
    }
    const char *dir = getenv("ML_QEMU_IMAGE_DIR");
    snprintf(image, sizeof image, "%s/p1mb_sdm630.elf", dir != NULL ? dir : "build/target/bin");
    unsetenv("ML_VT_NICE"); /* the benchmarks' override */
    signal(SIGPIPE, SIG_IGN);
    static const struct ml_test_case cases[] = {
        {"errors: no QMP socket", test_no_qmp_socket},
        {"P1MB on -icount: QEMU niced when asked, a run to +3 s", test_leash_nice_and_run_to},
    };
    return ml_test_run("qemu_vt", cases, sizeof cases / sizeof cases[0], NULL, NULL);
}

/* A list of scenarios on DUTs: verdict lines, JUnit, several rigs at once (ml_suite.h). */
#define _GNU_SOURCE
#include "ml_suite.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ml_check.h"
#include "ml_rig.h"
#include "ml_scenario.h"

static double wall_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ------------------------------------------------------------------------- */
/* Playing a list                                                            */
/* ------------------------------------------------------------------------- */

void ml_suite_run(struct ml_suite *su, struct ml_dut *d, char *const *files, size_t n,
                  const struct ml_suite_opts *o)
{
    const struct ml_run_opts *ro = o->ro;
    const char *pre = o->prefix ? o->prefix : "";
    char name[sizeof su->name], dut[sizeof su->dut];
    memcpy(name, su->name, sizeof name);
    memcpy(dut, su->dut, sizeof dut);
    memset(su, 0, sizeof *su);
    memcpy(su->name, name, sizeof name);
    memcpy(su->dut, dut, sizeof dut);
    su->c = calloc(n ? n : 1, sizeof *su->c);
    su->n = n;
    double w0 = wall_now();
    for (size_t i = 0; i < n && !(o->stop && *o->stop); i++) {
        struct ml_suite_case *c = &su->c[i];
        su->ran = i + 1;
        c->path = strdup(files[i]);
        static struct ml_scenario s;
        char err[1024];
        int lrc = ml_scenario_load(c->path, &s, err, sizeof err);
        if (lrc == 0 && ml_check_scenario(&s, err, sizeof err) < 0) {
            /* it would pass having checked nothing: an error before it runs */
            ml_scenario_free(&s);
            lrc = -1;
        }
        if (lrc < 0) {
            c->error = true;
            c->parse_err = strdup(err);
            c->name = strdup(c->path);
            su->errors++;
            printf("%s[%2zu/%zu] %-36s ERROR\n  %s\n", pre, i + 1, n, c->path, err);
            fflush(stdout);
            continue;
        }
        c->name = strdup(s.name);
        if (ro->verbose) {
            const char *ds = s.description ? s.description : "";
            printf("%s[%2zu/%zu] %s: %.*s\n", pre, i + 1, n, s.name, (int)strcspn(ds, "\n"), ds);
            fflush(stdout);
        }
        ml_run(d, &s, ro, &c->r);
        c->error = c->r.error;
        const char *verdict = c->error       ? "ERROR"
                              : c->r.failed  ? "FAIL"
                              : c->r.skipped ? "SKIP"
                                             : "pass";
        if (c->error) {
            su->errors++;
        } else if (c->r.failed) {
            su->failed++;
        } else if (c->r.skipped) {
            su->skipped++;
        } else {
            su->passed++;
        }
        bool loud = c->error || c->r.failed || (c->r.skipped && !o->allow_skips);
        if (!ro->quiet || loud) {
            printf("%s[%2zu/%zu] %-36s %-5s t=%9.1f s  %7llu telegrams  %3d checks  %6.2f s wall",
                   pre, i + 1, n, s.name, verdict, c->r.virtual_s,
                   (unsigned long long)c->r.telegrams, c->r.checks, c->r.wall_s);
            if (c->r.skips) {
                printf("  %d skipped", c->r.skips);
            }
            printf("\n");
        }
        if (c->r.report && (!ro->quiet || loud)) {
            fputs(c->r.report, stdout);
        }
        fflush(stdout);
        ml_scenario_free(&s);
    }
    su->wall_s = wall_now() - w0;
}

void ml_suite_free(struct ml_suite *su)
{
    for (size_t i = 0; su->c && i < su->n; i++) {
        free(su->c[i].name);
        free(su->c[i].path);
        free(su->c[i].parse_err);
        free(su->c[i].r.report);
        free(su->c[i].r.console);
    }
    free(su->c);
    su->c = NULL;
}

/* ------------------------------------------------------------------------- */
/* JUnit                                                                     */
/* ------------------------------------------------------------------------- */

static void xml_escape(FILE *f, const char *s)
{
    for (; s && *s; s++) {
        switch (*s) {
        case '<':
            fputs("&lt;", f);
            break;
        case '>':
            fputs("&gt;", f);
            break;
        case '&':
            fputs("&amp;", f);
            break;
        case '"':
            fputs("&quot;", f);
            break;
        default:
            if ((unsigned char)*s >= 0x20 || *s == '\n' || *s == '\t') {
                fputc(*s, f);
            }
        }
    }
}

/* The first failure of @p report as one line: "file:line:col t=... what: expected X, seen Y". */
static void first_diff(FILE *f, const char *report)
{
    const char *p = report ? strstr(report, "  FAIL ") : NULL;
    if (p == NULL) {
        xml_escape(f, "expectations failed");
        return;
    }
    char buf[1200];
    size_t n = 0;
    p += 7;
    for (int line = 0; *p && line < 3; line++) {
        const char *e = strchr(p, '\n');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        while (len > 0 && *p == ' ') {
            p++;
            len--;
        }
        if (line > 0 && strncmp(p, "expected:", 9) && strncmp(p, "seen:", 5)) {
            break;
        }
        n += (size_t)snprintf(buf + n, sizeof buf - n, "%s%.*s",
                              line == 0   ? ""
                              : line == 1 ? ": "
                                          : ", ",
                              (int)len, p);
        if (n >= sizeof buf) {
            n = sizeof buf - 1;
            break;
        }
        p = e ? e + 1 : p + len;
    }
    /* "seen:     X" reads better with one space */
    char *sp = strstr(buf, "seen: ");
    if (sp) {
        char *q = sp + 6;
        while (*q == ' ') {
            memmove(q, q + 1, strlen(q));
        }
    }
    xml_escape(f, buf);
}

static void counts(const struct ml_suite *su, size_t *failures, size_t *errors)
{
    *failures = *errors = 0;
    for (size_t i = 0; i < su->ran; i++) {
        *errors += su->c[i].error;
        *failures += !su->c[i].error && su->c[i].r.failed > 0;
    }
}

static void write_suite(FILE *f, const struct ml_suite *su)
{
    size_t failures, errors;
    counts(su, &failures, &errors);
    fprintf(f, "  <testsuite name=\"");
    xml_escape(f, su->name);
    fprintf(f, "\" tests=\"%zu\" failures=\"%zu\" errors=\"%zu\" time=\"%.3f\">\n", su->ran,
            failures, errors, su->wall_s);
    for (size_t i = 0; i < su->ran; i++) {
        const struct ml_suite_case *c = &su->c[i];
        fprintf(f, "    <testcase classname=\"scenario.%s\" name=\"", su->dut);
        xml_escape(f, c->name);
        fprintf(f, "\" file=\"");
        xml_escape(f, c->path);
        fprintf(f, "\" time=\"%.3f\">\n", c->r.wall_s);
        if (c->error) {
            fprintf(f, "      <error message=\"%s\">",
                    c->r.interrupted ? "interrupted" : "scenario error");
            xml_escape(f, c->parse_err ? c->parse_err : c->r.report);
            fprintf(f, "</error>\n");
        } else if (c->r.skipped) {
            fprintf(f, "      <skipped message=\"");
            xml_escape(f, c->r.report);
            fprintf(f, "\"/>\n");
        } else if (c->r.failed > 0) {
            fprintf(f,
                    "      <failure message=\"%d of %d expectations failed; first: ", c->r.failed,
                    c->r.checks);
            first_diff(f, c->r.report);
            fprintf(f, "\">");
            xml_escape(f, c->r.report);
            fprintf(f, "</failure>\n");
        }
        fprintf(f,
                "      <system-out>--dut %s, device time %.1f s, %llu telegrams, %llu bytes, %d "
                "expectations, %d skipped\n",
                su->dut, c->r.virtual_s, (unsigned long long)c->r.telegrams,
                (unsigned long long)c->r.bytes, c->r.checks, c->r.skips);
        if (c->r.skips && !c->r.failed) {
            xml_escape(f, c->r.report);
        }
        if (c->r.console) {
            fprintf(f, "console (seconds since the scenario's start):\n");
            xml_escape(f, c->r.console);
        }
        fprintf(f, "</system-out>\n");
        fprintf(f, "    </testcase>\n");
    }
    fprintf(f, "  </testsuite>\n");
}

int ml_suite_write_junit(const char *path, const struct ml_suite *su, size_t n, double wall_s)
{
    FILE *f = fopen(path, "w");
    if (f == NULL) {
        fprintf(stderr, "meterlab run: cannot write %s: %s\n", path, strerror(errno));
        return -1;
    }
    size_t tests = 0, failures = 0, errors = 0;
    for (size_t k = 0; k < n; k++) {
        size_t fa, er;
        counts(&su[k], &fa, &er);
        tests += su[k].ran;
        failures += fa;
        errors += er;
    }
    fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    fprintf(f, "<testsuites tests=\"%zu\" failures=\"%zu\" errors=\"%zu\" time=\"%.3f\">\n", tests,
            failures, errors, wall_s);
    for (size_t k = 0; k < n; k++) {
        write_suite(f, &su[k]);
    }
    fprintf(f, "</testsuites>\n");
    return fclose(f) == 0 ? 0 : -1;
}

/* ------------------------------------------------------------------------- */
/* Several rigs: a child per rig, results back through a file                */
/* ------------------------------------------------------------------------- */

static void put_str(FILE *f, const char *s)
{
    uint32_t n = s ? (uint32_t)strlen(s) + 1 : 0; /* 0: NULL */
    fwrite(&n, sizeof n, 1, f);
    if (n) {
        fwrite(s, 1, n, f);
    }
}

static char *get_str(FILE *f)
{
    uint32_t n = 0;
    if (fread(&n, sizeof n, 1, f) != 1 || n == 0 || n > (64u << 20)) {
        return NULL;
    }
    char *s = malloc(n);
    if (s != NULL && fread(s, 1, n, f) != n) {
        free(s);
        return NULL;
    }
    if (s != NULL) {
        s[n - 1] = 0;
    }
    return s;
}

static int suite_save(const struct ml_suite *su, const char *path)
{
    FILE *f = fopen(path, "wb");
    if (f == NULL) {
        return -1;
    }
    fwrite(su, sizeof *su, 1, f); /* the counts; the pointers are rebuilt */
    for (size_t i = 0; i < su->ran; i++) {
        const struct ml_suite_case *c = &su->c[i];
        fwrite(c, sizeof *c, 1, f);
        put_str(f, c->name);
        put_str(f, c->path);
        put_str(f, c->parse_err);
        put_str(f, c->r.report);
        put_str(f, c->r.console);
    }
    return fclose(f) == 0 ? 0 : -1;
}

static int suite_load(struct ml_suite *su, const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        return -1;
    }
    char name[sizeof su->name], dut[sizeof su->dut];
    memcpy(name, su->name, sizeof name);
    memcpy(dut, su->dut, sizeof dut);
    int rc = fread(su, sizeof *su, 1, f) == 1 ? 0 : -1;
    memcpy(su->name, name, sizeof name);
    memcpy(su->dut, dut, sizeof dut);
    if (rc < 0) {
        memset(su, 0, sizeof *su);
        memcpy(su->name, name, sizeof name);
        memcpy(su->dut, dut, sizeof dut);
        fclose(f);
        return -1;
    }
    su->c = calloc(su->ran ? su->ran : 1, sizeof *su->c);
    su->n = su->ran;
    for (size_t i = 0; i < su->ran; i++) {
        struct ml_suite_case *c = &su->c[i];
        if (fread(c, sizeof *c, 1, f) != 1) {
            memset(c, 0, sizeof *c);
            su->ran = i;
            rc = -1;
            break;
        }
        c->name = get_str(f);
        c->path = get_str(f);
        c->parse_err = get_str(f);
        c->r.report = get_str(f);
        c->r.console = get_str(f);
    }
    fclose(f);
    return rc;
}

/* The product named by scenario file @p path (-1: it does not load). */
static int product_of(const char *path)
{
    struct ml_scenario s;
    char err[512];
    if (ml_scenario_load(path, &s, err, sizeof err) < 0) {
        return -1;
    }
    int p = (int)s.product;
    ml_scenario_free(&s);
    return p;
}

int ml_suite_run_rigs(struct ml_suite *out, const struct ml_rig *rigs, size_t n, char *const *files,
                      size_t nfiles, const struct ml_suite_opts *o, char *err, size_t cap)
{
    char dir[512];
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/meterlab-rigs-XXXXXX", tmp && tmp[0] ? tmp : "/tmp");
    if (mkdtemp(dir) == NULL) {
        snprintf(err, cap, "mkdtemp: %s", strerror(errno));
        return -1;
    }
    /* who plays what: round robin over the rigs of the scenario's product */
    char ***share = calloc(n, sizeof *share);
    size_t *nshare = calloc(n, sizeof *nshare), *next = calloc(3, sizeof *next);
    for (size_t k = 0; k < n; k++) {
        share[k] = calloc(nfiles ? nfiles : 1, sizeof **share);
    }
    for (size_t i = 0; i < nfiles; i++) {
        int prod = product_of(files[i]);
        size_t cand[64], nc = 0;
        for (size_t k = 0; k < n && nc < 64; k++) {
            if (prod < 0 || (int)rigs[k].dut.product == prod) {
                cand[nc++] = k;
            }
        }
        size_t k;
        if (nc == 0) { /* no rig of its product: the first says why it cannot run it */
            k = 0;
        } else {
            size_t *nx = &next[prod < 0 ? 0 : prod];
            k = cand[(*nx)++ % nc];
        }
        share[k][nshare[k]++] = files[i];
    }
    free(next);
    pid_t *pid = calloc(n, sizeof *pid);
    for (size_t k = 0; k < n; k++) {
        snprintf(out[k].name, sizeof out[k].name, "rig.%s", rigs[k].name);
        snprintf(out[k].dut, sizeof out[k].dut, "rig");
        fflush(stdout);
        fflush(stderr);
        pid[k] = fork();
        if (pid[k] == 0) {
            struct ml_dut d;
            char prefix[160], path[sizeof dir + 32];
            snprintf(prefix, sizeof prefix, "%s: ", rigs[k].name);
            struct ml_suite_opts co = *o;
            co.prefix = prefix;
            setvbuf(stdout, NULL, _IOLBF, 0); /* whole lines, interleaved between rigs */
            ml_dut_rig_init(&d, &rigs[k]);
            struct ml_suite su = out[k];
            ml_suite_run(&su, &d, share[k], nshare[k], &co);
            snprintf(path, sizeof path, "%s/%zu", dir, k);
            int rc = suite_save(&su, path);
            ml_suite_free(&su);
            ml_dut_free(&d);
            fflush(stdout);
            _exit(rc == 0 ? 0 : 3);
        }
        if (pid[k] < 0) {
            snprintf(err, cap, "fork: %s", strerror(errno));
        }
    }
    /* wait for all; pass a stop signal on */
    int sent = 0;
    for (size_t left = n; left > 0;) {
        left = 0;
        for (size_t k = 0; k < n; k++) {
            if (pid[k] > 0) {
                int st;
                pid_t w = waitpid(pid[k], &st, WNOHANG);
                if (w == pid[k] || (w < 0 && errno == ECHILD)) {
                    pid[k] = -pid[k]; /* done */
                } else {
                    left++;
                }
            }
        }
        if (o->stop && *o->stop && !sent) {
            sent = *o->stop;
            for (size_t k = 0; k < n; k++) {
                if (pid[k] > 0) {
                    kill(pid[k], sent);
                }
            }
        }
        if (left) {
            usleep(20000);
        }
    }
    int rc = 0;
    for (size_t k = 0; k < n; k++) {
        char path[sizeof dir + 32];
        snprintf(path, sizeof path, "%s/%zu", dir, k);
        if (pid[k] == 0 || suite_load(&out[k], path) < 0) {
            if (pid[k] != 0) {
                snprintf(err, cap, "rig %s: its run ended without results", rigs[k].name);
            }
            rc = -1;
        }
        unlink(path);
        free(share[k]);
    }
    rmdir(dir);
    free(share);
    free(nshare);
    free(pid);
    return rc;
}

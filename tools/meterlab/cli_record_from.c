/* meterlab record --from: raw dumps (a file, or a directory of them) imported as captures
 * through sim/capture (ml_capture_import). */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "cli_record.h"

static int import_one(const struct ml_record_opts *o, const char *in, const char *out)
{
    static struct ml_capture c;
    char err[1200];
    int r = ml_capture_import(&c, in, out, o->expect_values, o->want,
                              o->count > 0 ? (size_t)o->count : 0, err, sizeof err);
    if (r != 0) {
        fprintf(stderr, "meterlab record: %s\n", err);
        ml_capture_free(&c);
        return r < 0 ? ML_EXIT_USAGE : ML_EXIT_FAIL;
    }
    if (!o->quiet) {
        fprintf(stderr,
                "meterlab record: %s: %s at %u %u%c%u%s, %zu telegrams (%u ok, %u crc_fail, "
                "%u frame_fail, %u historic) over %.1f s -> %s\n",
                in, ml_meter_proto_name(c.meter_proto), (unsigned)c.line.baud, c.line.data_bits,
                c.line.parity, c.line.stop_bits,
                c.parity_stripped ? " (read at 8 bits: parity bit cleared)" : "", c.n,
                c.count[ML_CAP_OK], c.count[ML_CAP_CRC], c.count[ML_CAP_FRAME],
                c.count[ML_CAP_HISTORIC], c.n ? c.tel[c.n - 1].t : 0.0, out);
    }
    unsigned good = c.count[ML_CAP_OK] + c.count[ML_CAP_HISTORIC];
    ml_capture_free(&c);
    return good > 0 ? ML_EXIT_OK : ML_EXIT_FAIL;
}

static bool skipped_name(const char *name)
{
    const char *dot = strrchr(name, '.');
    return name[0] == '.' ||
           (dot && (!strcmp(dot, ".yaml") || !strcmp(dot, ".yml") || !strcmp(dot, ".md")));
}

static int import_dir(const struct ml_record_opts *o)
{
    size_t ol = strlen(o->out);
    if (ol > 5 && (!strcmp(o->out + ol - 5, ".yaml") || !strcmp(o->out + ol - 4, ".yml"))) {
        fprintf(stderr,
                "meterlab record: --from %s is a directory: -o names the directory of "
                "its captures, not '%s'\n",
                o->from, o->out);
        return ML_EXIT_USAGE;
    }
    struct dirent **ents;
    int ne = scandir(o->from, &ents, NULL, alphasort);
    if (ne < 0) {
        fprintf(stderr, "meterlab record: cannot read %s/: %s\n", o->from, strerror(errno));
        return ML_EXIT_USAGE;
    }
    if (mkdir(o->out, 0777) != 0 && errno != EEXIST) {
        fprintf(stderr, "meterlab record: cannot create %s/: %s\n", o->out, strerror(errno));
        return ML_EXIT_USAGE;
    }
    int rc = ML_EXIT_OK, files = 0;
    char prev_stem[256] = "";
    for (int i = 0; i < ne; i++) {
        char in[2048], out[2048], stem[256];
        snprintf(in, sizeof in, "%s/%s", o->from, ents[i]->d_name);
        struct stat st;
        if (skipped_name(ents[i]->d_name) || stat(in, &st) != 0 || !S_ISREG(st.st_mode)) {
            continue;
        }
        snprintf(stem, sizeof stem, "%s", ents[i]->d_name);
        char *dot = strrchr(stem, '.');
        if (dot && dot != stem) {
            *dot = 0;
        }
        if (!strcmp(stem, prev_stem)) {
            fprintf(stderr, "meterlab record: %s: a second dump named %s.* (one capture each)\n",
                    in, stem);
            rc = ML_EXIT_USAGE;
            continue;
        }
        snprintf(prev_stem, sizeof prev_stem, "%s", stem);
        snprintf(out, sizeof out, "%s/%s.yaml", o->out, stem);
        int r = import_one(o, in, out);
        rc = r > rc ? r : rc;
        files++;
    }
    for (int i = 0; i < ne; i++) {
        free(ents[i]);
    }
    free(ents);
    if (files == 0) {
        fprintf(stderr, "meterlab record: no dump files in %s/\n", o->from);
        return ML_EXIT_USAGE;
    }
    return rc;
}

int ml_record_from(const struct ml_record_opts *o)
{
    struct stat st;
    if (stat(o->from, &st) != 0) {
        fprintf(stderr, "meterlab record: --from %s: %s\n", o->from, strerror(errno));
        return ML_EXIT_USAGE;
    }
    if (S_ISDIR(st.st_mode)) {
        return import_dir(o);
    }
    return import_one(o, o->from, o->out);
}

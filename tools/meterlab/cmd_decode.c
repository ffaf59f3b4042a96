/* meterlab decode: meter telegram bytes -> one JSON object per telegram per line. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "cli_json.h"
#include "dsmr/dsmr.h"
#include "meter_in/meter_in.h"
#include "mqtt/mqtt.h"
#include "tic/tic.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: meterlab decode [--std-offset MINUTES] [FILE|-]\n\n"
            "Decodes raw meter bytes from FILE (or standard input) and prints one JSON object\n"
            "per telegram per line. The protocol is detected from the bytes:\n"
            "  P1 (DSMR 2.2-5.0, e-MUCS, Smarty plaintext):\n"
            "  {\"verdict\": \"ok\"|\"crc_fail\"|\"frame_fail\", \"protocol\": \"dsmr\",\n"
            "   \"version\": ..., \"power_instant\": {...}, \"reading\": {...}}\n"
            "  Linky TIC (standard mode; historic mode is detected and reported):\n"
            "  {\"verdict\": ..., \"protocol\": \"tic\", \"mode\": \"standard\"|\"historic\",\n"
            "   \"groups\": N, \"groups_bad\": N, \"power_instant\": {...}, \"reading\": {...},\n"
            "   \"labels\": {...}}\n"
            "Noise between telegrams is skipped. See docs/decode.md for the format.\n"
            "  --std-offset MINUTES  the meter's standard time east of UTC for S/W\n"
            "                        timestamps (default 60, CET; 0 for Ireland)\n"
            "Input is streamed (constant memory); when stderr is a terminal a progress\n"
            "line shows the bytes read.\n\n"
            "Exit: 0 every telegram ok, 1 a telegram failed or none found, 2 usage/I/O.\n");
}

static const char *verdict_name(int v)
{
    return v == DSMR_VERDICT_OK ? "ok" : (v == DSMR_VERDICT_CRC_FAIL ? "crc_fail" : "frame_fail");
}

/* "a.b" (or "e-MUCS a.b (P1 x.y.z)") without printf: decode runs it for every telegram. */
static void print_version(const struct dsmr_parser *p, const struct reading *r)
{
    char v[48];
    size_t n = 0;
    unsigned x = r->version;
    if (r->emucs) {
        const char d[] = {(char)('0' + x % 100 / 10),
                          '.',
                          (char)('0' + x % 10),
                          ' ',
                          '(',
                          'P',
                          '1',
                          ' ',
                          (char)('0' + x / 10000 % 10),
                          '.',
                          (char)('0' + x / 1000 % 10),
                          '.',
                          (char)('0' + x / 100 % 10),
                          ')'};
        memcpy(v, ",\"version\":\"e-MUCS ", 19);
        memcpy(v + 19, d, sizeof d);
        n = 19 + sizeof d;
        v[n++] = '"';
    } else if (x != 0 && x < 1000) {
        memcpy(v, ",\"version\":\"", 12);
        n = 12;
        if (x >= 100) {
            v[n++] = (char)('0' + x / 100);
        }
        if (x >= 10) {
            v[n++] = (char)('0' + x / 10 % 10);
        }
        v[n++] = '.';
        v[n++] = (char)('0' + x % 10);
        v[n++] = '"';
    } else if (x != 0) {
        n = (size_t)snprintf(v, sizeof v, ",\"version\":\"%u.%u\"", x / 10, x % 10);
    } else if (!dsmr_parser_had_crc(p)) {
        n = sizeof(",\"version\":\"2.2/3.0\"") - 1;
        memcpy(v, ",\"version\":\"2.2/3.0\"", n);
    } else {
        n = sizeof(",\"version\":null") - 1;
        memcpy(v, ",\"version\":null", n);
    }
    fwrite(v, 1, n, stdout);
}

static void print_telegram(const struct dsmr_parser *p, const struct meter_in_telegram *t,
                           int *failed)
{
    int v = (int)t->verdict;
    char head[24], *e = head + sizeof head, *d = e;
    size_t len = t->raw.len;
    do {
        *--d = (char)('0' + len % 10u);
        len /= 10u;
    } while (len != 0u);
    fputs("{\"verdict\":\"", stdout);
    fputs(verdict_name(v), stdout);
    fputs("\",\"protocol\":\"dsmr\",\"bytes\":", stdout);
    fwrite(d, 1, (size_t)(e - d), stdout);
    if (v == METER_IN_OK) {
        static char pi[MQTT_POWER_INSTANT_MAX];
        print_version(p, t->reading);
        fputs(dsmr_parser_had_crc(p) ? ",\"crc\":true" : ",\"crc\":false", stdout);
        int n = mqtt_power_instant_build(t->reading, pi, sizeof pi);
        if (n >= 0) {
            fputs(",\"power_instant\":", stdout);
            fwrite(pi, 1, (size_t)n, stdout); /* not printf: 500 bytes through vfprintf */
        }
        fputs(",\"reading\":", stdout);
        ml_cli_reading_json(stdout, t->reading);
    } else {
        *failed = 1;
        if (v == METER_IN_FRAME_FAIL) {
            const char *why = t->reason == METER_IN_REASON_OVERSIZE  ? "oversize"
                              : t->reason == METER_IN_REASON_CUT_OFF ? "cut off by a new telegram"
                                                                     : "structure";
            printf(",\"reason\":\"%s\"", why);
        }
    }
    fputs("}\n", stdout);
}

/* ------------------------------------------------------------------------- */
/* TIC                                                                       */
/* ------------------------------------------------------------------------- */

static void print_tic_labels(const struct tic_parser *p)
{
    int first = 1;
    fputs(",\"labels\":{", stdout);
    for (int l = 0; l < TIC_LABEL_COUNT; l++) {
        const struct tic_label_info *li = tic_label_info((enum tic_label)l);
        int64_t v;
        struct ml_span t = tic_parser_text(p, (enum tic_label)l);
        struct tic_horodate hd;
        int has_hd = tic_parser_horodate(p, (enum tic_label)l, &hd) == 0;
        int has_num = li->kind != TIC_KIND_TEXT && tic_parser_num(p, (enum tic_label)l, &v);
        int has_txt = li->kind == TIC_KIND_TEXT && t.ptr != NULL && t.len > 0;
        if (!has_hd && !has_num && !has_txt) {
            continue;
        }
        printf("%s\"%s\":", first ? "" : ",", li->name);
        first = 0;
        if (has_hd) {
            fputs("{", stdout);
        }
        if (has_num && li->kind == TIC_KIND_HEX) {
            printf("%s\"%08llX\"", has_hd ? "\"value\":" : "", (unsigned long long)v);
        } else if (has_num) {
            printf("%s%lld", has_hd ? "\"value\":" : "", (long long)v);
        } else if (has_txt) {
            fputs(has_hd ? "\"value\":" : "", stdout);
            ml_cli_json_str(stdout, (const char *)t.ptr, t.len);
        }
        if (has_hd) {
            printf("%s\"time\":\"%04u-%02u-%02uT%02u:%02u:%02u\",\"season\":\"%c\",\"utc\":%lld}",
                   (has_num || has_txt) ? "," : "", hd.year, hd.month, hd.day, hd.hour, hd.min,
                   hd.sec, hd.season, (long long)hd.utc);
        }
    }
    fputs("}", stdout);
    struct tic_stge st;
    if (tic_parser_stge(p, &st)) {
        printf(",\"stge\":{\"raw\":\"%08X\",\"contact_open\":%s,\"cutoff\":%u,\"cover_open\":%s,"
               "\"overvoltage\":%s,\"pref_exceeded\":%s,\"producer\":%s,\"energy_negative\":%s,"
               "\"supplier_index\":%u,\"distributor_index\":%u,\"clock_degraded\":%s}",
               (unsigned)st.raw, st.contact_open ? "true" : "false", st.cutoff,
               st.cover_open ? "true" : "false", st.overvoltage ? "true" : "false",
               st.pref_exceeded ? "true" : "false", st.producer ? "true" : "false",
               st.energy_negative ? "true" : "false", st.supplier_index, st.distributor_index,
               st.clock_degraded ? "true" : "false");
    }
}

static void print_tic_frame(const struct tic_parser *p, const struct meter_in_telegram *t,
                            int *failed)
{
    const struct tic_frame_result *fr = tic_parser_result(p);
    const struct reading *r = t->reading;
    int v = (int)t->verdict;
    const char *verdict = v == TIC_VERDICT_OK         ? "ok"
                          : v == TIC_VERDICT_CRC_FAIL ? "crc_fail"
                                                      : "frame_fail";
    printf("{\"verdict\":\"%s\",\"protocol\":\"tic\",\"mode\":\"%s\",\"bytes\":%zu,"
           "\"groups\":%u,\"groups_bad\":%u",
           verdict, v == TIC_VERDICT_HISTORIC ? "historic" : "standard", t->raw.len, fr->groups,
           fr->groups_bad);
    if (v != TIC_VERDICT_OK) {
        *failed = 1;
    }
    if (v == TIC_VERDICT_HISTORIC) {
        fputs(",\"error\":\"historic mode not supported\"}\n", stdout);
        return;
    }
    if (v == TIC_VERDICT_FRAME_FAIL) {
        const char *why = t->reason == METER_IN_REASON_EOT        ? "interrupted by EOT"
                          : t->reason == METER_IN_REASON_CUT_OFF  ? "cut off by a new STX"
                          : t->reason == METER_IN_REASON_OVERSIZE ? "oversize"
                                                                  : "empty frame";
        printf(",\"reason\":\"%s\"}\n", why);
        return;
    }
    if (fr->clock_degraded) {
        fputs(",\"clock_degraded\":true", stdout);
    }
    if (v == TIC_VERDICT_OK) {
        /* the device publishes power_instant only for frames without a bad group */
        static char pi[MQTT_POWER_INSTANT_MAX];
        if (mqtt_power_instant_build(r, pi, sizeof pi) >= 0) {
            printf(",\"power_instant\":%s", pi);
        }
    }
    fputs(",\"reading\":", stdout);
    ml_cli_reading_json(stdout, r);
    print_tic_labels(p);
    fputs("}\n", stdout);
}

/* ------------------------------------------------------------------------- */
/* Input                                                                     */
/* ------------------------------------------------------------------------- */

struct decode {
    struct meter_in in;
    union {
        struct dsmr_parser dsmr;
        struct tic_parser tic;
    } parser;
    struct reading reading;
    unsigned telegrams;
    int failed;
};

static void on_telegram(void *ctx, const struct meter_in_telegram *t)
{
    struct decode *d = ctx;
    d->telegrams++;
    if (meter_in_protocol(&d->in) == METER_IN_TIC) {
        print_tic_frame(&d->parser.tic, t, &d->failed);
    } else {
        print_telegram(&d->parser.dsmr, t, &d->failed);
    }
}

/* Progress line on stderr while a big input is read, only when stderr is a terminal. */
struct progress {
    int on;
    unsigned long long done, total, next;
};

static void progress_init(struct progress *p, FILE *in)
{
    struct stat st;
    p->on = isatty(STDERR_FILENO);
    p->done = 0;
    p->total =
        fstat(fileno(in), &st) == 0 && S_ISREG(st.st_mode) ? (unsigned long long)st.st_size : 0;
    p->next = 1ull << 22;
}

static void progress_show(const struct progress *p, unsigned telegrams)
{
    if (p->total != 0) {
        fprintf(stderr, "\rmeterlab decode: %llu of %llu MB (%llu %%), %u telegrams ",
                p->done >> 20, p->total >> 20, p->done * 100 / p->total, telegrams);
    } else {
        fprintf(stderr, "\rmeterlab decode: %llu MB, %u telegrams ", p->done >> 20, telegrams);
    }
}

static void progress_add(struct progress *p, size_t n, unsigned telegrams)
{
    p->done += n;
    if (p->on && p->done >= p->next) {
        progress_show(p, telegrams);
        p->next = p->done + (1ull << 24);
    }
}

static void progress_end(struct progress *p, unsigned telegrams)
{
    if (p->on && p->next != 1ull << 22) {
        progress_show(p, telegrams);
        fputc('\n', stderr);
    }
}

static int run(int argc, char **argv)
{
    if (ml_cli_wants_help(argc, argv)) {
        usage(stdout);
        return ML_EXIT_OK;
    }
    int std_offset = 60;
    if (argc >= 2 && strcmp(argv[1], "--std-offset") == 0) {
        char *e = NULL;
        long m = argc >= 3 ? strtol(argv[2], &e, 10) : 0;
        if (argc < 3 || e == argv[2] || *e != '\0' || m < -720 || m > 840) {
            fprintf(stderr,
                    "meterlab decode: --std-offset wants minutes from -720 to 840, "
                    "got '%s'\n",
                    argc >= 3 ? argv[2] : "");
            return ML_EXIT_USAGE;
        }
        std_offset = (int)m;
        argc -= 2;
        argv += 2;
    }
    if (argc > 2 || (argc == 2 && argv[1][0] == '-' && argv[1][1] != '\0')) {
        fprintf(stderr, "meterlab decode: unexpected argument '%s' (see --help)\n", argv[argc - 1]);
        return ML_EXIT_USAGE;
    }
    const char *path = argc == 2 ? argv[1] : "-";
    FILE *in = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    if (in == NULL) {
        fprintf(stderr, "meterlab decode: cannot open '%s': %s\n", path, strerror(errno));
        return ML_EXIT_USAGE;
    }
    static struct decode d;
    static char obuf[1 << 16];
    setvbuf(stdout, obuf, _IOFBF, sizeof obuf);
    struct progress prog;
    progress_init(&prog, in);
    static uint8_t buf[1 << 16];
    bool sniffed = false;
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, in)) > 0) {
        progress_add(&prog, n, d.telegrams);
        if (!sniffed) {
            /* the protocol is detected from the first block */
            sniffed = true;
            if (ml_cli_sniff(buf, n) == ML_CLI_PROTO_TIC) {
                meter_in_init_tic(&d.in, &d.parser.tic, &d.reading);
            } else {
                meter_in_init_p1(&d.in, &d.parser.dsmr, &d.reading);
                dsmr_parser_set_std_offset(&d.parser.dsmr, std_offset);
            }
        }
        meter_in_feed(&d.in, buf, n, on_telegram, &d);
    }
    progress_end(&prog, d.telegrams);
    int io_error = ferror(in);
    if (in != stdin) {
        fclose(in);
    }
    if (io_error) {
        fprintf(stderr, "meterlab decode: read error on '%s'\n", path);
        return ML_EXIT_USAGE;
    }
    if (sniffed && !meter_in_is_idle(&d.in)) {
        bool tic = meter_in_protocol(&d.in) == METER_IN_TIC;
        printf("{\"verdict\":\"frame_fail\",\"protocol\":\"%s\",\"reason\":\"end of input "
               "inside a %s\"}\n",
               tic ? "tic" : "dsmr", tic ? "frame" : "telegram");
        d.telegrams++;
        d.failed = 1;
    }
    if (d.telegrams == 0) {
        fprintf(stderr, "meterlab decode: no telegram found in '%s'\n", path);
        return ML_EXIT_FAIL;
    }
    fflush(stdout);
    return d.failed ? ML_EXIT_FAIL : ML_EXIT_OK;
}

const struct ml_cmd ml_cmd_decode = {"decode", "decode P1 or TIC meter bytes into JSON lines", run};

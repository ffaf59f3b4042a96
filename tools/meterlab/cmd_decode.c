/* meterlab decode: meter telegram bytes -> one JSON object per telegram per line. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_json.h"
#include "dsmr/dsmr.h"
#include "mqtt/mqtt.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: meterlab decode [FILE|-]\n\n"
               "Decodes raw P1 (DSMR 2.2-5.0, e-MUCS, Smarty plaintext) telegram bytes from FILE\n"
               "(or standard input) and prints one JSON object per telegram per line:\n"
               "  {\"verdict\": \"ok\"|\"crc_fail\"|\"frame_fail\", \"protocol\": \"dsmr\",\n"
               "   \"version\": ..., \"power_instant\": {...}, \"reading\": {...}}\n"
               "Noise between telegrams is skipped. See docs/decode.md for the format.\n\n"
               "Exit: 0 every telegram ok, 1 a telegram failed or none found, 2 usage/I/O.\n");
}

static const char *verdict_name(int v)
{
    return v == DSMR_VERDICT_OK ? "ok" : (v == DSMR_VERDICT_CRC_FAIL ? "crc_fail" : "frame_fail");
}

static void print_version(const struct dsmr_parser *p, const struct reading *r)
{
    fputs(",\"version\":", stdout);
    if (r->emucs) {
        printf("\"e-MUCS %u.%u (P1 %u.%u.%u)\"", r->version % 100 / 10, r->version % 10,
               r->version / 10000, r->version / 1000 % 10, r->version / 100 % 10);
    } else if (r->version != 0) {
        printf("\"%u.%u\"", r->version / 10, r->version % 10);
    } else if (!dsmr_parser_had_crc(p)) {
        fputs("\"2.2/3.0\"", stdout);
    } else {
        fputs("null", stdout);
    }
}

static void print_telegram(const struct dsmr_parser *p, int v, const struct reading *r,
                           const struct dsmr_stats *before, int *failed)
{
    const struct dsmr_stats *s = dsmr_parser_stats(p);
    printf("{\"verdict\":\"%s\",\"protocol\":\"dsmr\",\"bytes\":%zu", verdict_name(v),
           dsmr_parser_telegram(p).len);
    if (v == DSMR_VERDICT_OK) {
        static char pi[MQTT_POWER_INSTANT_MAX];
        print_version(p, r);
        printf(",\"crc\":%s", dsmr_parser_had_crc(p) ? "true" : "false");
        if (mqtt_power_instant_build(r, pi, sizeof pi) >= 0) {
            printf(",\"power_instant\":%s", pi);
        }
        fputs(",\"reading\":", stdout);
        ml_cli_reading_json(stdout, r);
    } else {
        *failed = 1;
        if (v == DSMR_VERDICT_FRAME_FAIL) {
            const char *why = "structure";
            if (s->frame_oversize != before->frame_oversize) {
                why = "oversize";
            } else if (s->frame_truncated != before->frame_truncated) {
                why = "cut off by a new telegram";
            }
            printf(",\"reason\":\"%s\"", why);
        }
    }
    fputs("}\n", stdout);
}

static int run(int argc, char **argv)
{
    if (ml_cli_wants_help(argc, argv)) {
        usage(stdout);
        return ML_EXIT_OK;
    }
    if (argc > 2) {
        fprintf(stderr, "meterlab decode: too many arguments (see --help)\n");
        return ML_EXIT_USAGE;
    }
    const char *path = argc == 2 ? argv[1] : "-";
    FILE *in = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    if (in == NULL) {
        fprintf(stderr, "meterlab decode: cannot open '%s': %s\n", path, strerror(errno));
        return ML_EXIT_USAGE;
    }
    static struct dsmr_parser parser;
    static struct reading r;
    dsmr_parser_init(&parser, &r);
    static uint8_t buf[4096];
    int failed = 0, sniffed = 0;
    unsigned telegrams = 0;
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, in)) > 0) {
        if (!sniffed) {
            /* Autodetection hook: TIC streams go to the TIC decoder once it exists. */
            if (ml_cli_sniff(buf, n) == ML_CLI_PROTO_TIC) {
                fprintf(stderr,
                        "meterlab decode: '%s' looks like TIC, which decode does not "
                        "handle yet\n",
                        path);
                if (in != stdin) {
                    fclose(in);
                }
                return ML_EXIT_USAGE;
            }
            sniffed = 1;
        }
        size_t off = 0;
        while (off < n) {
            struct dsmr_stats before = *dsmr_parser_stats(&parser);
            size_t used;
            int v = dsmr_parser_feed(&parser, buf + off, n - off, &used);
            off += used;
            if (v > 0) {
                telegrams++;
                print_telegram(&parser, v, &r, &before, &failed);
            }
        }
    }
    int io_error = ferror(in);
    if (in != stdin) {
        fclose(in);
    }
    if (io_error) {
        fprintf(stderr, "meterlab decode: read error on '%s'\n", path);
        return ML_EXIT_USAGE;
    }
    if (!dsmr_parser_is_idle(&parser)) {
        printf("{\"verdict\":\"frame_fail\",\"protocol\":\"dsmr\",\"reason\":\"end of input "
               "inside a telegram\"}\n");
        telegrams++;
        failed = 1;
    }
    if (telegrams == 0) {
        fprintf(stderr, "meterlab decode: no telegram found in '%s'\n", path);
        return ML_EXIT_FAIL;
    }
    fflush(stdout);
    return failed ? ML_EXIT_FAIL : ML_EXIT_OK;
}

const struct ml_cmd ml_cmd_decode = {"decode", "decode P1 telegram bytes into JSON lines", run};

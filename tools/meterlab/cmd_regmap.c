/*
 * meterlab regmap: print the built-in Modbus register-map templates from the
 * same const tables the firmware serves (docs/modbus-maps.md is its output).
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "regmap/regmap.h"

enum fmt { FMT_MD, FMT_CSV };

static const char *type_name(uint8_t t)
{
    static const char *const names[] = {"float32", "int32", "uint32", "int16", "uint16", "int64"};
    return t < sizeof names / sizeof names[0] ? names[t] : "?";
}

/* Register unit: 10^exp10 of the SI unit ("kW", "0.01 A", "mWh"). */
static void unit_str(const struct regmap_entry *e, char *buf, size_t cap)
{
    const char *u = "";
    if (e->field >= 0) {
        u = reading_field_info((enum reading_field)e->field)->unit;
    } else if (e->field == REGMAP_SRC_CONST || e->field == REGMAP_SRC_STATE) {
        snprintf(buf, cap, "-");
        return;
    } else if (e->field == REGMAP_SRC_AGE) {
        snprintf(buf, cap, "s");
        return;
    } else {
        snprintf(buf, cap, "bits");
        return;
    }
    if (u[0] == '\0') {
        u = "1";
    }
    switch (e->exp10) {
    case 0:
        snprintf(buf, cap, "%s", u);
        break;
    case 3:
        snprintf(buf, cap, "k%s", u);
        break;
    case -3:
        snprintf(buf, cap, u[0] == '1' ? "0.001" : "m%s", u);
        break;
    case -1:
        snprintf(buf, cap, "0.1 %s", u);
        break;
    case -2:
        snprintf(buf, cap, "0.01 %s", u);
        break;
    default:
        snprintf(buf, cap, "1e%d %s", e->exp10, u);
        break;
    }
}

static void source_str(const struct regmap_entry *e, char *buf, size_t cap, const char **desc)
{
    if (e->field >= 0) {
        const struct reading_field_info *fi = reading_field_info((enum reading_field)e->field);
        snprintf(buf, cap, "%s", fi->key);
        *desc = e->name != NULL ? e->name : fi->comment;
    } else if (e->field == REGMAP_SRC_CONST) {
        long long k = e->konst;
        if (e->exp10 == 0) {
            snprintf(buf, cap, (e->type == REGMAP_U16 && k > 9) ? "const 0x%04llX" : "const %lld",
                     k);
        } else {
            snprintf(buf, cap, "const %llde%d", k, e->exp10);
        }
        *desc = e->name != NULL ? e->name : "";
    } else if (e->field == REGMAP_SRC_AGE || e->field == REGMAP_SRC_STATE) {
        snprintf(buf, cap, e->field == REGMAP_SRC_AGE ? "data age" : "data state");
        *desc = e->name != NULL ? e->name : "";
    } else {
        snprintf(buf, cap, "presence word %ld", (long)e->konst);
        *desc = e->name != NULL ? e->name : "";
    }
}

static void print_space(const struct regmap_template *t, const struct regmap_space *s,
                        const char *space, enum fmt f)
{
    if (f == FMT_MD) {
        printf("| address | regs | type | order | unit | source | description |\n");
        printf("| --- | --- | --- | --- | --- | --- | --- |\n");
    }
    for (uint16_t i = 0; i < s->count; i++) {
        const struct regmap_entry *e = &s->entries[i];
        char unit[32];
        char src[48];
        const char *desc = "";
        unit_str(e, unit, sizeof unit);
        source_str(e, src, sizeof src, &desc);
        unsigned n = regmap_entry_words(e);
        const char *order = n == 1u                                   ? "-"
                            : regmap_entry_order(t, e) == REGMAP_CDAB ? "CDAB"
                                                                      : "ABCD";
        if (f == FMT_MD) {
            printf("| 0x%04X | %u | %s | %s | %s | %s | %s |\n", e->addr, n, type_name(e->type),
                   order, unit, src, desc);
        } else {
            printf("%s,%s,0x%04X,%u,%s,%s,%s,%s,\"%s\"\n", t->name, space, e->addr, n,
                   type_name(e->type), order, unit, src, desc);
        }
    }
    if (f == FMT_MD) {
        printf("\n");
    }
}

static void print_template(const struct regmap_template *t, enum fmt f)
{
    bool same = t->input.entries == t->holding.entries;
    if (f == FMT_MD) {
        printf("## %s\n\n%s. Map version %u, default word order %s.\n\n%s\n\n", t->name, t->title,
               t->version, t->order == REGMAP_CDAB ? "CDAB" : "ABCD", t->note);
    }
    if (same) {
        if (f == FMT_MD) {
            printf("### FC03 and FC04 (same registers)\n\n");
        }
        print_space(t, &t->holding, "fc03+fc04", f);
        return;
    }
    if (f == FMT_MD) {
        printf("### FC04 input registers\n\n");
    }
    print_space(t, &t->input, "fc04", f);
    if (f == FMT_MD) {
        printf("### FC03 holding registers\n\n");
    }
    print_space(t, &t->holding, "fc03", f);
}

static void usage(FILE *out)
{
    fprintf(out, "usage: meterlab regmap [TEMPLATE] [--format md|csv]\n\n"
                 "Without arguments, lists the register-map templates (MeterType names).\n"
                 "With TEMPLATE, prints its registers (default format md).\n"
                 "With --format and no TEMPLATE, prints every template (docs/modbus-maps.md).\n");
}

static int run(int argc, char **argv)
{
    if (ml_cli_wants_help(argc, argv)) {
        usage(stdout);
        return ML_EXIT_OK;
    }
    const char *name = NULL;
    const char *format = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--format") == 0 && i + 1 < argc) {
            format = argv[++i];
        } else if (strncmp(argv[i], "--format=", 9) == 0) {
            format = argv[i] + 9;
        } else if (argv[i][0] == '-' || name != NULL) {
            fprintf(stderr, "meterlab regmap: unexpected argument '%s'\n", argv[i]);
            usage(stderr);
            return ML_EXIT_USAGE;
        } else {
            name = argv[i];
        }
    }
    enum fmt f = FMT_MD;
    if (format != NULL) {
        if (strcmp(format, "md") == 0) {
            f = FMT_MD;
        } else if (strcmp(format, "csv") == 0) {
            f = FMT_CSV;
        } else {
            fprintf(stderr, "meterlab regmap: unknown format '%s' (md or csv)\n", format);
            return ML_EXIT_USAGE;
        }
    }
    if (f == FMT_CSV) {
        printf("template,space,address,registers,type,order,unit,source,description\n");
    }
    if (name != NULL) {
        const struct regmap_template *t = regmap_template_find(name, strlen(name));
        if (t == NULL) {
            fprintf(stderr, "meterlab regmap: unknown template '%s'; templates:", name);
            for (size_t i = 0; i < regmap_template_count(); i++) {
                fprintf(stderr, " %s", regmap_template_at(i)->name);
            }
            fprintf(stderr, "\n");
            return ML_EXIT_USAGE;
        }
        print_template(t, f);
        return ML_EXIT_OK;
    }
    if (format == NULL) {
        for (size_t i = 0; i < regmap_template_count(); i++) {
            const struct regmap_template *t = regmap_template_at(i);
            printf("%-22s %s\n", t->name, t->title);
        }
        return ML_EXIT_OK;
    }
    if (f == FMT_MD) {
        printf("# Modbus register maps\n\n"
               "<!-- Generated by `meterlab regmap --format md` from "
               "firmware/core/regmap/regmap_templates.c; do not edit. "
               "ctest regmap.docs_drift fails when this file and the tables differ. -->\n\n"
               "Addresses are Modbus PDU addresses (0-based, hex). Units are those of the "
               "register value (kW = the float carries kilowatts; 0.01 A = an integer count of "
               "centiamperes). Registers no entry covers read 0; values the meter telegram "
               "does not carry read 0. Engine behaviour: [modbus.md](modbus.md).\n\n");
    }
    for (size_t i = 0; i < regmap_template_count(); i++) {
        print_template(regmap_template_at(i), f);
    }
    return ML_EXIT_OK;
}

const struct ml_cmd ml_cmd_regmap = {"regmap", "print the Modbus register-map templates", run};

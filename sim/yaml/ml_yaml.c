/* Strict libyaml helpers shared by the scenario and rig parsers; see ml_yaml.h. */
#define _GNU_SOURCE
#include "ml_yaml.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int ml_yaml_load(struct ml_yaml *y, const char *name, const char *text, size_t len, char *err,
                 size_t errcap)
{
    memset(y, 0, sizeof *y);
    y->name = name;
    y->err = err;
    y->errcap = errcap;
    yaml_parser_initialize(&y->parser);
    /* libyaml asserts a non-NULL input, even for len 0 (an empty buffer from a fuzzer) */
    yaml_parser_set_input_string(&y->parser, (const unsigned char *)(text ? text : ""),
                                 text ? len : 0);
    if (!yaml_parser_load(&y->parser, &y->doc)) {
        const yaml_parser_t *p = &y->parser;
        snprintf(err, errcap, "%s:%zu:%zu: YAML: %s%s%s", name, p->problem_mark.line + 1,
                 p->problem_mark.column + 1, p->problem ? p->problem : "syntax error",
                 p->context ? " " : "", p->context ? p->context : "");
        yaml_parser_delete(&y->parser);
        return -1;
    }
    return 0;
}

yaml_node_t *ml_yaml_root(struct ml_yaml *y)
{
    return yaml_document_get_root_node(&y->doc);
}

int ml_yaml_close(struct ml_yaml *y, int rc, const char *what)
{
    if (rc == 0) {
        yaml_document_t extra;
        if (yaml_parser_load(&y->parser, &extra)) {
            if (yaml_document_get_root_node(&extra) != NULL) {
                rc = ml_yaml_fail(y, yaml_document_get_root_node(&extra),
                                  "one %s per file (found a second YAML document)", what);
            }
            yaml_document_delete(&extra);
        }
    }
    yaml_document_delete(&y->doc);
    yaml_parser_delete(&y->parser);
    return rc;
}

int ml_yaml_fail(struct ml_yaml *y, const yaml_node_t *n, const char *fmt, ...)
{
    if (y->failed) {
        return -1;
    }
    y->failed = true;
    int k = snprintf(y->err, y->errcap, "%s:%zu:%zu: ", y->name, n ? n->start_mark.line + 1 : 1,
                     n ? n->start_mark.column + 1 : 1);
    va_list ap;
    va_start(ap, fmt);
    if (k >= 0 && (size_t)k < y->errcap) {
        vsnprintf(y->err + k, y->errcap - (size_t)k, fmt, ap);
    }
    va_end(ap);
    return -1;
}

yaml_node_t *ml_yaml_node(struct ml_yaml *y, int i)
{
    return yaml_document_get_node(&y->doc, i);
}

const char *ml_yaml_sval(const yaml_node_t *n)
{
    return (const char *)n->data.scalar.value;
}

const char *ml_yaml_kind(const yaml_node_t *n)
{
    switch (n->type) {
    case YAML_SCALAR_NODE:
        return "a scalar";
    case YAML_SEQUENCE_NODE:
        return "a list";
    case YAML_MAPPING_NODE:
        return "a map";
    default:
        return "nothing";
    }
}

bool ml_yaml_is_null(const yaml_node_t *n)
{
    if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE) {
        return false;
    }
    const char *v = ml_yaml_sval(n);
    return v[0] == 0 || strcmp(v, "~") == 0 || strcmp(v, "null") == 0;
}

int ml_yaml_check_keys(struct ml_yaml *y, yaml_node_t *m, const char *what,
                       const char *const *allowed)
{
    if (m->type != YAML_MAPPING_NODE) {
        return ml_yaml_fail(y, m, "%s must be a map, not %s", what, ml_yaml_kind(m));
    }
    for (yaml_node_pair_t *p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top; p++) {
        yaml_node_t *k = ml_yaml_node(y, p->key);
        if (k->type != YAML_SCALAR_NODE) {
            return ml_yaml_fail(y, k, "keys of %s must be names", what);
        }
        const char *key = ml_yaml_sval(k);
        bool ok = allowed == NULL;
        for (const char *const *a = allowed; a && *a; a++) {
            ok = ok || strcmp(*a, key) == 0;
        }
        if (!ok) {
            char list[512] = "";
            size_t n = 0;
            for (const char *const *a = allowed; *a && n < sizeof list - 40; a++) {
                n += (size_t)snprintf(list + n, sizeof list - n, "%s%s", n ? ", " : "", *a);
            }
            return ml_yaml_fail(y, k, "unknown key '%s' in %s (known: %s)", key, what, list);
        }
        for (yaml_node_pair_t *q = m->data.mapping.pairs.start; q < p; q++) {
            if (strcmp(ml_yaml_sval(ml_yaml_node(y, q->key)), key) == 0) {
                return ml_yaml_fail(y, k, "key '%s' given twice in %s", key, what);
            }
        }
    }
    return 0;
}

static yaml_node_pair_t *find_pair(struct ml_yaml *y, yaml_node_t *m, const char *key)
{
    if (m == NULL || m->type != YAML_MAPPING_NODE) {
        return NULL;
    }
    for (yaml_node_pair_t *p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top; p++) {
        yaml_node_t *k = ml_yaml_node(y, p->key);
        if (k->type == YAML_SCALAR_NODE && strcmp(ml_yaml_sval(k), key) == 0) {
            return p;
        }
    }
    return NULL;
}

yaml_node_t *ml_yaml_get(struct ml_yaml *y, yaml_node_t *m, const char *key)
{
    yaml_node_pair_t *p = find_pair(y, m, key);
    return p ? ml_yaml_node(y, p->value) : NULL;
}

yaml_node_t *ml_yaml_get_key(struct ml_yaml *y, yaml_node_t *m, const char *key)
{
    yaml_node_pair_t *p = find_pair(y, m, key);
    return p ? ml_yaml_node(y, p->key) : NULL;
}

yaml_node_t *ml_yaml_need(struct ml_yaml *y, yaml_node_t *m, const char *key, const char *what)
{
    yaml_node_t *v = ml_yaml_get(y, m, key);
    if (v == NULL) {
        ml_yaml_fail(y, m, "%s needs '%s'", what, key);
    }
    return v;
}

int ml_yaml_want_scalar(struct ml_yaml *y, const yaml_node_t *n, const char *what)
{
    if (n->type != YAML_SCALAR_NODE) {
        return ml_yaml_fail(y, n, "%s must be a single value, not %s", what, ml_yaml_kind(n));
    }
    return 0;
}

/* strtod() of scalar @p n: its text in *@p v, the end in *@p end, errno set by strtod. */
static int scan_double(struct ml_yaml *y, const yaml_node_t *n, const char *what, const char **v,
                       char **end, double *d)
{
    if (ml_yaml_want_scalar(y, n, what) < 0) {
        return -1;
    }
    *v = ml_yaml_sval(n);
    errno = 0;
    *d = strtod(*v, end);
    return 0;
}

int ml_yaml_get_num(struct ml_yaml *y, const yaml_node_t *n, const char *what, double *out)
{
    const char *v;
    char *end;
    double d;
    if (scan_double(y, n, what, &v, &end, &d) < 0) {
        return -1;
    }
    if (v[0] == 0 || *end != 0 || errno != 0 || !isfinite(d)) {
        return ml_yaml_fail(y, n, "%s must be a number, not '%s'", what, v);
    }
    *out = d;
    return 0;
}

int ml_yaml_get_long(struct ml_yaml *y, const yaml_node_t *n, const char *what, long lo, long hi,
                     long *out)
{
    if (ml_yaml_want_scalar(y, n, what) < 0) {
        return -1;
    }
    const char *v = ml_yaml_sval(n);
    char *end;
    errno = 0;
    long x = strtol(v, &end, 0);
    if (v[0] == 0 || *end != 0 || errno != 0) {
        return ml_yaml_fail(y, n, "%s must be an integer, not '%s'", what, v);
    }
    if (x < lo || x > hi) {
        return ml_yaml_fail(y, n, "%s must be between %ld and %ld, not %ld", what, lo, hi, x);
    }
    *out = x;
    return 0;
}

int ml_yaml_get_int(struct ml_yaml *y, const yaml_node_t *n, const char *what, long lo, long hi,
                    int *out)
{
    long x;
    if (ml_yaml_get_long(y, n, what, lo < INT_MIN ? INT_MIN : lo, hi > INT_MAX ? INT_MAX : hi, &x) <
        0) {
        return -1;
    }
    *out = (int)x;
    return 0;
}

int ml_yaml_get_bool(struct ml_yaml *y, const yaml_node_t *n, const char *what, bool *out)
{
    if (ml_yaml_want_scalar(y, n, what) < 0) {
        return -1;
    }
    const char *v = ml_yaml_sval(n);
    if (!strcmp(v, "true") || !strcmp(v, "on") || !strcmp(v, "yes")) {
        *out = true;
    } else if (!strcmp(v, "false") || !strcmp(v, "off") || !strcmp(v, "no")) {
        *out = false;
    } else {
        return ml_yaml_fail(y, n, "%s must be true/false (or on/off), not '%s'", what, v);
    }
    return 0;
}

int ml_yaml_get_strdup(struct ml_yaml *y, const yaml_node_t *n, const char *what, char **out)
{
    if (ml_yaml_want_scalar(y, n, what) < 0) {
        return -1;
    }
    free(*out);
    *out = strdup(ml_yaml_sval(n));
    return 0;
}

int ml_yaml_get_str(struct ml_yaml *y, const yaml_node_t *n, const char *what, char *out,
                    size_t cap)
{
    if (ml_yaml_want_scalar(y, n, what) < 0) {
        return -1;
    }
    size_t len = strlen(ml_yaml_sval(n));
    if (len >= cap) {
        return ml_yaml_fail(y, n, "%s is too long (%zu characters, at most %zu)", what, len,
                            cap - 1);
    }
    memcpy(out, ml_yaml_sval(n), len + 1);
    return 0;
}

int ml_yaml_get_secs(struct ml_yaml *y, const yaml_node_t *n, const char *what, double *out)
{
    const char *v;
    char *end;
    double d, mul = 1;
    if (scan_double(y, n, what, &v, &end, &d) < 0) {
        return -1;
    }
    if (end != v && !strcmp(end, "ms")) {
        mul = 0.001;
    } else if (end != v && !strcmp(end, "s")) {
        mul = 1;
    } else if (end != v && !strcmp(end, "m")) {
        mul = 60;
    } else if (end != v && !strcmp(end, "h")) {
        mul = 3600;
    } else if (end == v || *end != 0) {
        return ml_yaml_fail(y, n, "%s must be a time in seconds (or with ms/s/m/h), not '%s'", what,
                            v);
    }
    d *= mul;
    if (errno != 0 || !isfinite(d)) {
        return ml_yaml_fail(y, n, "%s: '%s' is not a usable time", what, v);
    }
    if (d < 0) {
        return ml_yaml_fail(y, n, "%s must not be negative (%g s)", what, d);
    }
    *out = d;
    return 0;
}

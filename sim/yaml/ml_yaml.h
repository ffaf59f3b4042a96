/*
 * Strict helpers over libyaml's document API, shared by the scenario parser
 * (sim/scenario) and the rig parser (sim/rig). Every node keeps its line and
 * column; the first error stops the parse and is written to the caller's
 * buffer as "file:line:column: message".
 *
 * Convention: functions returning int return 0 on success and -1 after
 * ml_yaml_fail() has recorded an error (only the first error is kept).
 */
#ifndef ML_YAML_H
#define ML_YAML_H

#include <stdbool.h>
#include <stddef.h>
#include <yaml.h>

/* One parse: the file name used in messages, the document and the error buffer. */
struct ml_yaml {
    yaml_parser_t parser;
    yaml_document_t doc;
    const char *name; /* borrowed; must outlive the parse */
    char *err;
    size_t errcap;
    bool failed; /* an error has been recorded */
};

/*
 * Parse the first YAML document of @p text (@p len bytes) into @p y->doc.
 * Returns 0, or -1 after writing "name:line:col: YAML: problem context" to @p err
 * (nothing to clean up then). On 0, call ml_yaml_close() when done. A NULL @p text
 * reads as empty.
 */
int ml_yaml_load(struct ml_yaml *y, const char *name, const char *text, size_t len, char *err,
                 size_t errcap);

/* The root node of the loaded document, or NULL for an empty file. */
yaml_node_t *ml_yaml_root(struct ml_yaml *y);

/*
 * End the parse started by ml_yaml_load(): when @p rc is 0, a second non-empty
 * document is an error "one @p what per file (found a second YAML document)".
 * Frees the document and the parser. Returns @p rc, or -1 for that error.
 */
int ml_yaml_close(struct ml_yaml *y, int rc, const char *what);

/*
 * Record "name:line:col: <fmt...>" at node @p n (NULL: 1:1) in the error buffer,
 * unless an error was already recorded. Always returns -1.
 */
int ml_yaml_fail(struct ml_yaml *y, const yaml_node_t *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The node with index @p i (a pair's key or value, a sequence item), or NULL. */
yaml_node_t *ml_yaml_node(struct ml_yaml *y, int i);

/* The text of scalar node @p n (the caller knows it is a scalar). */
const char *ml_yaml_sval(const yaml_node_t *n);

/* "a scalar", "a list", "a map" or "nothing", for messages. */
const char *ml_yaml_kind(const yaml_node_t *n);

/* True for a plain scalar "", "~" or "null". */
bool ml_yaml_is_null(const yaml_node_t *n);

/*
 * Check that @p m is a map ("<what> must be a map, not <kind>") whose keys are
 * scalars ("keys of <what> must be names"), each in the NULL-terminated
 * @p allowed ("unknown key 'k' in <what> (known: a, b)"; NULL allows any key),
 * and none given twice ("key 'k' given twice in <what>").
 */
int ml_yaml_check_keys(struct ml_yaml *y, yaml_node_t *m, const char *what,
                       const char *const *allowed);

/* The value of @p key in map @p m; NULL when absent or @p m is NULL or not a map. */
yaml_node_t *ml_yaml_get(struct ml_yaml *y, yaml_node_t *m, const char *key);

/* The key node of @p key in map @p m (to point errors at the key), or NULL. */
yaml_node_t *ml_yaml_get_key(struct ml_yaml *y, yaml_node_t *m, const char *key);

/* The value of @p key in @p m; when absent fails at @p m with "<what> needs 'key'" and
 * returns NULL. */
yaml_node_t *ml_yaml_need(struct ml_yaml *y, yaml_node_t *m, const char *key, const char *what);

/* Fails with "<what> must be a single value, not <kind>" unless @p n is a scalar. */
int ml_yaml_want_scalar(struct ml_yaml *y, const yaml_node_t *n, const char *what);

/* A finite number (strtod): "<what> must be a number, not 'v'". */
int ml_yaml_get_num(struct ml_yaml *y, const yaml_node_t *n, const char *what, double *out);

/*
 * An integer (strtol base 0: decimal, 0x hex, 0 octal) in [lo, hi]:
 * "<what> must be an integer, not 'v'", "<what> must be between lo and hi, not x".
 */
int ml_yaml_get_long(struct ml_yaml *y, const yaml_node_t *n, const char *what, long lo, long hi,
                     long *out);

/* ml_yaml_get_long() into an int; [lo, hi] must lie within the range of int. */
int ml_yaml_get_int(struct ml_yaml *y, const yaml_node_t *n, const char *what, long lo, long hi,
                    int *out);

/* true/on/yes or false/off/no: "<what> must be true/false (or on/off), not 'v'". */
int ml_yaml_get_bool(struct ml_yaml *y, const yaml_node_t *n, const char *what, bool *out);

/* A scalar copied with strdup() into *@p out (the old *@p out is freed). */
int ml_yaml_get_strdup(struct ml_yaml *y, const yaml_node_t *n, const char *what, char **out);

/* A scalar copied into @p out (@p cap bytes, @p cap > 0):
 * "<what> is too long (N characters, at most cap-1)". */
int ml_yaml_get_str(struct ml_yaml *y, const yaml_node_t *n, const char *what, char *out,
                    size_t cap);

/*
 * Seconds, not negative: a number, or a number with a unit "500ms", "90s",
 * "15m", "24h". Errors: "<what> must be a time in seconds (or with ms/s/m/h), not 'v'",
 * "<what>: 'v' is not a usable time", "<what> must not be negative (x s)".
 * Upper bounds are the caller's.
 */
int ml_yaml_get_secs(struct ml_yaml *y, const yaml_node_t *n, const char *what, double *out);

#endif

/*
 * libFuzzer target for core/config's JSON codec (PATCH of /api/v1/config).
 * Invariants checked on every input:
 *  - cfg_json_patch() returns 0, ML_EINVAL or ML_EMSGSIZE, nothing else;
 *  - on error the configuration is bit-for-bit unchanged (all-or-nothing);
 *  - on success the configuration validates, renders, and the rendering
 *    PATCHes back onto it without change (GET -> PATCH round trip, passwords
 *    masked and kept), and its binary form decodes to the same configuration;
 *  - the error field is NUL-terminated;
 *  - cfg_json_strings() (the MQTT command bodies, same tokenizer) returns 0,
 *    ML_EINVAL or ML_EMSGSIZE, and every value it gives is NUL-terminated
 *    within its field.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config/cfg.h"
#include "err.h"

static void check(int cond)
{
    if (!cond) {
        abort();
    }
}

/* Field-wise equality through the canonical binary form (padding bytes of
 * struct cfg are not copied by struct assignment, so memcmp would lie). */
static int same_cfg(const struct cfg *a, const struct cfg *b)
{
    uint8_t ba[CFG_BLOB_MAX];
    uint8_t bb[CFG_BLOB_MAX];
    int na = cfg_encode(a, ba, sizeof ba);
    int nb = cfg_encode(b, bb, sizeof bb);
    return na > 0 && na == nb && memcmp(ba, bb, (size_t)na) == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct cfg c;
    struct cfg before;
    struct cfg_error err;
    char id[13], url[40];
    struct cfg_json_str f[] = {{"id", id, sizeof id, 0}, {"url", url, sizeof url, 0}};
    int sr = cfg_json_strings((const char *)data, size, f, 2, &err);
    check(sr == 0 || sr == ML_EINVAL || sr == ML_EMSGSIZE);
    check(memchr(id, '\0', sizeof id) != NULL && memchr(url, '\0', sizeof url) != NULL);
    check(memchr(err.field, '\0', sizeof err.field) != NULL);
    cfg_defaults(&c);
    before = c;
    int rc = cfg_json_patch(&c, (const char *)data, size, NULL, &err);
    check(rc == 0 || rc == ML_EINVAL || rc == ML_EMSGSIZE);
    check(memchr(err.field, '\0', sizeof err.field) != NULL);
    if (rc != 0) {
        check(same_cfg(&before, &c));
        return 0;
    }
    check(cfg_validate(&c, NULL, NULL) == 0);
    static char out[2048];
    int n = cfg_json_render(&c, out, sizeof out);
    check(n > 0);
    struct cfg again = c;
    check(cfg_json_patch(&again, out, (size_t)n, NULL, &err) == 0);
    check(same_cfg(&again, &c));
    uint8_t blob[CFG_BLOB_MAX];
    int b = cfg_encode(&c, blob, sizeof blob);
    check(b > 0);
    struct cfg dec;
    check(cfg_decode(&dec, blob, (size_t)b, NULL) == 0);
    check(same_cfg(&dec, &c));
    return 0;
}

/* The P1MB's variants and configuration block as the bench sees them (ml_p1mb_id.h). */
#include "ml_p1mb_id.h"

#include <stddef.h>
#include <strings.h>

const struct ml_p1mb_variant ml_p1mb_variants[ML_P1MB_VARIANTS] = {
    {"pro380", "Inepro PRO380", 1, 0x1010, 0x2007},
    {"acr10rh", "Acrel ACR10RH", 2, 0x0003, 0x0001},
    {"sdm630", "Eastron SDM630", 3, 0xFC02, 0x0070},
    {"xemex", "Xemex", 4, 0x0000, 0x584D},
};

const struct ml_p1mb_variant *ml_p1mb_variant_by_code(uint16_t code)
{
    return code >= 1 && code <= ML_P1MB_VARIANTS ? &ml_p1mb_variants[code - 1] : NULL;
}

const struct ml_p1mb_variant *ml_p1mb_variant_by_name(const char *name)
{
    for (size_t i = 0; name != NULL && i < ML_P1MB_VARIANTS; i++) {
        if (strcasecmp(ml_p1mb_variants[i].name, name) == 0) {
            return &ml_p1mb_variants[i];
        }
    }
    return NULL;
}

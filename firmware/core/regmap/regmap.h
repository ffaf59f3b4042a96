/**
 * @file regmap.h
 * @brief Declarative Modbus register-map templates and snapshots rendered from a reading.
 *
 * A template is const data: per register space (FC03 holding, FC04 input) a
 * table of entries sorted by address, each saying where a value sits, how it
 * is encoded (type, word order, unit scale) and which reading field (or
 * constant) it carries. regmap_render() turns one struct reading into a
 * struct regmap_snapshot: the register words of every entry, ready to serve.
 *
 * Consistency: the Modbus engine reads registers from exactly one snapshot per
 * request. The app renders each new telegram into the spare snapshot of a
 * struct regmap_live and swaps (regmap_live_update), so a multi-register read
 * never mixes two telegrams. Missing values (field absent from the reading)
 * render as 0; addresses no entry covers read as 0.
 *
 * Ownership: snapshots and struct regmap_live are caller-owned plain values;
 * a snapshot points only at its (static const) template. No heap, no statics.
 * Context: app loop (not ISR-safe: rendering is long).
 */
#ifndef FIRMWARE_CORE_REGMAP_REGMAP_H
#define FIRMWARE_CORE_REGMAP_REGMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "reading/reading.h"

/** Register words one snapshot holds (all spaces of a template together). */
#ifndef REGMAP_MAX_WORDS
#define REGMAP_MAX_WORDS 512
#endif

/** Entries of one template (all spaces together). */
#ifndef REGMAP_MAX_ENTRIES
#define REGMAP_MAX_ENTRIES 192
#endif

/** How a value is encoded. */
enum regmap_type {
    REGMAP_F32 = 0, /**< IEEE-754 float32, 2 registers */
    REGMAP_I32,     /**< two's complement, 2 registers */
    REGMAP_U32,     /**< unsigned, 2 registers (negative values clamp to 0) */
    REGMAP_I16,     /**< 1 register */
    REGMAP_U16,     /**< 1 register (negative values clamp to 0) */
    REGMAP_I64,     /**< 4 registers (Xemex native map) */
};

/** Order of the 16-bit words of a multi-register value (bytes are always high first). */
enum regmap_order {
    REGMAP_ORDER_DEFAULT = 0, /**< the template's order */
    REGMAP_ABCD,              /**< high word first ("big endian") */
    REGMAP_CDAB,              /**< low word first ("big endian, word swap") */
};

/** Entry sources that are not reading fields. */
#define REGMAP_SRC_CONST   (-1) /**< the entry's konst (in register units) */
#define REGMAP_SRC_PRESENT (-2) /**< 16 presence bits of the reading, word konst (0-based) */
/** Seconds since the snapshot's data was taken (at read time, saturating at 0xFFFFFFFE;
 * 0xFFFFFFFF while there is no data yet). Integer types only. */
#define REGMAP_SRC_AGE     (-3)
/** The snapshot's enum regmap_data_state. Integer types only. */
#define REGMAP_SRC_STATE   (-4)

/** What a snapshot's data is (regmap_live_update_at()). */
enum regmap_data_state {
    REGMAP_DATA_NONE = 0, /**< no telegram yet */
    REGMAP_DATA_LIVE = 1, /**< from the last good telegram */
    REGMAP_DATA_LOST = 2, /**< meter lost: instantaneous values cleared, energies kept */
};

struct regmap_entry {
    uint16_t addr;    /**< PDU address of the first register */
    uint8_t type;     /**< enum regmap_type */
    uint8_t order;    /**< enum regmap_order */
    int16_t field;    /**< enum reading_field, or REGMAP_SRC_* */
    int8_t exp10;     /**< register unit = 10^exp10 of the field's SI unit (kW: 3, 0.1 V: -1) */
    int32_t konst;    /**< CONST: the raw value (float: value * 10^-exp10); PRESENT: word index */
    const char *name; /**< label for docs (NULL: the field's key) */
};

/** One register space (FC03 or FC04). */
struct regmap_space {
    const struct regmap_entry *entries; /**< sorted by addr, not overlapping */
    uint16_t count;
};

struct regmap_template {
    const char *name;            /**< config MeterType value, e.g. "PhoenixContact-EMPro" */
    const char *title;           /**< human title */
    const char *note;            /**< one-paragraph note for docs (confidence, sources) */
    uint16_t version;            /**< map version (Xemex native map; 1 for vendor maps) */
    uint8_t order;               /**< default word order (enum regmap_order, not DEFAULT) */
    struct regmap_space holding; /**< FC03 */
    struct regmap_space input;   /**< FC04; entries == holding.entries when they are the same */
};

/** Rendered registers of one template from one reading. */
struct regmap_snapshot {
    const struct regmap_template *tpl;
    uint32_t seq;                     /**< render counter (regmap_live), 0 = never rendered */
    uint64_t data_ms;                 /**< device time the data was taken (REGMAP_SRC_AGE) */
    uint8_t state;                    /**< enum regmap_data_state (REGMAP_SRC_STATE) */
    uint16_t off[REGMAP_MAX_ENTRIES]; /**< word offset of entry i (holding then input) */
    uint16_t words[REGMAP_MAX_WORDS];
};

/** Double buffer: the published snapshot and a spare to render into. */
struct regmap_live {
    struct regmap_snapshot snap[2];
    volatile uint8_t cur; /**< index of the published snapshot (one byte: atomic swap) */
    uint32_t seq;
    uint64_t now_ms; /**< device time for REGMAP_SRC_AGE (regmap_live_set_now()) */
};

/* ------------------------------------------------------------------------- */
/* Templates                                                                 */
/* ------------------------------------------------------------------------- */

/** Number of built-in templates. */
size_t regmap_template_count(void);

/** Built-in template @p i (0-based), or NULL when out of range. */
const struct regmap_template *regmap_template_at(size_t i);

/**
 * Template by MeterType name (case-sensitive, e.g. "PhoenixContact-EMPro",
 * "Eastron-SDM630", "Inepro-PRO380", "Acrel-ACR10RH", "Xemex").
 * @return the template, or NULL when unknown.
 */
const struct regmap_template *regmap_template_find(const char *name, size_t len);

/** Registers an entry occupies (1, 2 or 4). */
unsigned regmap_entry_words(const struct regmap_entry *e);

/** The effective word order of @p e in @p t (never REGMAP_ORDER_DEFAULT). */
enum regmap_order regmap_entry_order(const struct regmap_template *t, const struct regmap_entry *e);

/**
 * Check a template's invariants: entries sorted, not overlapping, fields
 * valid, sizes within REGMAP_MAX_*.
 * @retval 0 ok
 * @retval ML_EINVAL a rule is broken (tests run this on every template)
 */
int regmap_template_check(const struct regmap_template *t);

/* ------------------------------------------------------------------------- */
/* Rendering and reading                                                     */
/* ------------------------------------------------------------------------- */

/**
 * Encode one entry's value from @p r into @p out (regmap_entry_words() words).
 * Absent fields give 0; integers are rounded half away from zero and
 * saturate at the type's range.
 */
void regmap_encode(const struct regmap_template *t, const struct regmap_entry *e,
                   const struct reading *r, uint16_t *out);

/**
 * Render every entry of template @p t from reading @p r into @p snap.
 * @retval 0 ok
 * @retval ML_EINVAL NULL template, or one that fails regmap_template_check()
 */
int regmap_render(const struct regmap_template *t, const struct reading *r,
                  struct regmap_snapshot *snap);

/**
 * Read @p count registers at @p addr of space @p fc (0x03 holding, 0x04 input)
 * from @p snap. Registers no entry covers read 0 (so does an unrendered snapshot).
 * @retval 0 always (fits mb_read_fn's "no exception")
 */
int regmap_snapshot_read(const struct regmap_snapshot *snap, uint8_t fc, uint16_t addr,
                         uint16_t count, uint16_t *out);

/**
 * As regmap_snapshot_read(), with REGMAP_SRC_AGE entries computed for device time
 * @p now_ms (regmap_snapshot_read() uses the snapshot's own data_ms: age 0).
 * @retval 0 always
 */
int regmap_snapshot_read_at(const struct regmap_snapshot *snap, uint8_t fc, uint16_t addr,
                            uint16_t count, uint16_t *out, uint64_t now_ms);

/**
 * Read as regmap_snapshot_read_at(), with FC03 and FC04 giving the same data (the Smart
 * Connect, manual 002 §5.3): for a template whose spaces differ (Eastron-SDM630), the
 * input space, and the holding entries at addresses no input entry covers (identity
 * registers such as 0xFC00). Templates with one space read as before.
 * @retval 0 always
 */
int regmap_snapshot_read_same(const struct regmap_snapshot *snap, uint16_t addr, uint16_t count,
                              uint16_t *out, uint64_t now_ms);

/* ------------------------------------------------------------------------- */
/* Live double buffer                                                        */
/* ------------------------------------------------------------------------- */

/** Set up @p live for template @p t; both snapshots read as all zeros. */
void regmap_live_init(struct regmap_live *live, const struct regmap_template *t);

/** The published snapshot (read side). Take it once per request. */
const struct regmap_snapshot *regmap_live_current(const struct regmap_live *live);

/** The spare snapshot (write side), free to render into. */
struct regmap_snapshot *regmap_live_spare(struct regmap_live *live);

/** Publish the spare (one-byte swap); the old current becomes the spare. */
void regmap_live_swap(struct regmap_live *live);

/**
 * Render @p r into the spare and publish it, as data taken now (live->now_ms) from a
 * good telegram (REGMAP_DATA_LIVE).
 * @retval 0 ok  @retval ML_EINVAL as regmap_render() (nothing published)
 */
int regmap_live_update(struct regmap_live *live, const struct reading *r);

/**
 * Render @p r into the spare and publish it, stamped with @p data_ms (device time the
 * data was taken) and @p state (enum regmap_data_state).
 * @retval 0 ok  @retval ML_EINVAL as regmap_render() (nothing published)
 */
int regmap_live_update_at(struct regmap_live *live, const struct reading *r, uint64_t data_ms,
                          enum regmap_data_state state);

/** Device time the Modbus adapters use for REGMAP_SRC_AGE; the app sets it each loop pass. */
void regmap_live_set_now(struct regmap_live *live, uint64_t now_ms);

/**
 * mb_read_fn adapter for the Modbus engine: @p ctx is a struct regmap_live.
 * Reads from the snapshot published when the call starts.
 * @retval 0 always
 */
int regmap_mb_read(void *ctx, uint8_t fc, uint16_t addr, uint16_t count, uint16_t *out);

/**
 * mb_read_fn adapter like regmap_mb_read(), serving FC03 and FC04 alike through
 * regmap_snapshot_read_same() (@p fc is ignored).
 * @retval 0 always
 */
int regmap_mb_read_same(void *ctx, uint8_t fc, uint16_t addr, uint16_t count, uint16_t *out);

#endif /* FIRMWARE_CORE_REGMAP_REGMAP_H */

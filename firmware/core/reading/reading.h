/**
 * @file reading.h
 * @brief The normalised meter reading: one type feeds every output.
 *
 * A reading is a fixed table of numeric fields, each optional (present or
 * not), plus a few bounded strings and lists. Numeric values are int64 in
 * fixed point with the per-field decimal exponent of reading_field_info()
 * (almost all fields are milli-units of their SI unit: mW, mWh, mV, mA, ...,
 * counts and timestamps have exponent 0). Parsers set only what the wire
 * carries; reading_derive() adds what the spec allows to derive (P = P+ - P-,
 * energy totals from tariff registers) and never invents values.
 *
 * Outputs (Modbus register maps, MQTT JSON, status API, decode tool) address
 * fields by enum reading_field, so a register-map template is a data table.
 *
 * Ownership: a struct reading is a plain value owned by the caller; it holds
 * no pointers. Copy it with '=' (snapshot) as a whole.
 * Context: not ISR-safe (it is large); use from the app loop.
 */
#ifndef FIRMWARE_CORE_READING_READING_H
#define FIRMWARE_CORE_READING_READING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ml_config.h"

/* ------------------------------------------------------------------------- */
/* Numeric fields                                                            */
/* ------------------------------------------------------------------------- */

/**
 * X-macro: READING_X(id, key, unit, exp10, comment)
 *  - id:    enum suffix (READING_<id>)
 *  - key:   stable snake-case name (JSON, docs, scenario expectations)
 *  - unit:  SI unit of the value after scaling by 10^exp10 ("" for counts)
 *  - exp10: the stored int64 is value_in_unit * 10^-exp10 (so -3 = milli)
 * Per-phase fields come in L1, L2, L3 order so that id + phase works.
 * Sign conventions: P (and Q) is positive when importing from the grid,
 * negative when delivering to it; P+/P-/Q+/Q- are magnitudes >= 0.
 */
#define READING_FIELDS(X)                                                                          \
    /* timestamps */                                                                               \
    X(TS_UTC, "ts", "s", 0, "meter time as UTC epoch seconds")                                     \
    X(TS_DST, "ts_dst", "", 0, "1 when the meter time is daylight-saving (S), 0 winter (W)")       \
    /* totals */                                                                                   \
    X(P, "p", "W", -3, "total active power, import positive")                                      \
    X(P_IMP, "p_imp", "W", -3, "total active power imported (P+)")                                 \
    X(P_EXP, "p_exp", "W", -3, "total active power exported (P-)")                                 \
    X(Q, "q", "var", -3, "total reactive power, Q+ minus Q-")                                      \
    X(Q_IMP, "q_imp", "var", -3, "total reactive power Q+")                                        \
    X(Q_EXP, "q_exp", "var", -3, "total reactive power Q-")                                        \
    X(S, "s", "VA", -3, "total apparent power")                                                    \
    X(S_IMP, "s_imp", "VA", -3, "apparent power imported (S+)")                                    \
    X(S_EXP, "s_exp", "VA", -3, "apparent power exported (S-)")                                    \
    X(PF, "pf", "", -3, "total power factor")                                                      \
    X(FREQ, "freq", "Hz", -3, "grid frequency")                                                    \
    X(U12, "u12", "V", -3, "line-to-line voltage L1-L2")                                           \
    X(U23, "u23", "V", -3, "line-to-line voltage L2-L3")                                           \
    X(U31, "u31", "V", -3, "line-to-line voltage L3-L1")                                           \
    X(I_N, "i_n", "A", -3, "neutral current")                                                      \
    /* per phase (L1, L2, L3) */                                                                   \
    X(L1_U, "l1_u", "V", -3, "L1 voltage")                                                         \
    X(L2_U, "l2_u", "V", -3, "L2 voltage")                                                         \
    X(L3_U, "l3_u", "V", -3, "L3 voltage")                                                         \
    X(L1_I, "l1_i", "A", -3, "L1 current")                                                         \
    X(L2_I, "l2_i", "A", -3, "L2 current")                                                         \
    X(L3_I, "l3_i", "A", -3, "L3 current")                                                         \
    X(L1_P, "l1_p", "W", -3, "L1 active power, import positive")                                   \
    X(L2_P, "l2_p", "W", -3, "L2 active power, import positive")                                   \
    X(L3_P, "l3_p", "W", -3, "L3 active power, import positive")                                   \
    X(L1_P_IMP, "l1_p_imp", "W", -3, "L1 active power imported")                                   \
    X(L2_P_IMP, "l2_p_imp", "W", -3, "L2 active power imported")                                   \
    X(L3_P_IMP, "l3_p_imp", "W", -3, "L3 active power imported")                                   \
    X(L1_P_EXP, "l1_p_exp", "W", -3, "L1 active power exported")                                   \
    X(L2_P_EXP, "l2_p_exp", "W", -3, "L2 active power exported")                                   \
    X(L3_P_EXP, "l3_p_exp", "W", -3, "L3 active power exported")                                   \
    X(L1_Q, "l1_q", "var", -3, "L1 reactive power, Q+ minus Q-")                                   \
    X(L2_Q, "l2_q", "var", -3, "L2 reactive power, Q+ minus Q-")                                   \
    X(L3_Q, "l3_q", "var", -3, "L3 reactive power, Q+ minus Q-")                                   \
    X(L1_Q_IMP, "l1_q_imp", "var", -3, "L1 reactive power Q+")                                     \
    X(L2_Q_IMP, "l2_q_imp", "var", -3, "L2 reactive power Q+")                                     \
    X(L3_Q_IMP, "l3_q_imp", "var", -3, "L3 reactive power Q+")                                     \
    X(L1_Q_EXP, "l1_q_exp", "var", -3, "L1 reactive power Q-")                                     \
    X(L2_Q_EXP, "l2_q_exp", "var", -3, "L2 reactive power Q-")                                     \
    X(L3_Q_EXP, "l3_q_exp", "var", -3, "L3 reactive power Q-")                                     \
    X(L1_S, "l1_s", "VA", -3, "L1 apparent power")                                                 \
    X(L2_S, "l2_s", "VA", -3, "L2 apparent power")                                                 \
    X(L3_S, "l3_s", "VA", -3, "L3 apparent power")                                                 \
    X(L1_PF, "l1_pf", "", -3, "L1 power factor")                                                   \
    X(L2_PF, "l2_pf", "", -3, "L2 power factor")                                                   \
    X(L3_PF, "l3_pf", "", -3, "L3 power factor")                                                   \
    X(L1_SAGS, "l1_sags", "", 0, "L1 voltage sags (count)")                                        \
    X(L2_SAGS, "l2_sags", "", 0, "L2 voltage sags (count)")                                        \
    X(L3_SAGS, "l3_sags", "", 0, "L3 voltage sags (count)")                                        \
    X(L1_SWELLS, "l1_swells", "", 0, "L1 voltage swells (count)")                                  \
    X(L2_SWELLS, "l2_swells", "", 0, "L2 voltage swells (count)")                                  \
    X(L3_SWELLS, "l3_swells", "", 0, "L3 voltage swells (count)")                                  \
    /* energies */                                                                                 \
    X(E_IMP, "e_imp", "Wh", -3, "active energy imported, total")                                   \
    X(E_EXP, "e_exp", "Wh", -3, "active energy exported, total")                                   \
    X(E_IMP_T1, "e_imp_t1", "Wh", -3, "active energy imported, tariff/index 1")                    \
    X(E_IMP_T2, "e_imp_t2", "Wh", -3, "active energy imported, tariff/index 2")                    \
    X(E_IMP_T3, "e_imp_t3", "Wh", -3, "active energy imported, tariff/index 3")                    \
    X(E_IMP_T4, "e_imp_t4", "Wh", -3, "active energy imported, tariff/index 4")                    \
    X(E_IMP_T5, "e_imp_t5", "Wh", -3, "active energy imported, index 5 (TIC)")                     \
    X(E_IMP_T6, "e_imp_t6", "Wh", -3, "active energy imported, index 6 (TIC)")                     \
    X(E_IMP_T7, "e_imp_t7", "Wh", -3, "active energy imported, index 7 (TIC)")                     \
    X(E_IMP_T8, "e_imp_t8", "Wh", -3, "active energy imported, index 8 (TIC)")                     \
    X(E_IMP_T9, "e_imp_t9", "Wh", -3, "active energy imported, index 9 (TIC)")                     \
    X(E_IMP_T10, "e_imp_t10", "Wh", -3, "active energy imported, index 10 (TIC)")                  \
    X(E_EXP_T1, "e_exp_t1", "Wh", -3, "active energy exported, tariff 1")                          \
    X(E_EXP_T2, "e_exp_t2", "Wh", -3, "active energy exported, tariff 2")                          \
    X(E_EXP_T3, "e_exp_t3", "Wh", -3, "active energy exported, tariff 3")                          \
    X(E_EXP_T4, "e_exp_t4", "Wh", -3, "active energy exported, tariff 4")                          \
    X(EQ_IMP, "eq_imp", "varh", -3, "reactive energy imported (Q+) total")                         \
    X(EQ_EXP, "eq_exp", "varh", -3, "reactive energy exported (Q-) total")                         \
    X(EQ1, "eq1", "varh", -3, "reactive energy quadrant 1")                                        \
    X(EQ2, "eq2", "varh", -3, "reactive energy quadrant 2")                                        \
    X(EQ3, "eq3", "varh", -3, "reactive energy quadrant 3")                                        \
    X(EQ4, "eq4", "varh", -3, "reactive energy quadrant 4")                                        \
    /* tariff, failures, demand */                                                                 \
    X(TARIFF, "tariff", "", 0, "current tariff / index number (1-based)")                          \
    X(PFAIL, "pfail", "", 0, "number of power failures, any phase")                                \
    X(LPFAIL, "lpfail", "", 0, "number of long power failures, any phase")                         \
    X(DEMAND_AVG, "demand_avg", "W", -3, "current average demand (quarter-hour, BE)")              \
    X(DEMAND_MAX, "demand_max", "W", -3, "maximum demand of the running month (BE)")               \
    X(DEMAND_MAX_TS, "demand_max_ts", "s", 0, "time of that maximum, UTC epoch seconds")           \
    X(P_MAX_REF, "p_ref", "VA", -3, "subscribed / reference power (TIC PREF, limiter)")            \
    X(P_CUT, "p_cut", "VA", -3, "cut-off power (TIC PCOUP)")                                       \
    X(BREAKER, "breaker", "", 0, "breaker state (0 off, 1 on, 2 ready)")                           \
    X(LIMITER, "limiter", "W", -3, "limiter threshold")                                            \
    X(FUSE_I, "fuse_i", "A", -3, "fuse supervision threshold")                                     \
    /* M-Bus derived totals (by device type) */                                                    \
    X(GAS, "gas", "m3", -3, "gas volume (first gas channel)")                                      \
    X(GAS_TS, "gas_ts", "s", 0, "gas capture time, UTC epoch seconds")                             \
    X(WATER, "water", "m3", -3, "water volume (first water channel)")                              \
    X(WATER_TS, "water_ts", "s", 0, "water capture time, UTC epoch seconds")                       \
    X(HEAT, "heat", "GJ", -3, "heat energy (first heat channel)")                                  \
    X(HEAT_TS, "heat_ts", "s", 0, "heat capture time, UTC epoch seconds")                          \
    /* added for DSMR (dsmr.md section 7): Smarty 1-1:31.4.0 */                                    \
    X(I_MAX_IMP, "i_max_imp", "A", -3, "max import current threshold (Smarty)")                    \
    X(I_MAX_EXP, "i_max_exp", "A", -3, "max export current threshold, signed as sent (Smarty)")

enum reading_field {
#define READING_X_ENUM(id, key, unit, exp10, comment) READING_##id,
    READING_FIELDS(READING_X_ENUM)
#undef READING_X_ENUM
        READING_FIELD_COUNT
};

/** Static description of a numeric field. */
struct reading_field_info {
    const char *key;  /**< stable snake-case name */
    const char *unit; /**< SI unit after scaling; "" for counts */
    int8_t exp10;     /**< stored value = value_in_unit * 10^-exp10 */
    const char *comment;
};

/* ------------------------------------------------------------------------- */
/* Non-numeric parts                                                         */
/* ------------------------------------------------------------------------- */

enum reading_protocol {
    READING_PROTO_NONE = 0,
    READING_PROTO_DSMR = 1,
    READING_PROTO_TIC = 2,
};

/** Bounded string: bytes + length, never NUL-dependent, NUL-terminated for convenience. */
#define READING_STR_MAX 48
struct reading_str {
    uint8_t len;
    bool truncated;
    char s[READING_STR_MAX + 1];
};

#define READING_MBUS_MAX 4
enum reading_mbus_kind {
    READING_MBUS_NONE = 0,
    READING_MBUS_GAS = 3, /* EN 13757-3 device type codes */
    READING_MBUS_HEAT = 4,
    READING_MBUS_WATER = 7,
    READING_MBUS_ELEC = 2,
};
struct reading_mbus {
    bool present;
    uint8_t type; /**< EN 13757-3 device type as sent (0 when not sent) */
    bool has_value;
    bool temp_corrected;   /**< false for BE 24.2.3 gas */
    int64_t value_milli;   /**< reading in milli-units of @c unit */
    int64_t ts_utc;        /**< capture time, UTC epoch s (0 when absent/placeholder) */
    char unit[8];          /**< as sent, e.g. "m3", "GJ", "kWh" ("" when absent) */
    int8_t valve;          /**< -1 absent, else 0/1/2 */
    int8_t breaker;        /**< 0-n:96.3.10 relay state: -1 absent, else 0/1/2 */
    struct reading_str id; /**< equipment id (decoded from hex when it is hex) */
};

#define READING_PFAIL_LOG_MAX 10
struct reading_pfail_event {
    int64_t end_utc;    /**< end of the failure, UTC epoch s (0 for a placeholder date) */
    int64_t duration_s; /**< may exceed 32 bits */
};

#define READING_DEMAND_HIST_MAX 13
struct reading_demand_month {
    int64_t month_utc; /**< start of the month, UTC epoch s (0 for placeholder) */
    int64_t peak_utc;  /**< time of the peak (0 for placeholder) */
    int64_t value_mw;  /**< peak demand, mW */
};

/** An object the parser does not know, kept verbatim (truncated to fit). */
struct reading_raw {
    char id[16];    /**< OBIS code or TIC label */
    char value[48]; /**< the value part as sent (without outer parentheses for DSMR) */
    bool truncated;
};

struct reading {
    uint64_t present[(READING_FIELD_COUNT + 63) / 64]; /**< bit per numeric field */
    int64_t value[READING_FIELD_COUNT];

    enum reading_protocol protocol;
    /** DSMR: 22, 30, 40, 42, 50 ...; e-MUCS: the 5-digit 96.1.4 value (e.g. 50217); TIC: 0. */
    uint32_t version;
    bool emucs;        /**< Belgian e-MUCS telegram (96.1.4 present) */
    bool tic_historic; /**< TIC historic mode detected (no values are parsed) */
    uint8_t phases;    /**< 1 or 3 when known, 0 unknown */

    struct reading_str header;      /**< DSMR identification line without '/'; TIC: ADSC */
    struct reading_str equipment;   /**< equipment id (decoded) */
    struct reading_str tariff_name; /**< TIC NGTF/LTARF, DSMR tariff indicator text */

    uint16_t text_len;
    bool text_truncated;
    char text[ML_READING_TEXT_MAX + 1]; /**< text message (decoded from hex when hex) */

    struct reading_mbus mbus[READING_MBUS_MAX]; /**< channels 1..4 at index 0..3 */

    uint8_t pfail_log_count;
    struct reading_pfail_event pfail_log[READING_PFAIL_LOG_MAX];

    uint8_t demand_hist_count;
    struct reading_demand_month demand_hist[READING_DEMAND_HIST_MAX];

    uint8_t raw_count;
    uint16_t raw_dropped; /**< unknown objects that did not fit */
    struct reading_raw raw[ML_READING_RAW_MAX];
};

/* ------------------------------------------------------------------------- */
/* API                                                                       */
/* ------------------------------------------------------------------------- */

/** Clear @p r: no field present, all strings empty. */
void reading_init(struct reading *r);

/** Description of field @p f, or NULL when @p f is out of range. */
const struct reading_field_info *reading_field_info(enum reading_field f);

/** Field id for a key ("l1_p"), or -1 (ML_ENOENT) when unknown. */
int reading_field_by_key(const char *key, size_t key_len);

/** True when field @p f carries a value. */
bool reading_has(const struct reading *r, enum reading_field f);

/** Set field @p f to @p v (fixed point per reading_field_info) and mark it present. */
void reading_set(struct reading *r, enum reading_field f, int64_t v);

/** Mark field @p f absent. */
void reading_clear(struct reading *r, enum reading_field f);

/**
 * Get field @p f.
 * @retval true  @p *v set.
 * @retval false absent; @p *v untouched.
 */
bool reading_get(const struct reading *r, enum reading_field f, int64_t *v);

/** Field @p f as a double in its SI unit (0.0 when absent). */
double reading_get_si(const struct reading *r, enum reading_field f);

/** Copy at most READING_STR_MAX bytes of @p s (length @p n) into @p dst. */
void reading_str_set(struct reading_str *dst, const char *s, size_t n);

/**
 * Add derived values, only where they follow from what is present:
 *  - P = P+ - P- (total and per phase) when both are present and P is not;
 *    P+ / P- from a signed P when those are absent.
 *  - Q likewise from Q+/Q-.
 *  - E_IMP = sum of present E_IMP_Tn when E_IMP is absent (likewise E_EXP).
 *  - S (total and per phase) when absent and P is present: sqrt(P^2 + Q^2) with Q,
 *    |P| without reactive data (products.md "S and PF"); rounded to the milli-unit.
 *  - PF (total and per phase) when absent and P and S are present: P / S in [-1, 1],
 *    so sign(P) when S = |P|; 0 when S is 0.
 *  - GAS/WATER/HEAT (+ _TS) from the first M-Bus channel of that type.
 * Never overwrites a value the wire carried.
 */
void reading_derive(struct reading *r);

/**
 * True for an instantaneous field: powers (P, Q, S and their parts, per phase too),
 * power factors, voltages, currents, frequency and the running average demand.
 * Energies, counts, tariff, timestamps, maxima and thresholds are not.
 */
bool reading_field_is_instant(enum reading_field f);

/**
 * Meter lost (products.md "Meter loss"): mark every instantaneous field absent, so
 * outputs read 0 there; energies and the rest keep their last value.
 */
void reading_clear_instant(struct reading *r);

/**
 * Convert a meter-local date-time to UTC epoch seconds.
 * @param dst 1 = daylight saving (UTC+2, 'S'), 0 = winter (UTC+1, 'W'),
 *            -1 = unknown (Europe/Amsterdam and Paris rules are applied).
 * @retval >= 0 epoch seconds.
 * @retval ML_EINVAL not a real date (month 25 placeholders, day 0, ...).
 */
int64_t reading_local_to_utc(int year, int mon, int day, int hour, int min, int sec, int dst);

/** Add an unknown object; counts it in raw_dropped when full. */
void reading_raw_add(struct reading *r, const char *id, size_t id_len, const char *val,
                     size_t val_len);

#endif /* FIRMWARE_CORE_READING_READING_H */

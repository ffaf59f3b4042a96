/**
 * @file modbus.h
 * @brief Modbus slave engine: PDU handling, RTU framing (CRC, t3.5), TCP framing (MBAP).
 *
 * Layers
 * ------
 * - struct mb_slave: the PDU layer. It answers FC 0x03, 0x04 (read holding /
 *   input registers), 0x06 (write single register) and 0x10 (write multiple
 *   registers) from a caller-provided data source (two callbacks). Register
 *   values come from the read callback; with regmap that is one published
 *   snapshot, so a multi-register read never mixes two telegrams.
 * - struct mb_rtu and struct mb_tcp: framers. They turn received bytes into
 *   requests for one mb_slave and write the framed reply into a caller buffer.
 *   Both are driven by the same const ops table (mb_rtu_ops / mb_tcp_ops) when
 *   the app picks the transport at run time.
 *
 * Exceptions (Modbus Application Protocol V1.1b3 §7; products.md decisions)
 * ----------
 * - function code not in {03, 04, 06, 10} (or disabled in fc_mask): 0x01
 * - count 0 or > 125 (read), > 123 (FC 0x10), malformed PDU length or byte
 *   count: 0x03
 * - address + count beyond 0xFFFF: 0x02
 * - registers the data source does not define read as 0 (the regmap adapter
 *   does this); a callback may still return any exception code itself.
 *
 * Ownership and context: every state struct is caller-owned, set up by its
 * *_init(), holds no pointers into caller data except the mb_slave it serves,
 * and is used from one thread (the app loop). No heap, no statics, no libc.
 */
#ifndef FIRMWARE_CORE_MODBUS_MODBUS_H
#define FIRMWARE_CORE_MODBUS_MODBUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ------------------------------------------------------------------------- */
/* Protocol constants (Modbus Application Protocol V1.1b3)                   */
/* ------------------------------------------------------------------------- */

#define MB_FC_READ_HOLDING 0x03u /**< §6.3 */
#define MB_FC_READ_INPUT   0x04u /**< §6.4 */
#define MB_FC_WRITE_SINGLE 0x06u /**< §6.6 */
#define MB_FC_WRITE_MULTI  0x10u /**< §6.12 */
#define MB_READ_MAX        125u  /**< §6.3: 1..125 registers per read */
#define MB_WRITE_MAX       123u  /**< §6.12: 1..123 registers per write */
#define MB_PDU_MAX         253u  /**< §4.1: PDU size limit */
#define MB_RTU_ADU_MAX     256u  /**< serial line V1.02 §2.5.1: addr + PDU + CRC */
#define MB_TCP_ADU_MAX     260u  /**< MBAP 7 + PDU 253 */
#define MB_TCP_MBAP_LEN    7u    /**< transaction, protocol, length, unit id */
#define MB_BROADCAST       0u    /**< serial line §2.2: address 0 = broadcast */

/** Exception codes (§7). */
enum mb_exception {
    MB_EX_NONE = 0,
    MB_EX_ILLEGAL_FUNCTION = 0x01,
    MB_EX_ILLEGAL_ADDRESS = 0x02,
    MB_EX_ILLEGAL_VALUE = 0x03,
    MB_EX_DEVICE_FAILURE = 0x04,
};

/** Bits of mb_slave.fc_mask. */
#define MB_FCBIT_03  0x01u
#define MB_FCBIT_04  0x02u
#define MB_FCBIT_06  0x04u
#define MB_FCBIT_10  0x08u
#define MB_FCBIT_ALL 0x0Fu

/* ------------------------------------------------------------------------- */
/* PDU layer                                                                 */
/* ------------------------------------------------------------------------- */

/**
 * Read @p count (1..125) registers from @p addr into @p out for function code
 * @p fc (0x03 holding, 0x04 input). addr + count <= 0x10000 is guaranteed.
 * Undefined registers should read 0.
 * @return MB_EX_NONE (0), or an exception code (1..4) to send instead.
 */
typedef int (*mb_read_fn)(void *ctx, uint8_t fc, uint16_t addr, uint16_t count, uint16_t *out);

/**
 * Write @p count (1..123) registers at @p addr (FC 0x06 has count 1). Called
 * for broadcast requests too (the reply is then suppressed).
 * @return MB_EX_NONE (0), or an exception code (1..4) to send instead.
 */
typedef int (*mb_write_fn)(void *ctx, uint16_t addr, uint16_t count, const uint16_t *vals);

/** PDU counters (monotonic, wrap at 2^32). */
struct mb_pdu_stats {
    uint32_t requests;   /**< PDUs handled */
    uint32_t exceptions; /**< of which answered with an exception */
    uint32_t writes;     /**< write requests executed (broadcast included) */
};

struct mb_slave {
    mb_read_fn read;   /**< required */
    mb_write_fn write; /**< NULL: writes get exception 0x01 */
    void *ctx;         /**< passed to both callbacks */
    uint8_t fc_mask;   /**< MB_FCBIT_*; mb_slave_init enables all four */
    struct mb_pdu_stats stats;
};

/** Set up @p s with callbacks and all function codes enabled. */
void mb_slave_init(struct mb_slave *s, mb_read_fn read, mb_write_fn write, void *ctx);

/**
 * Handle one request PDU (function code + data) and write the reply PDU
 * (normal or exception) into @p out.
 * @param req     request PDU, @p req_len >= 1 bytes
 * @param out     reply buffer; MB_PDU_MAX bytes always suffice
 * @return reply length (> 0)
 * @retval ML_EINVAL @p req_len == 0
 * @retval ML_ENOSPC @p cap too small for the reply (nothing useful in @p out)
 */
int mb_slave_handle_pdu(struct mb_slave *s, const uint8_t *req, size_t req_len, uint8_t *out,
                        size_t cap);

/* ------------------------------------------------------------------------- */
/* RTU framing (Modbus over serial line V1.02 §2.5)                          */
/* ------------------------------------------------------------------------- */

/** RTU counters: every received byte ends in exactly one of frames or garbage. */
struct mb_rtu_stats {
    uint32_t frames_ok;     /**< CRC ok and addressed to us (or broadcast) */
    uint32_t crc_errors;    /**< frames of >= 4 bytes with a bad CRC */
    uint32_t wrong_address; /**< CRC ok, other slave address */
    uint32_t garbage_bytes; /**< bytes of frames too short (< 4) or too long (> 256) */
    uint32_t broadcasts;    /**< of frames_ok, sent to address 0 (no reply) */
};

struct mb_rtu {
    struct mb_slave *slave;
    uint8_t address;  /**< 1..247 */
    uint32_t t35_us;  /**< inter-frame silence */
    uint32_t last_us; /**< stamp of the last byte of the frame being received */
    uint16_t len;     /**< bytes in buf */
    bool active;      /**< a frame is being received */
    bool overflow;    /**< more than MB_RTU_ADU_MAX bytes: discard at frame end */
    uint32_t dropped; /**< bytes beyond buf in an overflowing frame */
    uint8_t buf[MB_RTU_ADU_MAX];
    struct mb_rtu_stats stats;
};

/**
 * t3.5 in microseconds for @p baud and @p bits_per_char (start + data + parity
 * + stop: 11 for 8E1/8N2, 10 for 8N1), rounded up; 1750 µs above 19200 baud
 * (serial line V1.02 §2.5.1.1). @p baud 0 is treated as 1.
 */
uint32_t mb_rtu_t35_us(uint32_t baud, uint8_t bits_per_char);

/**
 * Set up an RTU framer for slave @p address (1..247) on a line of @p baud with
 * @p bits_per_char bits per character.
 * @retval 0 ok
 * @retval ML_EINVAL address 0 or > 247, or NULL slave
 */
int mb_rtu_init(struct mb_rtu *r, struct mb_slave *slave, uint8_t address, uint32_t baud,
                uint8_t bits_per_char);

/**
 * Feed received bytes with their arrival stamps (hal_uart_read(), µs, wrapping).
 * A gap of >= t3.5 before a byte ends the frame in progress. When the ended
 * frame needs a reply, the call stops there: the reply is in @p out and
 * @p *consumed tells how many bytes were taken (call again with the rest).
 * @param ts_us stamps, one per byte (NULL: all bytes count as arriving at
 *              once, with no gap)
 * @return reply ADU length (> 0, send it), or 0 (nothing to send)
 * @retval ML_ENOSPC @p cap < MB_RTU_ADU_MAX (checked first, nothing consumed)
 */
int mb_rtu_feed(struct mb_rtu *r, const uint8_t *data, const uint32_t *ts_us, size_t len,
                size_t *consumed, uint8_t *out, size_t cap);

/**
 * Tell the framer the time is @p now_us (same clock as the stamps). When the
 * line has been silent for t3.5 the frame in progress ends here.
 * @return reply ADU length (> 0, send it), or 0
 * @retval ML_ENOSPC @p cap < MB_RTU_ADU_MAX
 */
int mb_rtu_poll(struct mb_rtu *r, uint32_t now_us, uint8_t *out, size_t cap);

/**
 * The next instant mb_rtu_poll() must run, in hal_time_ms() units rounded up
 * (pass it to hal_time_wait_until), or UINT64_MAX when no frame is pending.
 * @param now_us hal_time_us() (64-bit; its low 32 bits are the stamp clock)
 */
uint64_t mb_rtu_deadline_ms(const struct mb_rtu *r, uint64_t now_us);

/** True when no frame is being received. */
bool mb_rtu_is_idle(const struct mb_rtu *r);

/* ------------------------------------------------------------------------- */
/* TCP framing (Modbus Messaging on TCP/IP V1.0b §3.1.3, MBAP header)        */
/* ------------------------------------------------------------------------- */

struct mb_tcp_stats {
    uint32_t frames_ok;       /**< requests answered */
    uint32_t protocol_errors; /**< bad protocol id or length: the connection must close */
};

/** One TCP connection's framer (use one per connection). */
struct mb_tcp {
    struct mb_slave *slave;
    uint16_t len; /**< bytes buffered of a request split over segments */
    bool failed;  /**< a protocol error was seen: feed returns ML_EPROTO until reset */
    uint8_t buf[MB_TCP_ADU_MAX];
    struct mb_tcp_stats stats;
};

/** Set up a framer for a new connection served by @p slave. */
void mb_tcp_init(struct mb_tcp *t, struct mb_slave *slave);

/** Forget a partial request (new connection on the same state). */
void mb_tcp_reset(struct mb_tcp *t);

/**
 * Feed bytes received on the connection. Several requests in one segment and
 * a request split over segments are both handled: the call stops after the
 * first complete request; call again with the rest (@p *consumed tells how
 * many bytes were taken).
 * The transaction id and unit id are echoed; the unit id is not checked.
 * @return reply ADU length (> 0, send it), or 0 (need more bytes)
 * @retval ML_EPROTO protocol id != 0 or MBAP length outside 2..254: close the
 *                   connection (Messaging on TCP/IP §4.4.1.1 drops such frames)
 * @retval ML_ENOSPC @p cap < MB_TCP_ADU_MAX
 */
int mb_tcp_feed(struct mb_tcp *t, const uint8_t *data, size_t len, size_t *consumed, uint8_t *out,
                size_t cap);

/* ------------------------------------------------------------------------- */
/* Run-time choice of framing (STYLE.md rule 18)                             */
/* ------------------------------------------------------------------------- */

struct mb_framing_ops {
    const char *name; /**< "rtu" or "tcp" */
    /** mb_rtu_feed / mb_tcp_feed (TCP ignores @p ts_us). */
    int (*feed)(void *framer, const uint8_t *data, const uint32_t *ts_us, size_t len,
                size_t *consumed, uint8_t *out, size_t cap);
    /** mb_rtu_poll; TCP returns 0. */
    int (*poll)(void *framer, uint32_t now_us, uint8_t *out, size_t cap);
    /** mb_rtu_deadline_ms; TCP returns UINT64_MAX. */
    uint64_t (*deadline_ms)(const void *framer, uint64_t now_us);
};

extern const struct mb_framing_ops mb_rtu_ops;
extern const struct mb_framing_ops mb_tcp_ops;

#endif /* FIRMWARE_CORE_MODBUS_MODBUS_H */

/* A P1MB's configuration block over Modbus RTU: see ml_p1mb_cfg.h. */
#define _GNU_SOURCE
#include "ml_p1mb_cfg.h"

#include <errno.h>
#include <stdio.h>

#include "ml_p1mb_id.h"

#define PARITY_NONE 0
#define PARITY_EVEN 1

bool ml_p1mb_baud_ok(long b)
{
    static const long ok[] = {1200, 2400, 4800, 9600, 14400, 19200, 28800, 38400, 57600, 115200};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        if (ok[i] == b) {
            return true;
        }
    }
    return false;
}

modbus_t *ml_p1mb_open(const char *port, int baud, char parity, int address, int timeout_ms,
                       char *why, size_t cap)
{
    modbus_t *mb = modbus_new_rtu(port, baud, parity, 8, 1);
    if (mb == NULL) {
        snprintf(why, cap, "cannot set up Modbus RTU on %s: %s", port, modbus_strerror(errno));
        return NULL;
    }
    modbus_set_slave(mb, address);
    modbus_set_response_timeout(mb, (uint32_t)(timeout_ms / 1000),
                                (uint32_t)(timeout_ms % 1000) * 1000u);
    if (modbus_connect(mb) != 0) {
        snprintf(why, cap, "cannot open %s: %s", port, modbus_strerror(errno));
        modbus_free(mb);
        return NULL;
    }
    return mb;
}

void ml_p1mb_close(modbus_t *mb)
{
    if (mb != NULL) {
        modbus_close(mb);
        modbus_free(mb);
    }
}

static struct ml_p1mb_line line_of(const uint16_t *w)
{
    struct ml_p1mb_line c = {(int)w[0] * 100,
                             w[1] == PARITY_NONE   ? 'N'
                             : w[1] == PARITY_EVEN ? 'E'
                                                   : '?',
                             w[2], w[3]};
    return c;
}

bool ml_p1mb_line_equal(const struct ml_p1mb_line *a, const struct ml_p1mb_line *b)
{
    return a->baud == b->baud && a->parity == b->parity && a->address == b->address &&
           a->termination == b->termination;
}

int ml_p1mb_read_block(modbus_t *mb, struct ml_p1mb_block *v, char *why, size_t cap)
{
    uint16_t id[4], st[4], ac[4];
    if (modbus_read_registers(mb, ML_P1MB_REG_SIG, 4, id) != 4 ||
        modbus_read_registers(mb, ML_P1MB_REG_STORED, 4, st) != 4 ||
        modbus_read_registers(mb, ML_P1MB_REG_ACTIVE, 4, ac) != 4) {
        snprintf(why, cap, "no answer: %s", modbus_strerror(errno));
        return -1;
    }
    if (id[0] != ML_P1MB_SIG_P1 || id[1] != ML_P1MB_SIG_MB) {
        snprintf(why, cap,
                 "answers, but register 0x%04X reads 0x%04X 0x%04X, not \"P1\" \"MB\": not a "
                 "P1MB",
                 ML_P1MB_REG_SIG, id[0], id[1]);
        return -2;
    }
    v->layout = id[2];
    v->variant = id[3];
    v->stored = line_of(st);
    v->active = line_of(ac);
    return 0;
}

static int write_reg(modbus_t *mb, int addr, int value, const char *what, char *why, size_t cap)
{
    if (modbus_write_register(mb, addr, (uint16_t)value) == 1) {
        return 0;
    }
    snprintf(why, cap, "writing %s (register 0x%04X = %d) failed: %s", what, addr, value,
             modbus_strerror(errno));
    return -1;
}

int ml_p1mb_store(modbus_t *mb, const struct ml_p1mb_block *now, const struct ml_p1mb_changes *c,
                  struct ml_p1mb_line *want, struct ml_p1mb_block *after, char *why, size_t cap)
{
    *want = now->stored;
    if (c->factory) {
        if (write_reg(mb, ML_P1MB_REG_FACTORY, ML_P1MB_FACTORY_MAGIC, "factory defaults", why,
                      cap) != 0) {
            return -1;
        }
        *want = (struct ml_p1mb_line){9600, 'E', 16, 0};
    }
    if ((c->termination >= 0 && write_reg(mb, ML_P1MB_REG_STORED + 3, (int)c->termination,
                                          "termination", why, cap) != 0) ||
        (c->parity != 0 &&
         write_reg(mb, ML_P1MB_REG_STORED + 1, c->parity == 'N' ? PARITY_NONE : PARITY_EVEN,
                   "parity", why, cap) != 0) ||
        (c->baud >= 0 &&
         write_reg(mb, ML_P1MB_REG_STORED, (int)(c->baud / 100), "baud rate", why, cap) != 0) ||
        (c->address >= 0 &&
         write_reg(mb, ML_P1MB_REG_STORED + 2, (int)c->address, "address", why, cap) != 0)) {
        return -1;
    }
    want->baud = c->baud >= 0 ? (int)c->baud : want->baud;
    want->parity = c->parity != 0 ? c->parity : want->parity;
    want->address = c->address >= 0 ? (int)c->address : want->address;
    want->termination = c->termination >= 0 ? (int)c->termination : want->termination;
    if (ml_p1mb_read_block(mb, after, why, cap) != 0) {
        return -1;
    }
    if (!ml_p1mb_line_equal(&after->stored, want)) {
        snprintf(why, cap, "the device stored something else than was written");
        return -2;
    }
    return 0;
}

/*
 * One function places every element, in proportion to the window, so the
 * drawing, the mouse hit tests and the tests (LED position) agree.
 */
#include "gui.h"

static int r(float v)
{
    return (int)(v + 0.5f);
}

static struct gui_rect rect(float x, float y, float w, float h)
{
    return (struct gui_rect){r(x), r(y), r(w), r(h)};
}

void gui_layout_compute(int w, int h, enum gui_product p, struct gui_layout *L)
{
    if (w < 320) {
        w = 320;
    }
    if (h < 240) {
        h = 240;
    }
    float sx = (float)w / 1280.0f, sy = (float)h / 720.0f;
    float s = sx < sy ? sx : sy;
    float m = 8.0f * s;
    L->w = w;
    L->h = h;
    L->scale = s;

    float top_h = 40.0f * s;
    L->top = rect(0, 0, (float)w, top_h);
    float body_y = top_h + m, body_h = (float)h - top_h - 2 * m;

    /* columns: meter | device + log | outputs */
    float left_w = 0.225f * (float)w, mid_w = 0.335f * (float)w;
    float left_x = m, mid_x = left_w + m, right_x = left_w + mid_w + m;
    float right_w = (float)w - right_x - m;

    /* meter side */
    L->meter_panel = rect(left_x, body_y, left_w - m, body_h);
    float px = left_x + 10 * s, pw = left_w - m - 20 * s;
    float y = body_y + 30 * s;
    L->meter = rect(px + pw * 0.12f, y, pw * 0.62f, 124 * s);
    y += 124 * s + 4 * s;
    /* the strip: scenario name, step and time, or the telegram file */
    L->scn = rect(px, y, pw, 62 * s);
    y += 62 * s + 6 * s;
    float bh = 28 * s, gap = 5 * s;
    L->controls[GUI_CTRL_PLAY] = rect(px, y, (pw - gap) / 2, bh);
    L->controls[GUI_CTRL_RESTART] = rect(px + (pw + gap) / 2, y, (pw - gap) / 2, bh);
    y += bh + gap;
    L->controls[GUI_CTRL_SLOWER] = rect(px, y, bh * 1.3f, bh);
    L->controls[GUI_CTRL_FASTER] = rect(px + pw - bh * 1.3f, y, bh * 1.3f, bh);
    y += bh + 26 * s;
    float fh = (body_y + body_h - 8 * s - y - gap * (GUI_FAULT_COUNT - 1)) / GUI_FAULT_COUNT;
    if (fh > 34 * s) {
        fh = 34 * s;
    }
    for (int i = 0; i < GUI_FAULT_COUNT; i++) {
        L->faults[i] = rect(px, y, pw, fh);
        y += fh + gap;
    }

    /* the device */
    float dev_h = body_h * 0.60f;
    float pnl_w = mid_w - m;
    L->device_panel = rect(mid_x, body_y, pnl_w, dev_h);
    float ph = 34 * s;
    L->led_pwr = L->led_p1 = L->led_485 = L->rail = L->charger = rect(0, 0, 0, 0);
    if (p == GUI_PRODUCT_P1MB) {
        /* a DIN-rail module, portrait, on a rail; the charger on the right */
        float bw = pnl_w * 0.34f, bhh = dev_h * 0.58f;
        float bx = mid_x + pnl_w * 0.17f, by = body_y + dev_h * 0.13f;
        L->device = rect(bx, by, bw, bhh);
        L->rail = rect(mid_x + 10 * s, by + bhh * 0.5f - 13 * s, pnl_w - 20 * s, 26 * s);
        float ld = 26 * s, lx = bx + bw * 0.16f, ly = by + bhh * 0.38f, step = 38 * s;
        L->led_pwr = rect(lx, ly, ld, ld);
        L->led_p1 = rect(lx, ly + step, ld, ld);
        L->led_485 = rect(lx, ly + 2 * step, ld, ld);
        L->led = L->led_p1;
        L->button = rect(0, 0, 0, 0);
        L->port_in = rect(bx - 12 * s, by + bhh * 0.20f - ph / 2, 24 * s, ph);
        L->port_out = rect(bx + bw - 16 * s, by + bhh * 0.80f - 23 * s, 30 * s, 46 * s);
        float cx = bx + bw + 84 * s;
        L->charger = rect(cx, by + bhh * 0.08f, mid_x + pnl_w - 14 * s - cx, bhh * 0.84f);
        L->port_eth = rect(0, 0, 0, 0);
        L->port_usb = rect(0, 0, 0, 0);
        L->hold_bar = rect(bx, by + bhh + 56 * s, bw, 12 * s);
    } else {
        float bw = pnl_w * 0.62f, bhh = dev_h * 0.50f;
        float bx = mid_x + (pnl_w - bw) / 2, by = body_y + dev_h * 0.14f;
        L->device = rect(bx, by, bw, bhh);
        float d = (bw < bhh ? bw : bhh) * 0.50f;
        L->button = rect(bx + (bw - d) / 2, by + (bhh - d) / 2 + 6 * s, d, d);
        float ld = d * 0.72f;
        L->led = rect(bx + (bw - ld) / 2, by + (bhh - ld) / 2 + 6 * s, ld, ld);
        L->hold_bar = rect(bx, by + bhh + 56 * s, bw, 12 * s);
        if (p == GUI_PRODUCT_TIC) {
            L->port_in = rect(bx - 16 * s, by + bhh * 0.5f - ph / 2, 26 * s, ph);
            L->port_out = rect(0, 0, 0, 0);
        } else {
            L->port_in = rect(bx - 12 * s, by + bhh * 0.5f - ph / 2, 24 * s, ph);
            L->port_out = rect(bx + bw - 12 * s, by + bhh * 0.5f - ph / 2, 24 * s, ph);
        }
        L->port_eth = rect(bx + bw * 0.18f, by + bhh - 14 * s, 42 * s, 34 * s);
        L->port_usb = rect(bx + bw * 0.70f, by + bhh - 5 * s, 34 * s, 12 * s);
    }
    L->log_panel = rect(mid_x, body_y + dev_h + m, mid_w - m, body_h - dev_h - m);

    /* outputs */
    float vh = body_h * 0.30f, rh = body_h * 0.37f;
    L->values_panel = rect(right_x, body_y, right_w, vh);
    float rw = right_w * 0.60f;
    L->regs_panel = rect(right_x, body_y + vh + m, rw - m / 2, rh);
    L->counters_panel = rect(right_x + rw + m / 2, body_y + vh + m, right_w - rw - m / 2, rh);
    L->payload_panel = rect(right_x, body_y + vh + rh + 2 * m, right_w, body_h - vh - rh - 2 * m);
}

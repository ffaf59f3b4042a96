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
    L->meter = rect(px + pw * 0.12f, y, pw * 0.62f, 150 * s);
    y += 150 * s + 14 * s;
    float bh = 30 * s, gap = 6 * s;
    L->controls[GUI_CTRL_PLAY] = rect(px, y, (pw - gap) / 2, bh);
    L->controls[GUI_CTRL_RESTART] = rect(px + (pw + gap) / 2, y, (pw - gap) / 2, bh);
    y += bh + gap;
    L->controls[GUI_CTRL_SLOWER] = rect(px, y, bh * 1.3f, bh);
    L->controls[GUI_CTRL_FASTER] = rect(px + pw - bh * 1.3f, y, bh * 1.3f, bh);
    y += bh + 30 * s;
    float fh = (body_y + body_h - 10 * s - y - gap * (GUI_FAULT_COUNT - 1)) / GUI_FAULT_COUNT;
    if (fh > 34 * s) {
        fh = 34 * s;
    }
    for (int i = 0; i < GUI_FAULT_COUNT; i++) {
        L->faults[i] = rect(px, y, pw, fh);
        y += fh + gap;
    }

    /* the device */
    float dev_h = body_h * 0.60f;
    L->device_panel = rect(mid_x, body_y, mid_w - m, dev_h);
    float bw = (mid_w - m) * 0.62f, bhh = dev_h * 0.50f;
    float bx = mid_x + ((mid_w - m) - bw) / 2, by = body_y + dev_h * 0.14f;
    L->device = rect(bx, by, bw, bhh);
    float d = (bw < bhh ? bw : bhh) * 0.50f;
    L->button = rect(bx + (bw - d) / 2, by + (bhh - d) / 2 + 6 * s, d, d);
    float ld = d * 0.72f;
    L->led = rect(bx + (bw - ld) / 2, by + (bhh - ld) / 2 + 6 * s, ld, ld);
    L->hold_bar = rect(bx, by + bhh + 56 * s, bw, 12 * s);
    float ph = 34 * s;
    if (p == GUI_PRODUCT_TIC) {
        L->port_in = rect(bx - 16 * s, by + bhh * 0.5f - ph / 2, 26 * s, ph);
        L->port_out = rect(0, 0, 0, 0);
    } else {
        L->port_in = rect(bx - 12 * s, by + bhh * 0.5f - ph / 2, 24 * s, ph);
        L->port_out = rect(bx + bw - 12 * s, by + bhh * 0.5f - ph / 2, 24 * s, ph);
    }
    L->port_eth = rect(bx + bw * 0.18f, by + bhh - 14 * s, 42 * s, 34 * s);
    L->port_usb = rect(bx + bw * 0.70f, by + bhh - 5 * s, 34 * s, 12 * s);
    L->log_panel = rect(mid_x, body_y + dev_h + m, mid_w - m, body_h - dev_h - m);

    /* outputs */
    float vh = body_h * 0.30f, rh = body_h * 0.37f;
    L->values_panel = rect(right_x, body_y, right_w, vh);
    float rw = right_w * 0.60f;
    L->regs_panel = rect(right_x, body_y + vh + m, rw - m / 2, rh);
    L->counters_panel = rect(right_x + rw + m / 2, body_y + vh + m, right_w - rw - m / 2, rh);
    L->payload_panel = rect(right_x, body_y + vh + rh + 2 * m, right_w, body_h - vh - rh - 2 * m);
}

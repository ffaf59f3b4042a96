/*
 * The window: events (mouse, keys), the frame loop that advances virtual time
 * by frame time x speed, and screenshots at given virtual instants.
 */
#include "gui_priv.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim.h"
#include "mqtt/mqtt_policy.h"

static const double speeds[] = {1, 2, 5, 10, 20, 50, 100};
#define N_SPEEDS (sizeof speeds / sizeof speeds[0])

void gui_options_defaults(struct gui_options *o)
{
    memset(o, 0, sizeof *o);
    o->product = GUI_PRODUCT_P1;
    o->variant = -1;
    o->speed = 1.0;
    o->width = 1280;
    o->height = 720;
}

static bool inside(struct gui_rect r, int x, int y)
{
    return x >= r.x && y >= r.y && x < r.x + r.w && y < r.y + r.h;
}

static bool on_button(const struct gui_ui *u, int x, int y)
{
    const struct gui_rect *b = &u->L.button;
    if (b->w == 0) {
        return false; /* the P1MB has no button */
    }
    int dx = x - (b->x + b->w / 2), dy = y - (b->y + b->h / 2);
    int rad = b->w / 2 + b->w / 10; /* a little slack around the bezel */
    return dx * dx + dy * dy <= rad * rad;
}

static void speed_step(struct gui_ui *u, int dir)
{
    size_t i = 0;
    while (i + 1 < N_SPEEDS && speeds[i] < u->speed) {
        i++;
    }
    if (dir > 0 && speeds[i] <= u->speed && i + 1 < N_SPEEDS) {
        i++;
    } else if (dir < 0 && i > 0) {
        i--;
    }
    u->speed = speeds[i];
}

static int relayout(struct gui_ui *u, int w, int h)
{
    gui_layout_compute(w, h, u->m->opt.product, &u->L);
    if (u->font[0] == NULL || u->font_scale != u->L.scale) {
        return gui_fonts_open(u);
    }
    return 0;
}

static void fault_toggle(struct gui_ui *u, enum gui_fault f)
{
    gui_model_fault_set(u->m, f, f == GUI_FAULT_POWER_CYCLE ? true : !u->m->fault[f]);
}

static void button_update(struct gui_ui *u)
{
    if (u->m->opt.product == GUI_PRODUCT_P1MB) {
        return;
    }
    gui_model_button(u->m, u->mouse_on_button || u->key_on_button);
}

/* @return false when the user wants to quit */
static bool handle_event(struct gui_ui *u, const SDL_Event *ev)
{
    switch (ev->type) {
    case SDL_QUIT:
        return false;
    case SDL_WINDOWEVENT:
        if (ev->window.event == SDL_WINDOWEVENT_SIZE_CHANGED) {
            int w, h;
            SDL_GetRendererOutputSize(u->ren, &w, &h);
            relayout(u, w, h);
        }
        break;
    case SDL_MOUSEBUTTONDOWN:
        if (ev->button.button != SDL_BUTTON_LEFT) {
            break;
        }
        if (u->help) {
            u->help = false;
            break;
        }
        if (on_button(u, ev->button.x, ev->button.y)) {
            u->mouse_on_button = true;
            button_update(u);
            break;
        }
        for (int i = 0; i < GUI_CTRL_COUNT; i++) {
            if (inside(u->L.controls[i], ev->button.x, ev->button.y)) {
                if (i == GUI_CTRL_PLAY) {
                    u->playing = !u->playing;
                } else if (i == GUI_CTRL_RESTART) {
                    gui_model_restart(u->m);
                } else {
                    speed_step(u, i == GUI_CTRL_FASTER ? 1 : -1);
                }
            }
        }
        for (int i = 0; i < GUI_FAULT_COUNT; i++) {
            if (inside(u->L.faults[i], ev->button.x, ev->button.y)) {
                fault_toggle(u, (enum gui_fault)i);
            }
        }
        break;
    case SDL_MOUSEBUTTONUP:
        if (ev->button.button == SDL_BUTTON_LEFT && u->mouse_on_button) {
            u->mouse_on_button = false;
            button_update(u);
        }
        break;
    case SDL_MOUSEWHEEL: {
        int mx, my;
        SDL_GetMouseState(&mx, &my);
        if (inside(u->L.regs_panel, mx, my)) {
            u->regs_scroll -= ev->wheel.y * 3;
        }
        break;
    }
    case SDL_KEYDOWN:
        if (ev->key.repeat) {
            break;
        }
        switch (ev->key.keysym.sym) {
        case SDLK_ESCAPE:
            if (u->help) {
                u->help = false;
                break;
            }
            return false;
        case SDLK_q:
            return false;
        case SDLK_F1:
            u->help = !u->help;
            break;
        case SDLK_SPACE:
            u->key_on_button = true;
            button_update(u);
            break;
        case SDLK_p:
            u->playing = !u->playing;
            break;
        case SDLK_r:
            gui_model_restart(u->m);
            break;
        case SDLK_PLUS:
        case SDLK_EQUALS:
        case SDLK_KP_PLUS:
            speed_step(u, 1);
            break;
        case SDLK_MINUS:
        case SDLK_KP_MINUS:
            speed_step(u, -1);
            break;
        case SDLK_u:
            fault_toggle(u, GUI_FAULT_UNPLUG);
            break;
        case SDLK_n:
            fault_toggle(u, GUI_FAULT_NOISE);
            break;
        case SDLK_c:
            fault_toggle(u, GUI_FAULT_CRC);
            break;
        case SDLK_h:
            fault_toggle(u, GUI_FAULT_HISTORIC);
            break;
        case SDLK_d:
            fault_toggle(u, GUI_FAULT_NET_DOWN);
            break;
        case SDLK_b:
            fault_toggle(u, GUI_FAULT_BROKER_DOWN);
            break;
        case SDLK_o:
            fault_toggle(u, GUI_FAULT_POWER_CYCLE);
            break;
        case SDLK_g:
            fault_toggle(u, GUI_FAULT_BUS_GARBAGE);
            break;
        default:
            break;
        }
        break;
    case SDL_KEYUP:
        if (ev->key.keysym.sym == SDLK_SPACE) {
            u->key_on_button = false;
            button_update(u);
        }
        break;
    default:
        break;
    }
    return true;
}

/* ------------------------------------------------------------------------- */
/* Screenshots                                                               */
/* ------------------------------------------------------------------------- */

static bool ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcasecmp(s + a - b, suffix) == 0;
}

static int save_shot(struct gui_ui *u, SDL_Surface *target, const char *file)
{
    SDL_Surface *px = target;
    bool own = false;
    if (px == NULL) {
        px = SDL_CreateRGBSurfaceWithFormat(0, u->L.w, u->L.h, 32, SDL_PIXELFORMAT_ARGB8888);
        if (px == NULL || SDL_RenderReadPixels(u->ren, NULL, SDL_PIXELFORMAT_ARGB8888, px->pixels,
                                               px->pitch) != 0) {
            fprintf(stderr, "meterlab gui: cannot read the window back: %s\n", SDL_GetError());
            SDL_FreeSurface(px);
            return -1;
        }
        own = true;
    }
    int rc;
    if (ends_with(file, ".bmp")) {
        rc = SDL_SaveBMP(px, file);
    } else {
        rc = gui_png_write(file, px->pixels, px->w, px->h, px->pitch / 4);
    }
    if (own) {
        SDL_FreeSurface(px);
    }
    if (rc != 0) {
        fprintf(stderr, "meterlab gui: cannot write %s\n", file);
    }
    return rc;
}

static void print_layout(const struct gui_ui *u)
{
    const struct gui_rect *l = &u->L.led;
    printf("layout %dx%d scale %.3f\n", u->L.w, u->L.h, (double)u->L.scale);
    printf("led %d %d %d %d\n", l->x, l->y, l->w, l->h);
    if (u->m->opt.product == GUI_PRODUCT_P1MB) {
        const struct gui_rect *r[3] = {&u->L.led_pwr, &u->L.led_p1, &u->L.led_485};
        static const char *const n[3] = {"pwr", "p1", "485"};
        for (int i = 0; i < 3; i++) {
            printf("led_%s %d %d %d %d\n", n[i], r[i]->x, r[i]->y, r[i]->w, r[i]->h);
        }
    }
}

static int shots_run(struct gui_ui *u, SDL_Surface *target)
{
    const struct gui_options *o = &u->m->opt;
    /* in the order of their instants */
    size_t idx[GUI_SHOTS_MAX];
    for (size_t i = 0; i < o->n_shots; i++) {
        idx[i] = i;
    }
    for (size_t i = 1; i < o->n_shots; i++) {
        for (size_t k = i; k > 0 && o->shots[idx[k]].at_s < o->shots[idx[k - 1]].at_s; k--) {
            size_t t = idx[k];
            idx[k] = idx[k - 1];
            idx[k - 1] = t;
        }
    }
    for (size_t i = 0; i < o->n_shots; i++) {
        const struct gui_shot *s = &o->shots[idx[i]];
        gui_model_run_to(u->m, (uint64_t)(s->at_s * 1e6 + 0.5));
        gui_draw(u);
        if (u->win != NULL) {
            SDL_RenderPresent(u->ren);
            gui_draw(u); /* the back buffer is undefined after a present: draw again to read it */
        }
        if (save_shot(u, target, s->file) != 0) {
            return 2;
        }
        if (o->verbose) {
            const struct gui_model *m = u->m;
            if (m->opt.product == GUI_PRODUCT_P1MB) {
                static const char *const p1[] = {"p1_off", "p1_on", "p1_blink"};
                static const char *const rs[] = {"485_off", "485_on", "485_blink"};
                printf("shot %.3f %s led_state %s rgb %06x pwr %06x p1 %06x 485 %06x %s\n", s->at_s,
                       s->file, p1[m->pst.p1_led], (unsigned)sim_led_get(HAL_LED_P1),
                       (unsigned)sim_led_get(HAL_LED_PWR), (unsigned)sim_led_get(HAL_LED_P1),
                       (unsigned)sim_led_get(HAL_LED_485), rs[m->pst.rs485_led]);
            } else {
                printf("shot %.3f %s led_state %s rgb %06x mqtt %s\n", s->at_s, s->file,
                       ui_led_state_name(m->st.led), (unsigned)sim_led_get(HAL_LED_STATUS),
                       m->set.mqtt_enabled ? mqtt_state_name((int)m->st.mqtt) : "off");
            }
            if (m->scn.loaded) {
                char what[96];
                gui_model_step_text(m, m->scn.step, what, sizeof what);
                printf("scenario %s step %ld %s\n", m->scn.s.name, m->scn.step + 1, what);
            }
        }
    }
    return 0;
}

/* ------------------------------------------------------------------------- */

int gui_run(const struct gui_options *o)
{
    static struct gui_model model; /* large (a reading, the log): not on the stack */
    static struct gui_ui ui;
    struct gui_ui *u = &ui;
    memset(u, 0, sizeof *u);
    u->m = &model;
    u->playing = true;
    u->help = o->show_help;
    u->speed = o->speed >= 1 ? o->speed : 1;
    int w = o->width > 0 ? o->width : 1280, h = o->height > 0 ? o->height : 720;
    bool shots = o->n_shots > 0;
    SDL_Surface *target = NULL;
    int rc = 2;

    if (TTF_Init() != 0) {
        fprintf(stderr, "meterlab gui: SDL_ttf: %s\n", TTF_GetError());
        return 2;
    }
    bool video = false;
    if (!(shots && o->headless)) {
        if (SDL_Init(SDL_INIT_VIDEO) != 0) {
            if (!shots) {
                fprintf(stderr,
                        "meterlab gui: no display (%s); run under xvfb-run for screenshots, or "
                        "use --headless\n",
                        SDL_GetError());
                goto out_ttf;
            }
        } else {
            video = true;
        }
    }
    if (video) {
        Uint32 flags = SDL_WINDOW_RESIZABLE | (shots ? SDL_WINDOW_HIDDEN : SDL_WINDOW_SHOWN);
        u->win = SDL_CreateWindow("meterlab gui", SDL_WINDOWPOS_CENTERED, SDL_WINDOWPOS_CENTERED, w,
                                  h, flags);
        if (u->win == NULL) {
            fprintf(stderr, "meterlab gui: cannot open a window: %s\n", SDL_GetError());
            goto out_sdl;
        }
        /* screenshots: the software renderer, so pixels do not depend on a GPU driver */
        u->ren = SDL_CreateRenderer(u->win, -1,
                                    shots ? SDL_RENDERER_SOFTWARE
                                          : SDL_RENDERER_ACCELERATED | SDL_RENDERER_PRESENTVSYNC);
        if (u->ren == NULL && !shots) {
            u->ren = SDL_CreateRenderer(u->win, -1, SDL_RENDERER_SOFTWARE);
        }
    } else {
        /* headless: draw into memory, no video driver involved */
        target = SDL_CreateRGBSurfaceWithFormat(0, w, h, 32, SDL_PIXELFORMAT_ARGB8888);
        u->ren = target != NULL ? SDL_CreateSoftwareRenderer(target) : NULL;
    }
    if (u->ren == NULL) {
        fprintf(stderr, "meterlab gui: cannot create a renderer: %s\n", SDL_GetError());
        goto out_win;
    }
    if (u->win != NULL) {
        SDL_GetRendererOutputSize(u->ren, &w, &h);
    }
    rc = gui_model_start(&model, o);
    if (rc != 0) {
        goto out_ren;
    }
    if (relayout(u, w, h) != 0) {
        rc = 2;
        goto out_model;
    }
    if (o->verbose) {
        print_layout(u);
    }

    if (shots) {
        rc = shots_run(u, target);
        goto out_model;
    }

    Uint64 freq = SDL_GetPerformanceFrequency(), last = SDL_GetPerformanceCounter();
    bool run = true;
    while (run) {
        SDL_Event ev;
        while (SDL_PollEvent(&ev)) {
            if (!handle_event(u, &ev)) {
                run = false;
            }
        }
        Uint64 now = SDL_GetPerformanceCounter();
        double dt = (double)(now - last) / (double)freq;
        last = now;
        if (dt > 0.1) {
            dt = 0.1; /* after a stall, do not jump ahead */
        }
        if (u->playing) {
            gui_model_run_to(&model, model.now_us + (uint64_t)(dt * u->speed * 1e6));
        }
        gui_draw(u);
        SDL_RenderPresent(u->ren);
        Uint64 spent = (SDL_GetPerformanceCounter() - now) * 1000u / freq;
        if (spent < 16) {
            SDL_Delay((Uint32)(16 - spent)); /* ~60 fps without vsync too */
        }
    }
    rc = 0;

out_model:
    gui_model_stop(&model);
out_ren:
    gui_fonts_close(u);
    SDL_DestroyRenderer(u->ren);
out_win:
    if (u->win != NULL) {
        SDL_DestroyWindow(u->win);
    }
    if (target != NULL) {
        SDL_FreeSurface(target);
    }
out_sdl:
    if (video) {
        SDL_Quit();
    }
out_ttf:
    TTF_Quit();
    return rc;
}

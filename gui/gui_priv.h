/**
 * @file gui_priv.h
 * @brief Shared by ml_gui's own files: the drawing context.
 */
#ifndef GUI_GUI_PRIV_H
#define GUI_GUI_PRIV_H

#include <SDL.h>
#include <SDL_ttf.h>
#include <stdbool.h>
#include <stdint.h>

#include "gui.h"
#include "gui_model.h"

enum gui_font {
    GUI_FONT_SMALL = 0, /**< notes, tick labels */
    GUI_FONT_TEXT,      /**< body text */
    GUI_FONT_BOLD,      /**< panel titles, button labels */
    GUI_FONT_BIG,       /**< the total power */
    GUI_FONT_MONO,      /**< registers, payload */
    GUI_FONT_COUNT
};

#define GUI_TEXT_CACHE 1024
#define GUI_TEXT_KEY   96

struct gui_text_entry {
    SDL_Texture *tex;
    uint32_t hash, colour;
    int w, h;
    uint8_t font;
    char key[GUI_TEXT_KEY];
};

struct gui_ui {
    SDL_Window *win; /**< NULL when drawing into memory (headless screenshots) */
    SDL_Renderer *ren;
    TTF_Font *font[GUI_FONT_COUNT];
    float font_scale; /**< scale the fonts were opened at */
    struct gui_layout L;
    struct gui_model *m;
    bool playing;
    double speed;
    bool help;
    bool live; /**< the interactive window (not screenshots) */
    int regs_scroll;
    bool mouse_on_button, key_on_button;
    uint64_t frame_real_ms; /**< wall clock, for hover effects only */
    struct gui_text_entry cache[GUI_TEXT_CACHE];
    size_t cache_n;
};

/** (Re)open the fonts for the layout's scale. @return 0, or -1 (message printed). */
int gui_fonts_open(struct gui_ui *u);
void gui_fonts_close(struct gui_ui *u);
void gui_text_cache_clear(struct gui_ui *u);

/** The clock in the top bar shows whole seconds: in the live window playing at 1x, so that
 * an idle window redraws about three times a second (tenths otherwise). */
bool gui_clock_whole_seconds(const struct gui_ui *u);

/** Draw the whole window (does not present). */
void gui_draw(struct gui_ui *u);

/** Write 0x00RRGGBB pixels (@p pitch_px per row) as an 8-bit RGB PNG. @return 0 or -1. */
int gui_png_write(const char *path, const uint32_t *argb, int w, int h, int pitch_px);

/** How many register names of the table's template do not fit whole in the window (each
 * printed with --verbose). */
int gui_regs_cut(struct gui_ui *u);

/** Label of a fault button ("Unplug meter (U)"). */
const char *gui_fault_label(enum gui_fault f);

#endif /* GUI_GUI_PRIV_H */

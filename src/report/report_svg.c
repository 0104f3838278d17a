// report_svg — see report_svg.h.
#include "report/report_svg.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define FONT "font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\""
#define MONO "font-family=\"DejaVu Sans Mono, Menlo, Consolas, monospace\""
#define CHAR_W 6.2   // average advance of an 11 px sans-serif glyph, for layout only

// ---------------------------------------------------------------------------- text

// Decodes one UTF-8 code point at s (len bytes left); returns its length, or 0 if invalid.
static int utf8_decode(const unsigned char *s, size_t len, unsigned *cp) {
    if (s[0] < 0x80) { *cp = s[0]; return 1; }
    int n = (s[0] & 0xE0) == 0xC0 ? 2 : (s[0] & 0xF0) == 0xE0 ? 3 : (s[0] & 0xF8) == 0xF0 ? 4 : 0;
    if (!n || (size_t)n > len) return 0;
    unsigned c = s[0] & (0x7F >> n);
    for (int i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80) return 0;
        c = (c << 6) | (s[i] & 0x3F);
    }
    static const unsigned min_cp[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (c < min_cp[n] || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF)) return 0;
    *cp = c;
    return n;
}

static int utf8_len(const char *s) {
    int n = 0;
    for (; *s; s++) n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

void svg_text(FILE *f, const char *s, int visible, int max_chars) {
    if (!s) return;
    const unsigned char *p = (const unsigned char *)s;
    size_t len = strlen(s);
    size_t lead = 0, trail_from = len;
    if (visible) {
        while (lead < len && p[lead] == ' ') lead++;
        trail_from = len;
        while (trail_from > lead && p[trail_from - 1] == ' ') trail_from--;
    }
    int shown = 0;
    if (visible && len == 0) fputs("∅", f); // an empty decode
    for (size_t i = 0; i < len;) {
        if (max_chars > 0 && shown >= max_chars) { fputs("…", f); break; }
        unsigned cp;
        int n = utf8_decode(p + i, len - i, &cp);
        if (!n) { fputs("\xEF\xBF\xBD", f); i++; shown++; continue; } // U+FFFD for a bad byte
        if (visible && cp == ' ' && (i < lead || i >= trail_from)) fputs("␣", f);
        else if (visible && cp == '\n') fputs("↵", f);
        else if (visible && cp == '\r') fputs("␍", f);
        else if (visible && cp == '\t') fputs("⇥", f);
        else if (visible && (cp == 0xAD || (cp >= 0x200B && cp <= 0x200F) || cp == 0x2028 || cp == 0x2029 ||
                             (cp >= 0x2060 && cp <= 0x2064) || cp == 0xFEFF))
            fprintf(f, "U+%04X", cp); // invisible format characters: name them
        else if (cp == '&') fputs("&amp;", f);
        else if (cp == '<') fputs("&lt;", f);
        else if (cp == '>') fputs("&gt;", f);
        else if (cp == '"') fputs("&quot;", f);
        else if (cp == '\'') fputs("&#39;", f);
        else if ((cp < 0x20 && cp != '\n' && cp != '\t' && cp != '\r') || cp == 0x7F || cp == 0xFFFE || cp == 0xFFFF ||
                 (cp >= 0x80 && cp < 0xA0))
            fprintf(f, "\\x%02X", cp); // not allowed (or invisible) in XML text: show its code
        else fwrite(p + i, 1, n, f);
        i += n;
        shown++;
    }
}

// ---------------------------------------------------------------------------- colours

// A sequential white-to-blue scale (light cells for unlikely tokens keep the grid readable).
static const unsigned char PROB_STOPS[][3] = {
    {0xff, 0xff, 0xff}, {0xde, 0xeb, 0xf7}, {0x9e, 0xca, 0xe1}, {0x42, 0x92, 0xc6}, {0x08, 0x51, 0x9c}, {0x08, 0x30, 0x6b},
};
#define N_PROB_STOPS 6

void svg_prob_color(double p, char out[8], int *dark_text) {
    if (!(p >= 0)) p = 0;
    if (p > 1) p = 1;
    double t = p * (N_PROB_STOPS - 1);
    int i = (int)t;
    if (i >= N_PROB_STOPS - 1) i = N_PROB_STOPS - 2;
    double u = t - i;
    int rgb[3];
    for (int k = 0; k < 3; k++) rgb[k] = (int)lround(PROB_STOPS[i][k] + u * (PROB_STOPS[i + 1][k] - PROB_STOPS[i][k]));
    snprintf(out, 8, "#%02x%02x%02x", rgb[0], rgb[1], rgb[2]);
    if (dark_text) *dark_text = p < 0.55;
}

// ---------------------------------------------------------------------------- axes

static double nice_step(double range, int target) {
    double raw = range / target;
    if (!(raw > 0)) return 1;
    double mag = pow(10, floor(log10(raw)));
    double r = raw / mag;
    return (r < 1.5 ? 1 : r < 3 ? 2 : r < 7 ? 5 : 10) * mag;
}

static void fmt_tick(double v, double step, char *buf, size_t len) {
    if (fabs(v) < step * 1e-6) v = 0;
    int dec = step >= 1 ? 0 : (int)ceil(-log10(step) - 1e-9);
    snprintf(buf, len, "%.*f", dec, v);
}

static void fmt_pow10(int e, char *buf, size_t len) {
    static const char *names[] = {"1", "10", "100", "1k", "10k", "100k", "1M", "10M"};
    if (e >= 0 && e < 8) snprintf(buf, len, "%s", names[e]);
    else snprintf(buf, len, "1e%d", e);
}

typedef struct {
    double x0, y0, w, h;          // plot area
    double x_min, x_max, y_min, y_max;
} Frame;

static double px(const Frame *fr, double x) { return fr->x0 + (x - fr->x_min) / (fr->x_max - fr->x_min) * fr->w; }
static double py(const Frame *fr, double y) { return fr->y0 + fr->h - (y - fr->y_min) / (fr->y_max - fr->y_min) * fr->h; }

// ---------------------------------------------------------------------------- chart

typedef struct {
    double x;
    char text[256];
    const char *color;
    int row, layer;
} MarkLabel;

static int cmp_marklabel(const void *a, const void *b) {
    double d = ((const MarkLabel *)a)->x - ((const MarkLabel *)b)->x;
    return d < 0 ? -1 : d > 0;
}

void svg_chart_write(FILE *f, const SvgChart *c) {
    // Data range.
    double y_lo = INFINITY, y_hi = -INFINITY;
    for (int s = 0; s < c->n_series; s++)
        for (int i = 0; i < c->series[s].n; i++) {
            double y = c->series[s].y[i];
            if (!isfinite(y) || !isfinite(c->series[s].x[i])) continue;
            if (c->log_y) { if (y <= 0) continue; y = log10(y); }
            if (y < y_lo) y_lo = y;
            if (y > y_hi) y_hi = y;
        }
    for (int b = 0; b < c->n_bands; b++)
        for (int i = 0; i < c->bands[b].n; i++) {
            double v[2] = {c->bands[b].lo[i], c->bands[b].hi[i]};
            for (int k = 0; k < 2; k++) {
                double y = v[k];
                if (!isfinite(y) || !isfinite(c->bands[b].x[i])) continue;
                if (c->log_y) { if (y <= 0) continue; y = log10(y); }
                if (y < y_lo) y_lo = y;
                if (y > y_hi) y_hi = y;
            }
        }
    if (isfinite(c->ref_y)) {
        double y = c->log_y ? log10(c->ref_y) : c->ref_y;
        if (isfinite(y)) { if (y < y_lo) y_lo = y; if (y > y_hi) y_hi = y; }
    }
    int have_data = y_lo <= y_hi;
    if (!have_data) { y_lo = 0; y_hi = 1; }
    if (c->log_y) { y_lo = floor(y_lo); y_hi = ceil(y_hi); if (y_hi <= y_lo) y_hi = y_lo + 1; }
    double step = 1;
    if (!c->log_y) {
        if (y_hi - y_lo < 1e-9) { y_lo -= 0.5; y_hi += 0.5; }
        step = nice_step(y_hi - y_lo, 5);
        y_lo = floor(y_lo / step + 1e-9) * step;
        y_hi = ceil(y_hi / step - 1e-9) * step;
    }

    // Marker labels: merge markers at the same x, then stack them into rows so none overlap.
    MarkLabel labels[32];
    int n_labels = 0;
    for (int i = 0; i < c->n_markers && n_labels < 32; i++) {
        const SvgMarker *mk = &c->markers[i];
        if (!isfinite(mk->x)) continue;
        int j = 0;
        while (j < n_labels && fabs(labels[j].x - mk->x) > 1e-12) j++;
        if (j == n_labels) {
            labels[n_labels].x = mk->x;
            labels[n_labels].color = mk->color;
            labels[n_labels].row = 0;
            snprintf(labels[n_labels].text, sizeof labels[0].text, "%s", mk->label);
            labels[n_labels].layer = mk->layer;
            n_labels++;
        } else {
            size_t l = strlen(labels[j].text);
            snprintf(labels[j].text + l, sizeof labels[0].text - l, ", %s", mk->label);
        }
    }
    qsort(labels, n_labels, sizeof *labels, cmp_marklabel);
    for (int i = 0; i < n_labels; i++)
        if (labels[i].layer >= 0) {
            size_t l = strlen(labels[i].text);
            snprintf(labels[i].text + l, sizeof labels[0].text - l, " L%d", labels[i].layer);
        }

    // Layout.
    Frame fr;
    fr.x0 = 62;
    double right = 16;
    fr.w = c->width - fr.x0 - right;
    fr.x_min = c->x_min;
    fr.x_max = c->x_max > c->x_min ? c->x_max : c->x_min + 1;
    double row_end[4] = {-1e9, -1e9, -1e9, -1e9};
    int n_rows = 0;
    for (int i = 0; i < n_labels; i++) {
        double x = px(&fr, labels[i].x);
        double w = utf8_len(labels[i].text) * 5.6 + 6;
        double start = x - w / 2;
        int r = 0;
        while (r < 3 && start < row_end[r]) r++;
        if (r == 3) r = 2; // crowded: reuse the last row
        labels[i].row = r;
        row_end[r] = start + w;
        if (r + 1 > n_rows) n_rows = r + 1;
    }
    // Legend entries (series, then bands), wrapped into rows.
    double leg_x[64], leg_row[64];
    int leg_rows = 0, n_leg = c->n_series + c->n_bands;
    {
        double x = 0;
        int row = 0;
        for (int s = 0; s < n_leg && s < 64; s++) {
            const char *lab = s < c->n_series ? c->series[s].label : c->bands[s - c->n_series].label;
            double w = 28 + utf8_len(lab ? lab : "") * CHAR_W + 14;
            if (x > 0 && x + w > fr.w) { row++; x = 0; }
            leg_x[s] = x;
            leg_row[s] = row;
            x += w;
        }
        leg_rows = n_leg ? row + 1 : 0;
    }
    double top = 26 + n_rows * 13 + 4;
    double bottom = 34 + (c->x_layers > 0 ? 12 : 0) + 8 + leg_rows * 17;
    fr.y0 = top;
    fr.h = c->height - top - bottom;
    if (fr.h < 60) fr.h = 60;
    int height = (int)ceil(top + fr.h + bottom);
    fr.y_min = y_lo;
    fr.y_max = y_hi;

    fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"%s\" width=\"%d\" height=\"%d\" "
               "viewBox=\"0 0 %d %d\" " FONT " font-size=\"11\">\n", c->css_class ? c->css_class : "chart", c->width, height,
            c->width, height);
    fputs("<title>", f);
    svg_text(f, c->title, 0, 0);
    fputs("</title>\n", f);
    fprintf(f, "<rect width=\"%d\" height=\"%d\" fill=\"#ffffff\"/>\n", c->width, height);
    fprintf(f, "<text x=\"%.1f\" y=\"16\" font-size=\"13\" font-weight=\"bold\" fill=\"#222\">", fr.x0);
    svg_text(f, c->title, 0, 0);
    fputs("</text>\n", f);

    // Grid lines and y ticks.
    fprintf(f, "<g stroke=\"#e4e4e4\" stroke-width=\"1\">\n");
    char buf[64];
    if (c->log_y) {
        for (int e = (int)y_lo; e <= (int)y_hi; e++)
            fprintf(f, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\"/>\n", fr.x0, fr.x0 + fr.w, py(&fr, e), py(&fr, e));
    } else {
        for (double v = y_lo; v <= y_hi + step * 1e-6; v += step)
            fprintf(f, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\"/>\n", fr.x0, fr.x0 + fr.w, py(&fr, v), py(&fr, v));
    }
    double x_step = nice_step(fr.x_max - fr.x_min, 4);
    for (double v = fr.x_min; v <= fr.x_max + x_step * 1e-6; v += x_step)
        fprintf(f, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\"/>\n", px(&fr, v), px(&fr, v), fr.y0, fr.y0 + fr.h);
    fputs("</g>\n", f);
    fprintf(f, "<g fill=\"#444\" text-anchor=\"end\">\n");
    if (c->log_y) {
        for (int e = (int)y_lo; e <= (int)y_hi; e++) {
            fmt_pow10(e, buf, sizeof buf);
            fprintf(f, "<text x=\"%.1f\" y=\"%.1f\">%s</text>\n", fr.x0 - 5, py(&fr, e) + 4, buf);
        }
    } else {
        for (double v = y_lo; v <= y_hi + step * 1e-6; v += step) {
            fmt_tick(v, step, buf, sizeof buf);
            fprintf(f, "<text x=\"%.1f\" y=\"%.1f\">%s</text>\n", fr.x0 - 5, py(&fr, v) + 4, buf);
        }
    }
    fputs("</g>\n<g fill=\"#444\" text-anchor=\"middle\">\n", f);
    for (double v = fr.x_min; v <= fr.x_max + x_step * 1e-6; v += x_step) {
        fmt_tick(v, x_step, buf, sizeof buf);
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\">%s</text>\n", px(&fr, v), fr.y0 + fr.h + 14, buf);
        if (c->x_layers > 0)
            fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" fill=\"#888\" font-size=\"10\">L%ld</text>\n", px(&fr, v),
                    fr.y0 + fr.h + 26, lround(v * c->x_layers));
    }
    fputs("</g>\n", f);
    // Axis labels.
    double xl_y = fr.y0 + fr.h + (c->x_layers > 0 ? 40 : 28);
    fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" fill=\"#222\">", fr.x0 + fr.w / 2, xl_y);
    svg_text(f, c->x_label, 0, 0);
    fputs("</text>\n", f);
    fprintf(f, "<text transform=\"translate(14 %.1f) rotate(-90)\" text-anchor=\"middle\" fill=\"#222\">", fr.y0 + fr.h / 2);
    svg_text(f, c->y_label, 0, 0);
    fputs("</text>\n", f);
    fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"none\" stroke=\"#999\"/>\n", fr.x0, fr.y0,
            fr.w, fr.h);

    // Reference line.
    if (isfinite(c->ref_y) && (!c->log_y || c->ref_y > 0)) {
        double y = py(&fr, c->log_y ? log10(c->ref_y) : c->ref_y);
        fprintf(f, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#555\" stroke-dasharray=\"2 3\"/>\n", fr.x0,
                fr.x0 + fr.w, y, y);
        if (c->ref_label) {
            fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\" fill=\"#555\" font-size=\"10\">", fr.x0 + fr.w - 3, y - 3);
            svg_text(f, c->ref_label, 0, 0);
            fputs("</text>\n", f);
        }
    }

    // Milestone markers.
    for (int i = 0; i < n_labels; i++) {
        double x = px(&fr, labels[i].x);
        fprintf(f, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" stroke-dasharray=\"4 3\"/>\n", x, x,
                fr.y0, fr.y0 + fr.h, labels[i].color);
        double ly = 26 + labels[i].row * 13 + 9;
        const char *anchor = x < fr.x0 + 40 ? "start" : x > fr.x0 + fr.w - 40 ? "end" : "middle";
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"%s\" fill=\"%s\" font-size=\"10\">", x, ly, anchor,
                labels[i].color);
        svg_text(f, labels[i].text, 0, 0);
        fputs("</text>\n", f);
    }

    // Bands: one polygon per run of layers where both edges have a value (upper edge left to
    // right, lower edge back); a run of one layer is a vertical line.
    for (int b = 0; b < c->n_bands; b++) {
        const SvgBand *bd = &c->bands[b];
        for (int i = 0; i < bd->n;) {
#define BAND_OK(k) (isfinite(bd->x[k]) && isfinite(bd->lo[k]) && isfinite(bd->hi[k]) && (!c->log_y || (bd->lo[k] > 0 && bd->hi[k] > 0)))
            if (!BAND_OK(i)) { i++; continue; }
            int j = i;
            while (j + 1 < bd->n && BAND_OK(j + 1)) j++;
#undef BAND_OK
#define BY(v) py(&fr, c->log_y ? log10(v) : (v))
            if (j == i) {
                fprintf(f, "<line class=\"band\" x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" stroke-opacity=\"%.2f\" "
                           "stroke-width=\"4\"/>\n", px(&fr, bd->x[i]), px(&fr, bd->x[i]), BY(bd->lo[i]), BY(bd->hi[i]), bd->color,
                        bd->opacity);
            } else {
                fprintf(f, "<polygon class=\"band\" fill=\"%s\" fill-opacity=\"%.2f\" stroke=\"none\" points=\"", bd->color, bd->opacity);
                for (int k = i; k <= j; k++) fprintf(f, "%.1f,%.1f ", px(&fr, bd->x[k]), BY(bd->hi[k]));
                for (int k = j; k >= i; k--) fprintf(f, "%.1f,%.1f ", px(&fr, bd->x[k]), BY(bd->lo[k]));
                fputs("\"/>\n", f);
            }
#undef BY
            i = j + 1;
        }
    }

    // Series.
    fprintf(f, "<g fill=\"none\" stroke-width=\"1.8\" stroke-linejoin=\"round\">\n");
    for (int s = 0; s < c->n_series; s++) {
        const SvgSeries *se = &c->series[s];
        int open = 0, n_pts = 0;
        double lx = 0, ly = 0;
        for (int i = 0; i < se->n; i++) {
            double y = se->y[i], x = se->x[i];
            int ok = isfinite(y) && isfinite(x) && (!c->log_y || y > 0);
            if (!ok) { if (open) fputs("\"/>\n", f); open = 0; continue; }
            if (c->log_y) y = log10(y);
            lx = px(&fr, x);
            ly = py(&fr, y);
            if (!open) {
                fprintf(f, "<polyline stroke=\"%s\"%s%s%s points=\"", se->color, se->dash ? " stroke-dasharray=\"" : "",
                        se->dash ? se->dash : "", se->dash ? "\"" : "");
                open = 1;
            }
            fprintf(f, "%.1f,%.1f ", lx, ly);
            n_pts++;
        }
        if (open) fputs("\"/>\n", f);
        // A lone point would be invisible as a line: draw a dot at the last point.
        if (n_pts == 1) fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"2.5\" fill=\"%s\"/>\n", lx, ly, se->color);
    }
    fputs("</g>\n", f);
    if (!have_data && c->empty_note) {
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" fill=\"#888\">", fr.x0 + fr.w / 2, fr.y0 + fr.h / 2);
        svg_text(f, c->empty_note, 0, 0);
        fputs("</text>\n", f);
    }

    // Hover targets: a transparent column per point, as wide as the gap between points.
    if (c->n_points > 0) {
        double cw = fr.w / (c->n_points > 1 ? c->n_points - 1 : 1);
        fputs("<g class=\"points\">\n", f);
        for (int i = 0; i < c->n_points; i++) {
            const SvgPoint *pt = &c->points[i];
            double x0 = px(&fr, pt->x) - cw / 2, x1 = x0 + cw;
            if (x0 < fr.x0) x0 = fr.x0;
            if (x1 > fr.x0 + fr.w) x1 = fr.x0 + fr.w;
            fprintf(f, "<g class=\"pt\"%s><title>", pt->data ? pt->data : "");
            svg_text(f, pt->title, 0, 0);
            fprintf(f, "</title><rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"#000000\" fill-opacity=\"0\"/></g>\n",
                    x0, fr.y0, x1 - x0, fr.h);
        }
        fputs("</g>\n", f);
    }

    // Legend.
    double leg_y0 = xl_y + 14;
    for (int s = c->n_series; s < n_leg && s < 64; s++) {
        const SvgBand *bd = &c->bands[s - c->n_series];
        double x = fr.x0 + leg_x[s], y = leg_y0 + leg_row[s] * 17;
        fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"22\" height=\"9\" fill=\"%s\" fill-opacity=\"%.2f\"/>\n", x, y - 8.5,
                bd->color, bd->opacity);
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" fill=\"#222\">", x + 27, y);
        svg_text(f, bd->label, 0, 0);
        fputs("</text>\n", f);
    }
    for (int s = 0; s < c->n_series && s < 64; s++) {
        const SvgSeries *se = &c->series[s];
        double x = fr.x0 + leg_x[s], y = leg_y0 + leg_row[s] * 17;
        fprintf(f, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" stroke-width=\"2.5\"%s%s%s/>\n", x,
                x + 22, y - 4, y - 4, se->color, se->dash ? " stroke-dasharray=\"" : "", se->dash ? se->dash : "",
                se->dash ? "\"" : "");
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" fill=\"#222\">", x + 27, y);
        svg_text(f, se->label, 0, 0);
        fputs("</text>\n", f);
    }
    fputs("</svg>\n", f);
}

// ---------------------------------------------------------------------------- token grid

#define CELL_W 64
#define CELL_H 15
#define GRID_CHARS 9

void svg_grid_write(FILE *f, const TokenGrid *g, const char *title) {
    static int grid_id = 0; // gradient ids must be unique in the page
    grid_id++;
    double left = 44, top = 44, scale_w = 70;
    double width = left + g->n_cols * CELL_W + 16 + scale_w;
    double height = top + g->n_rows * CELL_H + 30;
    fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"grid\" width=\"%.0f\" height=\"%.0f\" "
               "viewBox=\"0 0 %.0f %.0f\" " FONT " font-size=\"11\">\n", width, height, width, height);
    fputs("<title>", f);
    svg_text(f, title, 0, 0);
    fputs("</title>\n", f);
    fprintf(f, "<rect width=\"%.0f\" height=\"%.0f\" fill=\"#ffffff\"/>\n", width, height);
    fprintf(f, "<text x=\"%.0f\" y=\"14\" font-size=\"13\" font-weight=\"bold\" fill=\"#222\">", left);
    svg_text(f, title, 0, 0);
    fputs("</text>\n", f);
    // Column labels (may be two lines).
    fprintf(f, "<g fill=\"#222\" text-anchor=\"middle\" " MONO " font-size=\"10\">\n");
    for (int c = 0; c < g->n_cols; c++) {
        const char *lab = g->col_label[c] ? g->col_label[c] : "";
        const char *nl = strchr(lab, '\n');
        double x = left + c * CELL_W + CELL_W / 2.0;
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\"><title>", x, nl ? top - 18 : top - 6);
        svg_text(f, lab, 1, 0);
        fputs("</title>", f);
        if (nl) {
            char *first = strndup(lab, nl - lab);
            svg_text(f, first, 1, GRID_CHARS);
            free(first);
            fprintf(f, "<tspan x=\"%.1f\" dy=\"12\" fill=\"#666\">", x);
            svg_text(f, nl + 1, 1, GRID_CHARS);
            fputs("</tspan>", f);
        } else {
            svg_text(f, lab, 1, GRID_CHARS);
        }
        fputs("</text>\n", f);
    }
    fputs("</g>\n", f);
    // Row labels.
    fprintf(f, "<g fill=\"#444\" text-anchor=\"end\" font-size=\"10\">\n");
    for (int r = 0; r < g->n_rows; r++)
        fprintf(f, "<text x=\"%.0f\" y=\"%.1f\">L%d</text>\n", left - 4, top + r * CELL_H + CELL_H - 4, r);
    fputs("</g>\n", f);
    // Cells.
    fprintf(f, "<g " MONO " font-size=\"9.5\" text-anchor=\"middle\">\n");
    for (int r = 0; r < g->n_rows; r++)
        for (int c = 0; c < g->n_cols; c++) {
            int i = r * g->n_cols + c;
            double x = left + c * CELL_W, y = top + r * CELL_H;
            if (!g->top1[i]) {
                fprintf(f, "<rect x=\"%.0f\" y=\"%.0f\" width=\"%d\" height=\"%d\" fill=\"#f4f4f4\"/>\n", x, y, CELL_W, CELL_H);
                continue;
            }
            char col[8];
            int dark;
            svg_prob_color(g->prob[i], col, &dark);
            fprintf(f, "<g><title>L%d, ", r);
            svg_text(f, g->col_label[c], 1, 0);
            fputs(": top-1 ", f);
            svg_text(f, g->top1[i], 1, 0);
            fprintf(f, ", p = %.4g%s</title>", g->prob[i], g->is_answer[i] ? " (the answer)" : "");
            fprintf(f, "<rect x=\"%.0f\" y=\"%.0f\" width=\"%d\" height=\"%d\" fill=\"%s\" stroke=\"#ffffff\" stroke-width=\"0.5\"/>",
                    x, y, CELL_W, CELL_H, col);
            if (g->is_answer[i])
                fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%d\" height=\"%d\" fill=\"none\" stroke=\"#d62728\" stroke-width=\"1.5\"/>",
                        x + 0.75, y + 0.75, CELL_W - 2, CELL_H - 2);
            fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" fill=\"%s\"%s>", x + CELL_W / 2.0, y + CELL_H - 4, dark ? "#111" : "#fff",
                    g->is_answer[i] ? " font-weight=\"bold\"" : "");
            svg_text(f, g->top1[i], 1, GRID_CHARS);
            fputs("</text></g>\n", f);
        }
    fputs("</g>\n", f);
    // Colour scale.
    double sx = left + g->n_cols * CELL_W + 16, sy = top, sh = g->n_rows * CELL_H;
    if (sh > 240) sh = 240;
    fprintf(f, "<defs><linearGradient id=\"pscale%d\" x1=\"0\" y1=\"1\" x2=\"0\" y2=\"0\">", grid_id);
    for (int k = 0; k <= 10; k++) {
        char col[8];
        svg_prob_color(k / 10.0, col, NULL);
        fprintf(f, "<stop offset=\"%.1f\" stop-color=\"%s\"/>", k / 10.0, col);
    }
    fputs("</linearGradient></defs>\n", f);
    fprintf(f, "<rect x=\"%.0f\" y=\"%.0f\" width=\"14\" height=\"%.0f\" fill=\"url(#pscale%d)\" stroke=\"#999\"/>\n", sx, sy, sh, grid_id);
    for (int k = 0; k <= 4; k++)
        fprintf(f, "<text x=\"%.0f\" y=\"%.1f\" font-size=\"10\" fill=\"#444\">%.2g</text>\n", sx + 18, sy + sh - k * sh / 4 + 4,
                k / 4.0);
    fprintf(f, "<text transform=\"translate(%.0f %.1f) rotate(-90)\" text-anchor=\"middle\" font-size=\"10\" fill=\"#222\">"
               "p(top-1)</text>\n", sx + 58, sy + sh / 2);
    fprintf(f, "<text x=\"%.0f\" y=\"%.1f\" font-size=\"10\" fill=\"#444\">cell = top-1 token at (layer, column); "
               "fill = its probability; red frame = the gold answer; ␣ = space, ↵ = newline, ∅ = empty string</text>\n", left, top + g->n_rows * CELL_H + 18);
    fputs("</svg>\n", f);
}

// ---------------------------------------------------------------------------- histogram

void svg_hist_write(FILE *f, const SvgHist *h) {
    int n_bars = h->n + (h->never >= 0);
    int max = 1;
    for (int i = 0; i < h->n; i++)
        if (h->count[i] > max) max = h->count[i];
    if (h->never > max) max = h->never;
    Frame fr = {.x0 = 52, .y0 = 44, .x_min = -0.5, .x_max = n_bars - 0.5, .y_min = 0};
    fr.w = h->width - fr.x0 - 16;
    fr.h = h->height - fr.y0 - 52 - (h->note ? 14 : 0);
    double step = nice_step(max, 4);
    fr.y_max = ceil(max / step - 1e-9) * step;
    if (fr.y_max < max) fr.y_max = max;
    fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"hist\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" " FONT
               " font-size=\"11\">\n<title>", h->width, h->height, h->width, h->height);
    svg_text(f, h->title, 0, 0);
    fputs("</title>\n", f);
    fprintf(f, "<rect width=\"%d\" height=\"%d\" fill=\"#ffffff\"/>\n", h->width, h->height);
    fprintf(f, "<text x=\"%.1f\" y=\"16\" font-size=\"13\" font-weight=\"bold\" fill=\"#222\">", fr.x0);
    svg_text(f, h->title, 0, 0);
    fputs("</text>\n<g stroke=\"#e4e4e4\">\n", f);
    for (double v = 0; v <= fr.y_max + step * 1e-6; v += step)
        fprintf(f, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\"/>\n", fr.x0, fr.x0 + fr.w, py(&fr, v), py(&fr, v));
    fputs("</g>\n<g fill=\"#444\" text-anchor=\"end\">\n", f);
    char buf[64];
    for (double v = 0; v <= fr.y_max + step * 1e-6; v += step) {
        fmt_tick(v, step, buf, sizeof buf);
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\">%s</text>\n", fr.x0 - 5, py(&fr, v) + 4, buf);
    }
    fputs("</g>\n", f);
    double bw = fr.w / (n_bars > 0 ? n_bars : 1);
    int label_every = n_bars > 40 ? (n_bars + 19) / 20 : 1;
    for (int i = 0; i < n_bars; i++) {
        int never = i == h->n, c = never ? h->never : h->count[i];
        double x = px(&fr, i) - bw * 0.4, y = py(&fr, c);
        if (never)
            fprintf(f, "<g class=\"bar\" data-layer=\"never\" data-count=\"%d\"><title>never rank 1: %d item%s", c, c, c == 1 ? "" : "s");
        else fprintf(f, "<g class=\"bar\" data-layer=\"%d\" data-count=\"%d\"><title>first rank-1 layer L%d: %d item%s", i, c, i, c,
                     c == 1 ? "" : "s");
        if (h->total > 0) fprintf(f, " (%.1f%%)", 100.0 * c / h->total);
        fprintf(f, "</title><rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\"/></g>\n", x, y, bw * 0.8,
                fr.y0 + fr.h - y, never ? "#bbbbbb" : "#1f77b4");
        if (never || i % label_every == 0 || i == h->n - 1) {
            fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" fill=\"#444\" font-size=\"10\">", px(&fr, i), fr.y0 + fr.h + 13);
            if (never) fputs("never", f);
            else fprintf(f, "L%d", i);
            fputs("</text>\n", f);
        }
    }
    fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"none\" stroke=\"#999\"/>\n", fr.x0, fr.y0, fr.w, fr.h);
    if (isfinite(h->median)) {
        double y = fr.y0 - 10;
        if (isfinite(h->ci_lo) && isfinite(h->ci_hi)) {
            double a = px(&fr, h->ci_lo), b = px(&fr, h->ci_hi);
            fprintf(f, "<g class=\"ci\" data-lo=\"%.17g\" data-hi=\"%.17g\" stroke=\"#d62728\" stroke-width=\"1.5\"><title>95%% bootstrap "
                       "interval of the median first rank-1 layer: %.4g to %.4g</title>", h->ci_lo, h->ci_hi, h->ci_lo, h->ci_hi);
            fprintf(f, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\"/><line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\"/>"
                       "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\"/></g>\n", a, b, y, y, a, a, y - 4, y + 4, b, b, y - 4, y + 4);
        }
        double m = px(&fr, h->median);
        fprintf(f, "<g class=\"median\" data-median=\"%.17g\"><title>median first rank-1 layer: %.4g</title><circle cx=\"%.1f\" cy=\"%.1f\" "
                   "r=\"3.5\" fill=\"#d62728\"/></g>\n", h->median, h->median, m, y);
        fprintf(f, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#d62728\" stroke-dasharray=\"3 3\"/>\n", m, m, fr.y0,
                fr.y0 + fr.h);
    }
    fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" fill=\"#222\">first layer where the answer is rank 1</text>\n",
            fr.x0 + fr.w / 2, fr.y0 + fr.h + 28);
    fprintf(f, "<text transform=\"translate(14 %.1f) rotate(-90)\" text-anchor=\"middle\" fill=\"#222\">items</text>\n", fr.y0 + fr.h / 2);
    if (h->note) {
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" fill=\"#444\" font-size=\"10.5\">", fr.x0, fr.y0 + fr.h + 44);
        svg_text(f, h->note, 0, 0);
        fputs("</text>\n", f);
    }
    fputs("</svg>\n", f);
}

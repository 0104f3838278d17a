// pyfmt — see pyfmt.h.
#include "export/pyfmt.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

char *py_float_repr(double x, char *buf) {
    if (isnan(x)) { strcpy(buf, "nan"); return buf; }
    if (isinf(x)) { strcpy(buf, x < 0 ? "-inf" : "inf"); return buf; }
    if (x == 0) { strcpy(buf, signbit(x) ? "-0.0" : "0.0"); return buf; }
    char tmp[40];
    int prec;
    for (prec = 1; prec <= 17; prec++) {
        snprintf(tmp, sizeof tmp, "%.*e", prec - 1, x);
        if (strtod(tmp, NULL) == x) break;
    }
    // tmp = [-]d[.ddd]e[+-]XX : collect digits and exponent
    char digits[24];
    int nd = 0, neg = 0;
    const char *p = tmp;
    if (*p == '-') { neg = 1; p++; }
    for (; *p && *p != 'e'; p++)
        if (*p >= '0' && *p <= '9') digits[nd++] = *p;
    int e = atoi(p + 1);
    while (nd > 1 && digits[nd - 1] == '0') nd--; // shortest form has no trailing zeros
    digits[nd] = 0;
    char *o = buf;
    if (neg) *o++ = '-';
    if (e >= -4 && e < 16) {
        if (e >= nd - 1) { // integral: digits, zeros, ".0"
            memcpy(o, digits, nd); o += nd;
            for (int i = 0; i < e - (nd - 1); i++) *o++ = '0';
            strcpy(o, ".0");
        } else if (e >= 0) {
            memcpy(o, digits, e + 1); o += e + 1;
            *o++ = '.';
            strcpy(o, digits + e + 1);
        } else {
            *o++ = '0'; *o++ = '.';
            for (int i = 0; i < -e - 1; i++) *o++ = '0';
            strcpy(o, digits);
        }
    } else {
        *o++ = digits[0];
        if (nd > 1) { *o++ = '.'; memcpy(o, digits + 1, nd - 1); o += nd - 1; }
        sprintf(o, "e%c%02d", e < 0 ? '-' : '+', abs(e));
    }
    return buf;
}

double py_round(double x, int ndigits) {
    if (!isfinite(x)) return x;
    char tmp[400];
    snprintf(tmp, sizeof tmp, "%.*f", ndigits, x); // glibc: exact value, ties to even
    return strtod(tmp, NULL);
}

char *py_thresh_label(double x, char *buf) {
    snprintf(buf, 32, "%.6f", x);
    char *dot = strchr(buf, '.');
    if (dot) {
        char *end = buf + strlen(buf) - 1;
        while (end > dot && *end == '0') *end-- = 0;
        if (end == dot) *end = 0;
    }
    return buf;
}

// ---------------------------------------------------------------------------- CSV

void csv_write_escaped(FILE *f, const char *s) {
    int quote = strpbrk(s, ",\"\r\n") != NULL;
    if (quote) fputc('"', f);
    for (const char *p = s; *p; p++) {
        if (*p == '\\') fputs("\\\\", f);
        else if (*p == '"') fputs("\"\"", f);
        else fputc(*p, f);
    }
    if (quote) fputc('"', f);
}

static void csv_sep(CsvOut *c) {
    if (c->n_in_row++) fputc(',', c->f);
}
void csv_field_str(CsvOut *c, const char *s) { csv_sep(c); if (s && !c->blank) csv_write_escaped(c->f, s); }
void csv_field_int(CsvOut *c, long v) { csv_sep(c); if (!c->blank) fprintf(c->f, "%ld", v); }
void csv_field_float(CsvOut *c, double v) {
    csv_sep(c);
    if (isnan(v) || c->blank) return;
    char b[32];
    fputs(py_float_repr(v, b), c->f);
}
void csv_field_bool(CsvOut *c, int v) { csv_sep(c); if (v >= 0 && !c->blank) fputs(v ? "True" : "False", c->f); }
void csv_field_empty(CsvOut *c) { csv_sep(c); }
void csv_end_row(CsvOut *c) { fputc('\n', c->f); c->n_in_row = 0; c->blank = 0; }

// ---------------------------------------------------------------------------- JSON

void jw_init(JsonW *j, FILE *f) { memset(j, 0, sizeof *j); j->f = f; }

static void jw_indent(JsonW *j, int depth) {
    fputc('\n', j->f);
    for (int i = 0; i < depth; i++) fputs("  ", j->f);
}

// Prefix of a new element (key or array value) in the current container.
static void jw_pre(JsonW *j) {
    if (j->after_key) { j->after_key = 0; return; }
    if (j->depth == 0) return;
    if (j->count[j->depth]++) fputc(',', j->f);
    jw_indent(j, j->depth);
}

void json_write_string(FILE *f, const char *s) {
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        switch (*p) {
        case '"': fputs("\\\"", f); break;
        case '\\': fputs("\\\\", f); break;
        case '\n': fputs("\\n", f); break;
        case '\r': fputs("\\r", f); break;
        case '\t': fputs("\\t", f); break;
        case '\b': fputs("\\b", f); break;
        case '\f': fputs("\\f", f); break;
        default:
            if (*p < 0x20) fprintf(f, "\\u%04x", *p);
            else fputc(*p, f);
        }
    }
    fputc('"', f);
}

static void jw_open(JsonW *j, char c) {
    jw_pre(j);
    fputc(c, j->f);
    j->closers[j->depth] = c == '{' ? '}' : ']';
    j->depth++;
    if (j->depth >= JSON_MAX_DEPTH) abort();
    j->count[j->depth] = 0;
}
void jw_obj(JsonW *j) { jw_open(j, '{'); }
void jw_arr(JsonW *j) { jw_open(j, '['); }
void jw_end(JsonW *j) {
    int had = j->count[j->depth];
    j->depth--;
    if (had) jw_indent(j, j->depth);
    fputc(j->closers[j->depth], j->f);
}

void jw_key(JsonW *j, const char *k) {
    jw_pre(j);
    json_write_string(j->f, k);
    fputs(": ", j->f);
    j->after_key = 1;
}
void jw_str(JsonW *j, const char *s) {
    jw_pre(j);
    if (s) json_write_string(j->f, s); else fputs("null", j->f);
}
void jw_int(JsonW *j, long v) { jw_pre(j); fprintf(j->f, "%ld", v); }
void jw_opt_int(JsonW *j, long v) { if (v < 0) jw_null(j); else jw_int(j, v); }
void jw_real(JsonW *j, double v) {
    jw_pre(j);
    if (isnan(v)) { fputs("null", j->f); return; }
    char b[32];
    if (isinf(v)) fputs(v < 0 ? "-Infinity" : "Infinity", j->f);
    else fputs(py_float_repr(v, b), j->f);
}
void jw_bool(JsonW *j, int v) { jw_pre(j); fputs(v < 0 ? "null" : v ? "true" : "false", j->f); }
void jw_null(JsonW *j) { jw_pre(j); fputs("null", j->f); }
void jw_finish(JsonW *j) { (void)j; }
void jw_k_str(JsonW *j, const char *k, const char *s) { jw_key(j, k); jw_str(j, s); }
void jw_k_int(JsonW *j, const char *k, long v) { jw_key(j, k); jw_int(j, v); }
void jw_k_opt_int(JsonW *j, const char *k, long v) { jw_key(j, k); jw_opt_int(j, v); }
void jw_k_real(JsonW *j, const char *k, double v) { jw_key(j, k); jw_real(j, v); }
void jw_k_bool(JsonW *j, const char *k, int v) { jw_key(j, k); jw_bool(j, v); }
void jw_k_null(JsonW *j, const char *k) { jw_key(j, k); jw_null(j); }

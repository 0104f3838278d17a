// pyfmt — the text forms of the reference pipeline's output files (OUTPUTS.md §2, §11):
// Python's float repr, Python csv's minimal quoting with backslash escape, and an indenting JSON
// writer equal to json.dumps(indent=2, ensure_ascii=False).
//
// Why our own JSON writer: jansson formats reals with %.17g and sorts/loses key order; the
// reference files need Python's shortest round-trip repr ("1e-05", "0.0") and a fixed key order.
// The writer streams (no tree): a container's "[]"/"{}" form is chosen at its end, so nothing is
// buffered. NaN (= missing in the HDF5 file) is written as null / an empty CSV cell.
#ifndef LW_PYFMT_H
#define LW_PYFMT_H

#include <stdio.h>

// Python repr(float): shortest decimal that round-trips; exponent form when the decimal exponent
// is < -4 or >= 16 ("1e-05", "4.45477562607266e-05", "1e+16"); integral values with ".0";
// "nan", "inf", "-inf". buf must hold 32 bytes. Returns buf.
char *py_float_repr(double x, char *buf);
// Python round(x, ndigits) for floats (correctly rounded, ties to even on the exact value).
double py_round(double x, int ndigits);
// Label of a threshold as the reference prints it: up to 6 decimals, trailing zeros and dot
// removed ("0.95", "0.7", "0.5", "1").
char *py_thresh_label(double x, char *buf);

// ---------------------------------------------------------------------------- CSV

typedef struct {
    FILE *f;
    int n_in_row;
    int blank; // every further field of this row is an empty cell (a non-finite row); reset by csv_end_row
} CsvOut;

void csv_field_str(CsvOut *c, const char *s);  // NULL = empty cell
void csv_field_int(CsvOut *c, long v);
void csv_field_float(CsvOut *c, double v);     // NaN = empty cell
void csv_field_bool(CsvOut *c, int v);         // True/False; v < 0 = empty cell
void csv_field_empty(CsvOut *c);
void csv_end_row(CsvOut *c);
// Writes the quoted/escaped form of one field (exposed for tests).
void csv_write_escaped(FILE *f, const char *s);

// ---------------------------------------------------------------------------- JSON

#define JSON_MAX_DEPTH 64
typedef struct {
    FILE *f;
    int depth;
    int count[JSON_MAX_DEPTH];
    int after_key;
    char closers[JSON_MAX_DEPTH];
} JsonW;

void jw_init(JsonW *j, FILE *f);
void jw_obj(JsonW *j);               // {
void jw_arr(JsonW *j);               // [
void jw_end(JsonW *j);               // } or ]
void jw_key(JsonW *j, const char *k);
void jw_str(JsonW *j, const char *s); // NULL -> null
void jw_int(JsonW *j, long v);
void jw_opt_int(JsonW *j, long v);    // v < 0 (LW "missing" layer/id) -> null
void jw_real(JsonW *j, double v);     // NaN -> null
void jw_bool(JsonW *j, int v);        // v < 0 -> null
void jw_null(JsonW *j);
void jw_finish(JsonW *j);             // final newline-free end (json.dump writes none)
// Key + value shorthands.
void jw_k_str(JsonW *j, const char *k, const char *s);
void jw_k_int(JsonW *j, const char *k, long v);
void jw_k_opt_int(JsonW *j, const char *k, long v);
void jw_k_real(JsonW *j, const char *k, double v);
void jw_k_bool(JsonW *j, const char *k, int v);
void jw_k_null(JsonW *j, const char *k);
void json_write_string(FILE *f, const char *s);

#endif

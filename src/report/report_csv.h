// report_csv — reads one exported CSV file (OUTPUTS.md §2) into memory as a table of strings.
//
// The reference pipeline writes minimally quoted CSV with backslash as escape character: a
// literal backslash is written as two, and token strings may hold newlines inside quoted
// fields, so one record can span several physical lines. libcsv (a real RFC-4180 parser)
// handles the quoting; this module then undoes the backslash escapes field by field. The
// whole file is kept as strings because the report needs only a few columns of a few
// passes; numbers are converted on demand by the caller.
#ifndef LW_REPORT_CSV_H
#define LW_REPORT_CSV_H

#include <stddef.h>

#include "util/util.h"

typedef struct {
    char *path;      // for messages
    int n_cols;
    char **header;   // n_cols names
    size_t n_rows;   // data records (header excluded)
    char **cells;    // n_rows * n_cols, row-major; "" for an empty field
} CsvTable;

// Reads and parses path. Returns 0, or -1 with err naming the file and the record that is
// wrong (unterminated quote, a record with a different number of fields than the header).
int csv_table_read(const char *path, CsvTable *t, LwError *err);
// Index of the column called name, or -1.
int csv_table_col(const CsvTable *t, const char *name);
// Cell text ("" when col < 0).
const char *csv_table_cell(const CsvTable *t, size_t row, int col);
void csv_table_free(CsvTable *t);

// Parses a numeric cell: returns 1 and sets *v for a number; 0 for an empty cell or text
// that is not a number (*v = NAN).
int csv_cell_number(const char *s, double *v);

#endif

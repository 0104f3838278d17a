// report_table — the cross-model table: the numbers a cross-model synthesis cites, one row per
// model, one column per JSON value.
//
// The columns are declared once (REPORT_COLUMNS: id, header, JSON path, kind, meaning) and that
// one table drives the HTML, Markdown and CSV outputs, the column legend and the file:line
// citations, so the three formats cannot drift apart and every cell says where it came from.
// Values are copied from the JSON, never recomputed: the table is a view of the exported files.
#ifndef LW_REPORT_TABLE_H
#define LW_REPORT_TABLE_H

#include <stdio.h>

#include "report/report_model.h"

typedef enum { CELL_INT, CELL_FLOAT, CELL_DELTA, CELL_BOOL, CELL_STR } ReportCellKind;

typedef struct {
    const char *id;      // CSV/Markdown header
    const char *group;   // HTML header group
    const char *label;   // HTML column header
    const char *path;    // '/'-separated JSON path
    ReportCellKind kind;
    const char *help;    // what the value means
} ReportColumn;

extern const ReportColumn REPORT_COLUMNS[];
extern const int REPORT_N_COLUMNS;

// A cell as text: "display" is the rounded form (HTML, Markdown), "exact" the full-precision
// form (CSV). A JSON null gives "null"/""; an absent key (no tuned lens) "n/a"/"".
typedef struct {
    char display[64];
    char exact[64];
    int state;           // 0 value, 1 JSON null, 2 key absent, 3 model failed
    int line;            // line of the key in the JSON (0 unknown)
} ReportCell;

void report_cell_get(const ReportModel *m, const ReportColumn *c, ReportCell *cell);

// Shortest decimal that reads back as the same double (OUTPUTS.md §2 float style).
void report_format_exact(double v, char *buf, size_t len);
// Rounded for reading: 4 decimals, 3 significant digits below 0.01; trailing zeros dropped.
void report_format_display(double v, int sign, char *buf, size_t len);

// One-word status of a model: "ok", "failed", "not exported".
const char *report_status_word(const ReportModel *m);

void report_table_write_csv(FILE *f, const ReportRun *run);
void report_table_write_md(FILE *f, const ReportRun *run);
// The <table> plus its column legend; HTML-escaped.
void report_table_write_html(FILE *f, const ReportRun *run);

// HTML-escapes s (&, <, >, ", ') to f; invalid UTF-8 and control characters are replaced.
void report_html_escape(FILE *f, const char *s);

#endif

// report_csv — see report_csv.h. libcsv parses the quoting; we undo the backslash escapes.
#include "report/report_csv.h"

#include <csv.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

// ---------------------------------------------------------------------------- parse state

typedef struct {
    CsvTable *t;
    char **field;        // fields of the record being read
    int n_field, cap_field;
    char **cells;        // accumulated data cells
    size_t n_cells, cap_cells;
    size_t record;       // 1-based record number being read (1 = header)
    int bad;             // set on the first record whose field count is wrong
    size_t bad_record;
    int bad_count;
} CsvState;

// Python's csv writer with escapechar='\\' writes a backslash as two backslashes (inside or
// outside quotes); a backslash before any other character escapes that character.
static char *unescape_field(const char *s, size_t len) {
    char *out = xmalloc(len + 1);
    size_t j = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '\\' && i + 1 < len) i++;
        out[j++] = s[i];
    }
    out[j] = 0;
    return out;
}

static void on_field(void *data, size_t len, void *ctx) {
    CsvState *st = ctx;
    if (st->n_field == st->cap_field) {
        st->cap_field = st->cap_field ? 2 * st->cap_field : 64;
        st->field = xrealloc(st->field, st->cap_field * sizeof *st->field);
    }
    st->field[st->n_field++] = unescape_field(data ? data : "", data ? len : 0);
}

static void on_record(int term, void *ctx) {
    (void)term;
    CsvState *st = ctx;
    CsvTable *t = st->t;
    if (st->record == 1) {
        t->n_cols = st->n_field;
        t->header = st->field;
        st->field = NULL;
        st->cap_field = 0;
    } else if (st->n_field != t->n_cols) {
        if (!st->bad) { st->bad = 1; st->bad_record = st->record; st->bad_count = st->n_field; }
        for (int i = 0; i < st->n_field; i++) free(st->field[i]);
    } else {
        if (st->n_cells + t->n_cols > st->cap_cells) {
            st->cap_cells = st->cap_cells ? 2 * st->cap_cells : 4096;
            while (st->cap_cells < st->n_cells + t->n_cols) st->cap_cells *= 2;
            st->cells = xrealloc(st->cells, st->cap_cells * sizeof *st->cells);
        }
        memcpy(st->cells + st->n_cells, st->field, t->n_cols * sizeof *st->field);
        st->n_cells += t->n_cols;
        t->n_rows++;
    }
    st->n_field = 0;
    st->record++;
}

static int no_padding(unsigned char c) { (void)c; return 0; }

// ---------------------------------------------------------------------------- public

int csv_table_read(const char *path, CsvTable *t, LwError *err) {
    memset(t, 0, sizeof *t);
    size_t len = 0;
    char *text = lw_read_file(path, &len, err);
    if (!text) return -1;
    t->path = xstrdup(path);

    struct csv_parser p;
    // Strict mode: a quote inside an unquoted field or garbage after a closing quote is an
    // error; STRICT_FINI: a file that ends inside a quoted field (truncated) is an error.
    csv_init(&p, CSV_STRICT | CSV_STRICT_FINI | CSV_APPEND_NULL);
    // libcsv trims spaces around unquoted fields by default; token strings such as " Berlin"
    // carry a meaningful leading space, so nothing counts as padding.
    csv_set_space_func(&p, no_padding);
    CsvState st = {.t = t, .record = 1};
    size_t done = csv_parse(&p, text, len, on_field, on_record, &st);
    int rc = 0;
    if (done != len) {
        rc = lw_err(err, "the file is not valid CSV (truncated or corrupt); re-export it with `lensweep export`",
                    "%s: record %zu: %s", path, st.record, csv_strerror(csv_error(&p)));
    } else if (csv_fini(&p, on_field, on_record, &st) != 0) {
        rc = lw_err(err, "the file ends inside a quoted field (truncated?); re-export it with `lensweep export`",
                    "%s: record %zu: %s", path, st.record, csv_strerror(csv_error(&p)));
    } else if (st.record == 1) {
        rc = lw_err(err, "the file is empty; re-export it with `lensweep export`", "%s: no header line", path);
    } else if (st.bad) {
        rc = lw_err(err, "the file is truncated or corrupt; re-export it with `lensweep export`",
                    "%s: record %zu has %d fields, the header has %d", path, st.bad_record, st.bad_count, t->n_cols);
    }
    csv_free(&p);
    for (int i = 0; i < st.n_field; i++) free(st.field[i]);
    free(st.field);
    free(text);
    t->cells = st.cells;
    if (rc) csv_table_free(t);
    return rc;
}

int csv_table_col(const CsvTable *t, const char *name) {
    for (int i = 0; i < t->n_cols; i++)
        if (strcmp(t->header[i], name) == 0) return i;
    return -1;
}

const char *csv_table_cell(const CsvTable *t, size_t row, int col) {
    if (col < 0 || col >= t->n_cols || row >= t->n_rows) return "";
    return t->cells[row * t->n_cols + col];
}

void csv_table_free(CsvTable *t) {
    if (t->cells) for (size_t i = 0; i < t->n_rows * (size_t)t->n_cols; i++) free(t->cells[i]);
    if (t->header) for (int i = 0; i < t->n_cols; i++) free(t->header[i]);
    free(t->cells);
    free(t->header);
    free(t->path);
    memset(t, 0, sizeof *t);
}

int csv_cell_number(const char *s, double *v) {
    *v = NAN;
    if (!s || !*s) return 0;
    char *end;
    errno = 0;
    double x = strtod(s, &end);
    if (end == s || *end) return 0;
    *v = x;
    return 1;
}

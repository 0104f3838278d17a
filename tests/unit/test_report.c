// Unit tests of the report's readers and formatters: the CSV reader against hand-written
// cases and the reference files' documented shapes (OUTPUTS.md), JSON line citations against
// `grep -n` of the reference JSON, HDF5 run states on files made here with the HDF5 library,
// number formatting against OUTPUTS.md §2's examples, and XML text escaping.
#define _GNU_SOURCE
#include <hdf5.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "report/report_csv.h"
#include "report/report_json.h"
#include "report/report_model.h"
#include "report/report_svg.h"
#include "report/report_table.h"
#include "test.h"

#define REF "../shared/reference/logos-run-latest"

static char tmpdir[64];

static char *write_tmp(const char *name, const char *text, size_t len) {
    char *path = xasprintf("%s/%s", tmpdir, name);
    FILE *f = fopen(path, "wb");
    fwrite(text, 1, len, f);
    fclose(f);
    return path;
}

// ---------------------------------------------------------------------------- CSV

TEST(csv_quoting_and_backslash_escapes) {
    // Written as the reference pipeline's writer does (minimal quoting, '\' escaped as '\\'):
    //   row 1: a field with a comma and doubled quotes, a literal backslash, a leading space
    //   row 2: a newline inside a quoted field, an empty field, the token \" (quoted: it has a quote)
    const char text[] = "tok,p,note\n"
                        "\"a,\"\"b\"\"\",\\\\-, Berlin\n"
                        "\"x\ny\",,\"\\\\\"\"\"\n";
    char *path = write_tmp("q.csv", text, sizeof text - 1);
    CsvTable t;
    LwError err = {0};
    CHECK(csv_table_read(path, &t, &err) == 0);
    CHECK(t.n_cols == 3 && t.n_rows == 2);
    CHECK_STR(csv_table_cell(&t, 0, 0), "a,\"b\"");
    CHECK_STR(csv_table_cell(&t, 0, 1), "\\-");
    CHECK_STR(csv_table_cell(&t, 0, 2), " Berlin");
    CHECK_STR(csv_table_cell(&t, 1, 0), "x\ny");
    CHECK_STR(csv_table_cell(&t, 1, 1), "");
    CHECK_STR(csv_table_cell(&t, 1, 2), "\\\"");
    CHECK(csv_table_col(&t, "note") == 2 && csv_table_col(&t, "nope") == -1);
    csv_table_free(&t);
    free(path);
}

TEST(csv_truncated_and_ragged_files_are_errors) {
    const char trunc[] = "a,b\n1,\"unterminated\n";
    char *path = write_tmp("t.csv", trunc, sizeof trunc - 1);
    CsvTable t;
    LwError err = {0};
    CHECK(csv_table_read(path, &t, &err) == -1);
    CHECK(err.set && strstr(err.msg, "t.csv") && err.hint[0]);
    free(path);
    const char ragged[] = "a,b,c\n1,2,3\n4,5\n";
    path = write_tmp("r.csv", ragged, sizeof ragged - 1);
    LwError err2 = {0};
    CHECK(csv_table_read(path, &t, &err2) == -1);
    CHECKF(strstr(err2.msg, "record 3 has 2 fields, the header has 3"), "%s", err2.msg);
    free(path);
    LwError err3 = {0};
    CHECK(csv_table_read("/nonexistent/x.csv", &t, &err3) == -1 && strstr(err3.msg, "/nonexistent/x.csv"));
}

TEST(csv_reference_pure_and_records) {
    // OUTPUTS.md §2/§4: the Mistral pure CSV has 85 columns and 11 x 33 = 363 records (382
    // physical lines, because some tokens hold newlines).
    CsvTable t;
    LwError err = {0};
    CHECK(csv_table_read(REF "/output-Mistral-7B-v0.1-pure-next-token.csv", &t, &err) == 0);
    CHECK(t.n_cols == 85);
    CHECK(t.n_rows == 363);
    CHECK_STR(csv_table_cell(&t, 0, csv_table_col(&t, "token")), "⟨NEXT⟩");
    csv_table_free(&t);
    // §3: records = sum over passes of seq_len x 33 = 6006 rows, 50 columns. Physical line 42 of
    // the file is Germany orig, layer 2, pos 6 (token ","), whose top-5 is written "\\""" = the
    // two-character token \" (see `sed -n 42p`).
    CHECK(csv_table_read(REF "/output-Mistral-7B-v0.1-records.csv", &t, &err) == 0);
    CHECK(t.n_cols == 50 && t.n_rows == 6006);
    int c_layer = csv_table_col(&t, "layer"), c_pos = csv_table_col(&t, "pos"), c_top5 = csv_table_col(&t, "top5");
    int found = 0;
    for (size_t r = 0; r < t.n_rows && !found; r++)
        if (!strcmp(csv_table_cell(&t, r, c_layer), "2") && !strcmp(csv_table_cell(&t, r, c_pos), "6")) {
            CHECK_STR(csv_table_cell(&t, r, csv_table_col(&t, "token")), ",");
            CHECK_STR(csv_table_cell(&t, r, c_top5), "\\\"");
            found = 1;
        }
    CHECK(found);
    csv_table_free(&t);
}

// ---------------------------------------------------------------------------- JSON

TEST(json_line_citations) {
    LwError err = {0};
    size_t len;
    char *text = lw_read_file(REF "/output-Qwen3-14B.json", &len, &err);
    CHECK(text != NULL);
    // Lines from `grep -n` on the file: diagnostics.first_rank_le_1 is line 7096; the sampled
    // check's max_kl_norm_vs_raw_bits (raw_lens_check.summary) is line 10382, not the full sweep's
    // diagnostics.raw_lens_full.max_kl_norm_vs_raw_bits on line 7276.
    CHECK(report_json_line(text, "diagnostics/first_rank_le_1") == 7096);
    CHECK(report_json_line(text, "diagnostics/first_rank_le_10") == 7098);
    CHECK(report_json_line(text, "raw_lens_check/summary/max_kl_norm_vs_raw_bits") == 10382);
    CHECK(report_json_line(text, "diagnostics/raw_lens_full/max_kl_norm_vs_raw_bits") == 7276);
    CHECK(report_json_line(text, "diagnostics/no_such_key") == 0);
    json_t *root = json_loads(text, 0, NULL);
    CHECK(json_integer_value(report_json_path(root, "diagnostics/first_rank_le_1")) == 36);
    CHECK(json_is_null(report_json_path(root, "diagnostics/L_copy")));
    CHECK(report_json_path(root, "diagnostics/first_kl_below_0.5") != NULL);
    CHECK(report_json_path(root, "diagnostics/nope/deeper") == NULL);
    json_decref(root);
    free(text);
}

// ---------------------------------------------------------------------------- HDF5 states

static char *make_h5(const char *name, int attr) { // attr: -1 none, else the value of 'complete'
    char *path = xasprintf("%s/%s", tmpdir, name);
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    hsize_t dim = 4;
    hid_t sp = H5Screate_simple(1, &dim, NULL);
    hid_t ds = H5Dcreate2(f, "x", H5T_NATIVE_FLOAT, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    float v[4] = {1, 2, 3, 4};
    H5Dwrite(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, v);
    H5Dclose(ds);
    if (attr >= 0) {
        hid_t as = H5Screate(H5S_SCALAR);
        hid_t a = H5Acreate2(f, "complete", H5T_NATIVE_INT, as, H5P_DEFAULT, H5P_DEFAULT);
        H5Awrite(a, H5T_NATIVE_INT, &attr);
        H5Aclose(a);
        H5Sclose(as);
    }
    H5Sclose(sp);
    H5Fclose(f);
    return path;
}

TEST(h5_states) {
    char msg[512];
    char *p = make_h5("done.h5", 1);
    CHECK(report_h5_state(p, msg, sizeof msg) == 1);
    free(p);
    p = make_h5("zero.h5", 0);
    CHECK(report_h5_state(p, msg, sizeof msg) == 0 && strstr(msg, "false"));
    free(p);
    p = make_h5("none.h5", -1);
    CHECK(report_h5_state(p, msg, sizeof msg) == 0 && strstr(msg, "missing"));
    // The same file cut in half is no HDF5 file any more.
    struct stat st;
    stat(p, &st);
    CHECK(truncate(p, st.st_size / 2) == 0);
    CHECK(report_h5_state(p, msg, sizeof msg) == -1 && strstr(msg, "none.h5"));
    free(p);
    p = write_tmp("text.h5", "EXPERIMENT FAILED\n", 18);
    CHECK(report_h5_state(p, msg, sizeof msg) == -1);
    free(p);
}

// ---------------------------------------------------------------------------- models

TEST(failed_models_are_kept_with_a_reason) {
    const char failed[] = "EXPERIMENT FAILED FOR google/gemma-2-9b\nError: CUDA out of memory\nTimestamp: 2025-10-16\n";
    free(write_tmp("output-gemma-2-9b.json", failed, sizeof failed - 1));
    const char trunc[] = "{\n  \"prompt\": {\n    \"type\": \"prompt\",\n";
    free(write_tmp("output-Trunc-1B.json", trunc, sizeof trunc - 1));
    free(make_h5("Only-H5-2B.h5", 1));
    ReportRun run;
    LwError err = {0};
    CHECK(report_run_load(tmpdir, &run, &err) == 0);
    int seen = 0;
    for (int i = 0; i < run.n_models; i++) {
        ReportModel *m = &run.models[i];
        if (!strcmp(m->name, "gemma-2-9b")) {
            seen++;
            CHECK(m->status == MODEL_FAILED && strstr(m->status_msg, "EXPERIMENT FAILED FOR google/gemma-2-9b"));
            CHECKF(strstr(m->status_msg, "(Error: CUDA out of memory)"), "%s", m->status_msg);
        } else if (!strcmp(m->name, "Trunc-1B")) {
            seen++;
            CHECKF(m->status == MODEL_FAILED && strstr(m->status_msg, "invalid JSON at line 4"), "%s", m->status_msg);
        } else if (!strcmp(m->name, "Only-H5-2B")) {
            seen++;
            CHECK(m->status == MODEL_NOT_EXPORTED && strstr(m->status_msg, "lensweep export"));
        } else if (!strcmp(m->name, "zero")) {
            seen++;
            CHECK(m->status == MODEL_FAILED && strstr(m->status_msg, "'complete' is false"));
        }
    }
    CHECK(seen == 4);
    report_run_free(&run);
    LwError err2 = {0};
    CHECK(report_run_load("/nonexistent-run-dir", &run, &err2) == -1 && strstr(err2.msg, "/nonexistent-run-dir"));
}

// ---------------------------------------------------------------------------- formatting

TEST(number_formats) {
    char b[64];
    // OUTPUTS.md §2: shortest round-trip decimal, integral values with ".0".
    report_format_exact(4.45477562607266e-05, b, sizeof b);
    CHECK_STR(b, "4.45477562607266e-05");
    report_format_exact(1e-05, b, sizeof b);
    CHECK_STR(b, "1e-05");
    report_format_exact(0.0, b, sizeof b);
    CHECK_STR(b, "0.0");
    report_format_exact(0.1, b, sizeof b);
    CHECK_STR(b, "0.1");
    report_format_exact(17.673506809201875, b, sizeof b);
    CHECK_STR(b, "17.673506809201875");
    // Display: 4 decimals; 3 significant digits below 0.01 (the evaluation cites 0.0429, 17.6735).
    report_format_display(17.673506809201875, 0, b, sizeof b);
    CHECK_STR(b, "17.6735");
    report_format_display(0.04290101, 0, b, sizeof b);
    CHECK_STR(b, "0.0429");
    report_format_display(0.0007293472672488833, 0, b, sizeof b);
    CHECK_STR(b, "0.000729");
    report_format_display(4.681789457945566, 1, b, sizeof b);
    CHECK_STR(b, "+4.6818");
    report_format_display(-0.2574016180321408, 1, b, sizeof b);
    CHECK_STR(b, "-0.2574");
    report_format_display(0.9, 0, b, sizeof b);
    CHECK_STR(b, "0.9");
}

TEST(svg_text_is_clean_xml) {
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    svg_text(f, " a<b&\"c\x01\xff\n", 1, 0);
    fclose(f);
    // leading space ␣, escapes, control char named, bad byte -> U+FFFD, newline ↵
    CHECK_STR(buf, "␣a&lt;b&amp;&quot;c\\x01\xEF\xBF\xBD↵");
    free(buf);
    f = open_memstream(&buf, &len);
    svg_text(f, "abcdefghijk", 1, 4);
    fclose(f);
    CHECK_STR(buf, "abcd…");
    free(buf);
    char col[8];
    int dark;
    svg_prob_color(0, col, &dark);
    CHECK_STR(col, "#ffffff");
    CHECK(dark);
    svg_prob_color(1, col, &dark);
    CHECK_STR(col, "#08306b");
    CHECK(!dark);
}

int main(void) {
    snprintf(tmpdir, sizeof tmpdir, "/tmp/lwtest_report.XXXXXX");
    if (!mkdtemp(tmpdir)) return 1;
    RUN(csv_quoting_and_backslash_escapes);
    RUN(csv_truncated_and_ragged_files_are_errors);
    RUN(csv_reference_pure_and_records);
    RUN(json_line_citations);
    RUN(h5_states);
    RUN(failed_models_are_kept_with_a_reason);
    RUN(number_formats);
    RUN(svg_text_is_clean_xml);
    char *cmd = xasprintf("rm -rf '%s'", tmpdir);
    if (system(cmd) != 0) printf("warning: could not remove %s\n", tmpdir);
    free(cmd);
    return test_summary();
}

// fuzz_input — libFuzzer harness for lensweep's readers of untrusted files (not part of make test).
//
// Built once per target by tools/fuzz/run.sh with -DFUZZ_<TARGET>; each input is written to a
// per-process file and handed to the reader exactly as `lensweep run` would open it. A reader must
// return an error (LwError set) or succeed; a crash, a sanitizer report, a leak or a call to
// lw_die (abort) is a finding. Targets: SAFETENSORS (a checkpoint directory's
// model.safetensors, header and data), GGUF (gguf_open, every small tensor dequantized, the
// model config and the tokenizer built from its metadata), TOKENIZER
// (tokenizer.json, then encode/decode of a fixed string), ENCODE (arbitrary text through a real
// tokenizer, LW_FUZZ_TOKENIZER), CONFIG (a run config YAML), PROBES
// (a probe-set YAML), HFCONFIG (a checkpoint's config.json through both of its readers: the
// model's and `plan`'s shape reader, then the parameter counts and tensor-parallel splits made
// from it), RUNFILE (a run's <name>.h5 with a checksum trailer as `export` reads it: the
// trailer, then libhdf5 and every dataset; then as `report` and `plan` see it; a file whose
// checksum does not match must be refused as corrupt), RUNFILE_RAW (the same with files
// without a trailer, which libhdf5 parses as they are), REPORT_JSON (an exported output-<m>.json
// loaded and rendered by `report`), REPORT_CSV (the same bytes as every CSV sidecar of one
// model, next to a valid JSON, loaded and rendered by `report`; once more without the records
// CSV, which switches the grid to the pure CSV).
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/config.h"
#include "config/model_shape.h"
#include "config/plan.h"
#include "io/gguf.h"
#include "io/checksum.h"
#include "tok/gguf_tok.h"
#include "model/gguf_load.h"
#include "model/model.h"
#include "report/report_html.h"
#include "report/report_model.h"
#include "report/report_table.h"
#include "runfile/plan_status.h"
#include "runfile/run_read.h"
#include "io/safetensors.h"
#include "tok/tok.h"
#include "util/util.h"

static char dir[256], path[512];

static void write_input(const uint8_t *data, size_t size, const char *name) {
    if (!dir[0]) {
        snprintf(dir, sizeof dir, "/tmp/lw-fuzz-%d", (int)getpid());
        mkdir(dir, 0700);
    }
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f) abort();
    if (size && fwrite(data, 1, size, f) != size) abort();
    fclose(f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    LwError err = {0};
#if defined(FUZZ_SAFETENSORS)
    write_input(data, size, "model.safetensors");
    SafeTensors st;
    if (st_open(dir, &st, &err) == 0) {
        for (int i = 0; i < st.n_tensors; i++) {
            const StTensor *t = &st.tensors[i];
            if (t->nbytes > (1 << 20)) continue;
            void *buf = malloc(t->nbytes ? t->nbytes : 1);
            LwError e2 = {0};
            st_read_all(&st, t, t->dtype, buf, &e2);
            free(buf);
        }
        st_close(&st);
    }
#elif defined(FUZZ_GGUF)
    write_input(data, size, "model.gguf");
    Gguf g;
    if (gguf_open(path, &g, &err) == 0) {
        for (int64_t i = 0; i < g.n_tensors; i++) {
            const GgufTensor *t = &g.tensors[i];
            LwError e2 = {0};
            if (gguf_check_type(&g, t, &e2) != 0) continue;
            int64_t rows = gguf_rows(t), cols = t->dims[0];
            if (rows <= 0 || cols <= 0 || rows > (1 << 12) || cols > (1 << 12)) continue;
            float *dst = malloc((size_t)(rows * cols) * sizeof(float));
            gguf_read_f32(&g, t, 0, rows, 0, cols, dst, &e2);
            free(dst);
        }
        ModelConfig mc;
        LwError e3 = {0};
        model_config_from_gguf(&g, &mc, &e3);
        json_t *tj = gguf_tokenizer_json(&g, &e3);
        if (tj) {
            Tokenizer *tk = tok_from_json(tj, path, &e3);
            if (tk) tok_free(tk);
            json_decref(tj);
        }
        gguf_close(&g);
    }
#elif defined(FUZZ_TOKENIZER)
    write_input(data, size, "tokenizer.json");
    Tokenizer *t = tok_load(path, &err);
    if (t) {
        static const char s[] = "Give the city name only. The capital of Germany is called simply \xc3\xa9 \xe2\x86\x92 \t\n 12345";
        int32_t *ids = NULL;
        int n = tok_encode(t, s, sizeof s - 1, 1, &ids, &err);
        for (int i = 0; i < n; i++) (void)tok_decode_one(t, ids[i]);
        free(ids);
        tok_free(t);
    }
#elif defined(FUZZ_ENCODE)
    // a real tokenizer (LW_FUZZ_TOKENIZER, loaded once) encodes the input as text, with and
    // without the post-processor, and decodes every id
    static Tokenizer *t;
    if (!t) {
        const char *tp = getenv("LW_FUZZ_TOKENIZER");
        if (!tp || !(t = tok_load(tp, &err))) { fprintf(stderr, "set LW_FUZZ_TOKENIZER to a tokenizer.json\n"); abort(); }
    }
    for (int special = 0; special < 2; special++) {
        int32_t *ids = NULL;
        LwError e2 = {0};
        int n = tok_encode(t, (const char *)data, size, special, &ids, &e2);
        for (int i = 0; i < n; i++) {
            if (ids[i] < 0 || ids[i] >= tok_n_ids(t)) abort(); // an id outside the vocabulary
            (void)tok_decode_one(t, ids[i]);
        }
        if (n < 0 && !e2.msg[0]) abort(); // a refusal must say why
        free(ids);
    }
#elif defined(FUZZ_CONFIG)
    write_input(data, size, "config.yaml");
    LwRunConfig cfg;
    config_defaults(&cfg);
    config_load_file(path, &cfg, &err);
    config_free(&cfg);
#elif defined(FUZZ_PROBES)
    write_input(data, size, "probes.yaml");
    LwProbeSet ps;
    if (probe_set_load(path, &ps, &err) == 0) probe_set_free(&ps);
#elif defined(FUZZ_HFCONFIG)
    write_input(data, size, "config.json");
    ModelConfig mc;
    if (model_config_load(dir, &mc, &err) == 0) {
        (void)model_config_param_count(&mc);
        for (int R = 1; R <= 8; R++) {
            TpSlice ts;
            char why[300];
            for (int r = 0; r < R; r++)
                if (tp_slice_plan(&mc, r, R, 0, &ts, why, sizeof why)) break;
        }
    }
    LwModelShape ms;
    LwError e2 = {0};
    if (model_shape_from_config_json(dir, &ms, &e2) == 1) {
        (void)model_shape_params(&ms);
        for (int tp = 1; tp <= 8; tp++) {
            char why[300];
            (void)model_shape_bytes_per_rank(&ms, tp, 2);
            (void)model_shape_check_tp(&ms, tp, 0, why, sizeof why);
            (void)model_shape_check_tp(&ms, tp, 1, why, sizeof why);
        }
    }
#elif defined(FUZZ_RUNFILE) || defined(FUZZ_RUNFILE_RAW)
    write_input(data, size, "m.h5");
    char why[300];
    int sealed = runfile_verify(path, why, sizeof why);
#if defined(FUZZ_RUNFILE)
    // only files with a checksum trailer, as `run` writes them: a damaged one must be refused as
    // corrupt before libhdf5 sees it. Files without a trailer go to libhdf5 as they are, and
    // libhdf5 itself crashes on some damaged files (RUNFILE_RAW fuzzes those; not in make test).
    if (sealed == 0) return 0;
#endif
    ExRun run;
    int rrc = ex_run_read(path, &run, &err);
    if (sealed == -1 && (rrc == 0 || !strstr(err.msg, "corrupt"))) abort(); // a checksum mismatch is "corrupt"
    if (rrc == 0) {
        if (!run.model_name) abort(); // success means a complete run
        (void)ex_run_pass(&run, "pos_orig_0");
    } else if (!err.msg[0]) {
        abort(); // a refusal must say why
    }
    ex_run_free(&run);
    char msg[512];
    (void)report_h5_state(path, msg, sizeof msg);
    (void)plan_h5_status(path, "0123456789abcdef", msg, sizeof msg);
#elif defined(FUZZ_REPORT_JSON) || defined(FUZZ_REPORT_CSV)
    static FILE *devnull;
    if (!devnull && !(devnull = fopen("/dev/null", "w"))) abort();
#if defined(FUZZ_REPORT_JSON)
    write_input(data, size, "output-m.json");
    int passes = 1;
#else
    static const char js[] = "{\n  \"model_stats\": {\n    \"num_layers\": 2\n  },\n  \"diagnostics\": {}\n}\n";
    write_input((const uint8_t *)js, sizeof js - 1, "output-m.json");
    static const char *const sidecars[] = {"output-m-pure-next-token-rawlens.csv", "output-m-pure-next-token-tuned.csv",
                                           "output-m-pure-next-token-prism.csv", "output-m-pure-next-token.csv",
                                           "output-m-records.csv"};
    for (int i = 0; i < 5; i++) write_input(data, size, sidecars[i]);
    int passes = 2;
#endif
    for (int p = 0; p < passes; p++) {
        if (p == 1) unlink(path); // the last written: the records CSV
        ReportRun rr;
        LwError e2 = {0};
        if (report_run_load(dir, &rr, &e2) == 0) {
            report_html_write(devnull, &rr);
            report_table_write_csv(devnull, &rr);
            report_table_write_md(devnull, &rr);
            report_run_free(&rr);
        } else if (!e2.msg[0]) {
            abort();
        }
    }
#else
#error "define one FUZZ_<TARGET>"
#endif
    return 0;
}

// bench_tok — load time and encode throughput of the C tokenizer (tools/bench/bench_tok.sh runs it
// next to the `tokenizers` package on the same input).
//
//   build/bench/bench_tok TOKENIZER.json [TEXT_FILE] [--repeat N] [--jansson] [--ids OUT]
// Prints: load seconds (best of N, default 3; wall and CPU) of tok_load, and with --jansson for
// comparison the CPU seconds of plain jansson (json_load_file) and jansson + tok_from_json; decode-table seconds (all ids); for TEXT_FILE the
// encode seconds (best of N) and MB/s (wall and CPU) of the whole file as one text, the number of ids, and with
// --ids the ids (one per line) for comparison with the `tokenizers` package.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tok/tok.h"

// CPU seconds of this process: on a shared machine the wall clock also counts waiting for a core.
static double cpu_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv) {
    const char *tokp = NULL, *textp = NULL, *idsp = NULL;
    int repeat = 3, jansson = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--repeat") && i + 1 < argc) repeat = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--ids") && i + 1 < argc) idsp = argv[++i];
        else if (!strcmp(argv[i], "--jansson")) jansson = 1;
        else if (!tokp) tokp = argv[i];
        else textp = argv[i];
    }
    if (!tokp || repeat < 1) {
        fprintf(stderr, "usage: bench_tok TOKENIZER.json [TEXT_FILE] [--repeat N]\n");
        return 2;
    }
    LwError err = {0};
    double best_load = 1e9, best_load_cpu = 1e9;
    Tokenizer *t = NULL;
    for (int r = 0; r < repeat; r++) {
        double t0 = lw_now(), c0 = cpu_now();
        Tokenizer *u = tok_load(tokp, &err);
        double dt = lw_now() - t0, dc = cpu_now() - c0;
        if (!u) lw_die_err(&err, 2);
        if (dt < best_load) best_load = dt;
        if (dc < best_load_cpu) best_load_cpu = dc;
        if (t) tok_free(t);
        t = u;
    }
    double best_jansson = 1e9, best_jansson_tok = 1e9;
    for (int r = 0; r < repeat && jansson; r++) {
        json_error_t je;
        double t0 = cpu_now();
        json_t *root = json_load_file(tokp, 0, &je);
        double t1 = cpu_now();
        Tokenizer *u = root ? tok_from_json(root, tokp, &err) : NULL;
        double t2 = cpu_now();
        if (!u) lw_die_err(&err, 2);
        if (t1 - t0 < best_jansson) best_jansson = t1 - t0;
        if (t2 - t0 < best_jansson_tok) best_jansson_tok = t2 - t0;
        tok_free(u);
        json_decref(root);
    }
    double t0 = lw_now();
    tok_decode_one(t, 0);
    double dec = lw_now() - t0;
    printf("load_s %.4f\nload_cpu_s %.4f\njansson_parse_cpu_s %.4f\njansson_plus_build_cpu_s %.4f\ndecode_table_s %.4f\nn_ids %d\n",
           best_load, best_load_cpu, best_jansson, best_jansson_tok, dec, tok_n_ids(t));
    if (textp) {
        size_t len;
        char *text = lw_read_file(textp, &len, &err);
        if (!text) lw_die_err(&err, 2);
        double best = 1e9, best_cpu = 1e9;
        int n = 0;
        for (int r = 0; r < repeat; r++) {
            int32_t *ids;
            t0 = lw_now();
            double c0 = cpu_now();
            n = tok_encode(t, text, len, 0, &ids, &err);
            double dt = lw_now() - t0, dc = cpu_now() - c0;
            if (dc < best_cpu) best_cpu = dc;
            if (n < 0) lw_die_err(&err, 2);
            if (idsp && r == 0) {
                FILE *f = fopen(idsp, "w");
                if (!f) lw_die(2, "check the path", "bench_tok: cannot write %s", idsp);
                for (int i = 0; i < n; i++) fprintf(f, "%d\n", ids[i]);
                fclose(f);
            }
            free(ids);
            if (dt < best) best = dt;
        }
        printf("encode_s %.4f\nencode_MB_per_s %.2f\nencode_cpu_MB_per_s %.2f\nn_tokens %d\nbytes %zu\n", best, len / best / 1e6,
               len / best_cpu / 1e6, n, len);
        free(text);
    }
    tok_free(t);
    return 0;
}

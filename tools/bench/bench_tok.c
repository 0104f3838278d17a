// bench_tok — load time and encode throughput of the C tokenizer (tools/bench/bench_tok.sh runs it
// next to the `tokenizers` package on the same input).
//
//   build/bench/bench_tok TOKENIZER.json [TEXT_FILE] [--repeat N]
// Prints: load seconds (best of N, default 3), decode-table seconds (all ids), and for TEXT_FILE the
// encode seconds (best of N) and MB/s of the whole file as one text, plus the number of ids.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tok/tok.h"

int main(int argc, char **argv) {
    const char *tokp = NULL, *textp = NULL;
    int repeat = 3;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--repeat") && i + 1 < argc) repeat = atoi(argv[++i]);
        else if (!tokp) tokp = argv[i];
        else textp = argv[i];
    }
    if (!tokp || repeat < 1) {
        fprintf(stderr, "usage: bench_tok TOKENIZER.json [TEXT_FILE] [--repeat N]\n");
        return 2;
    }
    LwError err = {0};
    double best_load = 1e9;
    Tokenizer *t = NULL;
    for (int r = 0; r < repeat; r++) {
        double t0 = lw_now();
        Tokenizer *u = tok_load(tokp, &err);
        double dt = lw_now() - t0;
        if (!u) lw_die_err(&err, 2);
        if (dt < best_load) best_load = dt;
        if (t) tok_free(t);
        t = u;
    }
    double t0 = lw_now();
    tok_decode_one(t, 0);
    double dec = lw_now() - t0;
    printf("load_s %.4f\ndecode_table_s %.4f\nn_ids %d\n", best_load, dec, tok_n_ids(t));
    if (textp) {
        size_t len;
        char *text = lw_read_file(textp, &len, &err);
        if (!text) lw_die_err(&err, 2);
        double best = 1e9;
        int n = 0;
        for (int r = 0; r < repeat; r++) {
            int32_t *ids;
            t0 = lw_now();
            n = tok_encode(t, text, len, 0, &ids, &err);
            double dt = lw_now() - t0;
            if (n < 0) lw_die_err(&err, 2);
            free(ids);
            if (dt < best) best = dt;
        }
        printf("encode_s %.4f\nencode_MB_per_s %.2f\nn_tokens %d\nbytes %zu\n", best, len / best / 1e6, n, len);
        free(text);
    }
    tok_free(t);
    return 0;
}

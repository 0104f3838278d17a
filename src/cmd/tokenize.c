// cmd/tokenize — `lensweep tokenize --tokenizer FILE [--special] [--tokens]`: the tokenizer from
// the command line, for tests and for debugging a prompt.
//
// Reads one JSON string per line on stdin (so any text, newlines and NULs included, fits on one
// line) and prints one line per input: the ids separated by spaces, or with --tokens a JSON array
// of the token strings (HF `Encoding.tokens`: raw vocabulary strings such as "ĠBerlin").
// --special applies the post-processor template (e.g. BOS). Bad input (a line that is not a JSON
// string, invalid UTF-8) stops with exit status 2 and names the line and byte offset.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/cmd.h"
#include "tok/tok.h"
#include "io/gguf.h"
#include "tok/checkpoint_tok.h"
#include "util/util.h"

static void usage(FILE *f) {
    fprintf(f, "usage: lensweep tokenize --tokenizer FILE [--special] [--tokens]   (FILE: tokenizer.json or .gguf)\n"
               "Reads one JSON string per line on stdin and prints per line the token ids, space-separated.\n"
               "  --special  apply the tokenizer's post-processor (e.g. prepend BOS)\n"
               "  --tokens   print a JSON array of the token strings instead of ids\n");
}

int cmd_tokenize(int argc, char **argv) {
    const char *path = NULL;
    int special = 0, tokens = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) { usage(stdout); return 0; }
        else if (!strcmp(argv[i], "--tokenizer") && i + 1 < argc) path = argv[++i];
        else if (!strcmp(argv[i], "--special")) special = 1;
        else if (!strcmp(argv[i], "--tokens")) tokens = 1;
        else lw_die(LW_EXIT_INPUT, "see lensweep tokenize --help", "tokenize: unknown or incomplete option '%s'", argv[i]);
    }
    if (!path) {
        usage(stderr);
        return LW_EXIT_INPUT;
    }
    LwError err = {0};
    // a .gguf file carries its tokenizer in its metadata (tok/gguf_tok.h)
    Tokenizer *t = gguf_checkpoint_path(path, NULL, 0) ? checkpoint_tokenizer_load(path, &err) : tok_load(path, &err);
    if (!t) lw_die_err(&err, LW_EXIT_INPUT);

    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    long lineno = 0;
    while ((n = getline(&line, &cap, stdin)) >= 0) {
        lineno++;
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r')) line[--n] = 0;
        long bad = tok_utf8_invalid_at((const unsigned char *)line, (size_t)n);
        if (bad >= 0)
            lw_die(LW_EXIT_INPUT, "input lines must be UTF-8 JSON strings",
                   "tokenize: stdin line %ld: invalid UTF-8 at byte offset %ld (byte 0x%02X)", lineno, bad, (unsigned char)line[bad]);
        json_error_t je;
        json_t *s = json_loadb(line, (size_t)n, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
        if (!json_is_string(s))
            lw_die(LW_EXIT_INPUT, "write each input as one JSON string per line, e.g. \"Hello world\"",
                   "tokenize: stdin line %ld: %s", lineno, s ? "not a JSON string" : je.text);
        int32_t *ids;
        int k = tok_encode(t, json_string_value(s), json_string_length(s), special, &ids, &err);
        if (k < 0) {
            fprintf(stderr, "tokenize: stdin line %ld:\n", lineno);
            lw_die_err(&err, LW_EXIT_INPUT);
        }
        if (tokens) {
            json_t *arr = json_array();
            for (int i = 0; i < k; i++) {
                const char *tok = tok_id_to_token(t, ids[i]);
                json_array_append_new(arr, tok ? json_string(tok) : json_null());
            }
            char *js = json_dumps(arr, JSON_COMPACT | JSON_ENCODE_ANY);
            fputs(js, stdout);
            free(js);
            json_decref(arr);
        } else {
            for (int i = 0; i < k; i++) printf(i ? " %d" : "%d", ids[i]);
        }
        putchar('\n');
        free(ids);
        json_decref(s);
    }
    free(line);
    tok_free(t);
    if (fflush(stdout) != 0) lw_die(LW_EXIT_RUNTIME, "check the output destination", "tokenize: writing stdout failed");
    return 0;
}

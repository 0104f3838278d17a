// test_gguf_tok — the tokenizer built from the demo GGUF's metadata (tok/gguf_tok.c)
// against the `tokenizers` package and transformers' GGUF tokenizer
// (tests/fixtures/gguf/tokens.json and logits.json, tools/gguf/make_gguf_fixtures.py), and the
// whole chain: our tokenizer -> our GGUF model -> the model's own next token after the positive
// prompt is " Berlin". The demo model is fetched by tools/fetch_demo_model.sh when absent (the
// test fails, never skips, when that is impossible).
#define _GNU_SOURCE // memmem
#include <jansson.h>
#include <stdlib.h>
#include <unistd.h>

#include "io/gguf.h"
#include "tok/gguf_tok.h"
#include "model/model.h"
#include "test.h"
#include "tok/checkpoint_tok.h"

#define DEMO ".cache/models/SmolLM2-135M-Instruct.Q4_1.gguf"
#define FIX FIXTURES "/gguf"

static Tokenizer *g_tok;

static int demo_present(void) {
    if (lw_file_exists(DEMO)) return 1;
    printf("    %s absent: running tools/fetch_demo_model.sh\n", DEMO);
    fflush(stdout);
    return system("tools/fetch_demo_model.sh >/dev/null") == 0 && lw_file_exists(DEMO);
}

static int ids_equal(const int32_t *a, int na, json_t *b) {
    if (na != (int)json_array_size(b)) return 0;
    for (int i = 0; i < na; i++)
        if (a[i] != json_integer_value(json_array_get(b, i))) return 0;
    return 1;
}

TEST(load_from_gguf_metadata) {
    LwError err = {0};
    CHECKF(demo_present(), "cannot fetch %s", DEMO);
    // both the file and its directory name the same checkpoint
    g_tok = checkpoint_tokenizer_load(DEMO, &err);
    CHECKF(g_tok != NULL, "%s (hint: %s)", err.msg, err.hint);
    if (!g_tok) return;
    CHECK(tok_n_ids(g_tok) == 49152);
    CHECK(tok_template_bos(g_tok) == -1); // tokenizer.ggml.add_bos_token = false
    CHECK_STR(tok_id_to_token(g_tok, 11452), "ĠBerlin");
    Tokenizer *t2 = checkpoint_tokenizer_load(".cache/models", &err);
    CHECKF(t2 != NULL && tok_n_ids(t2) == 49152, "directory form: %s", err.msg);
    tok_free(t2);
    // A GGUF directory with a tokenizer.json added uses that file (here Llama 3's: 128256 ids).
    char tmpl[] = "/tmp/lwggdir.XXXXXX";
    CHECK(mkdtemp(tmpl) != NULL);
    char *cmd = xasprintf("ln -s \"$PWD/%s\" %s/m.gguf && cp %s/tokenizers/llama3/tokenizer.json %s/", DEMO, tmpl,
                          lw_is_dir("../shared/tokenizers") ? "../shared" : "/work/shared", tmpl);
    CHECK(system(cmd) == 0);
    t2 = checkpoint_tokenizer_load(tmpl, &err);
    CHECKF(t2 != NULL && tok_n_ids(t2) == 128256, "tokenizer.json next to the .gguf: %s", err.msg);
    tok_free(t2);
    free(cmd);
    cmd = xasprintf("rm -rf %s", tmpl);
    CHECK(system(cmd) == 0);
    free(cmd);
}

TEST(encode_matches_tokenizers_package) {
    json_error_t je;
    json_t *fx = json_load_file(FIX "/tokens.json", 0, &je);
    CHECKF(fx != NULL, "%s", je.text);
    if (!fx || !g_tok) { CHECK(0); json_decref(fx); return; }
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(fx, "texts"), i, c) {
        const char *text = json_string_value(json_object_get(c, "text"));
        for (int special = 0; special < 2; special++) {
            LwError err = {0};
            int32_t *ids = NULL;
            int n = tok_encode(g_tok, text, strlen(text), special, &ids, &err);
            CHECKF(n >= 0, "%s", err.msg);
            CHECKF(n >= 0 && ids_equal(ids, n, json_object_get(c, "ids")), "text %zu (add_special %d): %d ids differ from tokenizers'", i, special, n);
            CHECKF(n >= 0 && ids_equal(ids, n, json_object_get(c, "transformers_gguf_ids")), "text %zu: differs from transformers' GGUF tokenizer", i);
            free(ids);
        }
    }
    const char *k;
    json_t *v;
    json_object_foreach(json_object_get(fx, "decode"), k, v) CHECK_STR(tok_decode_one(g_tok, atoi(k)), json_string_value(v));
    json_decref(fx);
}

TEST(positive_prompt_predicts_berlin) {
    json_error_t je;
    json_t *fx = json_load_file(FIX "/logits.json", 0, &je);
    LwError err = {0};
    if (!fx || !g_tok) { CHECK(0); json_decref(fx); return; }
    json_t *c0 = json_array_get(json_object_get(fx, "cases"), 0);
    const char *prompt = json_string_value(json_object_get(c0, "text"));
    int32_t *ids = NULL;
    int T = tok_encode(g_tok, prompt, strlen(prompt), 1, &ids, &err);
    CHECKF(T > 0 && ids_equal(ids, T, json_object_get(c0, "ids")), "prompt ids differ from transformers'");
    Model *m = model_load(DEMO, 0, 1, &err);
    CHECKF(m != NULL, "%s", err.msg);
    if (m && T > 0) {
        int d = m->cfg.d_model, L = m->cfg.n_layers, V = m->cfg.vocab;
        float *resid = xmalloc((size_t)(L + 1) * T * d * sizeof *resid), *logits = xmalloc((size_t)V * sizeof *logits);
        model_forward(m, ids, T, resid, NULL);
        model_final_logits(m, resid + ((size_t)L * T + T - 1) * d, 1, logits);
        int top = 0;
        for (int i = 1; i < V; i++)
            if (logits[i] > logits[top]) top = i;
        printf("    \"%s\" -> \"%s\" (%d)\n", prompt, tok_decode_one(g_tok, top), top);
        CHECK_STR(tok_decode_one(g_tok, top), " Berlin");
        free(resid); free(logits);
    }
    model_free(m);
    free(ids);
    json_decref(fx);
}

// A GGUF whose tokenizer is SentencePiece ("llama") or uses an unknown pre-tokenizer is refused
// with the key and the value named (patched copies of the real file's metadata strings).
TEST(unsupported_tokenizer_is_named) {
    LwError err = {0};
    size_t len;
    char *all = lw_read_file(DEMO, &len, &err);
    if (!all) { CHECK(0); return; }
    // "tokenizer.ggml.model" = "gpt2" and "tokenizer.ggml.pre" = "smollm": same-length patches
    char *pm = memmem(all, 1 << 20, "\x04\0\0\0\0\0\0\0gpt2", 12);
    char *pp = memmem(all, 1 << 20, "\x06\0\0\0\0\0\0\0smollm", 14);
    CHECK(pm && pp);
    if (!pm || !pp) { free(all); return; }
    char tmpl[] = "/tmp/lwggtok.XXXXXX";
    CHECK(mkdtemp(tmpl) != NULL);
    char *path = xasprintf("%s/patched.gguf", tmpl);
    memcpy(pm + 8, "bert", 4); // (SentencePiece "llama" is read: see the test below)
    CHECK(lw_write_file(path, all, len, &err) == 0);
    Tokenizer *t = gguf_tokenizer_load(path, &err);
    CHECKF(!t && strstr(err.msg, "unsupported GGUF tokenizer \"bert\"") && strstr(err.msg, "tokenizer.ggml.model"), "%s", err.msg);
    memcpy(pm + 8, "gpt2", 4);
    memcpy(pp + 8, "qwen35", 6);
    memset(&err, 0, sizeof err);
    CHECK(lw_write_file(path, all, len, &err) == 0);
    t = gguf_tokenizer_load(path, &err);
    CHECKF(!t && strstr(err.msg, "unsupported pre-tokenizer \"qwen35\"") && strstr(err.msg, "tokenizer.ggml.pre"), "%s", err.msg);
    unlink(path);
    rmdir(tmpl);
    free(path);
    free(all);
}

// SentencePiece-BPE GGUF (model "llama": tokens + scores, no merges): Mistral-7B-v0.1's vocabulary
// written as llama.cpp's converter does (tests/fixtures/gguf/spm-mistral.gguf,
// tools/gguf/make_spm_fixture.py). Expected ids come from the real Mistral-7B-v0.1 tokenizer.json
// run by the `tokenizers` package (its legacy ▁ handling: " leading" -> ▁, ▁leading).
TEST(sentencepiece_gguf_matches_mistral_tokenizer_json) {
    LwError err = {0};
    Tokenizer *t = gguf_tokenizer_load(FIX "/spm-mistral.gguf", &err);
    CHECKF(t != NULL, "%s (hint: %s)", err.msg, err.hint);
    json_error_t je;
    json_t *fx = json_load_file(FIX "/spm-mistral.json", 0, &je);
    CHECKF(fx != NULL, "%s", je.text);
    if (!t || !fx) { tok_free(t); json_decref(fx); return; }
    CHECK(tok_n_ids(t) == 32000);
    CHECK(tok_template_bos(t) == 1); // add_bos_token = true: <s>
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(fx, "cases"), i, c) {
        const char *text = json_string_value(json_object_get(c, "text"));
        for (int special = 0; special < 2; special++) {
            int32_t *ids = NULL;
            char key[32];
            snprintf(key, sizeof key, "ids_special%d", special);
            int n = tok_encode(t, text, strlen(text), special, &ids, &err);
            CHECKF(n >= 0 && ids_equal(ids, n, json_object_get(c, key)), "text %zu (add_special %d) differs from Mistral's tokenizer.json", i, special);
            free(ids);
        }
    }
    const char *k;
    json_t *v;
    json_object_foreach(json_object_get(fx, "decode"), k, v) CHECK_STR(tok_decode_one(t, atoi(k)), json_string_value(v));
    tok_free(t);
    json_decref(fx);
}

int main(void) {
    RUN(load_from_gguf_metadata);
    RUN(encode_matches_tokenizers_package);
    RUN(positive_prompt_predicts_berlin);
    RUN(unsupported_tokenizer_is_named);
    RUN(sentencepiece_gguf_matches_mistral_tokenizer_json);
    tok_free(g_tok);
    return test_summary();
}

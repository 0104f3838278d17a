// test_tok — the tokenizer against HF `tokenizers` on the real tokenizer files.
//
// Expected ids come from tools/tok/make_tok_fixtures.py (the `tokenizers` package, committed under
// tests/fixtures/tok/): ~890 strings per tokenizer (multilingual scripts, emoji/ZWJ, combining
// marks, digit runs, contractions in any case, whitespace runs, \r\n, special-token text, byte
// fallback), with and without special tokens; single-id decodes of the whole vocabulary (an
// FNV-1a digest plus samples). Known-good answer ids are TOKENIZERS.md §1 (a public lens run,
// independent of both implementations). Tokenizer files: $LW_SHARED/tokenizers (default
// ../shared, else /work/shared); Tekken is the committed .xz fixture, unpacked to build/.
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "test.h"
#include "tok/tok.h"

static const char *shared_dir(void) {
    const char *s = getenv("LW_SHARED");
    if (s && *s) return s;
    if (lw_is_dir("../shared/tokenizers")) return "../shared";
    return "/work/shared";
}

static const char *NAMES[] = {"llama3", "qwen3", "mistral-7b-v0.1", "gemma3", "tekken"};
enum { N_TOK = 5 };
static Tokenizer *g_tok[N_TOK];

static char *tokenizer_path(const char *name) {
    if (strcmp(name, "tekken")) return xasprintf("%s/tokenizers/%s/tokenizer.json", shared_dir(), name);
    char *out = xstrdup("build/test-tmp/tekken_240718.tokenizer.json");
    if (!lw_file_exists(out)) {
        LwError err = {0};
        lw_mkdir_p("build/test-tmp", &err);
        char *cmd = xasprintf("xz -dc " FIXTURES "/tok/tekken_240718.tokenizer.json.xz > %s.part && mv %s.part %s", out, out, out);
        if (system(cmd) != 0) printf("    could not unpack the Tekken fixture (xz)\n");
        free(cmd);
    }
    return out;
}

static Tokenizer *get_tok(int k) {
    if (!g_tok[k]) {
        char *path = tokenizer_path(NAMES[k]);
        LwError err = {0};
        double t0 = lw_now();
        g_tok[k] = tok_load(path, &err);
        if (!g_tok[k]) printf("    %s: %s\n", path, err.msg);
        else printf("    loaded %s in %.3f s\n", path, lw_now() - t0);
        free(path);
    }
    return g_tok[k];
}

// ---------------------------------------------------------------------------- fixtures

typedef struct {
    json_t **recs;
    size_t n;
} Fixture;

static Fixture fixture_read(const char *name) {
    Fixture f = {0};
    char *path = xasprintf(FIXTURES "/tok/%s.jsonl", name);
    size_t len;
    LwError err = {0};
    char *text = lw_read_file(path, &len, &err);
    if (!text) {
        printf("    %s\n", err.msg);
        free(path);
        return f;
    }
    for (char *line = text, *nl; *line; line = nl + 1) {
        nl = strchr(line, '\n');
        if (!nl) nl = line + strlen(line);
        json_error_t je;
        json_t *r = json_loadb(line, (size_t)(nl - line), JSON_ALLOW_NUL, &je);
        if (r) {
            f.recs = xrealloc(f.recs, (f.n + 1) * sizeof *f.recs);
            f.recs[f.n++] = r;
        }
        if (!*nl) break;
    }
    free(text);
    free(path);
    return f;
}

static void fixture_free(Fixture *f) {
    for (size_t i = 0; i < f->n; i++) json_decref(f->recs[i]);
    free(f->recs);
}

static int ids_equal(const int32_t *ids, int n, json_t *want) {
    if (!json_is_array(want) || (size_t)n != json_array_size(want)) return 0;
    for (int i = 0; i < n; i++)
        if (json_integer_value(json_array_get(want, i)) != ids[i]) return 0;
    return 1;
}

static void print_ids(const char *label, const int32_t *ids, int n) {
    printf("      %s:", label);
    for (int i = 0; i < n && i < 40; i++) printf(" %d", ids[i]);
    printf("\n");
}

// Encodes every fixture string with and without special tokens; all must match.
static void check_parity(int k) {
    Tokenizer *t = get_tok(k);
    CHECKF(t != NULL, "%s did not load", NAMES[k]);
    if (!t) return;
    Fixture f = fixture_read(NAMES[k]);
    CHECKF(f.n >= 500, "%s: only %zu fixture strings", NAMES[k], f.n);
    size_t bad = 0, bad_tokens = 0, n_tokens = 0;
    for (size_t i = 0; i < f.n; i++) {
        json_t *r = f.recs[i], *txt = json_object_get(r, "text");
        for (int special = 0; special < 2; special++) {
            int32_t *ids;
            LwError err = {0};
            int n = tok_encode(t, json_string_value(txt), json_string_length(txt), special, &ids, &err);
            json_t *want = json_object_get(r, special ? "ids_special" : "ids");
            if (n < 0 || !ids_equal(ids, n, want)) {
                if (bad++ < 4) {
                    char *js = json_dumps(txt, JSON_ENCODE_ANY);
                    printf("    %s mismatch (special=%d) on %s\n", NAMES[k], special, js);
                    free(js);
                    if (n >= 0) print_ids("got ", ids, n);
                    char *w = json_dumps(want, JSON_COMPACT);
                    printf("      want: %.300s\n", w);
                    free(w);
                }
            }
            json_t *toks = json_object_get(r, "tokens");
            if (!special && toks && n >= 0 && (size_t)n == json_array_size(toks)) {
                n_tokens++;
                for (int j = 0; j < n; j++) {
                    const char *s = tok_id_to_token(t, ids[j]);
                    if (!s || strcmp(s, json_string_value(json_array_get(toks, j)))) {
                        bad_tokens++;
                        break;
                    }
                }
            }
            free(ids);
        }
    }
    CHECKF(bad == 0, "%s: %zu of %zu encodings differ from HF tokenizers", NAMES[k], bad, 2 * f.n);
    CHECKF(n_tokens > 50 && bad_tokens == 0, "%s: token strings differ on %zu of %zu strings", NAMES[k], bad_tokens, n_tokens);
    printf("    %s: %zu strings x 2 compared, %zu mismatches\n", NAMES[k], f.n, bad);
    fixture_free(&f);
}

// Single-id decode of every id (FNV-1a digest from the fixture) and sampled ids in clear.
static void check_decode(int k) {
    Tokenizer *t = get_tok(k);
    if (!t) { CHECK(t != NULL); return; }
    char *path = xasprintf(FIXTURES "/tok/%s.decode.json", NAMES[k]);
    json_error_t je;
    json_t *d = json_load_file(path, JSON_ALLOW_NUL, &je);
    free(path);
    CHECKF(d != NULL, "decode fixture: %s", je.text);
    if (!d) return;
    int n = (int)json_integer_value(json_object_get(d, "n_ids"));
    CHECKF(tok_n_ids(t) == n, "%s: n_ids %d, HF %d", NAMES[k], tok_n_ids(t), n);
    double t0 = lw_now();
    uint64_t h = 0xcbf29ce484222325ull;
    for (int id = 0; id < n; id++) {
        const unsigned char *s = (const unsigned char *)tok_decode_one(t, id);
        for (size_t i = 0;; i++) {
            h ^= s[i];
            h *= 0x100000001b3ull;
            if (!s[i]) break;
        }
    }
    printf("    %s: decoded %d ids in %.3f s\n", NAMES[k], n, lw_now() - t0);
    char hex[17];
    snprintf(hex, sizeof hex, "%016llx", (unsigned long long)h);
    CHECKF(!strcmp(hex, json_string_value(json_object_get(d, "fnv1a64"))), "%s: decode digest %s, HF %s", NAMES[k], hex,
           json_string_value(json_object_get(d, "fnv1a64")));
    json_t *samples = json_object_get(d, "samples");
    int bad = 0;
    for (size_t i = 0; i < json_array_size(samples); i++) {
        json_t *s = json_array_get(samples, i);
        int id = (int)json_integer_value(json_object_get(s, "id"));
        const char *want = json_string_value(json_object_get(s, "decode"));
        const char *tokw = json_string_value(json_object_get(s, "token"));
        const char *got = tok_decode_one(t, id), *tokg = tok_id_to_token(t, id);
        int ok = !strcmp(got, want) && ((!tokw && !tokg) || (tokw && tokg && !strcmp(tokw, tokg)));
        if (!ok && bad++ < 4) printf("    %s id %d: decode \"%s\" (HF \"%s\"), token \"%s\" (HF \"%s\")\n", NAMES[k], id, got, want,
                                     tokg ? tokg : "(null)", tokw ? tokw : "(null)");
    }
    CHECKF(bad == 0, "%s: %d of %zu sampled ids decode differently", NAMES[k], bad, json_array_size(samples));
    CHECK_STR(tok_decode_one(t, -1), "");
    CHECK_STR(tok_decode_one(t, n), "");
    json_decref(d);
}

TEST(llama3_parity) { check_parity(0); }
TEST(qwen3_parity) { check_parity(1); }
TEST(mistral_parity) { check_parity(2); }
TEST(gemma3_parity) { check_parity(3); }
TEST(tekken_parity) { check_parity(4); }
TEST(llama3_decode) { check_decode(0); }
TEST(qwen3_decode) { check_decode(1); }
TEST(mistral_decode) { check_decode(2); }
TEST(gemma3_decode) { check_decode(3); }
TEST(tekken_decode) { check_decode(4); }

// ---------------------------------------------------------------------------- gold-answer alignment

static const char *COUNTRY[5] = {"Germany", "France", "Italy", "Japan", "Canada"};
static const char *ANSWER[5] = {"Berlin", "Paris", "Rome", "Tokyo", "Ottawa"};

// METRICS.md §1.1 prompts: orig and no_filler for each fact, plus the control (= France orig).
// Expected: TOKENIZERS.md §1 first ids (with_space); the full answer_ids from the HF fixture
// encodings of S and S + " " + A.
static void check_align(int k, const int32_t known[5]) {
    Tokenizer *t = get_tok(k);
    if (!t) { CHECK(t != NULL); return; }
    Fixture f = fixture_read(NAMES[k]);
    for (int fact = 0; fact < 5; fact++) {
        for (int v = 0; v < 2; v++) {
            char *p = xasprintf(v == 0 ? "Give the city name only, plain text. The capital of %s is called simply"
                                       : "Give the city name only, plain text. The capital of %s is called", COUNTRY[fact]);
            char *ws = xasprintf("%s %s", p, ANSWER[fact]);
            json_t *ctx = NULL, *wsi = NULL;
            for (size_t i = 0; i < f.n; i++) {
                const char *s = json_string_value(json_object_get(f.recs[i], "text"));
                if (!strcmp(s, p)) ctx = json_object_get(f.recs[i], "ids");
                if (!strcmp(s, ws)) wsi = json_object_get(f.recs[i], "ids");
            }
            TokAlign a;
            LwError err = {0};
            CHECK(tok_align_answer(t, p, ANSWER[fact], &a, &err) == 0);
            CHECKF(a.ok && !strcmp(a.variant, "with_space") && !strcmp(a.status, "ok"), "%s %s: %s/%s", NAMES[k], ANSWER[fact], a.variant, a.status);
            if (known) CHECKF(a.first_id == known[fact], "%s %s: first id %d, TOKENIZERS.md %d", NAMES[k], ANSWER[fact], a.first_id, known[fact]);
            CHECKF(ctx && wsi, "fixture lacks the prompt");
            if (ctx && wsi) {
                size_t nc = json_array_size(ctx), nw = json_array_size(wsi);
                CHECKF((size_t)a.n_answer_ids == nw - nc, "%s %s: %d answer ids, HF %zu", NAMES[k], ANSWER[fact], a.n_answer_ids, nw - nc);
                for (size_t j = nc; j < nw && (int)(j - nc) < a.n_answer_ids; j++)
                    CHECK(a.answer_ids[j - nc] == json_integer_value(json_array_get(wsi, j)));
            }
            free(p), free(ws);
        }
    }
    fixture_free(&f);
}

TEST(llama3_align) { check_align(0, (const int32_t[]){20437, 12366, 22463, 27286, 33266}); }
TEST(qwen3_align) { check_align(1, (const int32_t[]){19846, 12095, 21718, 26194, 32166}); }
TEST(mistral_align) {
    check_align(2, (const int32_t[]){8430, 5465, 10827, 19887, 14982});
    // Ottawa is two pieces (TOKENIZERS.md §1): ▁Ott, awa; the CSVs show the decode without ▁
    Tokenizer *t = get_tok(2);
    TokAlign a;
    LwError err = {0};
    if (!t) return;
    tok_align_answer(t, "Give the city name only, plain text. The capital of Canada is called simply", "Ottawa", &a, &err);
    CHECK(a.n_answer_ids == 2 && a.answer_ids[0] == 14982 && a.answer_ids[1] == 8733);
    CHECK_STR(tok_id_to_token(t, 8430), "\xE2\x96\x81" "Berlin");
    CHECK_STR(tok_decode_one(t, 8430), "Berlin"); // Strip decoder (METRICS.md §1.5)
    CHECK(tok_template_bos(t) == 1);
}
TEST(gemma3_align) { check_align(3, NULL); } // Gemma 3 vocabulary: ids from the HF fixture only
TEST(tekken_align) { check_align(4, (const int32_t[]){10874, 6993, 15512, 23286, 56452}); }

TEST(byte_level_display) {
    Tokenizer *t = get_tok(0);
    if (!t) { CHECK(t != NULL); return; }
    CHECK_STR(tok_id_to_token(t, 20437), "\xC4\xA0" "Berlin"); // "ĠBerlin"
    CHECK_STR(tok_decode_one(t, 20437), " Berlin");
    CHECK(tok_template_bos(t) == -1); // this file's post-processor adds no BOS (tokenizers/README.md)
    // the probe prompt is 16 pieces for every model (TOKENIZERS.md §1)
    const char *p = "Give the city name only, plain text. The capital of Germany is called simply";
    for (int k = 0; k < N_TOK; k++) {
        Tokenizer *u = get_tok(k);
        if (!u) continue;
        int32_t *ids;
        LwError err = {0};
        int n = tok_encode(u, p, strlen(p), 0, &ids, &err);
        CHECKF(n == 16, "%s: %d ids for the probe prompt", NAMES[k], n);
        free(ids);
    }
}

// ---------------------------------------------------------------------------- bad input

static const char *TINY =
    "{\"version\":\"1.0\",\"added_tokens\":[{\"id\":3,\"content\":\"<s>\",\"special\":true,\"normalized\":false,"
    "\"lstrip\":false,\"rstrip\":false,\"single_word\":false}],\"normalizer\":null,\"pre_tokenizer\":null,"
    "\"post_processor\":null,\"decoder\":null,\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0,\"b\":1,\"ab\":2},"
    "\"merges\":[\"a b\"]}}";

// Builds TINY with one member replaced; expects refusal naming `needle`.
static void expect_refused(const char *member, const char *value, const char *needle) {
    json_t *root = json_loads(TINY, 0, NULL);
    json_t *v = json_loads(value, JSON_DECODE_ANY, NULL);
    LW_ASSERT(root && v);
    if (!strcmp(member, "model.type")) json_object_set_new(json_object_get(root, "model"), "type", v);
    else json_object_set_new(root, member, v);
    LwError err = {0};
    Tokenizer *t = tok_from_json(root, "tiny.json", &err);
    CHECKF(t == NULL && strstr(err.msg, needle) && strstr(err.msg, "tiny.json"), "%s = %s: \"%s\"", member, value, err.msg);
    tok_free(t);
    json_decref(root);
}

TEST(tiny_bpe) {
    json_t *root = json_loads(TINY, 0, NULL);
    LwError err = {0};
    Tokenizer *t = tok_from_json(root, "tiny.json", &err);
    json_decref(root);
    CHECKF(t != NULL, "%s", err.msg);
    if (!t) return;
    // by hand: "aab<s>ba" = a | ab (merge a b) | <s> (added) | b | a
    int32_t *ids;
    int n = tok_encode(t, "aab<s>ba", 8, 1, &ids, &err);
    int32_t want[] = {0, 2, 3, 1, 0};
    CHECK(n == 5 && !memcmp(ids, want, sizeof want));
    free(ids);
    CHECK(tok_n_ids(t) == 4);
    CHECK(tok_template_bos(t) == -1);
    CHECK_STR(tok_decode_one(t, 2), "ab");
    // "c" is not in the vocabulary and there is no unk: HF drops it
    n = tok_encode(t, "cab", 3, 0, &ids, &err);
    CHECK(n == 1 && ids[0] == 2);
    free(ids);
    // invalid UTF-8 names the byte offset
    memset(&err, 0, sizeof err);
    n = tok_encode(t, "ab\xC3(", 4, 0, &ids, &err);
    CHECKF(n == -1 && strstr(err.msg, "byte offset 2"), "%s", err.msg);
    memset(&err, 0, sizeof err);
    n = tok_encode(t, "a\xED\xA0\x80", 4, 0, &ids, &err); // UTF-8-encoded surrogate
    CHECKF(n == -1 && strstr(err.msg, "byte offset 1"), "%s", err.msg);
    tok_free(t);
}

TEST(unknown_types_refused) {
    expect_refused("model.type", "\"WordPiece\"", "WordPiece");
    expect_refused("model.type", "\"Unigram\"", "Unigram");
    expect_refused("normalizer", "{\"type\":\"NFKC\"}", "NFKC");
    expect_refused("normalizer", "{\"type\":\"Sequence\",\"normalizers\":[{\"type\":\"NFC\"},{\"type\":\"Lowercase\"}]}", "Lowercase");
    expect_refused("normalizer", "{\"type\":\"Replace\",\"pattern\":{\"Regex\":\" +\"},\"content\":\" \"}", "Regex");
    expect_refused("pre_tokenizer", "{\"type\":\"Metaspace\",\"replacement\":\"_\"}", "Metaspace");
    expect_refused("pre_tokenizer", "{\"type\":\"Whitespace\"}", "Whitespace");
    expect_refused("pre_tokenizer", "{\"type\":\"Split\",\"pattern\":{\"Regex\":\"(\"},\"behavior\":\"Isolated\",\"invert\":false}", "Regex");
    expect_refused("post_processor", "{\"type\":\"BertProcessing\"}", "BertProcessing");
    expect_refused("post_processor", "{\"type\":\"RobertaProcessing\"}", "RobertaProcessing");
    expect_refused("decoder", "{\"type\":\"WordPiece\"}", "WordPiece");
    expect_refused("decoder", "{\"type\":\"Metaspace\"}", "Metaspace");
    expect_refused("truncation", "{\"max_length\":8}", "truncation");
    expect_refused("added_tokens", "[{\"id\":3,\"content\":\"<s>\",\"normalized\":true}]", "normalized");
}

TEST(bad_files_refused) {
    LwError err = {0};
    CHECK(tok_load("/nonexistent/tokenizer.json", &err) == NULL && strstr(err.msg, "/nonexistent/tokenizer.json"));
    // truncated JSON and a merge of unknown tokens
    LW_ASSERT(lw_mkdir_p("build/test-tmp", &err) == 0);
    const char *p1 = "build/test-tmp/tok_truncated.json";
    lw_write_file(p1, TINY, strlen(TINY) / 2, &err);
    memset(&err, 0, sizeof err);
    CHECKF(tok_load(p1, &err) == NULL && strstr(err.msg, p1) && strstr(err.msg, "line"), "%s", err.msg);
    const char *p2 = "build/test-tmp/tok_badmerge.json";
    char *bad = xstrdup(TINY);
    char *m = strstr(bad, "\"a b\"");
    m[3] = 'x'; // "a x": x is not in the vocabulary
    lw_write_file(p2, bad, strlen(bad), &err);
    memset(&err, 0, sizeof err);
    CHECKF(tok_load(p2, &err) == NULL && strstr(err.msg, "merges[0]") && strstr(err.msg, "\"x\""), "%s", err.msg);
    free(bad);
}

int main(void) {
    RUN(tiny_bpe);
    RUN(unknown_types_refused);
    RUN(bad_files_refused);
    RUN(llama3_parity);
    RUN(qwen3_parity);
    RUN(mistral_parity);
    RUN(gemma3_parity);
    RUN(tekken_parity);
    RUN(llama3_decode);
    RUN(qwen3_decode);
    RUN(mistral_decode);
    RUN(gemma3_decode);
    RUN(tekken_decode);
    RUN(llama3_align);
    RUN(qwen3_align);
    RUN(mistral_align);
    RUN(gemma3_align);
    RUN(tekken_align);
    RUN(byte_level_display);
    for (int k = 0; k < N_TOK; k++) tok_free(g_tok[k]);
    return test_summary();
}

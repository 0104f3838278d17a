// tok/gguf_tok — tokenizer.json from GGUF tokenizer metadata (gguf_tok.h).
#include "tok/gguf_tok.h"

#include <stdlib.h>
#include <string.h>

// The Llama 3 split regex (its tokenizer.json's Split pre-tokenizer).
static const char LLAMA3_SPLIT[] =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

static json_t *byte_level(int use_regex) {
    return json_pack("{s:s, s:b, s:b, s:b}", "type", "ByteLevel", "add_prefix_space", 0, "trim_offsets", 1, "use_regex", use_regex);
}

// Pre-tokenizer for tokenizer.ggml.pre, or NULL when the name is not known.
static json_t *pre_tokenizer_for(const char *pre, int *ignore_merges) {
    *ignore_merges = 0;
    if (!pre || !strcmp(pre, "default") || !strcmp(pre, "gpt-2") || !strcmp(pre, "gpt2")) return byte_level(1);
    if (!strcmp(pre, "smollm") || !strcmp(pre, "starcoder"))
        return json_pack("{s:s, s:[{s:s, s:b}, o]}", "type", "Sequence", "pretokenizers", "type", "Digits", "individual_digits", 1, byte_level(1));
    if (!strcmp(pre, "llama-bpe") || !strcmp(pre, "llama3") || !strcmp(pre, "llama-v3")) {
        *ignore_merges = 1;
        return json_pack("{s:s, s:[{s:s, s:{s:s}, s:s, s:b}, o]}", "type", "Sequence", "pretokenizers", "type", "Split", "pattern", "Regex",
                         LLAMA3_SPLIT, "behavior", "Isolated", "invert", 0, byte_level(0));
    }
    return NULL;
}

// ---------------------------------------------------------------------------- SentencePiece

typedef struct {
    float score;
    int32_t merged, l, r;
} SpmMerge;

static int spm_merge_cmp(const void *a, const void *b) {
    const SpmMerge *x = a, *y = b;
    if (x->score != y->score) return x->score > y->score ? -1 : 1; // best score first
    if (x->merged != y->merged) return x->merged < y->merged ? -1 : 1;
    if (x->l != y->l) return x->l < y->l ? -1 : 1;
    return x->r < y->r ? -1 : x->r > y->r;
}

// SentencePiece-BPE GGUFs carry scores but no merges. The merge list is rebuilt as transformers'
// SentencePiece converter does (and as the model's own tokenizer.json holds it): every split of
// every piece into two pieces of the vocabulary (at character boundaries) is a merge, ranked by
// the merged piece's score, best first; ties by the merged id, then the left and right ids.
static json_t *spm_merges(char **tokens, int64_t n, const float *scores, json_t *vocab) {
    size_t cap = 1024, cnt = 0;
    SpmMerge *v = xmalloc(cap * sizeof *v);
    char buf[1024];
    for (int64_t i = 0; i < n; i++) {
        size_t len = strlen(tokens[i]);
        if (len >= sizeof buf) continue;
        for (size_t k = 1; k < len; k++) {
            if (((unsigned char)tokens[i][k] & 0xC0) == 0x80) continue; // inside a UTF-8 sequence
            memcpy(buf, tokens[i], k);
            buf[k] = 0;
            json_t *l = json_object_get(vocab, buf), *r = json_object_get(vocab, tokens[i] + k);
            if (!l || !r) continue;
            if (cnt == cap) v = xrealloc(v, (cap *= 2) * sizeof *v);
            v[cnt++] = (SpmMerge){scores[i], (int32_t)i, (int32_t)json_integer_value(l), (int32_t)json_integer_value(r)};
        }
    }
    qsort(v, cnt, sizeof *v, spm_merge_cmp);
    json_t *arr = json_array();
    for (size_t k = 0; k < cnt; k++)
        json_array_append_new(arr, json_pack("[s, s]", tokens[v[k].l], tokens[v[k].r]));
    free(v);
    return arr;
}

static int get_f32_array(const Gguf *g, const char *key, int64_t n, float **out, LwError *err) {
    const GgufKV *kv = gguf_find_kv(g, key);
    *out = NULL;
    if (!kv) return lw_err(err, "SentencePiece vocabularies need their scores to rebuild the merges; re-convert the model",
                           "%s: metadata \"%s\" is missing", g->path, key);
    if (kv->type != GGUF_T_ARRAY || kv->arr_type != GGUF_T_F32 || (int64_t)kv->arr_n != n)
        return lw_err(err, "the file is corrupt", "%s: metadata \"%s\" is not an array of %lld f32", g->path, key, (long long)n);
    *out = xmalloc((size_t)(n ? n : 1) * sizeof **out);
    memcpy(*out, kv->arr_data, (size_t)n * 4); // little-endian f32, bounds checked at open
    return 0;
}

json_t *gguf_tokenizer_json(const Gguf *g, LwError *err) {
    char *model = NULL, *pre = NULL, **tokens = NULL, **merges = NULL;
    int64_t n_tok = 0, n_merge = 0, n_type = 0, *types = NULL, bos = -1, unk = -1;
    int add_bos = 0, ignore_merges = 0, space_prefix = 1;
    float *scores = NULL;
    json_t *root = NULL, *pt = NULL;
    if (gguf_get_str(g, "tokenizer.ggml.model", 1, &model, err)) goto done;
    int spm = !strcmp(model, "llama");
    if (!spm && strcmp(model, "gpt2") != 0) {
        lw_err(err, "lensweep reads byte-level BPE (\"gpt2\") and SentencePiece-BPE (\"llama\") tokenizers from GGUF files; put the model's tokenizer.json next to the .gguf and point model: at that directory",
               "%s: metadata \"tokenizer.ggml.model\": unsupported GGUF tokenizer \"%.60s\"", g->path, model);
        goto done;
    }
    if (gguf_get_str(g, "tokenizer.ggml.pre", 0, &pre, err)) goto done;
    if (spm) pt = json_null(); // SentencePiece: no pre-tokenizer; the normalizer adds the ▁s
    else if (!(pt = pre_tokenizer_for(pre, &ignore_merges))) {
        lw_err(err, "known: smollm, starcoder, gpt-2, default, llama-bpe; use the model's tokenizer.json instead",
               "%s: metadata \"tokenizer.ggml.pre\": unsupported pre-tokenizer \"%.60s\"", g->path, pre);
        goto done;
    }
    if (gguf_get_str_array(g, "tokenizer.ggml.tokens", &tokens, &n_tok, err)) goto done;
    if (!spm && gguf_get_str_array(g, "tokenizer.ggml.merges", &merges, &n_merge, err)) goto done;
    if (spm && get_f32_array(g, "tokenizer.ggml.scores", n_tok, &scores, err)) goto done;
    if (spm && gguf_get_int(g, "tokenizer.ggml.unknown_token_id", 0, -1, &unk, err)) goto done;
    if (spm && gguf_get_bool(g, "tokenizer.ggml.add_space_prefix", 0, 1, &space_prefix, err)) goto done;
    if (gguf_find_kv(g, "tokenizer.ggml.token_type") && gguf_get_int_array(g, "tokenizer.ggml.token_type", &types, &n_type, err)) goto done;
    if (types && n_type != n_tok) {
        lw_err(err, "the file is corrupt", "%s: metadata \"tokenizer.ggml.token_type\" has %lld entries for %lld tokens", g->path, (long long)n_type, (long long)n_tok);
        goto done;
    }
    if (gguf_get_bool(g, "tokenizer.ggml.add_bos_token", 0, 0, &add_bos, err)) goto done;
    if (gguf_get_int(g, "tokenizer.ggml.bos_token_id", add_bos, -1, &bos, err)) goto done;
    if (add_bos && (bos < 0 || bos >= n_tok)) {
        lw_err(err, "the file is corrupt", "%s: metadata \"tokenizer.ggml.bos_token_id\" = %lld is not a token id (0..%lld)", g->path, (long long)bos, (long long)n_tok - 1);
        goto done;
    }

    json_t *vocab = json_object(), *jm = json_array(), *added = json_array();
    for (int64_t i = 0; i < n_tok; i++) {
        if (json_object_get(vocab, tokens[i])) {
            lw_err(err, "the file is corrupt", "%s: metadata \"tokenizer.ggml.tokens\": token %lld \"%.40s\" appears twice", g->path, (long long)i, tokens[i]);
            json_decref(vocab); json_decref(jm); json_decref(added);
            goto done;
        }
        json_object_set_new(vocab, tokens[i], json_integer(i));
        int ty = types ? (int)types[i] : 1;
        if (ty == 3 || ty == 4 || (spm && ty == 2)) // SentencePiece's <unk> is special too
            json_array_append_new(added, json_pack("{s:I, s:s, s:b, s:b, s:b, s:b, s:b}", "id", (json_int_t)i, "content", tokens[i], "single_word", 0,
                                                   "lstrip", 0, "rstrip", 0, "normalized", 0, "special", ty != 4));
    }
    for (int64_t i = 0; i < n_merge; i++) {
        const char *sp = strchr(merges[i], ' ');
        if (!sp || sp == merges[i] || !sp[1]) {
            lw_err(err, "each merge is two tokens separated by one space", "%s: metadata \"tokenizer.ggml.merges\"[%lld] = \"%.60s\" is not a merge rule",
                   g->path, (long long)i, merges[i]);
            json_decref(vocab); json_decref(jm); json_decref(added);
            goto done;
        }
        json_array_append_new(jm, json_string(merges[i]));
    }
    if (spm) {
        json_decref(jm);
        jm = spm_merges(tokens, n_tok, scores, vocab);
    }
    json_t *post = json_null();
    if (add_bos)
        post = json_pack("{s:s, s:[{s:{s:s, s:I}}, {s:{s:s, s:I}}], s:[{s:{s:s, s:I}}, {s:{s:s, s:I}}, {s:{s:s, s:I}}, {s:{s:s, s:I}}], s:{s:{s:s, s:[I], s:[s]}}}",
                         "type", "TemplateProcessing",
                         "single", "SpecialToken", "id", tokens[bos], "type_id", (json_int_t)0, "Sequence", "id", "A", "type_id", (json_int_t)0,
                         "pair", "SpecialToken", "id", tokens[bos], "type_id", (json_int_t)0, "Sequence", "id", "A", "type_id", (json_int_t)0,
                         "SpecialToken", "id", tokens[bos], "type_id", (json_int_t)1, "Sequence", "id", "B", "type_id", (json_int_t)1,
                         "special_tokens", tokens[bos], "id", tokens[bos], "ids", (json_int_t)bos, "tokens", tokens[bos]);
    // SentencePiece-BPE as its tokenizer.json has it (Mistral-7B / Llama 2 "legacy" form): ▁
    // prepended (add_space_prefix) and spaces replaced by ▁, byte fallback, <unk> fused; the
    // decoder undoes the ▁s and strips the one leading space.
    json_t *normalizer = json_null(), *decoder;
    if (spm) {
        json_t *steps = json_array();
        if (space_prefix) json_array_append_new(steps, json_pack("{s:s, s:s}", "type", "Prepend", "prepend", "\xe2\x96\x81"));
        json_array_append_new(steps, json_pack("{s:s, s:{s:s}, s:s}", "type", "Replace", "pattern", "String", " ", "content", "\xe2\x96\x81"));
        normalizer = json_pack("{s:s, s:o}", "type", "Sequence", "normalizers", steps);
        decoder = json_pack("{s:s, s:[{s:s, s:{s:s}, s:s}, {s:s}, {s:s}, {s:s, s:s, s:i, s:i}]}", "type", "Sequence", "decoders",
                            "type", "Replace", "pattern", "String", "\xe2\x96\x81", "content", " ", "type", "ByteFallback", "type", "Fuse",
                            "type", "Strip", "content", " ", "start", space_prefix ? 1 : 0, "stop", 0);
    } else {
        decoder = json_pack("{s:s, s:b, s:b, s:b}", "type", "ByteLevel", "add_prefix_space", 1, "trim_offsets", 1, "use_regex", 1);
    }
    json_t *unk_tok = spm && unk >= 0 && unk < n_tok ? json_string(tokens[unk]) : json_null();
    root = json_pack("{s:s, s:n, s:o, s:o, s:o, s:o, s:o, s:{s:s, s:n, s:o, s:n, s:n, s:b, s:b, s:b, s:o, s:o}}",
                     "version", "1.0", "truncation", "added_tokens", added, "pre_tokenizer", pt, "normalizer", normalizer, "post_processor", post,
                     "decoder", decoder,
                     "model", "type", "BPE", "dropout", "unk_token", unk_tok, "continuing_subword_prefix", "end_of_word_suffix", "fuse_unk", spm,
                     "byte_fallback", spm, "ignore_merges", ignore_merges, "vocab", vocab, "merges", jm);
    pt = NULL; // owned by root now
    LW_ASSERT(root);
done:
    json_decref(pt);
    free(model);
    free(pre);
    gguf_free_strs(tokens, n_tok);
    gguf_free_strs(merges, n_merge);
    free(types);
    free(scores);
    return root;
}

Tokenizer *gguf_tokenizer_load(const char *gguf_path, LwError *err) {
    Gguf g;
    if (gguf_open(gguf_path, &g, err)) return NULL;
    json_t *j = gguf_tokenizer_json(&g, err);
    Tokenizer *t = NULL;
    if (j) {
        char src[1200];
        snprintf(src, sizeof src, "%s (GGUF tokenizer metadata)", gguf_path);
        t = tok_from_json(j, src, err);
        json_decref(j);
    }
    gguf_close(&g);
    return t;
}

// io/gguf_tok — tokenizer.json from GGUF tokenizer metadata (gguf_tok.h).
#include "io/gguf_tok.h"

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

json_t *gguf_tokenizer_json(const Gguf *g, LwError *err) {
    char *model = NULL, *pre = NULL, **tokens = NULL, **merges = NULL;
    int64_t n_tok = 0, n_merge = 0, n_type = 0, *types = NULL, bos = -1;
    int add_bos = 0, ignore_merges = 0;
    json_t *root = NULL, *pt = NULL;
    if (gguf_get_str(g, "tokenizer.ggml.model", 1, &model, err)) goto done;
    if (strcmp(model, "gpt2") != 0) {
        lw_err(err, "lensweep reads byte-level BPE (\"gpt2\") tokenizers from GGUF files; put the model's tokenizer.json next to the .gguf and point model: at that directory",
               "%s: metadata \"tokenizer.ggml.model\": unsupported GGUF tokenizer \"%.60s\"", g->path, model);
        goto done;
    }
    if (gguf_get_str(g, "tokenizer.ggml.pre", 0, &pre, err)) goto done;
    if (!(pt = pre_tokenizer_for(pre, &ignore_merges))) {
        lw_err(err, "known: smollm, starcoder, gpt-2, default, llama-bpe; use the model's tokenizer.json instead",
               "%s: metadata \"tokenizer.ggml.pre\": unsupported pre-tokenizer \"%.60s\"", g->path, pre);
        goto done;
    }
    if (gguf_get_str_array(g, "tokenizer.ggml.tokens", &tokens, &n_tok, err)) goto done;
    if (gguf_get_str_array(g, "tokenizer.ggml.merges", &merges, &n_merge, err)) goto done;
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
        if (ty == 3 || ty == 4)
            json_array_append_new(added, json_pack("{s:I, s:s, s:b, s:b, s:b, s:b, s:b}", "id", (json_int_t)i, "content", tokens[i], "single_word", 0,
                                                   "lstrip", 0, "rstrip", 0, "normalized", 0, "special", ty == 3));
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
    json_t *post = json_null();
    if (add_bos)
        post = json_pack("{s:s, s:[{s:{s:s, s:I}}, {s:{s:s, s:I}}], s:[{s:{s:s, s:I}}, {s:{s:s, s:I}}, {s:{s:s, s:I}}, {s:{s:s, s:I}}], s:{s:{s:s, s:[I], s:[s]}}}",
                         "type", "TemplateProcessing",
                         "single", "SpecialToken", "id", tokens[bos], "type_id", (json_int_t)0, "Sequence", "id", "A", "type_id", (json_int_t)0,
                         "pair", "SpecialToken", "id", tokens[bos], "type_id", (json_int_t)0, "Sequence", "id", "A", "type_id", (json_int_t)0,
                         "SpecialToken", "id", tokens[bos], "type_id", (json_int_t)1, "Sequence", "id", "B", "type_id", (json_int_t)1,
                         "special_tokens", tokens[bos], "id", tokens[bos], "ids", (json_int_t)bos, "tokens", tokens[bos]);
    root = json_pack("{s:s, s:n, s:o, s:o, s:n, s:o, s:o, s:{s:s, s:n, s:n, s:n, s:n, s:b, s:b, s:b, s:o, s:o}}",
                     "version", "1.0", "truncation", "added_tokens", added, "pre_tokenizer", pt, "normalizer", "post_processor", post,
                     "decoder", json_pack("{s:s, s:b, s:b, s:b}", "type", "ByteLevel", "add_prefix_space", 1, "trim_offsets", 1, "use_regex", 1),
                     "model", "type", "BPE", "dropout", "unk_token", "continuing_subword_prefix", "end_of_word_suffix", "fuse_unk", 0,
                     "byte_fallback", 0, "ignore_merges", ignore_merges, "vocab", vocab, "merges", jm);
    pt = NULL; // owned by root now
    LW_ASSERT(root);
done:
    json_decref(pt);
    free(model);
    free(pre);
    gguf_free_strs(tokens, n_tok);
    gguf_free_strs(merges, n_merge);
    free(types);
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

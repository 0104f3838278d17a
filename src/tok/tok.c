// tok — tokenizer.json pipeline: added tokens → normalizer → pre-tokenizer → BPE → post-processor,
// and single-id decoding (see tok.h for the contract).
//
// The pipeline mirrors HF `tokenizers` (TokenizerImpl::encode) step by step, because parity is
// the goal: added tokens are cut out of the raw text first (leftmost-longest, on a byte trie);
// every remaining segment is normalized as a whole, then split by the pre-tokenizer stages
// (streamed depth-first: a piece produced by stage k goes straight to stage k+1, so no list of
// pieces is ever materialized), and each final piece is one BPE "word". Components are parsed
// into small tagged structs at load; an unknown component type is refused by name.
// Single-id decoding is precomputed for the whole vocabulary on first use (the lens exporter
// decodes every id), into one arena. Around this file: tok_bpe (vocabulary, merges, the merge
// loop), tok_json (fast reading of model.vocab / model.merges), tok_regex (regex Unicode classes
// widened to utf8proc's tables). docs/TOKENIZER.md lists what is implemented and what is refused.
#define _GNU_SOURCE
#include "tok/tok.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "tok/tok_bpe.h"
#include "tok/tok_json.h"
#include "tok/tok_regex.h"

// ---------------------------------------------------------------------------- components

typedef enum { NORM_NFC, NORM_PREPEND, NORM_REPLACE } NormKind;
typedef struct {
    NormKind kind;
    char *a, *b; // Prepend: a = prefix; Replace: a = pattern, b = content
    size_t alen, blen;
} Normalizer;

typedef enum { SPLIT_ISOLATED, SPLIT_REMOVED, SPLIT_MERGED_PREV, SPLIT_MERGED_NEXT, SPLIT_CONTIGUOUS } SplitBehavior;
typedef enum { PRE_SPLIT_REGEX, PRE_SPLIT_STRING, PRE_BYTELEVEL, PRE_METASPACE } PreKind;
typedef enum { PREPEND_ALWAYS, PREPEND_FIRST, PREPEND_NEVER } PrependScheme;
typedef struct {
    PreKind kind;
    SplitBehavior behavior;
    pcre2_code *re;
    char *lit;          // Split String pattern; Metaspace replacement character (UTF-8)
    size_t litlen;
    PrependScheme prepend; // Metaspace
    int split;             // Metaspace
} PreTok;

typedef enum { DEC_BYTELEVEL, DEC_REPLACE, DEC_BYTEFALLBACK, DEC_FUSE, DEC_STRIP, DEC_METASPACE } DecKind;
typedef struct {
    DecKind kind;
    char *a, *b; // Replace: pattern, content; Strip: a = content character (UTF-8)
    size_t alen, blen;
    int start, stop;
    PrependScheme prepend; // Metaspace
} Decoder;

typedef struct {
    int32_t id;
    char *content;
    size_t len;
    int special;
} AddedToken;

#define MAX_STAGES 16

struct Tokenizer {
    char *source;
    BpeModel bpe;
    Normalizer norm[MAX_STAGES];
    int n_norm;
    PreTok pre[MAX_STAGES];
    int n_pre;
    Decoder dec[MAX_STAGES];
    int n_dec;
    int has_decoder;
    int has_regex;          // a pre-tokenizer stage uses a regex
    int warned_unicode;     // the Unicode-version warning of tok_encode is printed once
    // added tokens and their byte trie (edges in one open-addressing table)
    AddedToken *added;
    int n_added;
    int32_t *added_by_id;   // id -> index into added, -1 (n_ids entries)
    int32_t *trie_term;     // per node: token id or -1
    uint64_t *trie_keys;    // (node << 8 | byte) + 1, 0 = empty
    int32_t *trie_child;
    uint32_t trie_mask;
    int trie_nodes;
    unsigned char first_byte[256];
    // post-processor template: prefix ids, $A, suffix ids
    int32_t *tpl_pre, *tpl_post;
    int n_tpl_pre, n_tpl_post;
    int n_ids;
    // single-id decode table (built on first use)
    pthread_mutex_t dec_lock;
    int dec_ready;
    char *dec_arena;
    uint32_t *dec_off;
};

// ---------------------------------------------------------------------------- small helpers

static const char *jstr(json_t *o, const char *k) {
    json_t *v = json_object_get(o, k);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

static char *dupn(const char *s, size_t n) {
    char *d = xmalloc(n + 1);
    memcpy(d, s, n);
    d[n] = 0;
    return d;
}

// Byte offset of the first byte that is not valid UTF-8, or -1 (tok.h).
long tok_utf8_invalid_at(const unsigned char *s, size_t n) {
    size_t i = 0;
    while (i < n) {
        unsigned char c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        int len;
        uint32_t cp;
        if (c >= 0xC2 && c <= 0xDF) len = 2, cp = c & 0x1F;
        else if (c >= 0xE0 && c <= 0xEF) len = 3, cp = c & 0x0F;
        else if (c >= 0xF0 && c <= 0xF4) len = 4, cp = c & 0x07;
        else return (long)i;
        if (i + len > n) return (long)i;
        for (int k = 1; k < len; k++) {
            if ((s[i + k] & 0xC0) != 0x80) return (long)i;
            cp = cp << 6 | (s[i + k] & 0x3F);
        }
        if ((len == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)))
            return (long)i;
        i += len;
    }
    return -1;
}

// GPT-2 byte <-> unicode table (HF bytes_char): printable bytes map to themselves, the other 68
// bytes in increasing order to U+0100, U+0101, ...
static char g_byte_char[256][3];
static unsigned char g_byte_char_len[256];
static int16_t g_char_byte[512]; // code point -> byte, -1 when not in the table
static pthread_once_t g_bytes_once = PTHREAD_ONCE_INIT;

static void bytes_table_init(void) {
    for (int i = 0; i < 512; i++) g_char_byte[i] = -1;
    int n = 0;
    for (int b = 0; b < 256; b++) {
        int printable = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
        int cp = printable ? b : 256 + n++;
        g_char_byte[cp] = (int16_t)b;
        if (cp < 0x80) {
            g_byte_char[b][0] = (char)cp;
            g_byte_char_len[b] = 1;
        } else {
            g_byte_char[b][0] = (char)(0xC0 | cp >> 6);
            g_byte_char[b][1] = (char)(0x80 | (cp & 0x3F));
            g_byte_char_len[b] = 2;
        }
    }
}

// A growable byte buffer.
typedef struct {
    char *p;
    size_t n, cap;
} Buf;

static void buf_reserve(Buf *b, size_t extra) {
    if (b->n + extra + 1 > b->cap) {
        b->cap = (b->n + extra + 1) * 2;
        b->p = xrealloc(b->p, b->cap);
    }
}
static void buf_add(Buf *b, const void *s, size_t n) {
    buf_reserve(b, n);
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = 0;
}

// Replaces every occurrence of pat (non-empty) in s by rep, into out (cleared first).
static void replace_all(const char *s, size_t n, const char *pat, size_t plen, const char *rep, size_t rlen, Buf *out) {
    out->n = 0;
    buf_reserve(out, n);
    size_t i = 0;
    while (i < n) {
        const char *hit = plen <= n - i ? memmem(s + i, n - i, pat, plen) : NULL;
        if (!hit) break;
        buf_add(out, s + i, (size_t)(hit - (s + i)));
        buf_add(out, rep, rlen);
        i = (size_t)(hit - s) + plen;
    }
    buf_add(out, s + i, n - i);
}

// ---------------------------------------------------------------------------- loading components

static int refuse_type(LwError *err, const char *source, const char *field, const char *type, const char *supported) {
    return lw_err(err, supported, "%s: %s: type '%s' is not implemented in lensweep's tokenizer", source, field,
                  type ? type : "(missing)");
}

// Replace / Split patterns: {"String": s} or {"Regex": r}.
static int pattern_get(json_t *o, const char *source, const char *field, const char **str, const char **regex, LwError *err) {
    json_t *p = json_object_get(o, "pattern");
    *str = p ? jstr(p, "String") : NULL;
    *regex = p ? jstr(p, "Regex") : NULL;
    if (!*str && !*regex)
        return lw_err(err, "expected {\"String\": ...} or {\"Regex\": ...}", "%s: %s.pattern: missing or malformed", source, field);
    return 0;
}

static int load_normalizer(Tokenizer *t, json_t *n, const char *field, LwError *err) {
    if (!n || json_is_null(n)) return 0;
    const char *type = jstr(n, "type");
    char sub[256];
    if (type && !strcmp(type, "Sequence")) {
        json_t *arr = json_object_get(n, "normalizers");
        if (!json_is_array(arr)) return lw_err(err, "Sequence needs a normalizers array", "%s: %s.normalizers: missing", t->source, field);
        for (size_t i = 0; i < json_array_size(arr); i++) {
            snprintf(sub, sizeof sub, "%s.normalizers[%zu]", field, i);
            if (load_normalizer(t, json_array_get(arr, i), sub, err)) return -1;
        }
        return 0;
    }
    if (t->n_norm == MAX_STAGES) return lw_err(err, "at most 16 normalizers", "%s: %s: too many normalizers", t->source, field);
    Normalizer *z = &t->norm[t->n_norm];
    memset(z, 0, sizeof *z);
    if (type && !strcmp(type, "NFC")) {
        z->kind = NORM_NFC;
    } else if (type && !strcmp(type, "Prepend")) {
        json_t *p = json_object_get(n, "prepend");
        if (!json_is_string(p)) return lw_err(err, "Prepend needs a string", "%s: %s.prepend: missing", t->source, field);
        z->kind = NORM_PREPEND;
        z->alen = json_string_length(p);
        z->a = dupn(json_string_value(p), z->alen);
    } else if (type && !strcmp(type, "Replace")) {
        const char *s, *re;
        if (pattern_get(n, t->source, field, &s, &re, err)) return -1;
        if (!s) return lw_err(err, "only literal {\"String\": ...} Replace patterns are implemented", "%s: %s.pattern: Regex Replace is not implemented", t->source, field);
        json_t *c = json_object_get(n, "content");
        if (!json_is_string(c)) return lw_err(err, "Replace needs a content string", "%s: %s.content: missing", t->source, field);
        if (!*s) return lw_err(err, "an empty pattern would match everywhere", "%s: %s.pattern: empty String", t->source, field);
        z->kind = NORM_REPLACE;
        z->alen = strlen(s);
        z->a = dupn(s, z->alen);
        z->blen = json_string_length(c);
        z->b = dupn(json_string_value(c), z->blen);
    } else {
        return refuse_type(err, t->source, field, type, "implemented normalizers: NFC, Prepend, Replace (String), Sequence");
    }
    t->n_norm++;
    return 0;
}

// Compiles the pattern as written (errors name offsets in it), then its Unicode-widened form
// (tok_regex.h), which is the one used.
static int compile_regex(Tokenizer *t, PreTok *p, const char *pattern, size_t len, const char *field, LwError *err) {
    int ec;
    PCRE2_SIZE eo;
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)pattern, len, PCRE2_UTF | PCRE2_UCP, &ec, &eo, NULL);
    if (!re) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(ec, msg, sizeof msg);
        return lw_err(err, "the pattern must be a regex PCRE2 accepts (Perl/Oniguruma syntax)",
                      "%s: %s.pattern.Regex: %s at offset %zu", t->source, field, (char *)msg, (size_t)eo);
    }
    pcre2_code_free(re);
    size_t wlen;
    char *wide = tok_regex_widen(pattern, len, &wlen);
    p->re = pcre2_compile((PCRE2_SPTR)wide, wlen, PCRE2_UTF | PCRE2_UCP, &ec, &eo, NULL);
    free(wide);
    LW_ASSERT(p->re); // only classes were extended
    pcre2_jit_compile(p->re, PCRE2_JIT_COMPLETE); // falls back to the interpreter when JIT is unavailable
    t->has_regex = 1;
    return 0;
}

static PreTok *pre_new(Tokenizer *t, const char *field, LwError *err) {
    if (t->n_pre == MAX_STAGES) {
        lw_err(err, "at most 16 pre-tokenizer stages", "%s: %s: too many pre-tokenizers", t->source, field);
        return NULL;
    }
    PreTok *p = &t->pre[t->n_pre++];
    memset(p, 0, sizeof *p);
    return p;
}

// Metaspace options (pre-tokenizer and decoder): replacement character, prepend_scheme (or the
// older add_prefix_space: true = always, false = never), split (default true).
static int metaspace_options(Tokenizer *t, json_t *n, const char *field, char **rep, size_t *replen, PrependScheme *ps,
                             int *split, LwError *err) {
    json_t *r = json_object_get(n, "replacement");
    const char *rs = json_is_string(r) ? json_string_value(r) : NULL;
    utf8proc_int32_t cp;
    if (!rs || !*rs || utf8proc_iterate((const utf8proc_uint8_t *)rs, -1, &cp) != (long)strlen(rs))
        return lw_err(err, "Metaspace needs a one-character replacement", "%s: %s.replacement: missing or not one character", t->source, field);
    const char *sch = jstr(n, "prepend_scheme");
    if (sch) {
        if (!strcmp(sch, "always")) *ps = PREPEND_ALWAYS;
        else if (!strcmp(sch, "first")) *ps = PREPEND_FIRST;
        else if (!strcmp(sch, "never")) *ps = PREPEND_NEVER;
        else return lw_err(err, "prepend_scheme is always, first or never", "%s: %s.prepend_scheme: '%s'", t->source, field, sch);
    } else {
        json_t *aps = json_object_get(n, "add_prefix_space");
        *ps = !aps || json_is_true(aps) ? PREPEND_ALWAYS : PREPEND_NEVER;
    }
    json_t *sp = json_object_get(n, "split");
    if (split) *split = !sp || json_is_true(sp);
    *replen = strlen(rs);
    *rep = dupn(rs, *replen);
    return 0;
}

static const char GPT2_REGEX[] = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

static int load_pretokenizer(Tokenizer *t, json_t *n, const char *field, LwError *err) {
    if (!n || json_is_null(n)) return 0;
    const char *type = jstr(n, "type");
    char sub[256];
    if (type && !strcmp(type, "Sequence")) {
        json_t *arr = json_object_get(n, "pretokenizers");
        if (!json_is_array(arr)) return lw_err(err, "Sequence needs a pretokenizers array", "%s: %s.pretokenizers: missing", t->source, field);
        for (size_t i = 0; i < json_array_size(arr); i++) {
            snprintf(sub, sizeof sub, "%s.pretokenizers[%zu]", field, i);
            if (load_pretokenizer(t, json_array_get(arr, i), sub, err)) return -1;
        }
        return 0;
    }
    if (type && !strcmp(type, "Split")) {
        const char *s, *re;
        if (pattern_get(n, t->source, field, &s, &re, err)) return -1;
        if (json_is_true(json_object_get(n, "invert")))
            return lw_err(err, "only invert = false is implemented", "%s: %s.invert: true is not implemented", t->source, field);
        const char *b = jstr(n, "behavior");
        SplitBehavior beh;
        if (b && !strcmp(b, "Isolated")) beh = SPLIT_ISOLATED;
        else if (b && !strcmp(b, "Removed")) beh = SPLIT_REMOVED;
        else if (b && !strcmp(b, "MergedWithPrevious")) beh = SPLIT_MERGED_PREV;
        else if (b && !strcmp(b, "MergedWithNext")) beh = SPLIT_MERGED_NEXT;
        else if (b && !strcmp(b, "Contiguous")) beh = SPLIT_CONTIGUOUS;
        else return lw_err(err, "behaviors: Isolated, Removed, MergedWithPrevious, MergedWithNext, Contiguous",
                           "%s: %s.behavior: '%s' is not implemented", t->source, field, b ? b : "(missing)");
        PreTok *p = pre_new(t, field, err);
        if (!p) return -1;
        p->behavior = beh;
        if (s) {
            if (!*s) return lw_err(err, "an empty pattern would match everywhere", "%s: %s.pattern: empty String", t->source, field);
            p->kind = PRE_SPLIT_STRING;
            p->litlen = strlen(s);
            p->lit = dupn(s, p->litlen);
            return 0;
        }
        p->kind = PRE_SPLIT_REGEX;
        snprintf(sub, sizeof sub, "%s", field);
        return compile_regex(t, p, re, strlen(re), sub, err);
    }
    if (type && !strcmp(type, "ByteLevel")) {
        if (json_is_true(json_object_get(n, "add_prefix_space")))
            return lw_err(err, "only add_prefix_space = false is implemented for the ByteLevel pre-tokenizer",
                          "%s: %s.add_prefix_space: true is not implemented", t->source, field);
        json_t *ur = json_object_get(n, "use_regex");
        if (!ur || json_is_true(ur)) { // HF default: true (the GPT-2 split before the byte mapping)
            PreTok *p = pre_new(t, field, err);
            if (!p) return -1;
            p->kind = PRE_SPLIT_REGEX;
            p->behavior = SPLIT_ISOLATED;
            if (compile_regex(t, p, GPT2_REGEX, sizeof GPT2_REGEX - 1, field, err)) return -1;
        }
        PreTok *p = pre_new(t, field, err);
        if (!p) return -1;
        p->kind = PRE_BYTELEVEL;
        return 0;
    }
    if (type && !strcmp(type, "Digits")) {
        // HF Digits: runs of char::is_numeric (general category N), isolated; one piece per
        // digit with individual_digits.
        PreTok *p = pre_new(t, field, err);
        if (!p) return -1;
        p->kind = PRE_SPLIT_REGEX;
        p->behavior = SPLIT_ISOLATED;
        const char *pat = json_is_true(json_object_get(n, "individual_digits")) ? "\\p{N}" : "\\p{N}+";
        return compile_regex(t, p, pat, strlen(pat), field, err);
    }
    if (type && !strcmp(type, "Metaspace")) {
        PreTok *p = pre_new(t, field, err);
        if (!p) return -1;
        p->kind = PRE_METASPACE;
        return metaspace_options(t, n, field, &p->lit, &p->litlen, &p->prepend, &p->split, err);
    }
    return refuse_type(err, t->source, field, type, "implemented pre-tokenizers: Split, ByteLevel, Digits, Metaspace, Sequence");
}

static int load_decoder(Tokenizer *t, json_t *n, const char *field, LwError *err) {
    if (!n || json_is_null(n)) return 0;
    t->has_decoder = 1;
    const char *type = jstr(n, "type");
    char sub[256];
    if (type && !strcmp(type, "Sequence")) {
        json_t *arr = json_object_get(n, "decoders");
        if (!json_is_array(arr)) return lw_err(err, "Sequence needs a decoders array", "%s: %s.decoders: missing", t->source, field);
        for (size_t i = 0; i < json_array_size(arr); i++) {
            snprintf(sub, sizeof sub, "%s.decoders[%zu]", field, i);
            if (load_decoder(t, json_array_get(arr, i), sub, err)) return -1;
        }
        return 0;
    }
    if (t->n_dec == MAX_STAGES) return lw_err(err, "at most 16 decoders", "%s: %s: too many decoders", t->source, field);
    Decoder *d = &t->dec[t->n_dec];
    memset(d, 0, sizeof *d);
    if (type && !strcmp(type, "ByteLevel")) d->kind = DEC_BYTELEVEL;
    else if (type && !strcmp(type, "ByteFallback")) d->kind = DEC_BYTEFALLBACK;
    else if (type && !strcmp(type, "Fuse")) d->kind = DEC_FUSE;
    else if (type && !strcmp(type, "Replace")) {
        const char *s, *re;
        if (pattern_get(n, t->source, field, &s, &re, err)) return -1;
        if (!s || !*s) return lw_err(err, "only non-empty literal {\"String\": ...} patterns are implemented", "%s: %s.pattern: not implemented", t->source, field);
        json_t *c = json_object_get(n, "content");
        if (!json_is_string(c)) return lw_err(err, "Replace needs a content string", "%s: %s.content: missing", t->source, field);
        d->kind = DEC_REPLACE;
        d->alen = strlen(s);
        d->a = dupn(s, d->alen);
        d->blen = json_string_length(c);
        d->b = dupn(json_string_value(c), d->blen);
    } else if (type && !strcmp(type, "Strip")) {
        json_t *c = json_object_get(n, "content");
        const char *cs = json_is_string(c) ? json_string_value(c) : NULL;
        if (!cs || !*cs || utf8proc_iterate((const utf8proc_uint8_t *)cs, -1, &(utf8proc_int32_t){0}) != (long)strlen(cs))
            return lw_err(err, "Strip content must be one character", "%s: %s.content: not one character", t->source, field);
        json_t *st = json_object_get(n, "start"), *sp = json_object_get(n, "stop");
        if (!json_is_integer(st) || !json_is_integer(sp) || json_integer_value(st) < 0 || json_integer_value(sp) < 0)
            return lw_err(err, "Strip needs integer start and stop >= 0", "%s: %s.start/stop: missing or negative", t->source, field);
        d->kind = DEC_STRIP;
        d->alen = strlen(cs);
        d->a = dupn(cs, d->alen);
        d->start = (int)json_integer_value(st);
        d->stop = (int)json_integer_value(sp);
    } else if (type && !strcmp(type, "Metaspace")) {
        d->kind = DEC_METASPACE;
        if (metaspace_options(t, n, field, &d->a, &d->alen, &d->prepend, NULL, err)) return -1;
    } else {
        return refuse_type(err, t->source, field, type, "implemented decoders: ByteLevel, Replace (String), ByteFallback, Fuse, Strip, Metaspace, Sequence");
    }
    t->n_dec++;
    return 0;
}

static int load_postprocessor(Tokenizer *t, json_t *n, const char *field, LwError *err) {
    if (!n || json_is_null(n)) return 0;
    const char *type = jstr(n, "type");
    char sub[256];
    if (type && !strcmp(type, "Sequence")) {
        json_t *arr = json_object_get(n, "processors");
        if (!json_is_array(arr)) return lw_err(err, "Sequence needs a processors array", "%s: %s.processors: missing", t->source, field);
        for (size_t i = 0; i < json_array_size(arr); i++) {
            snprintf(sub, sizeof sub, "%s.processors[%zu]", field, i);
            if (load_postprocessor(t, json_array_get(arr, i), sub, err)) return -1;
        }
        return 0;
    }
    if (type && !strcmp(type, "ByteLevel")) return 0; // offsets only; ids unchanged
    if (type && !strcmp(type, "TemplateProcessing")) {
        if (t->n_tpl_pre || t->n_tpl_post)
            return lw_err(err, "one TemplateProcessing per file", "%s: %s: a second TemplateProcessing", t->source, field);
        json_t *single = json_object_get(n, "single"), *specials = json_object_get(n, "special_tokens");
        if (!json_is_array(single)) return lw_err(err, "TemplateProcessing needs a single template", "%s: %s.single: missing", t->source, field);
        int seen_a = 0;
        for (size_t i = 0; i < json_array_size(single); i++) {
            json_t *it = json_array_get(single, i);
            json_t *sp = json_object_get(it, "SpecialToken"), *sq = json_object_get(it, "Sequence");
            if (sq) {
                const char *id = jstr(sq, "id");
                if (!id || strcmp(id, "A") || seen_a)
                    return lw_err(err, "the single template holds $A once", "%s: %s.single[%zu]: sequence '%s'", t->source, field, i, id ? id : "?");
                seen_a = 1;
                continue;
            }
            const char *name = sp ? jstr(sp, "id") : NULL;
            json_t *def = name ? json_object_get(specials, name) : NULL;
            json_t *ids = def ? json_object_get(def, "ids") : NULL;
            if (!json_is_array(ids))
                return lw_err(err, "each SpecialToken must be defined in special_tokens with ids", "%s: %s.single[%zu]: special token '%s' undefined", t->source, field, i, name ? name : "?");
            for (size_t k = 0; k < json_array_size(ids); k++) {
                json_t *v = json_array_get(ids, k);
                if (!json_is_integer(v) || json_integer_value(v) < 0)
                    return lw_err(err, "special token ids are non-negative integers", "%s: %s.special_tokens.%s.ids[%zu]: not an id", t->source, field, name, k);
                int32_t id = (int32_t)json_integer_value(v);
                if (!seen_a) {
                    t->tpl_pre = xrealloc(t->tpl_pre, (t->n_tpl_pre + 1) * sizeof *t->tpl_pre);
                    t->tpl_pre[t->n_tpl_pre++] = id;
                } else {
                    t->tpl_post = xrealloc(t->tpl_post, (t->n_tpl_post + 1) * sizeof *t->tpl_post);
                    t->tpl_post[t->n_tpl_post++] = id;
                }
            }
        }
        if (!seen_a) return lw_err(err, "the single template must contain $A", "%s: %s.single: no $A", t->source, field);
        return 0;
    }
    return refuse_type(err, t->source, field, type, "implemented post-processors: TemplateProcessing, ByteLevel, Sequence");
}

// ---------------------------------------------------------------------------- added tokens

static int32_t trie_child(const Tokenizer *t, int32_t node, unsigned char b) {
    uint64_t key = ((uint64_t)node << 8 | b) + 1;
    uint32_t j = (uint32_t)(key * 0x9E3779B97F4A7C15ull >> 32) & t->trie_mask;
    for (;;) {
        if (t->trie_keys[j] == key) return t->trie_child[j];
        if (t->trie_keys[j] == 0) return -1;
        j = (j + 1) & t->trie_mask;
    }
}

static void trie_build(Tokenizer *t) {
    size_t total = 1;
    for (int i = 0; i < t->n_added; i++) total += t->added[i].len;
    uint32_t cap = 64;
    while (cap < 2 * total) cap <<= 1;
    t->trie_mask = cap - 1;
    t->trie_keys = xcalloc(cap, sizeof *t->trie_keys);
    t->trie_child = xmalloc(cap * sizeof *t->trie_child);
    t->trie_term = xmalloc(total * sizeof *t->trie_term);
    t->trie_term[0] = -1;
    t->trie_nodes = 1;
    for (int i = 0; i < t->n_added; i++) {
        const AddedToken *a = &t->added[i];
        if (a->len == 0) continue;
        t->first_byte[(unsigned char)a->content[0]] = 1;
        int32_t node = 0;
        for (size_t k = 0; k < a->len; k++) {
            unsigned char b = (unsigned char)a->content[k];
            int32_t c = trie_child(t, node, b);
            if (c < 0) {
                c = t->trie_nodes++;
                t->trie_term[c] = -1;
                uint64_t key = ((uint64_t)node << 8 | b) + 1;
                uint32_t j = (uint32_t)(key * 0x9E3779B97F4A7C15ull >> 32) & t->trie_mask;
                while (t->trie_keys[j]) j = (j + 1) & t->trie_mask;
                t->trie_keys[j] = key;
                t->trie_child[j] = c;
            }
            node = c;
        }
        t->trie_term[node] = a->id; // a repeated content keeps the last id
    }
}

// Longest added token starting at s[0..n); returns its byte length (0 = none) and *id.
static size_t added_match(const Tokenizer *t, const char *s, size_t n, int32_t *id) {
    size_t best = 0;
    int32_t node = 0;
    for (size_t k = 0; k < n; k++) {
        node = trie_child(t, node, (unsigned char)s[k]);
        if (node < 0) break;
        if (t->trie_term[node] >= 0) {
            best = k + 1;
            *id = t->trie_term[node];
        }
    }
    return best;
}

static int load_added(Tokenizer *t, json_t *arr, LwError *err) {
    if (!arr || json_is_null(arr)) return 0;
    if (!json_is_array(arr)) return lw_err(err, "added_tokens must be an array", "%s: added_tokens: not an array", t->source);
    t->n_added = (int)json_array_size(arr);
    t->added = xcalloc(t->n_added + 1, sizeof *t->added);
    for (int i = 0; i < t->n_added; i++) {
        json_t *a = json_array_get(arr, i);
        json_t *id = json_object_get(a, "id"), *c = json_object_get(a, "content");
        if (!json_is_integer(id) || json_integer_value(id) < 0 || json_integer_value(id) >= 16 * 1024 * 1024 || !json_is_string(c))
            return lw_err(err, "each added token needs an integer id and a content string", "%s: added_tokens[%d]: id/content missing or invalid", t->source, i);
        static const char *const flags[] = {"normalized", "lstrip", "rstrip", "single_word"};
        for (int f = 0; f < 4; f++)
            if (json_is_true(json_object_get(a, flags[f])))
                return lw_err(err, "only added tokens with normalized/lstrip/rstrip/single_word = false are implemented",
                              "%s: added_tokens[%d] (\"%s\"): %s = true is not implemented", t->source, i, json_string_value(c), flags[f]);
        t->added[i].id = (int32_t)json_integer_value(id);
        t->added[i].len = json_string_length(c);
        t->added[i].content = dupn(json_string_value(c), t->added[i].len);
        t->added[i].special = json_is_true(json_object_get(a, "special"));
    }
    trie_build(t);
    return 0;
}

// ---------------------------------------------------------------------------- model

static int load_model_options(Tokenizer *t, json_t *m, LwError *err) {
    const char *type = jstr(m, "type");
    if (type ? strcmp(type, "BPE") != 0 : !json_object_get(m, "merges"))
        return refuse_type(err, t->source, "model.type", type, "implemented models: BPE");
    json_t *d = json_object_get(m, "dropout");
    if (d && !json_is_null(d) && !(json_is_number(d) && json_number_value(d) == 0.0))
        return lw_err(err, "BPE dropout is random; only dropout = null is implemented", "%s: model.dropout: not null", t->source);
    const char *csp = jstr(m, "continuing_subword_prefix"), *eow = jstr(m, "end_of_word_suffix");
    if ((csp && *csp) || (eow && *eow))
        return lw_err(err, "continuing_subword_prefix / end_of_word_suffix must be null or \"\"",
                      "%s: model.%s: \"%s\" is not implemented", t->source, csp && *csp ? "continuing_subword_prefix" : "end_of_word_suffix",
                      csp && *csp ? csp : eow);
    t->bpe.ignore_merges = json_is_true(json_object_get(m, "ignore_merges"));
    t->bpe.byte_fallback = json_is_true(json_object_get(m, "byte_fallback"));
    t->bpe.fuse_unk = json_is_true(json_object_get(m, "fuse_unk"));
    return bpe_finish(&t->bpe, jstr(m, "unk_token"), t->source, err);
}

static int load_vocab_json(Tokenizer *t, json_t *m, LwError *err) {
    json_t *vocab = json_object_get(m, "vocab"), *merges = json_object_get(m, "merges");
    if (!json_is_object(vocab)) return lw_err(err, "a BPE model needs a vocab object", "%s: model.vocab: missing or not an object", t->source);
    if (merges && !json_is_array(merges)) return lw_err(err, "merges must be an array", "%s: model.merges: not an array", t->source);
    size_t nv = json_object_size(vocab), nm = json_array_size(merges);
    bpe_init(&t->bpe, nv, nm, nv * 8);
    void *it = json_object_iter(vocab);
    while (it) {
        const char *k = json_object_iter_key(it);
        size_t klen = json_object_iter_key_len(it);
        json_t *v = json_object_iter_value(it);
        if (!json_is_integer(v))
            return lw_err(err, "vocabulary values are integer ids", "%s: model.vocab.\"%.40s\": not an integer", t->source, k);
        if (bpe_add_token(&t->bpe, k, klen, json_integer_value(v), t->source, err)) return -1;
        it = json_object_iter_next(vocab, it);
    }
    for (size_t i = 0; i < nm; i++) {
        json_t *e = json_array_get(merges, i);
        const char *a, *b;
        size_t alen, blen;
        if (json_is_string(e)) {
            // legacy "a b" form: split at the first space
            a = json_string_value(e);
            const char *sp = memchr(a, ' ', json_string_length(e));
            if (!sp) return lw_err(err, "merges are \"a b\" strings or [\"a\", \"b\"] pairs", "%s: model.merges[%zu]: no space in \"%s\"", t->source, i, a);
            alen = (size_t)(sp - a);
            b = sp + 1;
            blen = json_string_length(e) - alen - 1;
        } else if (json_is_array(e) && json_array_size(e) == 2 && json_is_string(json_array_get(e, 0)) && json_is_string(json_array_get(e, 1))) {
            a = json_string_value(json_array_get(e, 0));
            alen = json_string_length(json_array_get(e, 0));
            b = json_string_value(json_array_get(e, 1));
            blen = json_string_length(json_array_get(e, 1));
        } else {
            return lw_err(err, "merges are \"a b\" strings or [\"a\", \"b\"] pairs", "%s: model.merges[%zu]: malformed", t->source, i);
        }
        if (bpe_add_merge(&t->bpe, a, alen, b, blen, (int)i, t->source, err)) return -1;
    }
    return 0;
}

// Builds everything but the BPE tables, which `pre` already holds when not NULL.
static Tokenizer *tok_build(json_t *root, const char *source, BpeModel *pre, LwError *err) {
    pthread_once(&g_bytes_once, bytes_table_init);
    Tokenizer *t = xcalloc(1, sizeof *t);
    pthread_mutex_init(&t->dec_lock, NULL);
    t->source = xstrdup(source);
    json_t *m = json_object_get(root, "model");
    int rc = 0;
    if (!json_is_object(root)) rc = lw_err(err, "a tokenizer.json is a JSON object", "%s: not a JSON object", source);
    else if (!json_is_object(m)) rc = lw_err(err, "a tokenizer.json has a model object", "%s: model: missing", source);
    if (!rc) {
        json_t *tr = json_object_get(root, "truncation"), *pd = json_object_get(root, "padding");
        if ((tr && !json_is_null(tr)) || (pd && !json_is_null(pd)))
            rc = lw_err(err, "truncation and padding change the ids; set them to null",
                        "%s: %s: not null (not implemented)", source, tr && !json_is_null(tr) ? "truncation" : "padding");
    }
    if (!rc) {
        if (pre) {
            t->bpe = *pre;
            memset(pre, 0, sizeof *pre);
        } else {
            rc = load_vocab_json(t, m, err);
        }
    }
    if (!rc) rc = load_model_options(t, m, err);
    if (!rc) rc = load_added(t, json_object_get(root, "added_tokens"), err);
    if (!rc) rc = load_normalizer(t, json_object_get(root, "normalizer"), "normalizer", err);
    if (!rc) rc = load_pretokenizer(t, json_object_get(root, "pre_tokenizer"), "pre_tokenizer", err);
    if (!rc) rc = load_postprocessor(t, json_object_get(root, "post_processor"), "post_processor", err);
    if (!rc) rc = load_decoder(t, json_object_get(root, "decoder"), "decoder", err);
    if (rc) {
        tok_free(t);
        return NULL;
    }
    t->n_ids = t->bpe.n_ids;
    for (int i = 0; i < t->n_added; i++)
        if (t->added[i].id >= t->n_ids) t->n_ids = t->added[i].id + 1;
    t->added_by_id = xmalloc((size_t)(t->n_ids + 1) * sizeof *t->added_by_id);
    memset(t->added_by_id, 0xff, (size_t)(t->n_ids + 1) * sizeof *t->added_by_id);
    for (int i = 0; i < t->n_added; i++) t->added_by_id[t->added[i].id] = i; // a repeated id keeps the last
    return t;
}

Tokenizer *tok_from_json(json_t *root, const char *source, LwError *err) {
    return tok_build(root, source, NULL, err);
}

Tokenizer *tok_load(const char *path, LwError *err) {
    BpeModel bpe;
    json_t *root = tok_json_load_fast(path, &bpe, err);
    if (!root) return NULL;
    double t0 = lw_now();
    Tokenizer *t = tok_build(root, path, bpe.vocab_slots ? &bpe : NULL, err);
    if (getenv("LW_TOK_TIMING")) fprintf(stderr, "tok_load %s: components %.3f s\n", path, lw_now() - t0);
    if (bpe.vocab_slots) bpe_free(&bpe);
    json_decref(root);
    return t;
}

void tok_free(Tokenizer *t) {
    if (!t) return;
    bpe_free(&t->bpe);
    for (int i = 0; i < t->n_norm; i++) free(t->norm[i].a), free(t->norm[i].b);
    for (int i = 0; i < t->n_pre; i++) {
        if (t->pre[i].re) pcre2_code_free(t->pre[i].re);
        free(t->pre[i].lit);
    }
    for (int i = 0; i < t->n_dec; i++) free(t->dec[i].a), free(t->dec[i].b);
    for (int i = 0; i < t->n_added; i++) free(t->added[i].content);
    free(t->added);
    free(t->added_by_id);
    free(t->trie_term);
    free(t->trie_keys);
    free(t->trie_child);
    free(t->tpl_pre);
    free(t->tpl_post);
    free(t->dec_arena);
    free(t->dec_off);
    pthread_mutex_destroy(&t->dec_lock);
    free(t->source);
    free(t);
}

// ---------------------------------------------------------------------------- encoding

// Per-call cache of BPE results by word (HF caches words too): most words of a long text repeat.
typedef struct {
    uint64_t h;
    uint32_t key_off, key_len, ids_off, ids_n;
} WordCacheSlot;
enum { WORD_CACHE_SLOTS = 1 << 15, WORD_CACHE_MAX_BYTES = 128 };

typedef struct {
    const Tokenizer *t;
    IdVec *out;
    BpeScratch bpe;
    WordCacheSlot *cache;
    size_t cache_used;
    Buf cache_keys;
    IdVec cache_ids;
    Buf stage_buf[MAX_STAGES];   // ByteLevel output per stage
    PCRE2_SIZE *spans[MAX_STAGES]; // (start, end, is_match) triples per stage
    size_t spans_cap[MAX_STAGES];
    pcre2_match_data *md;
    int regex_rc, regex_stage; // a PCRE2 failure other than "no match" (limits): encode fails
    Buf norm_a, norm_b;
} EncodeCtx;

static void pretok_run(EncodeCtx *c, int stage, const char *s, size_t n, int at_start);

// Emits the pieces of one Split stage according to its behavior.
static void split_emit(EncodeCtx *c, int stage, const char *s, const PCRE2_SIZE *sp, size_t nsp, int at_start) {
    const PreTok *p = &c->t->pre[stage];
    // sp: triples (start, end, is_match), covering s in order, none empty
    switch (p->behavior) {
    case SPLIT_ISOLATED:
        for (size_t i = 0; i < nsp; i++) pretok_run(c, stage + 1, s + sp[3 * i], sp[3 * i + 1] - sp[3 * i], at_start && sp[3 * i] == 0);
        break;
    case SPLIT_REMOVED:
        for (size_t i = 0; i < nsp; i++)
            if (!sp[3 * i + 2]) pretok_run(c, stage + 1, s + sp[3 * i], sp[3 * i + 1] - sp[3 * i], at_start && sp[3 * i] == 0);
        break;
    case SPLIT_MERGED_PREV:
    case SPLIT_CONTIGUOUS: {
        // HF: a match joins the previous piece when that one was not a match (MergedWithPrevious);
        // Contiguous joins runs of equal kind.
        size_t st = 0, en = 0;
        int have = 0, prev_match = 0;
        for (size_t i = 0; i < nsp; i++) {
            int m = (int)sp[3 * i + 2];
            int join = p->behavior == SPLIT_MERGED_PREV ? (m && !prev_match) : (m == prev_match);
            if (join && have) en = sp[3 * i + 1];
            else {
                if (have) pretok_run(c, stage + 1, s + st, en - st, at_start && st == 0);
                st = sp[3 * i];
                en = sp[3 * i + 1];
                have = 1;
            }
            prev_match = m;
        }
        if (have) pretok_run(c, stage + 1, s + st, en - st, at_start && st == 0);
        break;
    }
    case SPLIT_MERGED_NEXT: {
        // HF folds from the right: a match joins the following piece when that one was not a match.
        // Walk backwards to find the piece boundaries, then emit in order.
        size_t nb = 0;
        size_t *starts = xmalloc((nsp + 1) * sizeof *starts);
        int prev_match = 0, have = 0;
        for (size_t i = nsp; i-- > 0;) {
            int m = (int)sp[3 * i + 2];
            if (m && !prev_match && have) starts[nb - 1] = sp[3 * i];
            else starts[nb++] = sp[3 * i], have = 1;
            prev_match = m;
        }
        size_t end = sp[3 * (nsp - 1) + 1];
        for (size_t k = nb; k-- > 0;) {
            size_t st = starts[k], en = k ? starts[k - 1] : end;
            pretok_run(c, stage + 1, s + st, en - st, at_start && st == 0);
        }
        free(starts);
        break;
    }
    }
}

static void spans_add(EncodeCtx *c, int stage, size_t *n, size_t a, size_t b, int m) {
    if (a == b) return;
    if (3 * (*n + 1) > c->spans_cap[stage]) {
        c->spans_cap[stage] = c->spans_cap[stage] ? c->spans_cap[stage] * 2 : 96;
        c->spans[stage] = xrealloc(c->spans[stage], c->spans_cap[stage] * sizeof(PCRE2_SIZE));
    }
    PCRE2_SIZE *x = c->spans[stage] + 3 * *n;
    x[0] = a, x[1] = b, x[2] = (PCRE2_SIZE)m;
    (*n)++;
}

static void pretok_run(EncodeCtx *c, int stage, const char *s, size_t n, int at_start) {
    if (n == 0) return;
    const Tokenizer *t = c->t;
    if (stage == t->n_pre) {
        if (n > WORD_CACHE_MAX_BYTES) {
            bpe_encode_word(&t->bpe, s, n, &c->bpe, c->out);
            return;
        }
        if (!c->cache) c->cache = xcalloc(WORD_CACHE_SLOTS, sizeof *c->cache);
        uint64_t h = tok_hash_bytes(s, n) | 1; // h = 0 marks an empty slot
        uint32_t j = (uint32_t)h & (WORD_CACHE_SLOTS - 1);
        for (;; j = (j + 1) & (WORD_CACHE_SLOTS - 1)) {
            WordCacheSlot *e = &c->cache[j];
            if (!e->h) break;
            if (e->h == h && e->key_len == n && !memcmp(c->cache_keys.p + e->key_off, s, n)) {
                for (uint32_t k = 0; k < e->ids_n; k++) idvec_push(c->out, c->cache_ids.v[e->ids_off + k]);
                return;
            }
        }
        size_t n0 = c->out->n;
        bpe_encode_word(&t->bpe, s, n, &c->bpe, c->out);
        if (c->cache_used >= WORD_CACHE_SLOTS / 2) { // full: start over
            memset(c->cache, 0, WORD_CACHE_SLOTS * sizeof *c->cache);
            c->cache_used = 0;
            c->cache_keys.n = 0;
            c->cache_ids.n = 0;
            j = (uint32_t)h & (WORD_CACHE_SLOTS - 1);
        }
        WordCacheSlot *e = &c->cache[j];
        e->h = h;
        e->key_off = (uint32_t)c->cache_keys.n;
        e->key_len = (uint32_t)n;
        e->ids_off = (uint32_t)c->cache_ids.n;
        e->ids_n = (uint32_t)(c->out->n - n0);
        buf_add(&c->cache_keys, s, n);
        for (size_t k = n0; k < c->out->n; k++) idvec_push(&c->cache_ids, c->out->v[k]);
        c->cache_used++;
        return;
    }
    const PreTok *p = &t->pre[stage];
    if (p->kind == PRE_BYTELEVEL) {
        Buf *b = &c->stage_buf[stage];
        b->n = 0;
        buf_reserve(b, 2 * n);
        for (size_t i = 0; i < n; i++) {
            unsigned char x = (unsigned char)s[i];
            memcpy(b->p + b->n, g_byte_char[x], g_byte_char_len[x]);
            b->n += g_byte_char_len[x];
        }
        pretok_run(c, stage + 1, b->p, b->n, at_start);
        return;
    }
    if (p->kind == PRE_METASPACE) {
        // HF Metaspace: spaces -> replacement; prepend it (always / first = only on the piece at
        // original offset 0) unless the piece starts with it; split keeps each replacement with
        // the text after it (MergedWithNext).
        Buf *b = &c->stage_buf[stage];
        replace_all(s, n, " ", 1, p->lit, p->litlen, b);
        int starts = b->n >= p->litlen && !memcmp(b->p, p->lit, p->litlen);
        if (!starts && (p->prepend == PREPEND_ALWAYS || (p->prepend == PREPEND_FIRST && at_start))) {
            buf_reserve(b, p->litlen);
            memmove(b->p + p->litlen, b->p, b->n + 1);
            memcpy(b->p, p->lit, p->litlen);
            b->n += p->litlen;
        }
        if (!p->split) {
            pretok_run(c, stage + 1, b->p, b->n, at_start);
            return;
        }
        // pieces start at each replacement character (the buffer is this stage's own: deeper
        // stages use their own buffers)
        size_t st = 0;
        for (size_t i = p->litlen; i + p->litlen <= b->n; i++) {
            if (memcmp(b->p + i, p->lit, p->litlen)) continue;
            pretok_run(c, stage + 1, b->p + st, i - st, at_start && st == 0);
            st = i;
            i += p->litlen - 1;
        }
        pretok_run(c, stage + 1, b->p + st, b->n - st, at_start && st == 0);
        return;
    }
    size_t nsp = 0, pos = 0;
    if (p->kind == PRE_SPLIT_STRING) {
        while (pos < n) {
            const char *hit = p->litlen <= n - pos ? memmem(s + pos, n - pos, p->lit, p->litlen) : NULL;
            if (!hit) break;
            size_t h = (size_t)(hit - s);
            spans_add(c, stage, &nsp, pos, h, 0);
            spans_add(c, stage, &nsp, h, h + p->litlen, 1);
            pos = h + p->litlen;
        }
    } else {
        // Regex: HF find_matches — matches and the gaps between them; empty matches are skipped.
        size_t start = 0;
        while (start <= n) {
            int rc = pcre2_match(p->re, (PCRE2_SPTR)s, n, start, PCRE2_NO_UTF_CHECK, c->md, NULL);
            if (rc == PCRE2_ERROR_NOMATCH) break;
            if (rc < 0) { // never tokenize the rest as one gap: report it
                if (!c->regex_rc) c->regex_rc = rc, c->regex_stage = stage;
                return;
            }
            PCRE2_SIZE *ov = pcre2_get_ovector_pointer(c->md);
            size_t a = ov[0], b = ov[1];
            if (a == b) { // zero-length match: advance one character
                if (a >= n) break;
                start = a + 1;
                while (start < n && ((unsigned char)s[start] & 0xC0) == 0x80) start++;
                continue;
            }
            spans_add(c, stage, &nsp, pos, a, 0);
            spans_add(c, stage, &nsp, a, b, 1);
            pos = start = b;
        }
    }
    spans_add(c, stage, &nsp, pos, n, 0);
    // spans of this stage may be overwritten by deeper stages only at deeper indices: safe.
    split_emit(c, stage, s, c->spans[stage], nsp, at_start);
}

// Normalizes one segment (between added tokens); returns a pointer into c's buffers or into s.
static const char *normalize(EncodeCtx *c, const char *s, size_t n, size_t *out_len) {
    const Tokenizer *t = c->t;
    const char *cur = s;
    size_t len = n;
    Buf *bufs[2] = {&c->norm_a, &c->norm_b};
    int which = 0;
    for (int i = 0; i < t->n_norm; i++) {
        const Normalizer *z = &t->norm[i];
        Buf *o = bufs[which];
        if (z->kind == NORM_NFC) {
            size_t k = 0;
            while (k < len && (unsigned char)cur[k] < 0x80) k++;
            if (k == len) continue; // ASCII is NFC already
            utf8proc_uint8_t *dst = NULL;
            utf8proc_ssize_t r = utf8proc_map((const utf8proc_uint8_t *)cur, (utf8proc_ssize_t)len, &dst,
                                              UTF8PROC_STABLE | UTF8PROC_COMPOSE);
            LW_ASSERT(r >= 0); // input was validated as UTF-8
            o->n = 0;
            buf_add(o, dst, (size_t)r);
            free(dst);
        } else if (z->kind == NORM_PREPEND) {
            if (len == 0) continue;
            o->n = 0;
            buf_add(o, z->a, z->alen);
            buf_add(o, cur, len);
        } else {
            replace_all(cur, len, z->a, z->alen, z->b, z->blen, o);
        }
        cur = o->p;
        len = o->n;
        which ^= 1;
    }
    *out_len = len;
    return cur;
}

// at_start: the segment begins at offset 0 of the input (Metaspace prepend_scheme "first").
static void encode_segment(EncodeCtx *c, const char *s, size_t n, int at_start) {
    if (n == 0) return;
    size_t len;
    const char *z = normalize(c, s, n, &len);
    pretok_run(c, 0, z, len, at_start);
}

int tok_encode(const Tokenizer *t, const char *text, size_t len, int add_special, int32_t **ids, LwError *err) {
    *ids = NULL;
    long bad = tok_utf8_invalid_at((const unsigned char *)text, len);
    if (bad >= 0)
        return lw_err(err, "the text must be valid UTF-8", "%s: input text: invalid UTF-8 at byte offset %ld (byte 0x%02X)",
                      t->source, bad, (unsigned char)text[bad]);
    IdVec out = {0};
    EncodeCtx c = {.t = t, .out = &out};
    c.md = pcre2_match_data_create(1, NULL);
    if (t->has_regex && !__atomic_load_n(&t->warned_unicode, __ATOMIC_RELAXED)) {
        // The regex classes know Unicode 15.0 (tok_regex.h), HF's Oniguruma Unicode 16: a letter,
        // digit or mark assigned since then falls in other classes here, and the split can differ
        // next to it. Said once per tokenizer; the ids are still produced.
        long at = tok_regex_first_unassigned(text, len);
        if (at >= 0) {
            utf8proc_int32_t cp;
            utf8proc_iterate((const utf8proc_uint8_t *)text + at, (utf8proc_ssize_t)(len - (size_t)at), &cp);
            __atomic_store_n(&((Tokenizer *)t)->warned_unicode, 1, __ATOMIC_RELAXED);
            lw_warn("%s: the text has U+%04X at byte offset %ld, a code point unassigned in the Unicode %s tables here; "
                    "if a later Unicode version assigns it, the pre-tokenizer may split it differently from HF (said once)",
                    t->source, (unsigned)cp, at, utf8proc_unicode_version());
        }
    }
    if (add_special)
        for (int i = 0; i < t->n_tpl_pre; i++) idvec_push(&out, t->tpl_pre[i]);
    size_t seg = 0;
    if (t->n_added) {
        for (size_t i = 0; i < len; i++) {
            if (!t->first_byte[(unsigned char)text[i]]) continue;
            int32_t id;
            size_t m = added_match(t, text + i, len - i, &id);
            if (!m) continue;
            encode_segment(&c, text + seg, i - seg, seg == 0);
            idvec_push(&out, id);
            seg = i + m;
            i = seg - 1;
        }
    }
    encode_segment(&c, text + seg, len - seg, seg == 0);
    if (add_special)
        for (int i = 0; i < t->n_tpl_post; i++) idvec_push(&out, t->tpl_post[i]);
    if (c.regex_rc) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(c.regex_rc, msg, sizeof msg);
        lw_err(err, "split the text into shorter pieces",
               "%s: pre-tokenizer stage %d: the regex engine failed on this text: %s", t->source, c.regex_stage, (char *)msg);
        free(out.v);
        out.v = NULL;
    }
    pcre2_match_data_free(c.md);
    bpe_scratch_free(&c.bpe);
    for (int i = 0; i < MAX_STAGES; i++) free(c.stage_buf[i].p), free(c.spans[i]);
    free(c.norm_a.p);
    free(c.norm_b.p);
    free(c.cache);
    free(c.cache_keys.p);
    free(c.cache_ids.v);
    if (c.regex_rc) return -1;
    if (!out.v) out.v = xmalloc(sizeof *out.v);
    *ids = out.v;
    return (int)out.n;
}

// ---------------------------------------------------------------------------- decoding

const char *tok_id_to_token(const Tokenizer *t, int32_t id) {
    if (id < 0 || id >= t->n_ids) return NULL;
    // HF looks at the added vocabulary first
    if (t->added_by_id[id] >= 0) return t->added[t->added_by_id[id]].content;
    if (id < t->bpe.n_ids && t->bpe.str_off[id] != UINT32_MAX) return t->bpe.arena + t->bpe.str_off[id];
    return NULL;
}

// Rust String::from_utf8_lossy: each maximal invalid subpart becomes one U+FFFD.
static void utf8_lossy(const unsigned char *s, size_t n, Buf *o) {
    size_t i = 0;
    while (i < n) {
        unsigned char c = s[i];
        if (c < 0x80) {
            buf_add(o, s + i, 1);
            i++;
            continue;
        }
        int need;
        unsigned char lo = 0x80, hi = 0xBF;
        if (c >= 0xC2 && c <= 0xDF) need = 1;
        else if (c == 0xE0) need = 2, lo = 0xA0;
        else if (c >= 0xE1 && c <= 0xEC) need = 2;
        else if (c == 0xED) need = 2, hi = 0x9F;
        else if (c >= 0xEE && c <= 0xEF) need = 2;
        else if (c == 0xF0) need = 3, lo = 0x90;
        else if (c >= 0xF1 && c <= 0xF3) need = 3;
        else if (c == 0xF4) need = 3, hi = 0x8F;
        else {
            buf_add(o, "\xEF\xBF\xBD", 3);
            i++;
            continue;
        }
        size_t k = 1;
        for (; k <= (size_t)need && i + k < n; k++) {
            unsigned char x = s[i + k];
            unsigned char l = k == 1 ? lo : 0x80, h = k == 1 ? hi : 0xBF;
            if (x < l || x > h) break;
        }
        if (k == (size_t)need + 1) buf_add(o, s + i, k);
        else buf_add(o, "\xEF\xBF\xBD", 3);
        i += k; // the lead byte and the continuation bytes that fit are consumed
    }
}

// One token through the decoder chain (HF decode_chain on a one-token list, then join).
static void decode_token(const Tokenizer *t, const char *tok, size_t n, Buf *o, Buf *tmp) {
    Buf cur = {0};
    buf_add(&cur, tok, n);
    if (!t->has_decoder) { // HF joins tokens with " "; one token stays itself
        buf_add(o, cur.p, cur.n);
        free(cur.p);
        return;
    }
    for (int i = 0; i < t->n_dec; i++) {
        const Decoder *d = &t->dec[i];
        tmp->n = 0;
        switch (d->kind) {
        case DEC_BYTELEVEL: {
            // every char through the byte table; a token with a char outside it keeps its UTF-8 bytes
            Buf bytes = {0};
            int ok = 1;
            for (size_t k = 0; k < cur.n && ok;) {
                utf8proc_int32_t cp;
                utf8proc_ssize_t l = utf8proc_iterate((const utf8proc_uint8_t *)cur.p + k, (utf8proc_ssize_t)(cur.n - k), &cp);
                if (l <= 0 || cp >= 512 || g_char_byte[cp] < 0) ok = 0;
                else {
                    unsigned char b = (unsigned char)g_char_byte[cp];
                    buf_add(&bytes, &b, 1);
                    k += (size_t)l;
                }
            }
            if (ok) utf8_lossy((const unsigned char *)bytes.p, bytes.n, tmp);
            else utf8_lossy((const unsigned char *)cur.p, cur.n, tmp);
            free(bytes.p);
            break;
        }
        case DEC_REPLACE:
            replace_all(cur.p, cur.n, d->a, d->alen, d->b, d->blen, tmp);
            break;
        case DEC_BYTEFALLBACK: {
            unsigned v;
            char tail;
            if (cur.n == 6 && !memcmp(cur.p, "<0x", 3) && cur.p[5] == '>' && sscanf(cur.p + 3, "%2x%c", &v, &tail) == 2 && tail == '>') {
                unsigned char b = (unsigned char)v;
                if (b < 0x80) buf_add(tmp, &b, 1);
                else buf_add(tmp, "\xEF\xBF\xBD", 3);
            } else {
                buf_add(tmp, cur.p, cur.n);
            }
            break;
        }
        case DEC_FUSE:
            buf_add(tmp, cur.p, cur.n);
            break;
        case DEC_METASPACE:
            // HF: in the first token (a single id is always the first) every replacement character
            // is dropped unless prepend_scheme is never; elsewhere it becomes a space.
            replace_all(cur.p, cur.n, d->a, d->alen, d->prepend != PREPEND_NEVER ? "" : " ", d->prepend != PREPEND_NEVER ? 0 : 1, tmp);
            break;
        case DEC_STRIP: {
            // HF Strip: skip up to `start` leading content chars; keep (byte length - cuts) chars
            size_t nch = 0, k = 0, start_cut = 0;
            utf8proc_int32_t want, cp;
            utf8proc_iterate((const utf8proc_uint8_t *)d->a, (utf8proc_ssize_t)d->alen, &want);
            // count chars and leading cut
            int leading = 1;
            while (k < cur.n) {
                utf8proc_ssize_t l = utf8proc_iterate((const utf8proc_uint8_t *)cur.p + k, (utf8proc_ssize_t)(cur.n - k), &cp);
                if (l <= 0) l = 1;
                if (leading && (int)nch < d->start && cp == want) start_cut++;
                else leading = 0;
                nch++;
                k += (size_t)l;
            }
            size_t stop_cut = 0;
            if (d->stop > 0) {
                // trailing: scan chars from the end
                size_t e = cur.n;
                while (e > 0 && (int)stop_cut < d->stop) {
                    size_t b = e - 1;
                    while (b > 0 && ((unsigned char)cur.p[b] & 0xC0) == 0x80) b--;
                    utf8proc_iterate((const utf8proc_uint8_t *)cur.p + b, (utf8proc_ssize_t)(e - b), &cp);
                    if (cp != want) break;
                    stop_cut++;
                    e = b;
                }
            }
            long keep = (long)cur.n - (long)start_cut - (long)stop_cut; // HF takes bytes-minus-cuts chars
            size_t idx = 0;
            k = 0;
            long taken = 0;
            while (k < cur.n) {
                utf8proc_ssize_t l = utf8proc_iterate((const utf8proc_uint8_t *)cur.p + k, (utf8proc_ssize_t)(cur.n - k), &cp);
                if (l <= 0) l = 1;
                if (idx >= start_cut && taken < keep) {
                    buf_add(tmp, cur.p + k, (size_t)l);
                    taken++;
                }
                idx++;
                k += (size_t)l;
            }
            break;
        }
        }
        cur.n = 0;
        buf_add(&cur, tmp->p ? tmp->p : "", tmp->n);
    }
    buf_add(o, cur.p ? cur.p : "", cur.n);
    free(cur.p);
}

static void decode_table_build(Tokenizer *t) {
    Buf arena = {0}, tmp = {0};
    t->dec_off = xmalloc((size_t)(t->n_ids + 1) * sizeof *t->dec_off);
    buf_add(&arena, "", 0);
    arena.p[0] = 0;
    arena.n = 1; // offset 0 = ""
    for (int32_t id = 0; id < t->n_ids; id++) {
        const char *tok = tok_id_to_token(t, id);
        if (!tok) {
            t->dec_off[id] = 0;
            continue;
        }
        size_t n = id < t->bpe.n_ids && t->bpe.str_off[id] != UINT32_MAX && tok == t->bpe.arena + t->bpe.str_off[id]
                       ? t->bpe.str_len[id] : strlen(tok);
        t->dec_off[id] = (uint32_t)arena.n;
        decode_token(t, tok, n, &arena, &tmp);
        buf_add(&arena, "\0", 1);
    }
    free(tmp.p);
    t->dec_arena = arena.p;
}

const char *tok_decode_one(const Tokenizer *t, int32_t id) {
    if (id < 0 || id >= t->n_ids) return "";
    Tokenizer *w = (Tokenizer *)t;
    if (!__atomic_load_n(&w->dec_ready, __ATOMIC_ACQUIRE)) {
        pthread_mutex_lock(&w->dec_lock);
        if (!w->dec_ready) {
            decode_table_build(w);
            __atomic_store_n(&w->dec_ready, 1, __ATOMIC_RELEASE);
        }
        pthread_mutex_unlock(&w->dec_lock);
    }
    return t->dec_arena + t->dec_off[id];
}

int tok_n_ids(const Tokenizer *t) { return t->n_ids; }

int tok_template_bos(const Tokenizer *t) { return t->n_tpl_pre ? t->tpl_pre[0] : -1; }

// ---------------------------------------------------------------------------- gold-answer alignment

int tok_align_answer(const Tokenizer *t, const char *prompt, const char *answer, TokAlign *out, LwError *err) {
    memset(out, 0, sizeof *out);
    out->first_id = -1;
    snprintf(out->variant, sizeof out->variant, "unknown");
    snprintf(out->status, sizeof out->status, "unresolved");
    size_t pl = strlen(prompt), al = strlen(answer);
    char *ws = xmalloc(pl + al + 2), *ns = xmalloc(pl + al + 1);
    memcpy(ws, prompt, pl);
    ws[pl] = ' ';
    memcpy(ws + pl + 1, answer, al);
    memcpy(ns, prompt, pl);
    memcpy(ns + pl, answer, al);
    int32_t *ctx = NULL, *a = NULL, *b = NULL;
    int nc = tok_encode(t, prompt, pl, 0, &ctx, err);
    int na = nc < 0 ? -1 : tok_encode(t, ws, pl + al + 1, 0, &a, err);
    int nb = na < 0 ? -1 : tok_encode(t, ns, pl + al, 0, &b, err);
    int rc = nb < 0 ? -1 : 0;
    if (!rc) {
        const int32_t *src = NULL;
        int n = 0;
        if (na > nc) src = a + nc, n = na - nc, snprintf(out->variant, sizeof out->variant, "with_space");
        else if (nb > nc) src = b + nc, n = nb - nc, snprintf(out->variant, sizeof out->variant, "no_space");
        if (src) {
            out->ok = 1;
            snprintf(out->status, sizeof out->status, "ok");
            out->n_answer_ids = n > 64 ? 64 : n;
            memcpy(out->answer_ids, src, out->n_answer_ids * sizeof *src);
            out->first_id = src[0];
        }
    }
    free(ctx), free(a), free(b), free(ws), free(ns);
    return rc;
}

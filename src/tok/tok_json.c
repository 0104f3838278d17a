// tok_json — fast path for the vocab and merges of a tokenizer.json (see tok_json.h).
#include "tok/tok_json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const char *p, *end;
    int bad; // set on anything the fast path does not handle: caller falls back to jansson
} Scan;

static void ws(Scan *s) {
    while (s->p < s->end && (*s->p == ' ' || *s->p == '\n' || *s->p == '\r' || *s->p == '\t')) s->p++;
}

static int expect(Scan *s, char c) {
    ws(s);
    if (s->p < s->end && *s->p == c) {
        s->p++;
        return 1;
    }
    s->bad = 1;
    return 0;
}

static int hex4(const char *p, unsigned *v) {
    *v = 0;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        *v <<= 4;
        if (c >= '0' && c <= '9') *v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f') *v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F') *v |= (unsigned)(c - 'A' + 10);
        else return 0;
    }
    return 1;
}

static size_t put_utf8(char *o, unsigned cp) {
    if (cp < 0x80) { o[0] = (char)cp; return 1; }
    if (cp < 0x800) { o[0] = (char)(0xC0 | cp >> 6); o[1] = (char)(0x80 | (cp & 0x3F)); return 2; }
    if (cp < 0x10000) {
        o[0] = (char)(0xE0 | cp >> 12); o[1] = (char)(0x80 | ((cp >> 6) & 0x3F)); o[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | cp >> 18); o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3F)); o[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

// Validates one multi-byte UTF-8 sequence at p (strict); returns its length or 0.
static int utf8_seq(const unsigned char *p, const unsigned char *end) {
    unsigned c = p[0];
    int n;
    unsigned cp;
    if (c >= 0xC2 && c <= 0xDF) n = 2, cp = c & 0x1F;
    else if (c >= 0xE0 && c <= 0xEF) n = 3, cp = c & 0x0F;
    else if (c >= 0xF0 && c <= 0xF4) n = 4, cp = c & 0x07;
    else return 0;
    if (end - p < n) return 0;
    for (int i = 1; i < n; i++) {
        if ((p[i] & 0xC0) != 0x80) return 0;
        cp = cp << 6 | (p[i] & 0x3F);
    }
    if ((n == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) || (n == 4 && (cp < 0x10000 || cp > 0x10FFFF))) return 0;
    return n;
}

// Parses a JSON string at s->p (after whitespace) into buf (capacity >= raw length); returns length.
static size_t str_parse(Scan *s, char *buf) {
    ws(s);
    if (s->p >= s->end || *s->p != '"') { s->bad = 1; return 0; }
    const unsigned char *p = (const unsigned char *)s->p + 1, *end = (const unsigned char *)s->end;
    size_t n = 0;
    while (p < end) {
        unsigned c = *p;
        if (c == '"') {
            s->p = (const char *)p + 1;
            return n;
        }
        if (c >= 0x20 && c < 0x80 && c != '\\') {
            buf[n++] = (char)c;
            p++;
        } else if (c >= 0x80) {
            int l = utf8_seq(p, end);
            if (!l) break;
            memcpy(buf + n, p, (size_t)l);
            n += (size_t)l;
            p += l;
        } else if (c == '\\' && p + 1 < end) {
            unsigned e = p[1];
            p += 2;
            switch (e) {
            case '"': buf[n++] = '"'; break;
            case '\\': buf[n++] = '\\'; break;
            case '/': buf[n++] = '/'; break;
            case 'b': buf[n++] = '\b'; break;
            case 'f': buf[n++] = '\f'; break;
            case 'n': buf[n++] = '\n'; break;
            case 'r': buf[n++] = '\r'; break;
            case 't': buf[n++] = '\t'; break;
            case 'u': {
                unsigned v, w;
                if (end - p < 4 || !hex4((const char *)p, &v)) goto fail;
                p += 4;
                if (v >= 0xD800 && v <= 0xDBFF) {
                    if (end - p < 6 || p[0] != '\\' || p[1] != 'u' || !hex4((const char *)p + 2, &w) || w < 0xDC00 || w > 0xDFFF) goto fail;
                    p += 6;
                    v = 0x10000 + ((v - 0xD800) << 10) + (w - 0xDC00);
                } else if (v >= 0xDC00 && v <= 0xDFFF) {
                    goto fail;
                }
                n += put_utf8(buf + n, v); // \uXXXX is 6 bytes in, at most 4 out: fits in place
                break;
            }
            default: goto fail;
            }
        } else {
            break;
        }
    }
fail:
    s->bad = 1;
    return 0;
}

// Skips a string at s->p (which is '"'): memchr to each quote, counting the backslashes before it.
static void skip_string(Scan *s) {
    const char *q = s->p + 1;
    for (;;) {
        q = memchr(q, '"', (size_t)(s->end - q));
        if (!q) {
            s->bad = 1;
            s->p = s->end;
            return;
        }
        const char *b = q;
        while (b > s->p && b[-1] == '\\') b--;
        if ((q - b) % 2 == 0) break;
        q++;
    }
    s->p = q + 1;
}

// Skips one JSON value (any kind), checking only bracket structure and strings.
static void skip_value(Scan *s) {
    ws(s);
    int depth = 0;
    while (s->p < s->end) {
        char c = *s->p;
        if (c == '"') {
            skip_string(s);
            if (s->bad) return;
            if (depth == 0) return;
        } else if (c == '{' || c == '[') {
            depth++;
            s->p++;
        } else if (c == '}' || c == ']') {
            if (depth == 0) return; // end of the enclosing container: a scalar value ended
            depth--;
            s->p++;
            if (depth == 0) return;
        } else if (depth == 0 && c == ',') {
            return;
        } else {
            s->p++;
        }
    }
    s->bad = 1;
}

// Entries are decoded into buf one after another (the decoded text is never longer than the file)
// and handed to the BPE tables in batches.
enum { BATCH = 512 };

static int parse_vocab(Scan *s, BpeModel *m, char *buf, const char *path, LwError *err) {
    if (!expect(s, '{')) return 0;
    ws(s);
    if (s->p < s->end && *s->p == '}') { s->p++; return 0; }
    BpeTokenIn in[BATCH];
    int nin = 0;
    size_t pos = 0;
    for (;;) {
        size_t n = str_parse(s, buf + pos);
        if (s->bad || !expect(s, ':')) return 0;
        ws(s);
        const char *q = s->p;
        int neg = 0;
        if (q < s->end && *q == '-') neg = 1, q++;
        long long v = 0;
        const char *d0 = q;
        while (q < s->end && *q >= '0' && *q <= '9' && q - d0 < 12) v = v * 10 + (*q++ - '0');
        if (q == d0 || (q < s->end && (*q == '.' || *q == 'e' || *q == 'E' || (*q >= '0' && *q <= '9')))) { s->bad = 1; return 0; }
        s->p = q;
        in[nin++] = (BpeTokenIn){buf + pos, (uint32_t)n, neg ? -v : v};
        pos += n;
        ws(s);
        int last = s->p < s->end && *s->p == '}';
        if (nin == BATCH || last) {
            if (bpe_add_tokens(m, in, nin, path, err)) return -1;
            nin = 0;
            pos = 0;
        }
        if (s->p < s->end && *s->p == ',') { s->p++; continue; }
        if (last) { s->p++; return 0; }
        s->bad = 1;
        return 0;
    }
}

static int parse_merges(Scan *s, BpeModel *m, char *buf, const char *path, LwError *err) {
    if (!expect(s, '[')) return 0;
    ws(s);
    if (s->p < s->end && *s->p == ']') { s->p++; return 0; }
    BpeMergeIn in[BATCH];
    int nin = 0, first_rank = 0;
    size_t pos = 0;
    for (int rank = 0;; rank++) {
        ws(s);
        size_t na, nb;
        char *a = buf + pos;
        if (s->p < s->end && *s->p == '[') { // ["a", "b"]
            s->p++;
            na = str_parse(s, a);
            if (s->bad || !expect(s, ',')) return 0;
            nb = str_parse(s, a + na);
            if (s->bad || !expect(s, ']')) return 0;
        } else { // "a b": split at the first space, then close the gap
            size_t n = str_parse(s, a);
            if (s->bad) return 0;
            char *sp = memchr(a, ' ', n);
            if (!sp) { s->bad = 1; return 0; } // the jansson path words the error
            na = (size_t)(sp - a);
            nb = n - na - 1;
            memmove(sp, sp + 1, nb);
        }
        in[nin++] = (BpeMergeIn){a, (uint32_t)na, (uint32_t)nb};
        pos += na + nb;
        ws(s);
        int last = s->p < s->end && *s->p == ']';
        if (nin == BATCH || last) {
            if (bpe_add_merges(m, in, nin, first_rank, path, err)) return -1;
            first_rank += nin;
            nin = 0;
            pos = 0;
        }
        if (s->p < s->end && *s->p == ',') { s->p++; continue; }
        if (last) { s->p++; return 0; }
        s->bad = 1;
        return 0;
    }
}

static json_t *load_jansson(const char *path, const char *text, size_t len, LwError *err) {
    json_error_t je;
    json_t *root = json_loadb(text, len, 0, &je);
    if (!root)
        lw_err(err, "the file must be a valid JSON tokenizer.json (as written by HF tokenizers)",
               "%s: line %d, column %d: %s", path, je.line, je.column, je.text);
    return root;
}

// Member loop of an object at s->p: calls fn(key, key_len, s, ctx) positioned at each value; fn
// must consume the value. Returns 0 (s->bad set when the fast path gives up) or fn's -1.
typedef int (*MemberFn)(const char *key, size_t klen, Scan *s, void *ctx);
static int for_members(Scan *s, char *keybuf, MemberFn fn, void *ctx) {
    if (!expect(s, '{')) return 0;
    ws(s);
    if (s->p < s->end && *s->p == '}') { s->p++; return 0; }
    for (;;) {
        size_t n = str_parse(s, keybuf);
        if (s->bad || !expect(s, ':')) return 0;
        ws(s);
        if (fn(keybuf, n, s, ctx)) return -1;
        if (s->bad) return 0;
        ws(s);
        if (s->p < s->end && *s->p == ',') { s->p++; continue; }
        if (s->p < s->end && *s->p == '}') { s->p++; return 0; }
        s->bad = 1;
        return 0;
    }
}

typedef struct {
    BpeModel *bpe;
    char *buf;
    const char *path;
    LwError *err;
    const char *vb, *ve, *gb, *ge; // spans of model.vocab and model.merges
    int n_model, merges_parsed;
} FastCtx;

static int model_member(const char *key, size_t klen, Scan *s, void *vctx) {
    FastCtx *c = vctx;
    if (klen == 5 && !memcmp(key, "vocab", 5)) {
        if (c->vb) { s->bad = 1; return 0; } // repeated member: jansson decides
        c->vb = s->p;
        if (parse_vocab(s, c->bpe, c->buf, c->path, c->err)) return -1;
        c->ve = s->p;
    } else if (klen == 6 && !memcmp(key, "merges", 6)) {
        if (c->gb) { s->bad = 1; return 0; }
        c->gb = s->p;
        if (c->vb) { // the usual order: merges after vocab, parsed in place
            if (parse_merges(s, c->bpe, c->buf, c->path, c->err)) return -1;
            c->merges_parsed = 1;
        } else {
            skip_value(s);
        }
        c->ge = s->p;
    } else {
        skip_value(s);
    }
    return 0;
}

static int top_member(const char *key, size_t klen, Scan *s, void *vctx) {
    FastCtx *c = vctx;
    if (klen == 5 && !memcmp(key, "model", 5)) {
        if (c->n_model++) { s->bad = 1; return 0; }
        return for_members(s, c->buf, model_member, c);
    }
    skip_value(s);
    return 0;
}

json_t *tok_json_load_fast(const char *path, BpeModel *bpe, LwError *err) {
    memset(bpe, 0, sizeof *bpe);
    size_t len;
    int timing = getenv("LW_TOK_TIMING") != NULL; // phase times on stderr (tools/bench/bench_tok.sh)
    double t0 = lw_now();
    char *text = lw_read_file(path, &len, err);
    if (!text) return NULL;
    double t_read = lw_now();
    char *buf = xmalloc(len + 16);
    json_t *root = NULL;
    // Tables sized from the file (~40-60 bytes per vocabulary entry or merge in practice); they grow.
    bpe_init(bpe, len / 80 + 16, len / 80 + 16, len / 4 + 64);
    FastCtx c = {.bpe = bpe, .buf = buf, .path = path, .err = err};
    Scan top = {text, text + len, 0};
    if (for_members(&top, buf, top_member, &c)) goto fail;
    if (top.bad || !c.vb) goto fallback;
    if (c.gb && !c.merges_parsed) {
        Scan gs = {c.gb, c.ge, 0};
        if (parse_merges(&gs, bpe, buf, path, err)) goto fail;
        if (gs.bad) goto fallback;
    }
    double t_fast = lw_now();
    free(buf);
    buf = NULL;
    // the rest through jansson, with the two big members emptied
    {
        char *rest = xmalloc(len + 8);
        size_t n = 0;
        const char *cut[2][2] = {{c.vb, c.ve}, {c.gb, c.ge}};
        const char *rep[2] = {"{}", "[]"};
        int order0 = !c.gb || c.vb < c.gb ? 0 : 1;
        const char *p = text;
        for (int k = 0; k < 2; k++) {
            int i = k == 0 ? order0 : 1 - order0;
            if (!cut[i][0]) continue;
            memcpy(rest + n, p, (size_t)(cut[i][0] - p));
            n += (size_t)(cut[i][0] - p);
            memcpy(rest + n, rep[i], 2);
            n += 2;
            p = cut[i][1];
        }
        memcpy(rest + n, p, (size_t)(text + len - p));
        n += (size_t)(text + len - p);
        json_error_t je;
        root = json_loadb(rest, n, 0, &je);
        free(rest);
        if (!root) goto fallback; // report the error against the original text
    }
    if (timing)
        fprintf(stderr, "tok_load %s: read %.3f s, vocab+merges %.3f s (%d tokens, %d merges), rest via jansson %.3f s\n", path,
                t_read - t0, t_fast - t_read, bpe->n_ids, bpe->n_merges, lw_now() - t_fast);
    free(buf);
    free(text);
    return root;

fallback:
    bpe_free(bpe);
    memset(bpe, 0, sizeof *bpe);
    root = load_jansson(path, text, len, err);
    free(buf);
    free(text);
    return root;
fail:
    bpe_free(bpe);
    memset(bpe, 0, sizeof *bpe);
    free(buf);
    free(text);
    return NULL;
}

// tok_regex — widening PCRE2's Unicode classes with utf8proc's newer tables (see tok_regex.h).
#include "tok/tok_regex.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "util/util.h"

// Code points utf8proc assigns (any category but Cn/Cs/Co) that PCRE2 calls unassigned, with
// utf8proc's category, in increasing order.
static int32_t *g_gap_cp;
static char (*g_gap_cat)[2]; // utf8proc's two-letter category, e.g. "Lm"
static size_t g_n_gap;
static pthread_once_t g_gap_once = PTHREAD_ONCE_INIT;

static void gap_init(void) {
    // All candidates as one UTF-8 text; PCRE2's own \p{Cn} says which it does not know.
    size_t cap = 4 * 0x110000, n = 0;
    unsigned char *buf = xmalloc(cap);
    for (int32_t cp = 0x80; cp <= 0x10FFFF; cp++) {
        utf8proc_category_t c = utf8proc_category(cp);
        if (c == UTF8PROC_CATEGORY_CN || c == UTF8PROC_CATEGORY_CS || c == UTF8PROC_CATEGORY_CO) continue;
        n += (size_t)utf8proc_encode_char(cp, buf + n);
    }
    int ec;
    PCRE2_SIZE eo;
    pcre2_code *re = pcre2_compile((PCRE2_SPTR) "\\p{Cn}", PCRE2_ZERO_TERMINATED, PCRE2_UTF | PCRE2_UCP, &ec, &eo, NULL);
    LW_ASSERT(re);
    pcre2_jit_compile(re, PCRE2_JIT_COMPLETE);
    pcre2_match_data *md = pcre2_match_data_create(1, NULL);
    size_t cap_gap = 1024;
    g_gap_cp = xmalloc(cap_gap * sizeof *g_gap_cp);
    g_gap_cat = xmalloc(cap_gap * sizeof *g_gap_cat);
    for (size_t at = 0; at < n;) {
        if (pcre2_match(re, buf, n, at, PCRE2_NO_UTF_CHECK, md, NULL) < 0) break;
        size_t s = pcre2_get_ovector_pointer(md)[0];
        utf8proc_int32_t cp;
        utf8proc_ssize_t l = utf8proc_iterate(buf + s, (utf8proc_ssize_t)(n - s), &cp);
        LW_ASSERT(l > 0);
        if (g_n_gap == cap_gap) {
            cap_gap *= 2;
            g_gap_cp = xrealloc(g_gap_cp, cap_gap * sizeof *g_gap_cp);
            g_gap_cat = xrealloc(g_gap_cat, cap_gap * sizeof *g_gap_cat);
        }
        g_gap_cp[g_n_gap] = cp;
        memcpy(g_gap_cat[g_n_gap], utf8proc_category_string(cp), 2);
        g_n_gap++;
        at = s + (size_t)l;
    }
    pcre2_match_data_free(md);
    pcre2_code_free(re);
    free(buf);
}

// Is category c (two letters, e.g. "Lm") in the class named name ("L" or "Lm")?
static int class_has(const char *name, size_t nlen, const char c[2]) {
    return c[0] == name[0] && (nlen == 1 || c[1] == name[1]);
}

static int is_category_name(const char *name, size_t nlen) {
    static const char *const ok[] = {"L", "Lu", "Ll", "Lt", "Lm", "Lo", "M", "Mn", "Mc", "Me", "N", "Nd", "Nl", "No", "P", "Pc",
                                     "Pd", "Ps", "Pe", "Pi", "Pf", "Po", "S", "Sm", "Sc", "Sk", "So", "Z", "Zs", "Zl", "Zp"};
    for (size_t i = 0; i < sizeof ok / sizeof *ok; i++)
        if (strlen(ok[i]) == nlen && !memcmp(ok[i], name, nlen)) return 1;
    return 0;
}

typedef struct {
    char *p;
    size_t n, cap;
} Out;

static void out_add(Out *o, const char *s, size_t n) {
    if (o->n + n + 1 > o->cap) {
        o->cap = (o->n + n + 1) * 2;
        o->p = xrealloc(o->p, o->cap);
    }
    memcpy(o->p + o->n, s, n);
    o->n += n;
    o->p[o->n] = 0;
}

// Appends the gap code points of class `name` as \x{..} ranges; returns how many were added.
static size_t add_ranges(Out *o, const char *name, size_t nlen) {
    size_t count = 0;
    for (size_t i = 0; i < g_n_gap;) {
        if (!class_has(name, nlen, g_gap_cat[i])) { i++; continue; }
        size_t j = i;
        while (j + 1 < g_n_gap && g_gap_cp[j + 1] == g_gap_cp[j] + 1 && class_has(name, nlen, g_gap_cat[j + 1])) j++;
        char r[40];
        int k = j > i ? snprintf(r, sizeof r, "\\x{%X}-\\x{%X}", (unsigned)g_gap_cp[i], (unsigned)g_gap_cp[j])
                      : snprintf(r, sizeof r, "\\x{%X}", (unsigned)g_gap_cp[i]);
        out_add(o, r, (size_t)k);
        count += j - i + 1;
        i = j + 1;
    }
    return count;
}

static size_t count_ranges(const char *name, size_t nlen) {
    size_t c = 0;
    for (size_t i = 0; i < g_n_gap; i++) c += (size_t)class_has(name, nlen, g_gap_cat[i]);
    return c;
}

char *tok_regex_widen(const char *pattern, size_t len, size_t *out_len) {
    pthread_once(&g_gap_once, gap_init);
    Out o = {0};
    out_add(&o, "", 0);
    int in_class = 0;
    for (size_t i = 0; i < len;) {
        char c = pattern[i];
        if (c == '\\' && i + 1 < len) {
            char e = pattern[i + 1];
            if (e == 'p' || e == 'P') {
                const char *name = NULL;
                size_t nlen = 0, end = 0;
                if (i + 2 < len && pattern[i + 2] == '{') {
                    const char *close = memchr(pattern + i + 3, '}', len - i - 3);
                    if (close) name = pattern + i + 3, nlen = (size_t)(close - name), end = (size_t)(close - pattern) + 1;
                } else if (i + 2 < len) {
                    name = pattern + i + 2, nlen = 1, end = i + 3;
                }
                if (name && is_category_name(name, nlen) && count_ranges(name, nlen) > 0 && !(in_class && e == 'P')) {
                    const char *tok = pattern + i;
                    size_t tlen = end - i;
                    if (in_class) { // [...\p{L}...] -> [...\p{L}\x{..}...]
                        out_add(&o, tok, tlen);
                        add_ranges(&o, name, nlen);
                    } else if (e == 'p') { // \p{L} -> (?:\p{L}|[\x{..}])
                        out_add(&o, "(?:", 3);
                        out_add(&o, tok, tlen);
                        out_add(&o, "|[", 2);
                        add_ranges(&o, name, nlen);
                        out_add(&o, "])", 2);
                    } else { // \P{L} -> [^\p{L}\x{..}]
                        out_add(&o, "[^\\p", 4);
                        out_add(&o, tok + 2, tlen - 2);
                        add_ranges(&o, name, nlen);
                        out_add(&o, "]", 1);
                    }
                    i = end;
                    continue;
                }
            }
            out_add(&o, pattern + i, 2); // any other escape, copied as it is
            i += 2;
            continue;
        }
        if (!in_class && c == '[') {
            in_class = 1;
            out_add(&o, pattern + i, 1);
            i++;
            if (i < len && pattern[i] == '^') out_add(&o, pattern + i, 1), i++;
            if (i < len && pattern[i] == ']') out_add(&o, pattern + i, 1), i++; // a literal ] first
            continue;
        }
        if (in_class && c == '[' && i + 1 < len && pattern[i + 1] == ':') { // [:alpha:]
            const char *close = strstr(pattern + i, ":]");
            size_t e = close && (size_t)(close - pattern) < len ? (size_t)(close - pattern) + 2 : i + 1;
            out_add(&o, pattern + i, e - i);
            i = e;
            continue;
        }
        if (in_class && c == ']') in_class = 0;
        out_add(&o, pattern + i, 1);
        i++;
    }
    *out_len = o.n;
    return o.p;
}

long tok_regex_first_unassigned(const char *text, size_t len) {
    for (size_t i = 0; i < len;) {
        if ((unsigned char)text[i] < 0x80) { i++; continue; }
        utf8proc_int32_t cp;
        utf8proc_ssize_t l = utf8proc_iterate((const utf8proc_uint8_t *)text + i, (utf8proc_ssize_t)(len - i), &cp);
        if (l <= 0) return (long)i;
        if (utf8proc_category(cp) == UTF8PROC_CATEGORY_CN) return (long)i;
        i += (size_t)l;
    }
    return -1;
}

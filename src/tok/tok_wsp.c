// tok_wsp — METRICS.md §2.4's whitespace/punctuation predicate on token strings, the one
// implementation used by `run` (prompt_vocab_ids for echo mass) and `export` (copy detection,
// copy_mask, surface metrics), so the two can never disagree about a token.
#include <string.h>

#include "tok/tok.h"
#include "util/utf8.h"

int tok_wsp(const char *s) {
    int all_ws_or_marker = 1, all_ws_or_punct = 1;
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        unsigned c = utf8_next(&p);
        int ws = utf8_py_isspace(c);
        int marker = c == 0x2581 || c == 0x0120 || c == 0x010A; // ▁ Ġ Ċ
        int punct = c < 0x80 && c != 0 && strchr("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~", (int)c);
        if (!ws && !marker) all_ws_or_marker = 0;
        if (!ws && !punct) all_ws_or_punct = 0;
    }
    return all_ws_or_marker || all_ws_or_punct;
}

int tok_wsp_token(const char *decoded, const char *piece) {
    if (!decoded) return 1;
    // The byte 0x00 ("<0x00>" by SentencePiece byte fallback, "Ā" in byte-level BPE) decodes to
    // U+0000, which a C string holds as "": it is neither whitespace nor punctuation.
    if (!decoded[0] && piece && (!strcmp(piece, "<0x00>") || !strcmp(piece, "\xc4\x80"))) return 0;
    return tok_wsp(decoded);
}

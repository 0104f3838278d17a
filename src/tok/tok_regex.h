// tok_regex — pre-tokenizer regexes with Unicode classes as new as the Unicode library we have.
// Internal to src/tok/.
//
// Why: HF `tokenizers` runs its Split regexes on Oniguruma with Unicode 16 tables; Debian 12's
// PCRE2 (10.42) has Unicode 14, so a letter assigned since then (e.g. U+1E030) is "unassigned" for
// PCRE2, `\p{L}` does not match it, and the split can differ from HF next to it. utf8proc (2.8:
// Unicode 15.0) knows more: every general-category class `\p{X}` / `\P{X}` of a pattern is widened
// by the code points utf8proc puts in X while PCRE2 calls them unassigned (computed once per
// process by asking both libraries, no table of our own). What is newer than utf8proc's tables
// still differs; tok_encode warns once per tokenizer when a text holds such a code point.
#ifndef LW_TOK_REGEX_H
#define LW_TOK_REGEX_H

#include <stddef.h>

// Returns the widened pattern (malloc'ed, NUL-terminated, length in *out_len). A `\P{X}` inside a
// bracket class cannot be widened by addition and is left as it is.
char *tok_regex_widen(const char *pattern, size_t len, size_t *out_len);

// Byte offset of the first code point in text that utf8proc's tables call unassigned, or -1.
// text must be valid UTF-8.
long tok_regex_first_unassigned(const char *text, size_t len);

#endif

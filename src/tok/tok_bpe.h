// tok_bpe — the BPE model of tokenizer.json (HF `models::bpe`): vocabulary, merge table and the
// per-word merge loop. Internal to src/tok/.
//
// Shaped for load time (a 262144-entry vocabulary and 515k merges are built on every rank of
// every job): all vocabulary strings live in one arena, the string→id map and the
// (left id, right id)→(rank, merged id) map are flat open-addressing tables sized once.
// Encoding a word follows HF's `Word::merge_all` exactly: a min-heap ordered by (rank, position),
// stale entries skipped, byte fallback `<0xHH>` and fused unknowns as in `BPE::merge_word`.
#ifndef LW_TOK_BPE_H
#define LW_TOK_BPE_H

#include <stddef.h>
#include <stdint.h>

#include "util/util.h"

typedef struct {
    // id -> string (offset/length into arena); off = UINT32_MAX when the id has no vocab entry
    char *arena;
    size_t arena_len, arena_cap;
    uint32_t *str_off, *str_len;
    int n_ids;             // max vocab id + 1
    size_t ids_cap;        // capacity of str_off / str_len
    size_t n_entries;      // strings in vocab_slots
    uint64_t *vocab_slots; // string -> id, open addressing: (hash tag << 32 | id), UINT64_MAX empty
    uint32_t vocab_mask;
    struct BpeMergeSlot *merges; // (left << 32 | right) -> rank, merged id; key UINT64_MAX = empty
    uint32_t merge_mask;
    int n_merges;
    int ignore_merges, byte_fallback, fuse_unk;
    int32_t unk_id;        // -1 when none
    int warned_dup_id;     // the "one id, two strings" warning of add_token_h is printed once
    int32_t byte_ids[256]; // id of "<0xHH>", -1 when absent
    int32_t *bmp_ids;      // id of each one-character token below U+10000 (-1: none): the
                           // initial symbols of a word without a hash lookup per character
} BpeModel;

// Reusable scratch for bpe_encode_word (symbols and heap); zero-initialize, free with bpe_scratch_free.
typedef struct {
    struct BpeSym *sym;
    size_t sym_cap;
    struct BpeMerge *heap;
    size_t heap_cap;
} BpeScratch;

typedef struct {
    int32_t *v;
    size_t n, cap;
} IdVec;

static inline void idvec_push(IdVec *a, int32_t x) {
    if (a->n == a->cap) {
        a->cap = a->cap ? a->cap * 2 : 64;
        a->v = xrealloc(a->v, a->cap * sizeof *a->v);
    }
    a->v[a->n++] = x;
}

uint64_t tok_hash_bytes(const void *p, size_t n);

// Building: bpe_init with the number of vocab entries expected (sizes the tables), then
// bpe_add_token for every entry, then bpe_add_merge for every merge in rank order.
void bpe_init(BpeModel *m, size_t n_vocab_hint, size_t n_merges_hint, size_t arena_hint);
// Returns -1 with err when the id is negative or too large.
int bpe_add_token(BpeModel *m, const char *s, size_t len, int64_t id, const char *source, LwError *err);
// left/right are the two merge strings; rank is the merge's index. Errors name the missing token.
int bpe_add_merge(BpeModel *m, const char *a, size_t alen, const char *b, size_t blen, int rank,
                  const char *source, LwError *err);
// Batched forms for the fast loader: hashes are computed and table slots prefetched for a whole
// batch before any lookup, which hides most cache misses on large vocabularies. Same semantics.
typedef struct {
    const char *s;
    uint32_t len;
    int64_t id;
} BpeTokenIn;
typedef struct {
    const char *s; // a = s[0, alen), b = s[alen, alen + blen): contiguous
    uint32_t alen, blen;
} BpeMergeIn;
int bpe_add_tokens(BpeModel *m, const BpeTokenIn *in, int n, const char *source, LwError *err);
int bpe_add_merges(BpeModel *m, const BpeMergeIn *in, int n, int first_rank, const char *source, LwError *err);
// After all tokens: resolves byte-fallback ids and the unk id (unk may be NULL).
int bpe_finish(BpeModel *m, const char *unk, const char *source, LwError *err);
void bpe_free(BpeModel *m);

int32_t bpe_token_id(const BpeModel *m, const char *s, size_t len); // -1 when absent
// Appends the ids of one pre-tokenized word (valid UTF-8) to out.
void bpe_encode_word(const BpeModel *m, const char *w, size_t n, BpeScratch *sc, IdVec *out);
void bpe_scratch_free(BpeScratch *sc);

#endif

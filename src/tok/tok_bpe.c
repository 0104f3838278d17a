// tok_bpe — BPE vocabulary, merge table and word merging (see tok_bpe.h for the design).
#include "tok/tok_bpe.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// ---------------------------------------------------------------------------- hashing

uint64_t tok_hash_bytes(const void *p, size_t n) {
    // FNV-1a over 8-byte words, then a final avalanche: fast for short vocabulary strings.
    const unsigned char *s = p;
    uint64_t h = 0xcbf29ce484222325ull ^ (n * 0x9E3779B97F4A7C15ull);
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, s, 8);
        h = (h ^ w) * 0x100000001b3ull;
        h ^= h >> 29;
        s += 8;
        n -= 8;
    }
    uint64_t w = 0;
    memcpy(&w, s, n);
    h = (h ^ w) * 0x100000001b3ull;
    h ^= h >> 32;
    h *= 0xd6e8feb86659fd93ull;
    h ^= h >> 32;
    return h;
}

static inline uint64_t pair_hash(uint64_t k) {
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdull;
    k ^= k >> 33;
    k *= 0xc4ceb9fe1a85ec53ull;
    k ^= k >> 33;
    return k;
}

static uint32_t pow2_at_least(size_t n) {
    uint32_t c = 1024;
    while (c < n) c <<= 1;
    return c;
}

// ---------------------------------------------------------------------------- building

struct BpeMergeSlot { // one cache line holds four: a lookup touches one
    uint64_t key;
    uint32_t rank;
    int32_t new_id;
};

static struct BpeMergeSlot *merge_slots_new(uint32_t n) {
    struct BpeMergeSlot *m = xmalloc(n * sizeof *m);
    for (uint32_t i = 0; i < n; i++) m[i].key = UINT64_MAX;
    return m;
}

void bpe_init(BpeModel *m, size_t n_vocab_hint, size_t n_merges_hint, size_t arena_hint) {
    memset(m, 0, sizeof *m);
    uint32_t vc = pow2_at_least(n_vocab_hint * 2 + 16);
    m->vocab_slots = xmalloc(vc * sizeof *m->vocab_slots);
    memset(m->vocab_slots, 0xff, vc * sizeof *m->vocab_slots);
    m->vocab_mask = vc - 1;
    m->arena_cap = arena_hint + 64;
    m->arena = xmalloc(m->arena_cap);
    m->ids_cap = n_vocab_hint + 16;
    m->str_off = xmalloc(m->ids_cap * sizeof *m->str_off);
    m->str_len = xcalloc(m->ids_cap, sizeof *m->str_len);
    memset(m->str_off, 0xff, m->ids_cap * sizeof *m->str_off);
    uint32_t mc = pow2_at_least(n_merges_hint * 2 + 16);
    m->merges = merge_slots_new(mc);
    m->merge_mask = mc - 1;
    m->unk_id = -1;
    for (int i = 0; i < 256; i++) m->byte_ids[i] = -1;
}

void bpe_free(BpeModel *m) {
    free(m->arena);
    free(m->str_off);
    free(m->str_len);
    free(m->vocab_slots);
    free(m->merges);
    free(m->bmp_ids);
    memset(m, 0, sizeof *m);
}

// A slot holds the string's hash tag (high 32 bits) next to its id, so probing rarely touches the
// arena: at 262144 tokens the string table is far larger than the caches.
// Layout: hash tag (24 bits) | min(length, 255) (8 bits) | id (32 bits).
#define SLOT_EMPTY UINT64_MAX
#define SLOT_KEY_MASK 0xFFFFFFFF00000000ull
static inline uint64_t slot_key(uint64_t h, size_t len) {
    return (h & 0xFFFFFF0000000000ull) | (uint64_t)(len < 255 ? len : 255) << 32;
}
static inline uint64_t slot_make(uint64_t h, size_t len, int32_t id) { return slot_key(h, len) | (uint32_t)id; }
static inline int32_t slot_id(uint64_t s) { return (int32_t)(uint32_t)s; }

static void slots_insert(uint64_t *slots, uint32_t mask, const BpeModel *m, int32_t id) {
    uint64_t h = tok_hash_bytes(m->arena + m->str_off[id], m->str_len[id]);
    uint32_t j = (uint32_t)h & mask;
    while (slots[j] != SLOT_EMPTY) j = (j + 1) & mask;
    slots[j] = slot_make(h, m->str_len[id], id);
}

static void vocab_grow(BpeModel *m) {
    uint32_t oc = m->vocab_mask + 1, nc = oc * 2;
    uint64_t *slots = xmalloc(nc * sizeof *slots);
    memset(slots, 0xff, nc * sizeof *slots);
    for (uint32_t i = 0; i < oc; i++)
        if (m->vocab_slots[i] != SLOT_EMPTY) slots_insert(slots, nc - 1, m, slot_id(m->vocab_slots[i]));
    free(m->vocab_slots);
    m->vocab_slots = slots;
    m->vocab_mask = nc - 1;
}

// Slot index holding s, or the empty slot where it would go.
static inline uint32_t vocab_find_slot_h(const BpeModel *m, const char *s, size_t len, uint64_t h) {
    uint32_t j = (uint32_t)h & m->vocab_mask;
    uint64_t key = slot_key(h, len);
    for (;;) {
        uint64_t sl = m->vocab_slots[j];
        if (sl == SLOT_EMPTY) return j;
        if ((sl & SLOT_KEY_MASK) == key) {
            int32_t id = slot_id(sl);
            const char *a = m->arena + m->str_off[id];
            if (len < 255) { // the slot's length field is exact
                size_t k = 0;
                while (k < len && a[k] == s[k]) k++;
                if (k == len) return j;
            } else if (m->str_len[id] == len && memcmp(a, s, len) == 0) {
                return j;
            }
        }
        j = (j + 1) & m->vocab_mask;
    }
}
static inline uint32_t vocab_find_slot(const BpeModel *m, const char *s, size_t len) {
    return vocab_find_slot_h(m, s, len, tok_hash_bytes(s, len));
}

int32_t bpe_token_id(const BpeModel *m, const char *s, size_t len) {
    uint64_t sl = m->vocab_slots[vocab_find_slot(m, s, len)];
    return sl == SLOT_EMPTY ? -1 : slot_id(sl);
}

static int add_token_h(BpeModel *m, const char *s, size_t len, int64_t id, uint64_t h, const char *source, LwError *err);

int bpe_add_token(BpeModel *m, const char *s, size_t len, int64_t id, const char *source, LwError *err) {
    return add_token_h(m, s, len, id, tok_hash_bytes(s, len), source, err);
}

int bpe_add_tokens(BpeModel *m, const BpeTokenIn *in, int n, const char *source, LwError *err) {
    uint64_t h[64];
    for (int b = 0; b < n; b += 64) {
        int e = b + 64 < n ? b + 64 : n;
        if (2 * (m->n_entries + (size_t)(e - b)) + 16 > (size_t)m->vocab_mask + 1) vocab_grow(m);
        for (int i = b; i < e; i++) {
            h[i - b] = tok_hash_bytes(in[i].s, in[i].len);
            __builtin_prefetch(&m->vocab_slots[(uint32_t)h[i - b] & m->vocab_mask]);
        }
        for (int i = b; i < e; i++)
            if (add_token_h(m, in[i].s, in[i].len, in[i].id, h[i - b], source, err)) return -1;
    }
    return 0;
}

static int add_token_h(BpeModel *m, const char *s, size_t len, int64_t id, uint64_t h, const char *source, LwError *err) {
    if (id < 0 || id >= 16 * 1024 * 1024)
        return lw_err(err, "vocabulary ids must be integers in 0..16777215",
                      "%s: model.vocab: token \"%.*s\" has id %lld", source, (int)(len > 40 ? 40 : len), s,
                      (long long)id);
    if ((size_t)id >= m->ids_cap) {
        size_t nc = m->ids_cap * 2;
        while (nc <= (size_t)id) nc *= 2;
        m->str_off = xrealloc(m->str_off, nc * sizeof *m->str_off);
        m->str_len = xrealloc(m->str_len, nc * sizeof *m->str_len);
        memset(m->str_off + m->ids_cap, 0xff, (nc - m->ids_cap) * sizeof *m->str_off);
        memset(m->str_len + m->ids_cap, 0, (nc - m->ids_cap) * sizeof *m->str_len);
        m->ids_cap = nc;
    }
    if (m->arena_len + len + 1 > m->arena_cap) {
        while (m->arena_len + len + 1 > m->arena_cap) m->arena_cap *= 2;
        m->arena = xrealloc(m->arena, m->arena_cap);
    }
    if (2 * (m->n_entries + 1) + 16 > (size_t)m->vocab_mask + 1) vocab_grow(m);
    // A repeated string keeps its last id (serde and jansson keep the last value of a repeated key);
    // an id given to a second string keeps the last string.
    // Every slot's id keeps a valid string until its slot is overwritten below: probing and
    // re-hashing read that string (found by fuzzing: dropping `old` first made the removal
    // below probe or re-hash a dropped string, reading past the arena).
    uint32_t j = vocab_find_slot_h(m, s, len, h);
    int32_t old = m->vocab_slots[j] == SLOT_EMPTY ? -1 : slot_id(m->vocab_slots[j]);
    if (m->str_off[id] != UINT32_MAX && old != id) {
        // The id had another string (a malformed file: no real tokenizer does this). HF keeps both
        // strings for encoding and decodes the id to either; lensweep keeps the last one only.
        if (!m->warned_dup_id) {
            m->warned_dup_id = 1;
            lw_warn("%s: model.vocab gives id %lld to both \"%.*s\" and \"%.*s\"; lensweep keeps the last, so the first "
                    "becomes unknown (Hugging Face tokenizers would encode both to %lld): ids may differ from HF's",
                    source, (long long)id, (int)(m->str_len[id] > 40 ? 40 : m->str_len[id]), m->arena + m->str_off[id],
                    (int)(len > 40 ? 40 : len), s, (long long)id);
        }
        // drop that string's slot
        uint32_t k = vocab_find_slot(m, m->arena + m->str_off[id], m->str_len[id]);
        m->vocab_slots[k] = SLOT_EMPTY;
        uint64_t *slots = m->vocab_slots;
        uint32_t mask = m->vocab_mask;
        // re-insert the cluster after k (linear probing deletion)
        for (uint32_t q = (k + 1) & mask; slots[q] != SLOT_EMPTY; q = (q + 1) & mask) {
            int32_t moved = slot_id(slots[q]);
            slots[q] = SLOT_EMPTY;
            slots_insert(slots, mask, m, moved);
        }
        m->n_entries--;
        j = vocab_find_slot_h(m, s, len, h); // the cluster moved: s's slot (or old's) may have too
    }
    if (old >= 0 && old != id) m->str_off[old] = UINT32_MAX; // old's slot now goes to id
    m->str_off[id] = (uint32_t)m->arena_len;
    m->str_len[id] = (uint32_t)len;
    memcpy(m->arena + m->arena_len, s, len);
    m->arena[m->arena_len + len] = 0;
    m->arena_len += len + 1;
    if (id >= m->n_ids) m->n_ids = (int)id + 1;
    if (old < 0) m->n_entries++;
    m->vocab_slots[j] = slot_make(h, len, (int32_t)id);
    return 0;
}

static inline int merge_get(const BpeModel *m, int32_t a, int32_t b, uint32_t *rank, int32_t *new_id) {
    uint64_t key = (uint64_t)(uint32_t)a << 32 | (uint32_t)b;
    uint32_t j = (uint32_t)pair_hash(key) & m->merge_mask;
    for (;;) {
        const struct BpeMergeSlot *e = &m->merges[j];
        if (e->key == key) {
            *rank = e->rank;
            *new_id = e->new_id;
            return 1;
        }
        if (e->key == UINT64_MAX) return 0;
        j = (j + 1) & m->merge_mask;
    }
}

static void merges_grow(BpeModel *m) {
    uint32_t oc = m->merge_mask + 1, nc = oc * 2;
    struct BpeMergeSlot *t = merge_slots_new(nc);
    for (uint32_t i = 0; i < oc; i++) {
        if (m->merges[i].key == UINT64_MAX) continue;
        uint32_t j = (uint32_t)pair_hash(m->merges[i].key) & (nc - 1);
        while (t[j].key != UINT64_MAX) j = (j + 1) & (nc - 1);
        t[j] = m->merges[i];
    }
    free(m->merges);
    m->merges = t;
    m->merge_mask = nc - 1;
}

// Inserts or overwrites: a repeated pair keeps its last rank, as HF's HashMap collect does.
static void merge_put(BpeModel *m, uint64_t key, uint32_t rank, int32_t new_id) {
    uint32_t j = (uint32_t)pair_hash(key) & m->merge_mask;
    while (m->merges[j].key != UINT64_MAX && m->merges[j].key != key) j = (j + 1) & m->merge_mask;
    if (m->merges[j].key == UINT64_MAX) m->n_merges++;
    m->merges[j] = (struct BpeMergeSlot){key, rank, new_id};
}

int bpe_add_merge(BpeModel *m, const char *a, size_t alen, const char *b, size_t blen, int rank,
                  const char *source, LwError *err) {
    int32_t ia = bpe_token_id(m, a, alen), ib = bpe_token_id(m, b, blen);
    if (ia < 0 || ib < 0) {
        const char *s = ia < 0 ? a : b;
        size_t n = ia < 0 ? alen : blen;
        return lw_err(err, "every merge must join two vocabulary tokens (HF refuses this file too)",
                      "%s: model.merges[%d]: token \"%.*s\" is not in model.vocab", source, rank,
                      (int)(n > 60 ? 60 : n), s);
    }
    char small[256];
    char *cat = alen + blen <= sizeof small ? small : xmalloc(alen + blen);
    memcpy(cat, a, alen);
    memcpy(cat + alen, b, blen);
    int32_t inew = bpe_token_id(m, cat, alen + blen);
    if (cat != small) free(cat);
    if (inew < 0)
        return lw_err(err, "every merge result must be a vocabulary token (HF refuses this file too)",
                      "%s: model.merges[%d]: merged token \"%.*s%.*s\" is not in model.vocab", source, rank,
                      (int)(alen > 40 ? 40 : alen), a, (int)(blen > 40 ? 40 : blen), b);
    if (2 * ((size_t)m->n_merges + 1) + 16 > (size_t)m->merge_mask + 1) merges_grow(m);
    merge_put(m, (uint64_t)(uint32_t)ia << 32 | (uint32_t)ib, (uint32_t)rank, inew);
    return 0;
}

int bpe_add_merges(BpeModel *m, const BpeMergeIn *in, int n, int first_rank, const char *source, LwError *err) {
    enum { B = 32 };
    uint64_t ha[B], hb[B], hab[B];
    int32_t ids[B][3];
    uint64_t keys[B];
    for (int b = 0; b < n; b += B) {
        int e = b + B < n ? b + B : n;
        for (int i = b; i < e; i++) {
            const BpeMergeIn *x = &in[i];
            ha[i - b] = tok_hash_bytes(x->s, x->alen);
            hb[i - b] = tok_hash_bytes(x->s + x->alen, x->blen);
            hab[i - b] = tok_hash_bytes(x->s, x->alen + x->blen);
            __builtin_prefetch(&m->vocab_slots[(uint32_t)ha[i - b] & m->vocab_mask]);
            __builtin_prefetch(&m->vocab_slots[(uint32_t)hb[i - b] & m->vocab_mask]);
            __builtin_prefetch(&m->vocab_slots[(uint32_t)hab[i - b] & m->vocab_mask]);
        }
        for (int i = b; i < e; i++) {
            const BpeMergeIn *x = &in[i];
            uint64_t sa = m->vocab_slots[vocab_find_slot_h(m, x->s, x->alen, ha[i - b])];
            uint64_t sb = m->vocab_slots[vocab_find_slot_h(m, x->s + x->alen, x->blen, hb[i - b])];
            uint64_t sab = m->vocab_slots[vocab_find_slot_h(m, x->s, x->alen + x->blen, hab[i - b])];
            int32_t *d = ids[i - b];
            d[0] = sa == SLOT_EMPTY ? -1 : slot_id(sa);
            d[1] = sb == SLOT_EMPTY ? -1 : slot_id(sb);
            d[2] = sab == SLOT_EMPTY ? -1 : slot_id(sab);
            if (d[0] < 0 || d[1] < 0 || d[2] < 0) // the one-merge path words the error
                return bpe_add_merge(m, x->s, x->alen, x->s + x->alen, x->blen, first_rank + i, source, err);
            keys[i - b] = (uint64_t)(uint32_t)d[0] << 32 | (uint32_t)d[1];
        }
        if (2 * ((size_t)m->n_merges + (size_t)(e - b)) + 16 > (size_t)m->merge_mask + 1) merges_grow(m);
        for (int i = b; i < e; i++) __builtin_prefetch(&m->merges[(uint32_t)pair_hash(keys[i - b]) & m->merge_mask]);
        for (int i = b; i < e; i++) merge_put(m, keys[i - b], (uint32_t)(first_rank + i), ids[i - b][2]);
    }
    return 0;
}

int bpe_finish(BpeModel *m, const char *unk, const char *source, LwError *err) {
    for (int b = 0; b < 256; b++) {
        char name[8];
        snprintf(name, sizeof name, "<0x%02X>", b);
        m->byte_ids[b] = bpe_token_id(m, name, 6);
    }
    free(m->bmp_ids);
    m->bmp_ids = xmalloc(0x10000 * sizeof *m->bmp_ids);
    memset(m->bmp_ids, 0xff, 0x10000 * sizeof *m->bmp_ids);
    for (int32_t id = 0; id < m->n_ids; id++) {
        if (m->str_off[id] == UINT32_MAX || m->str_len[id] == 0 || m->str_len[id] > 3) continue;
        const unsigned char *q = (const unsigned char *)m->arena + m->str_off[id];
        uint32_t n = m->str_len[id], cp;
        if (n == 1 && q[0] < 0x80) cp = q[0];
        else if (n == 2 && (q[0] & 0xE0) == 0xC0) cp = (uint32_t)(q[0] & 0x1F) << 6 | (q[1] & 0x3F);
        else if (n == 3 && (q[0] & 0xF0) == 0xE0) cp = (uint32_t)(q[0] & 0x0F) << 12 | (uint32_t)(q[1] & 0x3F) << 6 | (q[2] & 0x3F);
        else continue;
        // the vocabulary map decides which id a repeated string has
        if (bpe_token_id(m, (const char *)q, n) == id) m->bmp_ids[cp] = id;
    }
    m->unk_id = -1;
    if (unk) {
        m->unk_id = bpe_token_id(m, unk, strlen(unk));
        if (m->unk_id < 0)
            return lw_err(err, "unk_token must name a vocabulary token",
                          "%s: model.unk_token: \"%s\" is not in model.vocab", source, unk);
    }
    return 0;
}

// ---------------------------------------------------------------------------- encoding one word

struct BpeSym {
    int32_t id, prev, next;
    uint32_t len; // bytes; 0 = merged away
};
struct BpeMerge {
    uint32_t rank;
    int32_t pos, new_id;
};

static inline int merge_less(const struct BpeMerge *x, const struct BpeMerge *y) {
    return x->rank != y->rank ? x->rank < y->rank : x->pos < y->pos;
}

static void heap_push(BpeScratch *sc, size_t *n, struct BpeMerge e) {
    if (*n == sc->heap_cap) {
        sc->heap_cap = sc->heap_cap ? sc->heap_cap * 2 : 256;
        sc->heap = xrealloc(sc->heap, sc->heap_cap * sizeof *sc->heap);
    }
    size_t i = (*n)++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!merge_less(&e, &sc->heap[p])) break;
        sc->heap[i] = sc->heap[p];
        i = p;
    }
    sc->heap[i] = e;
}

static struct BpeMerge heap_pop(BpeScratch *sc, size_t *n) {
    struct BpeMerge top = sc->heap[0], last = sc->heap[--(*n)];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= *n) break;
        if (c + 1 < *n && merge_less(&sc->heap[c + 1], &sc->heap[c])) c++;
        if (!merge_less(&sc->heap[c], &last)) break;
        sc->heap[i] = sc->heap[c];
        i = c;
    }
    if (*n) sc->heap[i] = last;
    return top;
}

static inline int utf8_char_len(unsigned char c) {
    return c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
}

static void sym_add(BpeScratch *sc, size_t *n, int32_t id, uint32_t len) {
    if (*n == sc->sym_cap) {
        sc->sym_cap = sc->sym_cap ? sc->sym_cap * 2 : 256;
        sc->sym = xrealloc(sc->sym, sc->sym_cap * sizeof *sc->sym);
    }
    struct BpeSym *s = &sc->sym[*n];
    s->id = id;
    s->len = len;
    s->prev = (int32_t)*n - 1;
    s->next = -1;
    if (*n) sc->sym[*n - 1].next = (int32_t)*n;
    (*n)++;
}

void bpe_encode_word(const BpeModel *m, const char *w, size_t n, BpeScratch *sc, IdVec *out) {
    if (n == 0) return;
    if (m->ignore_merges) {
        int32_t id = bpe_token_id(m, w, n);
        if (id >= 0) {
            idvec_push(out, id);
            return;
        }
    }
    // Initial symbols: one per character (HF BPE::merge_word).
    size_t ns = 0;
    int32_t unk_pending = -1;
    uint32_t unk_len = 0;
    for (size_t i = 0; i < n;) {
        const unsigned char *q = (const unsigned char *)w + i;
        uint32_t cl = (uint32_t)utf8_char_len(q[0]);
        if (i + cl > n) cl = (uint32_t)(n - i);
        int32_t id;
        if (cl == 1) id = m->bmp_ids[q[0]];
        else if (cl == 2) id = m->bmp_ids[(q[0] & 0x1F) << 6 | (q[1] & 0x3F)];
        else if (cl == 3) id = m->bmp_ids[(q[0] & 0x0F) << 12 | (q[1] & 0x3F) << 6 | (q[2] & 0x3F)];
        else id = bpe_token_id(m, w + i, cl);
        if (id >= 0) {
            if (unk_pending >= 0) {
                sym_add(sc, &ns, unk_pending, unk_len);
                unk_pending = -1;
            }
            sym_add(sc, &ns, id, cl);
        } else {
            int done = 0;
            if (m->byte_fallback) {
                uint32_t k;
                for (k = 0; k < cl; k++)
                    if (m->byte_ids[(unsigned char)w[i + k]] < 0) break;
                if (k == cl) {
                    // HF adds the byte tokens without flushing a pending unknown first.
                    for (k = 0; k < cl; k++) sym_add(sc, &ns, m->byte_ids[(unsigned char)w[i + k]], 1);
                    done = 1;
                }
            }
            if (!done && m->unk_id >= 0) {
                if (unk_pending >= 0 && m->fuse_unk) unk_len += cl;
                else {
                    if (unk_pending >= 0) sym_add(sc, &ns, unk_pending, unk_len);
                    unk_pending = m->unk_id;
                    unk_len = cl;
                }
            }
            // without unk_token HF drops the character silently; so do we
        }
        i += cl;
    }
    if (unk_pending >= 0) sym_add(sc, &ns, unk_pending, unk_len);
    if (ns == 0) return;

    // Merge loop (HF Word::merge_all): lowest rank first, leftmost among equal ranks.
    size_t nh = 0;
    for (size_t i = 0; i + 1 < ns; i++) {
        uint32_t r;
        int32_t nid;
        if (merge_get(m, sc->sym[i].id, sc->sym[i + 1].id, &r, &nid))
            heap_push(sc, &nh, (struct BpeMerge){r, (int32_t)i, nid});
    }
    while (nh) {
        struct BpeMerge top = heap_pop(sc, &nh);
        struct BpeSym *cur = &sc->sym[top.pos];
        if (cur->len == 0 || cur->next < 0) continue;
        int32_t next_pos = cur->next;
        struct BpeSym *right = &sc->sym[next_pos];
        uint32_t r;
        int32_t nid;
        if (!merge_get(m, cur->id, right->id, &r, &nid) || nid != top.new_id) continue;
        cur->id = top.new_id;
        cur->len += right->len;
        cur->next = right->next;
        right->len = 0;
        if (cur->next >= 0) sc->sym[cur->next].prev = top.pos;
        if (cur->prev >= 0) {
            struct BpeSym *prev = &sc->sym[cur->prev];
            if (merge_get(m, prev->id, cur->id, &r, &nid))
                heap_push(sc, &nh, (struct BpeMerge){r, cur->prev, nid});
        }
        if (cur->next >= 0) {
            if (merge_get(m, cur->id, sc->sym[cur->next].id, &r, &nid))
                heap_push(sc, &nh, (struct BpeMerge){r, top.pos, nid});
        }
    }
    for (int32_t i = 0; i >= 0 && (size_t)i < ns; i = sc->sym[i].next) idvec_push(out, sc->sym[i].id);
}

void bpe_scratch_free(BpeScratch *sc) {
    free(sc->sym);
    free(sc->heap);
    memset(sc, 0, sizeof *sc);
}

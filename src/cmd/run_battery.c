// run_battery — see run_battery.h; the datasets are those of docs/HDF5.md (`/battery`).
#include "cmd/run_battery.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <time.h>
#include <unistd.h>

#include "lens/battery_pass.h"
#include "util/util.h"

typedef RunFileBatteryItem ItemPlan; // an item's sequences and aligned answers (runfile/runfile_writer.h)

struct BatteryPlan {
    const LwBattery *b;
    ItemPlan *items;
    int n;
    int bos_id;
    int max_T;
    long pos_k; // battery_positions: 1 = NEXT only (no position rows); k > 1 the last k; 0 every position
};

// Positions decoded for item i's prompt (battery_positions; 0 when only NEXT): the last k, all of
// an item shorter than k, all for k = 0.
static int item_positions(const BatteryPlan *bp, int i) {
    int T = bp->items[i].T;
    if (bp->pos_k == 1) return 0;
    return bp->pos_k == 0 || bp->pos_k >= T ? T : (int)bp->pos_k;
}

// ---------------------------------------------------------------------------- validation

// The sequence of text (BOS prepended when the model uses one), or NULL with a problem added.
static int32_t *encode(LwBattery *b, int item, const Tokenizer *tok, const char *text, const char *what, int bos, int V,
                       int max_pos, int *T) {
    LwError e = {0};
    int32_t *c = NULL;
    int n = tok_encode(tok, text, strlen(text), 0, &c, &e);
    if (n < 0) { battery_add_problem(b, item, e.hint, "item '%s': %s: %s", b->items[item].id, what, e.msg); return NULL; }
    if (n == 0) {
        free(c);
        battery_add_problem(b, item, "every prompt needs some text", "item '%s': %s tokenizes to no ids", b->items[item].id, what);
        return NULL;
    }
    int off = bos >= 0;
    for (int i = 0; i < n; i++)
        if (c[i] < 0 || c[i] >= V) {
            free(c);
            battery_add_problem(b, item, "the tokenizer does not belong to this checkpoint",
                                "item '%s': %s: token id %d is outside the model's vocabulary of %d", b->items[item].id, what, c[i], V);
            return NULL;
        }
    if (max_pos > 0 && n + off > max_pos) {
        free(c);
        battery_add_problem(b, item, "shorten the prompt", "item '%s': %s is %d tokens, longer than the model's context of %d",
                            b->items[item].id, what, n + off, max_pos);
        return NULL;
    }
    int32_t *s = xmalloc(sizeof(int32_t) * (n + off));
    if (off) s[0] = bos;
    memcpy(s + off, c, sizeof(int32_t) * n);
    free(c);
    *T = n + off;
    return s;
}

// First ids of every answer after text, or NULL with a problem added per answer that fails.
static int32_t *align_all(LwBattery *b, int item, const Tokenizer *tok, const char *text, const char *what, int V) {
    const LwBatteryItem *it = &b->items[item];
    int32_t *f = xmalloc(sizeof(int32_t) * it->n_answers);
    int ok = 1;
    for (int j = 0; j < it->n_answers; j++) {
        TokAlign al;
        LwError e = {0};
        if (tok_align_answer(tok, text, it->answers[j], &al, &e)) {
            battery_add_problem(b, item, e.hint, "item '%s': answer \"%s\": %s", it->id, it->answers[j], e.msg);
            ok = 0;
        } else if (!al.ok) {
            battery_add_problem(b, item, "choose an answer that adds tokens after the prompt (METRICS.md §2.2)",
                                "item '%s': answer \"%s\" cannot be aligned after the %s (neither \" %s\" nor \"%s\" adds a token)",
                                it->id, it->answers[j], what, it->answers[j], it->answers[j]);
            ok = 0;
        } else if (al.first_id < 0 || al.first_id >= V) {
            battery_add_problem(b, item, "the tokenizer does not belong to this checkpoint",
                                "item '%s': answer \"%s\": id %d is outside the vocabulary of %d", it->id, it->answers[j], al.first_id, V);
            ok = 0;
        } else f[j] = al.first_id;
    }
    if (!ok) { free(f); return NULL; }
    return f;
}

static void item_plan_free(ItemPlan *p) {
    free(p->ids); free(p->first_ids); free(p->ctl_ids); free(p->ctl_first_ids);
    memset(p, 0, sizeof *p);
}

// Plans item i; returns 0, or -1 after adding its problems (every one of the item's).
static int plan_item(LwBattery *b, int i, const Tokenizer *tok, int bos, int V, int max_pos, ItemPlan *p) {
    const LwBatteryItem *it = &b->items[i];
    memset(p, 0, sizeof *p);
    int bad = 0;
    if (!(p->ids = encode(b, i, tok, it->prompt, "the prompt", bos, V, max_pos, &p->T))) bad = 1;
    else if (!(p->first_ids = align_all(b, i, tok, it->prompt, "prompt", V))) bad = 1;
    if (it->control) {
        if (!(p->ctl_ids = encode(b, i, tok, it->control, "the control prompt", bos, V, max_pos, &p->ctl_T))) bad = 1;
        else if (!(p->ctl_first_ids = align_all(b, i, tok, it->control, "control prompt", V))) bad = 1;
    }
    if (bad) item_plan_free(p);
    return bad ? -1 : 0;
}

int battery_plan_build(LwRunConfig *cfg, const ModelConfig *mc, const Tokenizer *tok, int bos_id, BatteryPlan **out,
                       LwError *err) {
    LwBattery *b = cfg->battery;
    int V = mc->vocab;
    *out = NULL;
    if (bos_id >= V)
        return lw_err(err, "the checkpoint's config.json and tokenizer disagree", "%s/config.json: bos_token_id: %d is outside the vocabulary of %d",
                      cfg->model_dir, bos_id, V);
    // 1. every item that was read whole: tokenization and alignment problems join the file's
    int *read_bad = xcalloc(b->n_items ? b->n_items : 1, sizeof(int));
    for (int k = 0; k < b->n_problems; k++)
        for (int i = 0; i < b->n_items; i++)
            if (b->items[i].line == b->problems[k].line) read_bad[i] = 1;
    int n_items0 = b->n_items;
    for (int i = 0; i < n_items0; i++) {
        if (read_bad[i]) continue;
        ItemPlan p;
        if (plan_item(b, i, tok, bos_id, V, (int)mc->max_pos, &p) == 0) item_plan_free(&p);
    }
    free(read_bad);
    const LwOption *o = config_option_find("skip_bad_items");
    if (battery_check(b, cfg->skip_bad_items, cfg->src[o - LW_OPTIONS].where, err)) return -1;
    if (cfg->battery_positions != 1 && cfg->topk_records > V) { // the position rows keep topk_records ids
        const LwOption *k = config_option_find("topk_records");
        return lw_err(err, "top-k lists are taken over the vocabulary; use a value up to its size",
                      "%s: topk_records: %ld is larger than the model's vocabulary (%d ids; battery_positions %ld keeps "
                      "topk_records ids per position)", cfg->src[k - LW_OPTIONS].where, cfg->topk_records, V, cfg->battery_positions);
    }
    // 2. the plan of the items left
    BatteryPlan *bp = xcalloc(1, sizeof *bp);
    bp->b = b;
    bp->n = b->n_items;
    bp->bos_id = bos_id;
    bp->pos_k = cfg->battery_positions;
    bp->items = xcalloc(bp->n, sizeof *bp->items);
    for (int i = 0; i < bp->n; i++) {
        int rc = plan_item(b, i, tok, bos_id, V, (int)mc->max_pos, &bp->items[i]);
        LW_ASSERT(rc == 0); // the same checks passed above
        if (bp->items[i].T > bp->max_T) bp->max_T = bp->items[i].T;
        if (bp->items[i].ctl_T > bp->max_T) bp->max_T = bp->items[i].ctl_T;
    }
    *out = bp;
    return 0;
}

void battery_plan_free(BatteryPlan *bp) {
    if (!bp) return;
    for (int i = 0; i < bp->n; i++) item_plan_free(&bp->items[i]);
    free(bp->items);
    free(bp);
}

// ---------------------------------------------------------------------------- the passes

// Per item × layer results of one kind of prompt (the items' own, or their controls).
typedef RunFileBatteryTable Table;

static void table_alloc(Table *t, int N, int n1) {
    size_t c = (size_t)N * n1, k = c * BATTERY_TOPK;
    t->entropy_bits = xmalloc(sizeof(double) * c); t->kl_to_final_bits = xmalloc(sizeof(double) * c);
    t->p_answer = xmalloc(sizeof(double) * c); t->p_answer_any = xmalloc(sizeof(double) * c);
    t->answer_logit = xmalloc(sizeof(double) * c); t->top_probs = xmalloc(sizeof(double) * k);
    t->answer_rank = xmalloc(sizeof(int32_t) * c); t->answer_best = xmalloc(sizeof(int32_t) * c);
    t->top_ids = xmalloc(sizeof(int32_t) * k);
    t->teacher_entropy_bits = xmalloc(sizeof(double) * N); t->final_top1_prob = xmalloc(sizeof(double) * N);
    t->final_top1 = xmalloc(sizeof(int32_t) * N); t->first_rank1 = xmalloc(sizeof(int32_t) * N);
    for (size_t i = 0; i < c; i++) {
        t->entropy_bits[i] = t->kl_to_final_bits[i] = t->p_answer[i] = t->p_answer_any[i] = t->answer_logit[i] = NAN;
        t->answer_rank[i] = t->answer_best[i] = -1;
    }
    for (size_t i = 0; i < k; i++) { t->top_probs[i] = NAN; t->top_ids[i] = -1; }
    for (int i = 0; i < N; i++) { t->teacher_entropy_bits[i] = t->final_top1_prob[i] = NAN; t->final_top1[i] = t->first_rank1[i] = -1; }
}

static void table_free(Table *t) {
    free(t->entropy_bits); free(t->kl_to_final_bits); free(t->p_answer); free(t->p_answer_any); free(t->answer_logit);
    free(t->top_probs); free(t->answer_rank); free(t->answer_best); free(t->top_ids);
    free(t->teacher_entropy_bits); free(t->final_top1_prob); free(t->final_top1); free(t->first_rank1);
}

static BatteryItemStats row_of(Table *t, int i, int n1) {
    size_t o = (size_t)i * n1;
    BatteryItemStats s = {.entropy_bits = t->entropy_bits + o, .kl_to_final_bits = t->kl_to_final_bits + o,
                          .p_answer = t->p_answer + o, .p_answer_any = t->p_answer_any + o,
                          .answer_logit = t->answer_logit + o, .answer_rank = t->answer_rank + o,
                          .answer_best = t->answer_best + o, .top_ids = t->top_ids + o * BATTERY_TOPK,
                          .top_probs = t->top_probs + o * BATTERY_TOPK};
    return s;
}

static void store_item(Table *t, int i, const BatteryItemStats *s) {
    t->teacher_entropy_bits[i] = s->teacher_entropy_bits;
    t->final_top1[i] = s->final_top1;
    t->final_top1_prob[i] = s->final_top1_prob;
    t->first_rank1[i] = s->first_rank1;
}

// Per item × decoded position × layer: the norm lens's entropy and top-K (battery_positions;
// runfile/runfile_writer.h). Rank 0 keeps every item's rows (off[i]: item i's first row, rows in
// position order); the other ranks one item's, reused.
typedef struct {
    long *off;     // [N+1]
    double *H;     // [rows, n1]
    int32_t *ids;  // [rows, n1, K]
    double *probs; // [rows, n1, K]
    int K;
} PosTable;

static void pos_alloc(PosTable *t, const BatteryPlan *bp, int keep, int n1, int K) {
    t->K = K;
    t->off = xmalloc(sizeof(long) * (bp->n + 1));
    t->off[0] = 0;
    for (int i = 0; i < bp->n; i++) t->off[i + 1] = t->off[i] + item_positions(bp, i);
    size_t rows = keep ? (size_t)t->off[bp->n] : (size_t)bp->max_T, c = rows * n1 + 1;
    t->H = xmalloc(sizeof(double) * c);
    t->ids = xmalloc(sizeof(int32_t) * c * K);
    t->probs = xmalloc(sizeof(double) * c * K);
}

static void pos_free(PosTable *t) { free(t->off); free(t->H); free(t->ids); free(t->probs); }

// ---------------------------------------------------------------------------- progress journal
// <out_dir>/<name>.battery-journal (rank 0; docs/BATTERY.md "Checkpoints"): one header line, then
// one record per finished item (its index and its rows of the tables; fixed-size, plus the item's
// position rows with battery_positions, whose count the plan gives), appended and flushed after
// every item. A requeued run with the same key (config hash, the items' hash, the
// checkpoint's files, tp_exact) reads the records back and continues at the first item without
// one; the file goes when the run file is finished. Failures leave it in place. The header also
// names the rank count of the run that began it: with tp_exact (the default) an item's measurements do not
// depend on it (bit for bit but the entropies' last bits, docs/BATTERY.md), so a job requeued with
// another number of ranks continues; with tp_exact: false they do, and it starts over.

typedef struct {
    FILE *f;       // NULL: no journal (other ranks, or it could not be written)
    char *path;
    size_t rec;    // bytes per record (without position rows)
    long header;   // bytes of the header line
    PosTable *pos; // battery_positions: each record also holds its item's position rows; else NULL
    int n1;
} Journal;

// Bytes of item i's position rows in its record (0 without battery_positions).
static size_t pos_bytes(const Journal *j, int i) {
    if (!j->pos) return 0;
    size_t cells = (size_t)(j->pos->off[i + 1] - j->pos->off[i]) * j->n1;
    return cells * (sizeof(double) + (size_t)j->pos->K * (sizeof(int32_t) + sizeof(double)));
}

// Copies item i's position rows to (dir = 1) or from (dir = 0) the bytes at *p, advancing *p.
static void pos_io(const Journal *j, int i, unsigned char **p, int dir) {
    if (!j->pos) return;
    PosTable *t = j->pos;
    size_t o = (size_t)t->off[i] * j->n1, c = (size_t)(t->off[i + 1] - t->off[i]) * j->n1, K = t->K;
    if (dir) { memcpy(*p, t->H + o, sizeof(double) * c); } else { memcpy(t->H + o, *p, sizeof(double) * c); }
    *p += sizeof(double) * c;
    if (dir) { memcpy(*p, t->ids + o * K, sizeof(int32_t) * c * K); } else { memcpy(t->ids + o * K, *p, sizeof(int32_t) * c * K); }
    *p += sizeof(int32_t) * c * K;
    if (dir) { memcpy(*p, t->probs + o * K, sizeof(double) * c * K); } else { memcpy(t->probs + o * K, *p, sizeof(double) * c * K); }
    *p += sizeof(double) * c * K;
}

// Copies table row i to (dir = 1) or from (dir = 0) the bytes at *p, advancing *p.
static void row_io(Table *t, int i, int n1, unsigned char **p, int dir) {
    size_t o = (size_t)i * n1, K = BATTERY_TOPK;
#define IO(ptr, bytes) do { if (dir) memcpy(*p, (ptr), (bytes)); else memcpy((ptr), *p, (bytes)); *p += (bytes); } while (0)
    IO(t->entropy_bits + o, sizeof(double) * n1);
    IO(t->kl_to_final_bits + o, sizeof(double) * n1);
    IO(t->p_answer + o, sizeof(double) * n1);
    IO(t->p_answer_any + o, sizeof(double) * n1);
    IO(t->answer_logit + o, sizeof(double) * n1);
    IO(t->answer_rank + o, sizeof(int32_t) * n1);
    IO(t->answer_best + o, sizeof(int32_t) * n1);
    IO(t->top_ids + o * K, sizeof(int32_t) * n1 * K);
    IO(t->top_probs + o * K, sizeof(double) * n1 * K);
    IO(t->teacher_entropy_bits + i, sizeof(double));
    IO(t->final_top1_prob + i, sizeof(double));
    IO(t->final_top1 + i, sizeof(int32_t));
    IO(t->first_rank1 + i, sizeof(int32_t));
#undef IO
}

static size_t row_bytes(int n1) {
    return sizeof(double) * (5 * n1 + (size_t)n1 * BATTERY_TOPK + 2) + sizeof(int32_t) * (2 * n1 + (size_t)n1 * BATTERY_TOPK + 2);
}

// Rank 0: opens the journal and reads the finished items' rows back into the tables. Returns the
// number of items done (0 for a new journal). Every problem means starting over, with a log line.
static int journal_open(Journal *j, const LwRunConfig *cfg, const BatteryPlan *bp, const char *fingerprint, int R, Table *it,
                        Table *ctl, int n_ctl, int n1) {
    uint64_t key = config_fnv1a64(cfg->config_hash, strlen(cfg->config_hash), LW_FNV1A64_INIT);
    key = config_fnv1a64(&bp->b->content_hash, sizeof bp->b->content_hash, key);
    key = config_fnv1a64(fingerprint ? fingerprint : "", fingerprint ? strlen(fingerprint) : 0, key);
    int exact = cfg->tp_exact != 0;
    key = config_fnv1a64(&exact, sizeof exact, key);
    j->path = xasprintf("%s/%s.battery-journal", cfg->out_dir, cfg->name);
    j->rec = sizeof(int32_t) + row_bytes(n1) * (n_ctl ? 2 : 1);
    char header[160];
    int hn = snprintf(header, sizeof header, "lensweep-battery-journal v2 key=%016llx items=%d layers=%d record=%zu ranks=",
                      (unsigned long long)key, bp->n, n1, j->rec);
    snprintf(header + hn, sizeof header - hn, "%d\n", R);
    j->header = (long)strlen(header);
    int done = 0;
    FILE *f = fopen(j->path, "r+b");
    if (f) {
        char got[160] = "", nl = 0;
        int got_R = 0;
        if (!fgets(got, sizeof got, f) || strncmp(got, header, hn) || sscanf(got + hn, "%d%c", &got_R, &nl) != 2 || nl != '\n' ||
            got_R < 1) {
            lw_log("battery: %s belongs to another run (configuration, items, checkpoint or tp_exact differ): starting over", j->path);
            fclose(f);
            f = NULL;
        } else if (got_R != R && !exact) {
            lw_log("battery: %s was written by %d rank%s, this run has %d; with tp_exact: false the measurements depend on the "
                   "rank count: starting over (tp_exact: true continues across rank counts)", j->path, got_R, got_R == 1 ? "" : "s", R);
            fclose(f);
            f = NULL;
        } else {
            j->header = (long)strlen(got); // the header as written (ranks= the count of the run that began the journal)
            if (got_R != R)
                lw_log("battery: %s was written by %d rank%s, this run has %d: continuing (tp_exact: the measurements do not depend "
                       "on the rank count)", j->path, got_R, got_R == 1 ? "" : "s", R);
        }
        if (f) {
            size_t cap = j->rec;
            for (int i = 0; i < bp->n; i++)
                if (j->rec + pos_bytes(j, i) > cap) cap = j->rec + pos_bytes(j, i);
            unsigned char *buf = xmalloc(cap);
            long end = j->header; // after the last whole record
            while (done < bp->n && fread(buf, 1, j->rec + pos_bytes(j, done), f) == j->rec + pos_bytes(j, done)) {
                int32_t idx;
                memcpy(&idx, buf, sizeof idx);
                if (idx != done) break;
                unsigned char *p = buf + sizeof idx;
                row_io(it, done, n1, &p, 0);
                if (n_ctl) row_io(ctl, done, n1, &p, 0);
                pos_io(j, done, &p, 0);
                end += (long)(j->rec + pos_bytes(j, done));
                done++;
            }
            free(buf);
            // drop a partial or foreign tail, continue writing after the last whole record
            if (fflush(f) || ftruncate(fileno(f), end) || fseek(f, 0, SEEK_END)) {
                lw_warn("battery: %s: cannot continue the journal (%s): starting over", j->path, strerror(errno));
                fclose(f);
                f = NULL;
                done = 0;
            } else if (done > 0) {
                lw_log("battery: resuming at item %d of %d (%d finished items read back from %s)", done + 1, bp->n, done, j->path);
            }
        }
    }
    if (!f) {
        done = 0;
        j->header = (long)strlen(header);
        f = fopen(j->path, "w+b");
        if (!f || fputs(header, f) < 0 || fflush(f)) {
            lw_warn("battery: cannot write the progress journal %s (%s): a requeued run will start over", j->path, strerror(errno));
            if (f) fclose(f);
            f = NULL;
        }
    }
    j->f = f;
    return done;
}

static void journal_append(Journal *j, int i, Table *it, Table *ctl, int n_ctl, int n1, unsigned char *buf) {
    if (!j->f) return;
    int32_t idx = i;
    memcpy(buf, &idx, sizeof idx);
    unsigned char *p = buf + sizeof idx;
    row_io(it, i, n1, &p, 1);
    if (n_ctl) row_io(ctl, i, n1, &p, 1);
    pos_io(j, i, &p, 1);
    size_t rec = j->rec + pos_bytes(j, i);
    if (fwrite(buf, 1, rec, j->f) != rec || fflush(j->f)) {
        lw_warn("battery: writing the progress journal %s failed (%s): no further checkpoints", j->path, strerror(errno));
        fclose(j->f);
        j->f = NULL;
    }
}

static void iso_now(char *buf, size_t n) {
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static int cmp_int(const void *a, const void *b) { return *(const int *)a - *(const int *)b; }

// The sink of the battery's batched forwards: measures one prompt (an item's, or its control
// prompt) from its rows of the batch, and journals the item once its last prompt is measured.
typedef struct {
    const LensRun *lr;
    const BatteryPlan *bp;
    Table *it, *ctl;
    PosTable *pos; // NULL: NEXT only
    Journal *jr;
    unsigned char *jbuf;
    float *resid;
    const int *pitem;
    int keep, n1, N, start, n_ctl;
    double ts, last;
} BatterySink;

static void battery_each(void *ctx, int q, const float *bres, int T_batch, int off) {
    BatterySink *s = ctx;
    int c = s->pitem[q] < 0, i = c ? -1 - s->pitem[q] : s->pitem[q];
    const ItemPlan *p = &s->bp->items[i];
    const LwBattery *b = s->bp->b;
    int T = c ? p->ctl_T : p->T;
    if (!c) {
        double el = lw_now() - s->ts;
        if (i == s->start || el - s->last >= (lw_log_is_tty() ? 0.2 : 10.0)) {
            s->last = el;
            if (i > s->start)
                lw_progress("battery item %d/%d (%s): %.1f s elapsed, ~%.1f s left", i + 1, s->N, b->items[i].id, el,
                            el / (i - s->start) * (s->N - i));
            else lw_progress("battery item %d/%d (%s)", i + 1, s->N, b->items[i].id);
        }
    }
    model_batch_resid(s->lr->m, bres, T_batch, off, T, s->resid);
    Table *t = c ? s->ctl : s->it;
    BatteryItemStats st = row_of(t, s->keep ? i : 0, s->n1);
    lens_battery_item(s->lr, s->resid, T, c ? p->ctl_first_ids : p->first_ids, b->items[i].n_answers, &st);
    store_item(t, s->keep ? i : 0, &st);
    if (!c && s->pos) { // the item's last positions, every layer (battery_positions)
        int np = item_positions(s->bp, i);
        size_t o = s->keep ? (size_t)s->pos->off[i] * s->n1 : 0, K = s->pos->K;
        lens_battery_positions(s->lr, s->resid, T, T - np, (int)K, s->pos->H + o, s->pos->ids + o * K, s->pos->probs + o * K);
    }
    if (c || !p->ctl_ids) journal_append(s->jr, i, s->it, s->ctl, s->n_ctl, s->n1, s->jbuf);
}

void run_battery(const LensRun *lr, const LwRunConfig *cfg, const BatteryPlan *bp, RunFile *rf, Comm *comm, double t0,
                 const char *fingerprint) {
    const Model *m = lr->m;
    const LwBattery *b = bp->b;
    int n = m->cfg.n_layers, n1 = n + 1, d = m->cfg.d_model, N = bp->n;
    int n_ctl = 0;
    for (int i = 0; i < N; i++) n_ctl += bp->items[i].ctl_ids != NULL;
    // rank 0 keeps every item's rows (it writes them); the other ranks one row, reused
    int keep = comm->rank == 0, rows = keep ? N : 1;
    Table it, ctl;
    table_alloc(&it, rows, n1);
    if (n_ctl) table_alloc(&ctl, rows, n1);
    PosTable pos = {0};
    if (bp->pos_k != 1) {
        pos_alloc(&pos, bp, keep, n1, lr->topk_all);
        int shorter = 0;
        for (int i = 0; i < N && bp->pos_k > 1; i++) shorter += bp->items[i].T < bp->pos_k;
        if (bp->pos_k == 0) lw_log("battery_positions 0: every position of every item decoded (%ld rows of %d layers)", pos.off[N], n1);
        else lw_log("battery_positions %ld: the last %ld positions of each item decoded (%ld rows of %d layers)", bp->pos_k,
                    bp->pos_k, pos.off[N], n1);
        if (shorter)
            lw_log("battery_positions %ld: %d item%s shorter than %ld tokens: every position of %s decoded (BOS included)",
                   bp->pos_k, shorter, shorter == 1 ? " is" : "s are", bp->pos_k, shorter == 1 ? "it" : "each");
    }
    float *resid = xmalloc(sizeof(float) * (size_t)n1 * bp->max_T * d);
    Journal jr = {.pos = bp->pos_k != 1 ? &pos : NULL, .n1 = n1};
    int start = 0;
    if (comm->rank == 0) start = journal_open(&jr, cfg, bp, fingerprint, comm->size, &it, &ctl, n_ctl, n1);
    comm_bcast(comm, &start, sizeof start, 0); // every rank continues at the same item
    size_t jcap = jr.rec;
    for (int i = 0; jr.f && i < N; i++)
        if (jr.rec + pos_bytes(&jr, i) > jcap) jcap = jr.rec + pos_bytes(&jr, i);
    unsigned char *jbuf = jr.f ? xmalloc(jcap) : NULL;
    lw_stage("battery: %d items (no file complete yet)", N);
    // The prompts still to run (each item's prompt, then its control prompt), in packed batches of
    // batch_memory_mb (issue 15 item 2): every item's rows equal a forward of it alone (exact mode:
    // bit for bit, model.h); each item is measured and journaled as soon as its batch is done.
    int np = 0;
    for (int i = start; i < N; i++) np += bp->items[i].ctl_ids ? 2 : 1;
    const int32_t **pids = xmalloc(sizeof *pids * (size_t)(np ? np : 1));
    int *plen = xmalloc(sizeof(int) * (size_t)(np ? np : 1)), *pitem = xmalloc(sizeof(int) * (size_t)(np ? np : 1));
    long tokens = 0;
    for (int i = start, q = 0; i < N; i++)
        for (int c = 0; c < (bp->items[i].ctl_ids ? 2 : 1); c++, q++) {
            pids[q] = c ? bp->items[i].ctl_ids : bp->items[i].ids;
            plen[q] = c ? bp->items[i].ctl_T : bp->items[i].T;
            pitem[q] = c ? -1 - i : i; // negative: the control prompt of item -1 - v
            tokens += plen[q];
        }
    int batch_tokens = model_batch_tokens(m, (double)cfg->batch_memory_mb);
    BatterySink bs = {.lr = lr, .bp = bp, .it = &it, .ctl = &ctl, .pos = bp->pos_k != 1 ? &pos : NULL, .jr = &jr, .jbuf = jbuf,
                      .resid = resid, .pitem = pitem, .keep = keep, .n1 = n1, .N = N, .start = start, .n_ctl = n_ctl, .ts = lw_now()};
    double ts = bs.ts;
    int n_batches = np ? model_forward_prompts(m, pids, plen, np, batch_tokens, comm, battery_each, &bs) : 0;
    free(pids); free(plen); free(pitem);
    double pass_s = lw_now() - ts;
    lw_progress_end();
    int ran = N - start;
    lw_log("battery: %d items run%s (%ld tokens incl. control prompts) in %.2f s: %.4f s per item, %.1f tokens/s; "
           "%d forward batches of up to %d tokens (batch_memory_mb %ld)",
           ran, start ? " after those read back" : "", tokens, pass_s, ran ? pass_s / ran : 0.0,
           pass_s > 0 ? tokens / pass_s : 0.0, n_batches, batch_tokens, cfg->batch_memory_mb);
    free(resid);
    free(jbuf);

    // ---- /battery (rank 0 writes; rf is NULL elsewhere)
    lw_stage("writing the battery's datasets");
    runfile_write_battery(rf, b, bp->items, N, n1, BATTERY_TOPK, &it, n_ctl ? &ctl : NULL);
    if (bp->pos_k != 1) {
        RunFileBatteryPositions rp = {.k = bp->pos_k, .K = pos.K, .off = pos.off, .entropy_bits = pos.H, .top_ids = pos.ids,
                                      .top_probs = pos.probs};
        runfile_write_battery_positions(rf, bp->items, N, n1, &rp);
    }

    double wall = lw_now() - t0;
    char end[32];
    iso_now(end, sizeof end);
    LwError err = {0};
    char *out_path = xasprintf("%s/%s.h5", cfg->out_dir, cfg->name);
    lw_stage("writing %s", out_path);
    if (runfile_finish(rf, end, wall, &err)) lw_die_err(&err, LW_EXIT_RUNTIME);
    if (jr.f) fclose(jr.f);
    if (jr.path && comm->rank == 0) unlink(jr.path); // the run file is complete: nothing to resume
    free(jr.path);
    comm_barrier(comm);

    // ---- summary (rank 0)
    int *fr = xmalloc(sizeof(int) * N), k = 0;
    for (int i = 0; i < N && keep; i++)
        if (it.first_rank1[i] >= 0) fr[k++] = it.first_rank1[i];
    qsort(fr, k, sizeof(int), cmp_int);
    lw_log("summary: %s, battery %s (%d items%s)", cfg->name, b->name, N, b->n_skipped ? ", some skipped" : "");
    if (b->n_skipped) lw_log("  %d bad item%s skipped (listed in /battery/skipped)", b->n_skipped, b->n_skipped == 1 ? "" : "s");
    lw_log("  answer reaches rank 1 (norm lens) in %d of %d items%s", k, N, k ? "" : "");
    if (k) lw_log("  first rank-1 layer: median %g, range %d..%d of %d", k % 2 ? fr[k / 2] : 0.5 * (fr[k / 2 - 1] + fr[k / 2]), fr[0],
                  fr[k - 1], n);
    lw_log("  wall %.2f s, peak RSS rank 0 %.1f MB", wall, lw_peak_rss_bytes() / 1e6);
    lw_log("  wrote %s", out_path);
    free(fr);
    free(out_path);
    table_free(&it);
    if (n_ctl) table_free(&ctl);
    if (bp->pos_k != 1) pos_free(&pos);
}

// fit-tuned — fit the tuned-lens translators of one checkpoint (METRICS.md §19.2) on a text corpus
// and write the artifact of docs/TUNED.md: <out>/tuned.safetensors and <out>/provenance.json.
//
// Data: the corpus (plain text, or JSON lines with a `text` field) tokenized without special
// tokens, documents concatenated, cut into contiguous seq_len sequences (no BOS); micro-batch i
// takes sequences i·mb .. (i+1)·mb − 1 in order. Per micro-batch: the frozen forward (packed
// batches, model_forward_prompts), P_pos positions shared by the micro-batch and K_layers
// translators drawn (splitmix64, --seed), the teacher = the norm lens at the last block
// (ln_final(h_n)·W_U, not soft-capped), each sampled translator's loss and gradient
// (tuned/tuned_fit.h; micro-batch loss = mean over the sampled translators, divided by
// grad_accum), accumulated; then AdamW on every translator that got a gradient, cosine schedule.
// [REF-QUIRK] (§19.2): the step loop runs 4 micro-batches whatever grad_accum says
// (quirks.tuned_four_microbatches, default true); false runs grad_accum micro-batches.
//
// Tensor parallel like `run` (mpirun -np R): each rank its slice of the model and its vocabulary
// shard of W_U; the log-sum-exp and dL/dy are merged by all-reduces (tuned_fit.c); every rank
// holds the same translators; rank 0 tokenizes (broadcast) and writes.
//
// Resume: every --checkpoint-every steps (and at --max-steps) the translators, the optimizer's
// moments and step counts, the step, the micro-batch counter (corpus position), the RNG state and
// the last losses go to <out>/fit-state.bin (.tmp + rename). A rerun of the same command continues
// from it (options that change the fit must be equal: the state names the first that differs).
// A non-finite loss stops the fit (exit 1, translator and step named), the last state kept, no
// provenance.json. The artifact is written .tmp + rename, provenance.json last; then the state
// file is removed.
#include <errno.h>
#include <malloc.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "backend/comm.h"
#include "cmd/cmd.h"
#include "io/gguf.h"
#include "model/model.h"
#include "tok/checkpoint_tok.h"
#include "tuned/tuned.h"
#include "tuned/tuned_fit.h"
#include "util/sha256.h"
#include "util/util.h"

#define HINT "see lensweep fit-tuned --help"

static void usage(FILE *f) {
    fprintf(f,
            "usage: lensweep fit-tuned --model DIR --corpus FILE --out DIR [options]\n"
            "Fits the tuned-lens translators (METRICS.md §19.2) of a checkpoint on a text corpus (plain text,\n"
            "or JSON lines with a \"text\" field) and writes DIR/tuned.safetensors and DIR/provenance.json\n"
            "(docs/TUNED.md). Tensor parallel under mpirun -np R. Options (defaults: the spec's):\n"
            "  --seq-len N            tokens per sequence (512)\n"
            "  --tokens N             token budget: total_steps = ceil(N / (micro_batch*grad_accum*seq_len)) (32000000)\n"
            "  --micro-batch N        sequences per micro-batch (32)\n"
            "  --grad-accum N         micro-batches per optimizer step in the budget (1)\n"
            "  --seed N               sampling and initialization seed (316)\n"
            "  --rank K               translator rank (the §19.1 rule: max(64, min(d/32, 256)), 256 for d >= 4096)\n"
            "  --k-layers N           translators sampled per micro-batch (the §19.2 rule)\n"
            "  --p-pos N              positions sampled per sequence (the §19.2 rule)\n"
            "  --lr X                 AdamW learning rate (1e-3; betas 0.9/0.999, eps 1e-8, weight decay 1e-4)\n"
            "  --init lora|zero       U ~ N(0, 1/d) with V = 0 (lora; the map starts as the identity), or U = V = 0\n"
            "                         (zero: the spec's words; U and V then never move: zero gradients)\n"
            "  --quirks.tuned_four_microbatches true|false\n"
            "                         [REF-QUIRK] 4 micro-batches per step whatever grad_accum (true)\n"
            "  --checkpoint-every N   steps between resume states in DIR/fit-state.bin (50)\n"
            "  --max-steps N          stop after step N with the resume state written (a rerun continues)\n"
            "  --batch-memory-mb N    forward batch memory per rank (256)\n"
            "  --tp-exact true|false  forward products accumulated in double, residuals independent of R (false:\n"
            "                         fp32 sgemm, several times faster; the fit does not need run's bit-exactness)\n");
}

typedef struct {
    const char *model, *corpus, *out;
    int seq_len, micro_batch, grad_accum, rank, k_layers, p_pos, zero_init, four_micro, ckpt_every, batch_mb, tp_exact;
    long long tokens, max_steps;
    uint64_t seed;
    double lr;
} FitOpts;

static long long parse_ll(const char *opt, const char *v, long long min, long long max) {
    char *end;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    if (!*v || *end || errno || x < min || x > max)
        lw_die(LW_EXIT_INPUT, HINT, "fit-tuned: option %s: '%s' is not an integer in [%lld, %lld]", opt, v, min, max);
    return x;
}

static void parse_args(int argc, char **argv, FitOpts *o) {
    memset(o, 0, sizeof *o);
    o->seq_len = 512;
    o->tokens = 32000000;
    o->micro_batch = 32;
    o->grad_accum = 1;
    o->seed = 316;
    o->lr = 1e-3;
    o->four_micro = 1;
    o->ckpt_every = 50;
    o->batch_mb = 256;
    static const char *const known[] = {"--model", "--corpus", "--out", "--seq-len", "--tokens", "--micro-batch",
                                        "--grad-accum", "--seed", "--rank", "--k-layers", "--p-pos", "--lr", "--init",
                                        "--quirks.tuned_four_microbatches", "--checkpoint-every", "--max-steps",
                                        "--batch-memory-mb", "--tp-exact"};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) { usage(stdout); exit(0); }
        int ok = 0;
        for (size_t j = 0; j < sizeof known / sizeof *known; j++) ok |= !strcmp(a, known[j]);
        if (!ok) lw_die(LW_EXIT_INPUT, HINT, "fit-tuned: unknown option '%s'", a);
        if (i + 1 >= argc) lw_die(LW_EXIT_INPUT, HINT, "fit-tuned: option %s needs a value", a);
        const char *v = argv[++i];
        if (!strcmp(a, "--model")) o->model = v;
        else if (!strcmp(a, "--corpus")) o->corpus = v;
        else if (!strcmp(a, "--out")) o->out = v;
        else if (!strcmp(a, "--seq-len")) o->seq_len = (int)parse_ll(a, v, 2, 1 << 20);
        else if (!strcmp(a, "--tokens")) o->tokens = parse_ll(a, v, 1, 1LL << 50);
        else if (!strcmp(a, "--micro-batch")) o->micro_batch = (int)parse_ll(a, v, 1, 1 << 16);
        else if (!strcmp(a, "--grad-accum")) o->grad_accum = (int)parse_ll(a, v, 1, 1 << 16);
        else if (!strcmp(a, "--seed")) o->seed = (uint64_t)parse_ll(a, v, 0, 0x7fffffffLL);
        else if (!strcmp(a, "--rank")) o->rank = (int)parse_ll(a, v, 1, 1 << 16);
        else if (!strcmp(a, "--k-layers")) o->k_layers = (int)parse_ll(a, v, 1, 1 << 16);
        else if (!strcmp(a, "--p-pos")) o->p_pos = (int)parse_ll(a, v, 1, 1 << 16);
        else if (!strcmp(a, "--checkpoint-every")) o->ckpt_every = (int)parse_ll(a, v, 1, 1 << 30);
        else if (!strcmp(a, "--max-steps")) o->max_steps = parse_ll(a, v, 1, 1LL << 50);
        else if (!strcmp(a, "--batch-memory-mb")) o->batch_mb = (int)parse_ll(a, v, 1, 1 << 30);
        else if (!strcmp(a, "--lr")) {
            char *end;
            o->lr = strtod(v, &end);
            if (!*v || *end || !(o->lr > 0) || !isfinite(o->lr))
                lw_die(LW_EXIT_INPUT, HINT, "fit-tuned: option --lr: '%s' is not a positive number", v);
        } else if (!strcmp(a, "--init")) {
            if (strcmp(v, "lora") && strcmp(v, "zero")) lw_die(LW_EXIT_INPUT, "--init lora or --init zero", "fit-tuned: option --init: '%s'", v);
            o->zero_init = !strcmp(v, "zero");
        } else if (!strcmp(a, "--quirks.tuned_four_microbatches") || !strcmp(a, "--tp-exact")) {
            if (strcmp(v, "true") && strcmp(v, "false"))
                lw_die(LW_EXIT_INPUT, "true or false", "fit-tuned: option %s: '%s' is not a boolean", a, v);
            *(a[2] == 'q' ? &o->four_micro : &o->tp_exact) = !strcmp(v, "true");
        }
    }
    if (!o->model) lw_die(LW_EXIT_INPUT, "e.g. --model /path/to/checkpoint", "fit-tuned: --model is required");
    if (!o->corpus) lw_die(LW_EXIT_INPUT, "e.g. --corpus /usr/share/common-licenses/GPL-3 (plain text or JSON lines)", "fit-tuned: --corpus is required");
    if (!o->out) lw_die(LW_EXIT_INPUT, "e.g. --out tuned_lenses/<model>", "fit-tuned: --out is required");
}

// ---------------------------------------------------------------------------- corpus
typedef struct {
    int32_t *ids;
    int64_t n, cap;
} Ids;

static void ids_add(Ids *v, const int32_t *x, int n) {
    if (v->n + n > v->cap) {
        v->cap = (v->n + n) * 2 + 1024;
        v->ids = xrealloc(v->ids, sizeof(int32_t) * (size_t)v->cap);
    }
    memcpy(v->ids + v->n, x, sizeof(int32_t) * (size_t)n);
    v->n += n;
}

static void encode_doc(const Tokenizer *tok, const char *path, const char *where, const char *s, size_t len, int vocab,
                       Ids *v) {
    if (!len) return;
    int32_t *c = NULL;
    LwError err = {0};
    int m = tok_encode(tok, s, len, 0, &c, &err);
    if (m < 0) lw_die(LW_EXIT_INPUT, "the corpus must be UTF-8 text", "%s: %s: %s", path, where, err.msg);
    for (int i = 0; i < m; i++)
        if (c[i] < 0 || c[i] >= vocab)
            lw_die(LW_EXIT_INPUT, "the tokenizer does not belong to this checkpoint", "%s: %s: token id %d is outside the model's vocabulary of %d", path, where, c[i], vocab);
    ids_add(v, c, m);
    free(c);
}

// Tokenizes the corpus until `need` tokens are there (or the end). Plain text is encoded in
// paragraphs (text up to and including a blank line), so that a big file is not one call; JSON
// lines are one document per line. *format gets "text" or "jsonl".
static Ids read_corpus(const char *path, const Tokenizer *tok, int vocab, int64_t need, const char **format) {
    LwError err = {0};
    size_t len;
    char *buf = lw_read_file(path, &len, &err);
    if (!buf) lw_die(LW_EXIT_INPUT, "--corpus names a text file (plain text, or JSON lines with a \"text\" field)", "fit-tuned: --corpus: %s", err.msg);
    Ids v = {0};
    size_t i = 0;
    while (i < len && (buf[i] == ' ' || buf[i] == '\n' || buf[i] == '\r' || buf[i] == '\t')) i++;
    int jsonl = i < len && buf[i] == '{';
    *format = jsonl ? "jsonl" : "text";
    size_t p = 0;
    int line = 0;
    while (p < len && v.n < need) {
        if (jsonl) {
            char *nl = memchr(buf + p, '\n', len - p);
            size_t e = nl ? (size_t)(nl - buf) : len;
            line++;
            size_t q = p;
            while (q < e && (buf[q] == ' ' || buf[q] == '\t' || buf[q] == '\r')) q++;
            if (q < e) {
                json_error_t je;
                json_t *o = json_loadb(buf + p, e - p, 0, &je);
                json_t *t = json_object_get(o, "text");
                char where[64];
                snprintf(where, sizeof where, "line %d", line);
                if (!json_is_object(o))
                    lw_die(LW_EXIT_INPUT, "JSON lines: one object per line with a \"text\" string", "%s: line %d: not a JSON object (%s)", path, line, je.text);
                if (!json_is_string(t))
                    lw_die(LW_EXIT_INPUT, "JSON lines: one object per line with a \"text\" string", "%s: line %d: field text: missing or not a string", path, line);
                encode_doc(tok, path, where, json_string_value(t), json_string_length(t), vocab, &v);
                json_decref(o);
            }
            p = e + 1;
        } else {
            // a paragraph: up to and including the first blank line after p (or 64 KiB at a line end)
            size_t e = p;
            while (e < len) {
                char *nl = memchr(buf + e, '\n', len - e);
                e = nl ? (size_t)(nl - buf) + 1 : len;
                if (e >= len || buf[e] == '\n' || e - p > 65536) break;
            }
            while (e < len && buf[e] == '\n') e++;
            char where[64];
            snprintf(where, sizeof where, "byte %zu", p);
            encode_doc(tok, path, where, buf + p, e - p, vocab, &v);
            p = e;
        }
    }
    free(buf);
    return v;
}

// ---------------------------------------------------------------------------- the fit
typedef struct {
    int n_sel;              // sampled translators + the last block
    const int *sel_L;       // residual index L of each selected slot
    int P, d, n1;
    const int *pos;
    float *H;               // [n_sel][mb*P][d] raw residuals
    int mb;
} Sink;

static void sink_each(void *ctx, int p, const float *resid, int T_batch, int off) {
    Sink *s = ctx;
    size_t rows = (size_t)s->mb * s->P;
    for (int j = 0; j < s->n_sel; j++)
        for (int q = 0; q < s->P; q++)
            memcpy(s->H + ((size_t)j * rows + (size_t)p * s->P + q) * s->d,
                   resid + ((size_t)s->sel_L[j] * T_batch + off + s->pos[q]) * s->d, sizeof(float) * (size_t)s->d);
}

static json_t *loss_array(const double *v, int n) {
    json_t *a = json_array();
    for (int i = 0; i < n; i++) json_array_append_new(a, isfinite(v[i]) ? json_real(v[i]) : json_null());
    return a;
}

static int fit_main(Comm *comm, const FitOpts *o) {
    LwError err = {0};
    char gguf_file[1100];
    int is_gguf = gguf_checkpoint_path(o->model, gguf_file, sizeof gguf_file);
    if (!lw_is_dir(o->model) && !is_gguf)
        lw_die(LW_EXIT_INPUT, "--model names a Hugging Face checkpoint directory (config.json, *.safetensors, tokenizer.json) or a .gguf file",
               "fit-tuned: --model: %s is not a directory", o->model);
    ModelConfig mc;
    if (model_config_load(o->model, &mc, &err)) lw_die_err(&err, LW_EXIT_INPUT);
    int n = mc.n_layers, d = mc.d_model, V = mc.vocab, n_train = n - 1;
    if (n_train < 1)
        lw_die(LW_EXIT_INPUT, "the tuned lens has translators for blocks 0..n-2: use a model of at least 2 layers",
               "%s/config.json: num_hidden_layers: %d leaves no trainable translator", o->model, n);
    {
        TpSlice sl;
        char why[256];
        if (tp_slice_plan(&mc, comm->rank, comm->size, 0, &sl, why, sizeof why))
            lw_die(LW_EXIT_INPUT, "tensor parallelism splits whole heads, MLP rows and vocabulary rows (TENSOR_PARALLEL.md §3)",
                   "fit-tuned: %d ranks are impossible for %s: %s", comm->size, o->model, why);
    }
    char cfg_sha[65] = "", *cfg_path = is_gguf ? xstrdup(gguf_file) : xasprintf("%s/config.json", o->model);
    if (!is_gguf && lw_sha256_file(cfg_path, cfg_sha, &err)) lw_die_err(&err, LW_EXIT_INPUT);

    // §19.1's rule floors k at 64; a model narrower than that gets k = d (a rank beyond d adds
    // nothing, and the loader in `run` takes 1..d)
    int k = o->rank ? o->rank : tuned_rank_rule(d) < d ? tuned_rank_rule(d) : d;
    if (k > d)
        lw_die(LW_EXIT_INPUT, "the translator rank is at most d_model", "fit-tuned: --rank %d: %s has d_model %d", k, o->model, d);
    int K = o->k_layers ? o->k_layers : tuned_k_layers_rule(V, n);
    int P = o->p_pos ? o->p_pos : tuned_p_pos_rule(V);
    if (K > n_train)
        lw_die(LW_EXIT_INPUT, "K_layers is at most the n-1 trainable translators", "fit-tuned: --k-layers %d: %s has %d trainable translators", K, o->model, n_train);
    int seq = o->seq_len, mb = o->micro_batch, ga = o->grad_accum;
    int n_micro = o->four_micro ? 4 : ga; // [REF-QUIRK] §19.2
    int64_t tokens_per_step = (int64_t)mb * ga * seq;
    int64_t total_steps = (o->tokens + tokens_per_step - 1) / tokens_per_step;
    int64_t need = total_steps * n_micro * (int64_t)mb * seq;

    // ---- corpus (rank 0 tokenizes; the ids are broadcast)
    if (!lw_file_exists(o->corpus) || lw_is_dir(o->corpus))
        lw_die(LW_EXIT_INPUT, "--corpus names a text file (plain text, or JSON lines with a \"text\" field)", "fit-tuned: --corpus: %s: %s",
               o->corpus, lw_is_dir(o->corpus) ? "is a directory, not a file" : "no such file");
    char corpus_sha[65];
    if (lw_sha256_file(o->corpus, corpus_sha, &err)) lw_die_err(&err, LW_EXIT_INPUT);
    Tokenizer *tok = checkpoint_tokenizer_load(o->model, &err);
    if (!tok) lw_die_err(&err, LW_EXIT_INPUT);
    const char *format = "text";
    Ids ids = {0};
    int64_t n_ids = 0;
    lw_stage("tokenizing the corpus (no file written yet)");
    if (comm->rank == 0) {
        ids = read_corpus(o->corpus, tok, V, need, &format);
        n_ids = ids.n;
    }
    tok_free(tok);
    int jsonl = format[0] == 'j';
    comm_bcast(comm, &n_ids, sizeof n_ids, 0);
    comm_bcast(comm, &jsonl, sizeof jsonl, 0);
    format = jsonl ? "jsonl" : "text";
    if (n_ids < need)
        lw_die(LW_EXIT_INPUT, "use a bigger corpus, or a smaller --tokens / --micro-batch / --seq-len",
               "fit-tuned: --corpus: %s has %lld tokens (%s, tokenized without special tokens), the fit needs %lld = %lld steps x %d micro-batches x %d sequences x %d tokens%s",
               o->corpus, (long long)n_ids, format, (long long)need, (long long)total_steps, n_micro, mb, seq,
               o->four_micro ? " (4 micro-batches per step: quirks.tuned_four_microbatches)" : "");
    if (comm->rank != 0) ids.ids = xmalloc(sizeof(int32_t) * (size_t)n_ids);
    comm_bcast(comm, ids.ids, sizeof(int32_t) * (size_t)n_ids, 0);

    // ---- output directory; resume state
    if (comm->rank == 0 && lw_mkdir_p(o->out, &err)) lw_die_err(&err, LW_EXIT_INPUT);
    if (comm->rank == 0 && access(o->out, W_OK) != 0)
        lw_die(LW_EXIT_INPUT, "choose a writable --out directory", "fit-tuned: --out: %s is not writable: %s", o->out, strerror(errno));
    char *st_path = xasprintf("%s/tuned.safetensors", o->out), *js_path = xasprintf("%s/provenance.json", o->out);
    char *state_path = xasprintf("%s/fit-state.bin", o->out);
    comm_barrier(comm);

    // The options that define the fit: a resume state must have been written with the same.
    json_t *ident = json_pack("{s:s, s:s?, s:i, s:i, s:i, s:s, s:i, s:I, s:i, s:i, s:I, s:i, s:i, s:i, s:f, s:s, s:b, s:b}",
                              "model_path", o->model, "config_sha256", is_gguf ? NULL : cfg_sha, "d_model", d, "n_layers", n,
                              "vocab", V, "corpus_sha256", corpus_sha, "seq_len", seq, "tokens", (json_int_t)o->tokens,
                              "micro_batch", mb, "grad_accum", ga, "seed", (json_int_t)o->seed, "rank", k, "k_layers", K,
                              "p_pos", P, "lr", o->lr, "init", o->zero_init ? "zero" : "lora", "four_microbatches", o->four_micro,
                              "tp_exact", o->tp_exact);
    TunedLens t;
    tuned_init(&t, d, n, k);
    TunedAdam adam;
    tuned_adam_init(&adam, d, k, n_train);
    uint64_t rng = o->seed;
    int64_t step = 0, micro_done = 0;
    double *last_loss = xmalloc(sizeof(double) * (size_t)n_train), *last_kl = xmalloc(sizeof(double) * (size_t)n_train);
    for (int l = 0; l < n_train; l++) last_loss[l] = last_kl[l] = NAN;
    int resumed = 0;
    if (lw_file_exists(state_path)) {
        char *meta_s = NULL;
        if (tuned_state_load(state_path, &t, &adam, &meta_s, &err)) lw_die_err(&err, LW_EXIT_INPUT);
        json_t *meta = json_loads(meta_s, 0, NULL);
        free(meta_s);
        json_t *was = json_object_get(meta, "ident");
        const char *key;
        json_t *val;
        json_object_foreach(ident, key, val) {
            json_t *w = json_object_get(was, key);
            if (!w || !json_equal(w, val)) {
                char *a = json_dumps(val, JSON_ENCODE_ANY), *b = w ? json_dumps(w, JSON_ENCODE_ANY) : xstrdup("(absent)");
                lw_die(LW_EXIT_INPUT, "rerun with the options of the interrupted fit, or remove the state file to start over",
                       "%s: %s: the interrupted fit had %s, this one %s", state_path, key, b, a);
            }
        }
        step = json_integer_value(json_object_get(meta, "step"));
        micro_done = json_integer_value(json_object_get(meta, "micro_batches_done"));
        const char *rs = json_string_value(json_object_get(meta, "rng"));
        LW_ASSERT(rs);
        rng = strtoull(rs, NULL, 16);
        json_t *ll = json_object_get(meta, "last_loss"), *lk = json_object_get(meta, "last_kl");
        for (int l = 0; l < n_train; l++) {
            json_t *a = json_array_get(ll, (size_t)l), *b = json_array_get(lk, (size_t)l);
            last_loss[l] = json_is_number(a) ? json_number_value(a) : NAN;
            last_kl[l] = json_is_number(b) ? json_number_value(b) : NAN;
        }
        json_decref(meta);
        resumed = 1;
        lw_log("fit-tuned: resuming from %s at step %lld of %lld", state_path, (long long)step, (long long)total_steps);
    } else {
        if (!o->zero_init) { // U ~ N(0, 1/d), V = 0: the translator starts as the identity
            uint64_t irng = o->seed ^ 0x74756e6564696e69ULL; // "tunedini": its own stream
            double sd = 1.0 / sqrt((double)d);
            for (size_t i = 0; i < (size_t)n_train * d * k; i++) t.U[i] = (float)(sd * tuned_rng_normal(&irng));
        }
        // a fresh fit: an older complete artifact in DIR no longer describes what DIR will hold
        if (comm->rank == 0 && lw_file_exists(js_path)) {
            lw_log("fit-tuned: removing the previous artifact's %s (a new fit starts)", js_path);
            unlink(js_path);
        }
    }

    lw_stage("loading the weights");
    Model *model = model_load(o->model, comm->rank, comm->size, &err);
    if (!model) lw_die_err(&err, LW_EXIT_INPUT);
    model->fp32_sums = !o->tp_exact;
    int vl = model->tp.vocab_len;
    float *W = xmalloc(sizeof(float) * (size_t)vl * d);
    dtype_to_f32(model->unembed.dtype, model->unembed.data, W, (size_t)vl * d);
    TunedVocab tv = {.d = d, .vl = vl, .W = W, .comm = comm};
    int max_tokens = model_batch_tokens(model, o->batch_mb);
    if (max_tokens < seq) max_tokens = seq;
    int win_lo, win_hi;
    tuned_position_window(seq, &win_lo, &win_hi);
    lw_log("fit-tuned: %s: d %d, %d blocks, vocab %d (this rank %d), rank %d; %d translators sampled of %d, %d positions of "
           "[%d, %d) per sequence; %lld steps x %d micro-batches x %d x %d tokens (%lld of %lld corpus tokens); TP %d",
           model->name, d, n, V, vl, k, K, n_train, P, win_lo, win_hi,
           (long long)total_steps, n_micro, mb, seq, (long long)need, (long long)n_ids, comm->size);

    TunedAdamHyper hy = {.lr = o->lr, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8, .weight_decay = 1e-4};
    size_t rows = (size_t)mb * P;
    int *pos = xmalloc(sizeof(int) * (size_t)P), *lay = xmalloc(sizeof(int) * (size_t)K), *selL = xmalloc(sizeof(int) * (size_t)(K + 1));
    float *H = xmalloc(sizeof(float) * (size_t)(K + 1) * rows * d), *X = xmalloc(sizeof(float) * rows * d);
    float *zt = xmalloc(sizeof(float) * rows * vl), *pt = xmalloc(sizeof(float) * rows * vl);
    double *ent = xmalloc(sizeof(double) * rows);
    TunedGrad *g = xmalloc(sizeof(TunedGrad) * (size_t)n_train);
    for (int l = 0; l < n_train; l++) tuned_grad_init(&g[l], d, k);
    int *touched = xcalloc((size_t)n_train, sizeof(int));
    const int32_t **seq_ids = xmalloc(sizeof(int32_t *) * (size_t)mb);
    int *lens = xmalloc(sizeof(int) * (size_t)mb);

    int64_t stop = o->max_steps && o->max_steps < total_steps ? o->max_steps : total_steps;
    double t0 = lw_now(), t_last = -1e9, t_fwd = 0, t_fit = 0, fwd_tokens = 0;
    int64_t steps_run = 0;
    double loss_sum = 0, kl_sum = 0;
    int loss_n = 0;
    json_t *meta = NULL;
    while (step < stop) {
        lw_stage("fitting step %lld of %lld (resume state: %s)", (long long)step + 1, (long long)total_steps,
                 lw_file_exists(state_path) ? "kept" : "none yet");
        for (int l = 0; l < n_train; l++) touched[l] = 0;
        for (int u = 0; u < n_micro; u++) {
            tuned_sample_positions(&rng, seq, P, pos);
            tuned_sample_layers(&rng, n_train, K, lay);
            for (int j = 0; j < K; j++) selL[j] = lay[j] + 1; // translator ℓ decodes the output of block ℓ
            selL[K] = n;
            // causal attention: positions past the last sampled one change nothing before it, so
            // the forward stops there (≤ 487 of 512 tokens)
            int T_need = 0;
            for (int q = 0; q < P; q++) T_need = pos[q] + 1 > T_need ? pos[q] + 1 : T_need;
            for (int i = 0; i < mb; i++) {
                seq_ids[i] = ids.ids + (size_t)(micro_done * mb + i) * seq;
                lens[i] = T_need;
            }
            fwd_tokens += (double)T_need * mb;
            double ta = lw_now();
            Sink sk = {.n_sel = K + 1, .sel_L = selL, .P = P, .d = d, .n1 = n + 1, .pos = pos, .H = H, .mb = mb};
            model_forward_prompts(model, seq_ids, lens, mb, max_tokens, comm, sink_each, &sk);
            double tb = lw_now();
            t_fwd += tb - ta;
            // teacher: the norm lens at the last block
            model_rmsnorm(model, model->ln_final, H + (size_t)K * rows * d, X, (int)rows);
            model_unembed(model, X, (int)rows, zt);
            tuned_fit_teacher(&tv, zt, (int)rows, pt, ent);
            double scale = 1.0 / ((double)K * ga);
            for (int j = 0; j < K; j++) {
                int l = lay[j];
                model_rmsnorm(model, model->layers[l + 1].ln_in, H + (size_t)j * rows * d, X, (int)rows);
                double kl;
                double ce = tuned_fit_ce(&tv, &t, l, X, (int)rows, pt, ent, scale, &g[l], NULL, &kl);
                double pen = tuned_fit_penalty(&t, l, scale, &g[l]);
                if (!isfinite(ce + pen)) {
                    lw_progress_end();
                    lw_die(LW_EXIT_RUNTIME,
                           "the resume state of the last saved step (all its losses finite) is kept for inspection; the same options "
                           "diverge again: remove it and refit with a lower --lr, or check the checkpoint's weights",
                           "fit-tuned: non-finite loss (%g) at step %lld (micro-batch %d), translator %d (layer L = %d); resume state %s: %s",
                           ce + pen, (long long)step + 1, u + 1, l, l + 1, state_path,
                           lw_file_exists(state_path) ? "kept" : "none written yet");
                }
                last_loss[l] = ce + pen;
                last_kl[l] = kl;
                loss_sum += ce + pen;
                kl_sum += kl;
                loss_n++;
                touched[l] = 1;
            }
            t_fit += lw_now() - tb;
            micro_done++;
        }
        double lr = tuned_lr_cosine(o->lr, step, total_steps);
        for (int l = 0; l < n_train; l++)
            if (touched[l]) {
                tuned_adam_step(&t, &adam, l, &g[l], lr, &hy);
                tuned_grad_zero(&g[l], d, k);
            }
        step++;
        steps_run++;

        double now = lw_now();
        if (now - t_last >= 10 || step == stop || steps_run == 1) {
            double el = now - t0, tps = (double)steps_run * n_micro * mb * seq / el;
            double left = el / steps_run * (double)(total_steps - step);
            char lbuf[4096];
            size_t lp = 0;
            for (int l = 0; l < n_train && lp < sizeof lbuf - 16; l++)
                lp += isfinite(last_loss[l]) ? (size_t)snprintf(lbuf + lp, sizeof lbuf - lp, "%s%.2f", l ? " " : "", last_loss[l])
                                             : (size_t)snprintf(lbuf + lp, sizeof lbuf - lp, "%s-", l ? " " : ""); // not sampled yet
            lw_log("fit-tuned: step %lld/%lld  %.0f tokens/s  loss %.4f  KL %.4f nats  lr %.2e  %.0f s left  | loss/layer %s",
                   (long long)step, (long long)total_steps, tps, loss_sum / loss_n, kl_sum / loss_n, lr, left, lbuf);
            loss_sum = kl_sum = 0;
            loss_n = 0;
            t_last = now;
        }
        if (step < total_steps && (step % o->ckpt_every == 0 || step == stop)) {
            json_decref(meta);
            char rs[32];
            snprintf(rs, sizeof rs, "%016llx", (unsigned long long)rng);
            meta = json_pack("{s:O, s:I, s:I, s:s, s:o, s:o}", "ident", ident, "step", (json_int_t)step, "micro_batches_done",
                             (json_int_t)micro_done, "rng", rs, "last_loss", loss_array(last_loss, n_train), "last_kl",
                             loss_array(last_kl, n_train));
            if (comm->rank == 0) {
                char *ms = json_dumps(meta, JSON_COMPACT | JSON_REAL_PRECISION(17));
                if (tuned_state_save(state_path, &t, &adam, ms, &err)) lw_die_err(&err, LW_EXIT_RUNTIME);
                free(ms);
            }
        }
    }
    double fit_s = lw_now() - t0;
    double *ev_norm = NULL, *ev_tuned = NULL;
    int *ev_pos = NULL;
    json_decref(meta);
    if (step < total_steps) {
        lw_log("fit-tuned: stopped at step %lld of %lld (--max-steps); resume state %s; rerun the same command to continue",
               (long long)step, (long long)total_steps, state_path);
        comm_barrier(comm);
        goto done;
    }

    // ---- evaluation: KL(teacher ‖ decoder) of every translator and of the norm lens on the same
    // rows — the corpus's first micro-batch at P_pos positions of the window drawn from their own
    // stream (seen in training: a check of the fit, not of generalization)
    ev_norm = xmalloc(sizeof(double) * (size_t)n_train);
    ev_tuned = xmalloc(sizeof(double) * (size_t)n_train);
    ev_pos = xmalloc(sizeof(int) * (size_t)P);
    {
        uint64_t erng = o->seed ^ 0x6576616c75617465ULL; // "evaluate"
        tuned_sample_positions(&erng, seq, P, ev_pos);
        int *eL = xmalloc(sizeof(int) * (size_t)n), T_need = 0;
        for (int l = 0; l < n_train; l++) eL[l] = l + 1;
        eL[n_train] = n;
        for (int q = 0; q < P; q++) T_need = ev_pos[q] + 1 > T_need ? ev_pos[q] + 1 : T_need;
        for (int i = 0; i < mb; i++) {
            seq_ids[i] = ids.ids + (size_t)i * seq;
            lens[i] = T_need;
        }
        float *EH = xmalloc(sizeof(float) * (size_t)n * rows * d);
        Sink sk = {.n_sel = n, .sel_L = eL, .P = P, .d = d, .n1 = n + 1, .pos = ev_pos, .H = EH, .mb = mb};
        model_forward_prompts(model, seq_ids, lens, mb, max_tokens, comm, sink_each, &sk);
        model_rmsnorm(model, model->ln_final, EH + (size_t)n_train * rows * d, X, (int)rows);
        model_unembed(model, X, (int)rows, zt);
        tuned_fit_teacher(&tv, zt, (int)rows, pt, ent);
        TunedLens ident_t;
        tuned_init(&ident_t, d, n, k); // U = V = 0, c = 0, τ = 1: the norm lens
        for (int l = 0; l < n_train; l++) {
            model_rmsnorm(model, model->layers[l + 1].ln_in, EH + (size_t)l * rows * d, X, (int)rows);
            tuned_fit_ce(&tv, &ident_t, l, X, (int)rows, pt, ent, 1.0, NULL, NULL, &ev_norm[l]);
            tuned_fit_ce(&tv, &t, l, X, (int)rows, pt, ent, 1.0, NULL, NULL, &ev_tuned[l]);
        }
        tuned_free(&ident_t);
        free(EH);
        free(eL);
        double a = 0, b = 0;
        for (int l = 0; l < n_train; l++) { a += ev_norm[l]; b += ev_tuned[l]; }
        lw_log("fit-tuned: KL to the last block's norm lens on the first micro-batch (%zu rows), mean over %d translators: "
               "norm lens %.4f nats, tuned %.4f nats", rows, n_train, a / n_train, b / n_train);
    }

    // ---- artifact (rank 0): safetensors, then provenance.json (the completion mark)
    if (comm->rank == 0) {
        char *st_tmp = xasprintf("%s.tmp.%d", st_path, (int)getpid()), *js_tmp = xasprintf("%s.tmp.%d", js_path, (int)getpid());
        lw_cleanup_unlink_on_fail(st_tmp);
        lw_cleanup_unlink_on_fail(js_tmp);
        if (tuned_write_safetensors(&t, st_tmp, &err)) lw_die_err(&err, LW_EXIT_RUNTIME);
        char st_sha[65];
        if (lw_sha256_file(st_tmp, st_sha, &err)) lw_die_err(&err, LW_EXIT_RUNTIME);
        json_t *temps = json_array();
        for (int l = 0; l < n; l++) json_array_append_new(temps, json_real(tuned_tau(&t, l)));
        time_t now = time(NULL);
        char when[32];
        strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
        int64_t tokens_seen = micro_done * mb * (int64_t)seq;
        json_t *prov = json_pack(
            "{s:s, s:i, s:s, s:s, s:s, s:s?, s:s, s:i, s:i, s:i, s:i, s:b, s:b, s:f, s:o, s:s, s:i, s:o, s:o, s:o, s:o, s:o,"
            " s:s, s:s, s:s, s:f}",
            "format", TUNED_FORMAT, "version", 1, "model_path", o->model, "model_name", lw_basename(o->model),
            "family", LW_FAMILIES[mc.family].name, "config_sha256", is_gguf ? NULL : cfg_sha, "architecture", mc.arch,
            "d_model", d, "n_layers", n, "vocab", V, "rank", k, "has_preconditioner", 0, "final_identity", 1,
            "temperature_eps", TUNED_TAU_EPS, "temperatures", temps, "safetensors_sha256", st_sha, "tp_size", comm->size,
            "corpus", json_pack("{s:s, s:s, s:s, s:I, s:I, s:s}", "path", o->corpus, "sha256", corpus_sha, "format", format,
                                "n_tokens", (json_int_t)n_ids, "n_tokens_needed", (json_int_t)need, "note",
                                "n_tokens: the tokens read; the corpus is tokenized until the fit has the tokens it needs"),
            "training", json_pack("{s:I, s:I, s:I, s:I, s:i, s:i, s:i, s:i, s:I, s:i, s:i, s:[f, f], s:f, s:f, s:f, s:s,"
                                  " s:{s:f, s:f}, s:s, s:s, s:i, s:b, s:I, s:s, s:s}",
                                  "seed", (json_int_t)o->seed, "steps", (json_int_t)step, "total_steps", (json_int_t)total_steps,
                                  "tokens_seen", (json_int_t)tokens_seen, "micro_batch", mb, "grad_accum", ga,
                                  "micro_batches_per_step", n_micro, "seq_len", seq, "tokens_per_step", (json_int_t)tokens_per_step,
                                  "k_layers", K, "p_pos", P, "betas", hy.beta1, hy.beta2, "lr", o->lr, "weight_decay",
                                  hy.weight_decay, "eps", hy.eps, "optimizer", "AdamW (decoupled weight decay, as torch.optim.AdamW)",
                                  "regularization", "l2", TUNED_L2, "smooth", TUNED_SMOOTH, "schedule",
                                  "cosine annealing to 0 over total_steps, no warmup", "init",
                                  o->zero_init ? "zero: U = V = 0" : "lora: U ~ N(0, 1/d), V = 0 (identity map at start)",
                                  "position_window", 0, "quirk_four_microbatches", o->four_micro, "token_budget",
                                  (json_int_t)o->tokens, "teacher", "norm lens at the last block: ln_final(h_n) W_U, not soft-capped",
                                  "note", "micro-batch loss = mean over the sampled translators, divided by grad_accum; "
                                          "gradients summed over the step's micro-batches"),
            "final_loss", loss_array(last_loss, n_train), "final_kl_nats", loss_array(last_kl, n_train),
            "options", json_pack("{s:i, s:i, s:I, s:b}", "checkpoint_every", o->ckpt_every, "batch_memory_mb", o->batch_mb,
                                 "max_steps", (json_int_t)o->max_steps, "tp_exact", o->tp_exact),
            "created_utc", when, "lensweep_version", LENSWEEP_VERSION, "lensweep_git", LENSWEEP_GIT, "fit_seconds", fit_s);
        LW_ASSERT(prov);
        {
            json_t *pa = json_array();
            for (int q = 0; q < P; q++) json_array_append_new(pa, json_integer(ev_pos[q]));
            json_object_set_new(prov, "evaluation",
                                json_pack("{s:s, s:i, s:o, s:o, s:o}", "rows", "the corpus's first micro-batch (seen in training)",
                                          "sequences", mb, "positions", pa, "kl_norm_nats", loss_array(ev_norm, n_train),
                                          "kl_tuned_nats", loss_array(ev_tuned, n_train)));
        }
        {
            int lo, hi;
            tuned_position_window(seq, &lo, &hi);
            json_object_set_new(json_object_get(prov, "training"), "position_window", json_pack("[i, i]", lo, hi));
            json_object_set_new(json_object_get(prov, "training"), "resumed", json_boolean(resumed));
            // where the fit's arithmetic ran: the frozen forward and the translators on the CPU backend,
            // translators, gradients and optimizer state in fp32 (docs/TUNED.md)
            json_object_set_new(json_object_get(prov, "training"), "device", json_string("cpu"));
            json_object_set_new(json_object_get(prov, "training"), "dtype", json_string("float32"));
        }
        char *js = json_dumps(prov, JSON_INDENT(2) | JSON_SORT_KEYS | JSON_REAL_PRECISION(17));
        json_decref(prov);
        size_t jl = strlen(js);
        js = xrealloc(js, jl + 2);
        js[jl] = '\n';
        js[jl + 1] = 0;
        if (lw_write_file(js_tmp, js, jl + 1, &err)) lw_die_err(&err, LW_EXIT_RUNTIME);
        free(js);
        if (rename(st_tmp, st_path) != 0)
            lw_die(LW_EXIT_RUNTIME, "check the output directory", "%s: cannot rename to %s: %s", st_tmp, st_path, strerror(errno));
        lw_cleanup_forget(st_tmp);
        if (rename(js_tmp, js_path) != 0) {
            unlink(st_path);
            lw_die(LW_EXIT_RUNTIME, "check the output directory", "%s: cannot rename to %s: %s", js_tmp, js_path, strerror(errno));
        }
        lw_cleanup_forget(js_tmp);
        unlink(state_path); // the fit is complete: the resume state is spent
        free(st_tmp);
        free(js_tmp);
        double ls = 0;
        int ln = 0;
        for (int l = 0; l < n_train; l++)
            if (isfinite(last_loss[l])) { ls += last_loss[l]; ln++; }
        // the products' rates this run reached (FLOPs by formula, this rank): forward = the block
        // matmuls (2 per weight per token) + attention (QK and PV, ~seq/2 keys per query); fit =
        // the teacher's unembedding + per sampled translator the student logits and dL/dy
        double tok_run = (double)steps_run * n_micro * mb * seq, mbs_run = (double)steps_run * n_micro;
        double blk = (double)model_config_param_count(&mc) - (double)V * d * (mc.tied ? 1 : 2);
        double f_fwd = fwd_tokens * (2.0 * blk / comm->size + 2.0 * mc.n_layers * (double)mc.n_heads * mc.head_dim / comm->size * seq);
        double f_fit = mbs_run * (1.0 + 2.0 * K) * 2.0 * (double)rows * vl * d;
        lw_log("fit-tuned: %s: %lld steps, %lld tokens in %.1f s (forward %.1f s at %.1f GFLOP/s, fit %.1f s at %.1f GFLOP/s; "
               "%.0f tokens/s); final loss %.4f (mean over %d translators) -> %s",
               model->name, (long long)step, (long long)tokens_seen, fit_s, t_fwd, t_fwd > 0 ? f_fwd / t_fwd * 1e-9 : 0.0, t_fit,
               t_fit > 0 ? f_fit / t_fit * 1e-9 : 0.0, steps_run ? tok_run / fit_s : 0.0, ln ? ls / ln : NAN, ln, o->out);
    }
done:
    json_decref(ident);
    for (int l = 0; l < n_train; l++) tuned_grad_free(&g[l]);
    free(g); free(touched); free(seq_ids); free(lens); free(pos); free(lay); free(selL);
    free(H); free(X); free(zt); free(pt); free(ent); free(W); free(ids.ids);
    free(last_loss); free(last_kl); free(ev_norm); free(ev_tuned); free(ev_pos); free(st_path); free(js_path); free(state_path); free(cfg_path);
    tuned_adam_free(&adam);
    tuned_free(&t);
    model_free(model);
    return 0;
}

int cmd_fit_tuned(int argc, char **argv) {
    FitOpts o;
    parse_args(argc, argv, &o);
    // The loss allocates [rows, vocab shard] buffers per translator and micro-batch: from the heap
    // they are reused; as fresh mmaps the kernel zeroes their pages every time (measured: a third
    // of a tiny fit's time in page clearing).
    mallopt(M_MMAP_THRESHOLD, 1 << 30);
    mallopt(M_TRIM_THRESHOLD, 1 << 30);
    Comm comm;
    comm_init(&comm, &argc, &argv);
    lw_signals_install(); // SIGTERM (Slurm requeue, scancel): the .tmp files go, the last state stays
    int rc = fit_main(&comm, &o);
    comm_finalize(&comm);
    return rc;
}

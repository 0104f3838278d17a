// model/load — one rank's slice of a safetensors checkpoint in one allocation (model.h).
//
// The loader first writes down a plan: one LoadJob per tensor the family needs (name, full
// shape the config implies, which block of rows or columns this rank keeps, and where it goes in
// the Model). The same plan validates the checkpoint (presence and shapes, before any byte of
// data is read), sizes the arena, and drives the reads — so `inspect` and `model_load` can never
// disagree about what a checkpoint must contain. Matrices keep their stored dtype (bf16 stays
// bf16; Gemma's F32 stays F32 on the CPU); 1-D norm weights and biases become fp32, with
// Gemma's (1 + w) added here in fp32 so every norm later multiplies by the vector as is.
#include "model/load.h"

#include "model/gguf_load.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

typedef enum { CUT_FULL, CUT_ROWS, CUT_COLS } Cut;

typedef struct {
    char name[96];
    int ndim;
    int64_t shape[2];   // full, as stored
    Cut cut;
    int64_t start, len; // rows (CUT_ROWS) or columns (CUT_COLS) kept
    int vec_f32;        // 1-D tensor converted to fp32 (else matrix in stored dtype)
    int plus_one;       // Gemma norm offset folded in
    Mat *mat;           // destination (matrices)
    float **vec;        // destination (vectors)
} LoadJob;

typedef struct {
    LoadJob *v;
    int n, cap;
} JobList;

static LoadJob *job_add(JobList *jl, const char *name, int ndim, int64_t s0, int64_t s1, Cut cut, int64_t start, int64_t len) {
    if (jl->n == jl->cap) { jl->cap = jl->cap ? 2 * jl->cap : 64; jl->v = xrealloc(jl->v, jl->cap * sizeof *jl->v); }
    LoadJob *j = &jl->v[jl->n++];
    memset(j, 0, sizeof *j);
    snprintf(j->name, sizeof j->name, "%s", name);
    j->ndim = ndim;
    j->shape[0] = s0;
    j->shape[1] = s1;
    j->cut = cut;
    j->start = start;
    j->len = len;
    j->vec_f32 = ndim == 1;
    return j;
}

static void add_mat(JobList *jl, Mat *m, const char *name, int64_t rows, int64_t cols, Cut cut, int64_t start, int64_t len) {
    job_add(jl, name, 2, rows, cols, cut, start, len)->mat = m;
}

static void add_vec(JobList *jl, float **v, const char *name, int64_t n, Cut cut, int64_t start, int64_t len, int plus_one) {
    LoadJob *j = job_add(jl, name, 1, n, 0, cut, start, len);
    j->vec = v;
    j->plus_one = plus_one;
}

// The plan. m may be a scratch Model whose pointers are only used as destinations later.
static void plan_jobs(const ModelConfig *c, const TpSlice *s, Model *m, JobList *jl) {
    const FamilyInfo *fi = &LW_FAMILIES[c->family];
    int64_t d = c->d_model, hd = c->head_dim, q = (int64_t)c->n_heads * hd, kv = (int64_t)c->n_kv_heads * hd;
    int64_t q0 = (int64_t)s->head_start * hd, qn = (int64_t)s->n_heads * hd;
    int64_t k0 = (int64_t)s->kv_start * hd, kn = (int64_t)s->n_kv * hd;
    int p1 = fi->norm_plus_one;
    char n[96];
    add_mat(jl, &m->embed, "model.embed_tokens.weight", c->vocab, d, CUT_ROWS, s->vocab_start, s->vocab_len);
    for (int i = 0; i < c->n_layers; i++) {
        LayerWeights *L = &m->layers[i];
#define NM(suffix) (snprintf(n, sizeof n, "model.layers.%d.%s", i, suffix), n)
        add_mat(jl, &L->wq, NM("self_attn.q_proj.weight"), q, d, CUT_ROWS, q0, qn);
        add_mat(jl, &L->wk, NM("self_attn.k_proj.weight"), kv, d, CUT_ROWS, k0, kn);
        add_mat(jl, &L->wv, NM("self_attn.v_proj.weight"), kv, d, CUT_ROWS, k0, kn);
        add_mat(jl, &L->wo, NM("self_attn.o_proj.weight"), d, q, CUT_COLS, q0, qn);
        if (fi->qkv_bias) {
            add_vec(jl, &L->bq, NM("self_attn.q_proj.bias"), q, CUT_ROWS, q0, qn, 0);
            add_vec(jl, &L->bk, NM("self_attn.k_proj.bias"), kv, CUT_ROWS, k0, kn, 0);
            add_vec(jl, &L->bv, NM("self_attn.v_proj.bias"), kv, CUT_ROWS, k0, kn, 0);
        }
        if (fi->qk_norm) {
            add_vec(jl, &L->q_norm, NM("self_attn.q_norm.weight"), hd, CUT_FULL, 0, hd, 0);
            add_vec(jl, &L->k_norm, NM("self_attn.k_norm.weight"), hd, CUT_FULL, 0, hd, 0);
        }
        add_mat(jl, &L->wgate, NM("mlp.gate_proj.weight"), c->d_ff, d, CUT_ROWS, s->ff_start, s->ff_len);
        add_mat(jl, &L->wup, NM("mlp.up_proj.weight"), c->d_ff, d, CUT_ROWS, s->ff_start, s->ff_len);
        add_mat(jl, &L->wdown, NM("mlp.down_proj.weight"), d, c->d_ff, CUT_COLS, s->ff_start, s->ff_len);
        add_vec(jl, &L->ln_in, NM("input_layernorm.weight"), d, CUT_FULL, 0, d, p1);
        add_vec(jl, &L->ln_post_attn, NM("post_attention_layernorm.weight"), d, CUT_FULL, 0, d, p1);
        if (fi->sandwich_norms) {
            add_vec(jl, &L->ln_pre_ffn, NM("pre_feedforward_layernorm.weight"), d, CUT_FULL, 0, d, p1);
            add_vec(jl, &L->ln_post_ffn, NM("post_feedforward_layernorm.weight"), d, CUT_FULL, 0, d, p1);
        }
#undef NM
    }
    add_vec(jl, &m->ln_final, "model.norm.weight", d, CUT_FULL, 0, d, p1);
    // Tied models decode with embed_tokens even if an lm_head.weight is present (as HF does).
    if (!c->tied) add_mat(jl, &m->unembed, "lm_head.weight", c->vocab, d, CUT_ROWS, s->vocab_start, s->vocab_len);
}

static const char *checkpoint_source(const SafeTensors *st) {
    static char buf[1200];
    if (st->n_files == 1 && strcmp(lw_basename(st->files[0].path), "model.safetensors") == 0) snprintf(buf, sizeof buf, "%s", st->files[0].path);
    else snprintf(buf, sizeof buf, "%s/model.safetensors.index.json", st->dir);
    return buf;
}

static int check_jobs(const ModelConfig *c, const SafeTensors *st, const JobList *jl, LwError *err) {
    for (int i = 0; i < jl->n; i++) {
        const LoadJob *j = &jl->v[i];
        const StTensor *t = st_find(st, j->name);
        char want[64], got[128];
        st_shape_str(j->ndim, j->shape, want, sizeof want);
        if (!t)
            return lw_err(err, "the checkpoint does not match its config.json (wrong family or an incomplete conversion); re-download or re-convert it",
                          "%s: tensor \"%s\" is missing (expected shape %s for %s)", checkpoint_source(st), j->name, want, c->arch);
        int same = t->ndim == j->ndim;
        for (int k = 0; same && k < j->ndim; k++) same = t->shape[k] == j->shape[k];
        if (!same) {
            st_shape_str(t->ndim, t->shape, got, sizeof got);
            return lw_err(err, "config.json and the weights disagree; check that config.json belongs to these safetensors files",
                          "%s: tensor \"%s\" has shape %s, expected %s from config.json", st->files[t->file].path, j->name, got, want);
        }
    }
    return 0;
}

// config.json's size fields against the tensors that carry them, before anything is sized from
// them: a num_hidden_layers of 2147483647 would otherwise size a plan of 2^31 blocks and fail as
// "out of memory" (a runtime error) instead of bad input naming config.json and the field. A
// field is checked against the first tensor that has its size on one axis; the other axes and
// every other tensor are left to check_jobs.
static int size_field(const SafeTensors *st, LwError *err, const char *fields, int64_t value, const char *tensor,
                      int axis) {
    const StTensor *t = st_find(st, tensor);
    if (!t || t->ndim != 2 || t->shape[axis] == value) return 0;
    int64_t want[2] = {t->shape[0], t->shape[1]};
    want[axis] = value;
    char got_s[64], want_s[64];
    st_shape_str(2, t->shape, got_s, sizeof got_s);
    st_shape_str(2, want, want_s, sizeof want_s);
    return lw_err(err, "config.json and the weights disagree; check that config.json belongs to these safetensors files",
                  "%s/config.json: %s %s not match the weights: %s: tensor \"%s\" has shape %s, expected %s from config.json",
                  st->dir, fields, strncmp(fields, "fields", 6) ? "does" : "do", st->files[t->file].path, tensor, got_s, want_s);
}

static int check_config_sizes(const ModelConfig *c, const SafeTensors *st, LwError *err) {
    char f[160];
    snprintf(f, sizeof f, "field \"vocab_size\" = %d", c->vocab);
    if (size_field(st, err, f, c->vocab, "model.embed_tokens.weight", 0)) return -1;
    snprintf(f, sizeof f, "field \"hidden_size\" = %d", c->d_model);
    if (size_field(st, err, f, c->d_model, "model.embed_tokens.weight", 1)) return -1;
    // blocks present: model.layers.<i>.* for i = 0 .. max
    long max_block = -1;
    for (int i = 0; i < st->n_tensors; i++) {
        const char *nm = st->tensors[i].name;
        if (strncmp(nm, "model.layers.", 13) != 0) continue;
        char *end;
        long b = strtol(nm + 13, &end, 10);
        if (end != nm + 13 && *end == '.' && b > max_block) max_block = b;
    }
    if (max_block >= 0 && c->n_layers != max_block + 1)
        return lw_err(err, "config.json and the weights disagree; check that config.json belongs to these safetensors files",
                      "%s/config.json: field \"num_hidden_layers\" = %d does not match the weights: they hold %ld blocks "
                      "(model.layers.0 .. model.layers.%ld in %s)",
                      st->dir, c->n_layers, max_block + 1, max_block, checkpoint_source(st));
    snprintf(f, sizeof f, "fields \"num_attention_heads\" = %d and \"head_dim\" = %d", c->n_heads, c->head_dim);
    if (size_field(st, err, f, (int64_t)c->n_heads * c->head_dim, "model.layers.0.self_attn.q_proj.weight", 0))
        return -1;
    snprintf(f, sizeof f, "fields \"num_key_value_heads\" = %d and \"head_dim\" = %d", c->n_kv_heads, c->head_dim);
    if (size_field(st, err, f, (int64_t)c->n_kv_heads * c->head_dim, "model.layers.0.self_attn.k_proj.weight", 0))
        return -1;
    snprintf(f, sizeof f, "field \"intermediate_size\" = %d", c->d_ff);
    return size_field(st, err, f, c->d_ff, "model.layers.0.mlp.gate_proj.weight", 0);
}

static size_t align64(size_t n) { return (n + 63) & ~(size_t)63; }

static size_t job_bytes(const LoadJob *j, const SafeTensors *st, DType fallback) {
    if (j->vec_f32) return align64((size_t)j->len * 4);
    const StTensor *t = st ? st_find(st, j->name) : NULL;
    DType dt = t ? t->dtype : fallback;
    int64_t other = j->cut == CUT_ROWS ? j->shape[1] : j->shape[0];
    return align64((size_t)j->len * (size_t)other * dtype_size(dt));
}

// A scratch Model with a layers array, so plan_jobs has destinations to point at.
static Model *scratch_model(const ModelConfig *c) {
    Model *m = xcalloc(1, sizeof *m);
    m->cfg = *c;
    m->layers = xcalloc(c->n_layers, sizeof *m->layers);
    return m;
}

int model_check_tensors(const ModelConfig *cfg, const SafeTensors *st, LwError *err) {
    if (check_config_sizes(cfg, st, err)) return -1;
    TpSlice s = {0, 1, 0, cfg->n_heads, 0, cfg->n_kv_heads, 0, cfg->d_ff, 0, cfg->vocab, 0};
    Model *m = scratch_model(cfg);
    JobList jl = {0};
    plan_jobs(cfg, &s, m, &jl);
    int rc = check_jobs(cfg, st, &jl, err);
    free(jl.v);
    model_free(m);
    return rc;
}

size_t model_slice_bytes(const ModelConfig *cfg, const TpSlice *s, const SafeTensors *st, DType matrix_dtype) {
    Model *m = scratch_model(cfg);
    JobList jl = {0};
    plan_jobs(cfg, s, m, &jl);
    size_t total = 0;
    for (int i = 0; i < jl.n; i++) total += job_bytes(&jl.v[i], st, matrix_dtype);
    free(jl.v);
    model_free(m);
    return total;
}

DType model_config_dtype(const ModelConfig *cfg) {
    if (strcmp(cfg->torch_dtype, "float32") == 0) return DT_F32;
    if (strcmp(cfg->torch_dtype, "float16") == 0) return DT_F16;
    return DT_BF16;
}

static Model *model_load_host(const char *dir, int tp_rank, int tp_size, const ModelLoadOpts *o, LwError *err) {
    char gguf[1100];
    if (gguf_checkpoint_path(dir, gguf, sizeof gguf)) return model_load_gguf(gguf, tp_rank, tp_size, o, err);
    ModelConfig cfg;
    if (o->cfg) cfg = *o->cfg;
    else if (model_config_load(dir, &cfg, err)) return NULL;
    TpSlice s;
    char why[512];
    if (tp_slice_plan(&cfg, tp_rank, tp_size, o->uneven_heads, &s, why, sizeof why)) {
        lw_err(err, "choose a tensor-parallel size from the valid ones listed", "%s/config.json: tensor-parallel size %d: %s", dir, tp_size, why);
        return NULL;
    }
    SafeTensors st;
    if (st_open(dir, &st, err)) return NULL;
    if (check_config_sizes(&cfg, &st, err)) {
        st_close(&st);
        return NULL;
    }

    Model *m = scratch_model(&cfg);
    m->backend = backend_default(); // the weights below are read into host memory: the CPU's
    m->tp = s;
    snprintf(m->dir, sizeof m->dir, "%s", dir);
    snprintf(m->name, sizeof m->name, "%s", lw_basename(dir));
    JobList jl = {0};
    plan_jobs(&cfg, &s, m, &jl);
    if (check_jobs(&cfg, &st, &jl, err)) goto fail;

    size_t total = 0;
    for (int i = 0; i < jl.n; i++) total += job_bytes(&jl.v[i], &st, DT_BF16);
    m->arena = model_arena_alloc(total, "weights", dir);
    m->arena_bytes = total;

    char *p = m->arena;
    for (int i = 0; i < jl.n; i++) {
        LoadJob *j = &jl.v[i];
        const StTensor *t = st_find(&st, j->name);
        size_t nb = job_bytes(j, &st, DT_BF16);
        if (j->vec_f32) {
            float *v = (float *)p;
            if (st_read_block(&st, t, 0, 1, j->start, j->len, DT_F32, v, err)) goto fail;
            if (j->plus_one)
                for (int64_t k = 0; k < j->len; k++) v[k] = 1.0f + v[k];
            *j->vec = v;
        } else {
            Mat *mt = j->mat;
            mt->dtype = t->dtype;
            if (j->cut == CUT_ROWS) {
                mt->rows = j->len;
                mt->cols = j->shape[1];
                if (st_read_block(&st, t, j->start, j->len, 0, j->shape[1], t->dtype, p, err)) goto fail;
            } else {
                mt->rows = j->shape[0];
                mt->cols = j->len;
                if (st_read_block(&st, t, 0, j->shape[0], j->start, j->len, t->dtype, p, err)) goto fail;
            }
            mt->data = p;
        }
        p += nb;
    }
    if (cfg.tied) m->unembed = m->embed;
    m->bytes_read = st.bytes_read;
    free(jl.v);
    st_close(&st);
    return m;
fail:
    free(jl.v);
    st_close(&st);
    model_free(m);
    return NULL;
}

// Moves a pointer into the host arena [base, base + n) to the same offset in dev.
static void rebase(void *pp, const char *base, size_t n, char *dev) {
    char **p = pp;
    if (!*p) return;
    LW_ASSERT(*p >= base && *p < base + n); // every tensor is carved from the arena
    *p = dev + (*p - base);
}

// The weights into the backend's memory where it is not host memory (model.h).
static void place_on_backend(Model *m) {
    const Backend *bk = m->backend;
    if (bk->host_memory) return;
    char *base = m->arena, *dev = bk->alloc(m->arena_bytes);
    size_t n = m->arena_bytes;
    bk->upload(dev, base, n);
    bk->sync(); // the host arena is freed below
    rebase(&m->embed.data, base, n, dev);
    rebase(&m->unembed.data, base, n, dev);
    rebase(&m->ln_final, base, n, dev);
    for (int i = 0; i < m->cfg.n_layers; i++) {
        LayerWeights *L = &m->layers[i];
        Mat *mats[] = {&L->wq, &L->wk, &L->wv, &L->wo, &L->wgate, &L->wup, &L->wdown};
        for (size_t k = 0; k < sizeof mats / sizeof *mats; k++) rebase(&mats[k]->data, base, n, dev);
        float **vecs[] = {&L->bq, &L->bk, &L->bv, &L->q_norm, &L->k_norm, &L->ln_in, &L->ln_post_attn,
                          &L->ln_pre_ffn, &L->ln_post_ffn};
        for (size_t k = 0; k < sizeof vecs / sizeof *vecs; k++) rebase(vecs[k], base, n, dev);
    }
    free(base);
    m->arena = dev;
    m->arena_on_backend = 1;
}

Model *model_load_ex(const char *dir, int tp_rank, int tp_size, const ModelLoadOpts *o, LwError *err) {
    static const ModelLoadOpts none;
    Model *m = model_load_host(dir, tp_rank, tp_size, o ? o : &none, err);
    if (m) place_on_backend(m);
    return m;
}

Model *model_load(const char *dir, int tp_rank, int tp_size, LwError *err) { return model_load_ex(dir, tp_rank, tp_size, NULL, err); }

void model_free(Model *m) {
    if (!m) return;
    if (m->arena_on_backend) m->backend->free(m->arena);
    else free(m->arena);
    free(m->layers);
    free(m);
}

void *model_arena_alloc(size_t total, const char *what, const char *path) {
    size_t align = total >= (64u << 20) ? (2u << 20) : 64;
    void *arena = NULL;
    if (posix_memalign(&arena, align, total ? total : 64) != 0)
        lw_die(LW_EXIT_RUNTIME, "use more tensor-parallel ranks or a node with more memory",
               "out of memory allocating %zu bytes for the %s of %s", total, what, path);
#ifdef MADV_HUGEPAGE
    if (align > 64) madvise(arena, total & ~(size_t)((2u << 20) - 1), MADV_HUGEPAGE);
#endif
    return arena;
}

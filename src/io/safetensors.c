// io/safetensors — see safetensors.h. Validation first, then reads that trust the table.
#include "io/safetensors.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define ST_MAX_HEADER_BYTES (512ull << 20) // real headers are < 1 MB; refuse absurd lengths early
#define ST_INDEX_NAME "model.safetensors.index.json"
#define ST_SINGLE_NAME "model.safetensors"

static const char *HINT_REDOWNLOAD = "the file is damaged or incomplete; download it again (e.g. huggingface-cli download)";

// ---------------------------------------------------------------------------- open / validate

void st_shape_str(int ndim, const int64_t *shape, char *buf, size_t len) {
    size_t o = 0;
    o += snprintf(buf + o, o < len ? len - o : 0, "[");
    for (int i = 0; i < ndim; i++) o += snprintf(buf + o, o < len ? len - o : 0, "%s%lld", i ? ", " : "", (long long)shape[i]);
    snprintf(buf + o, o < len ? len - o : 0, "]");
}

static int cmp_tensor_name(const void *a, const void *b) {
    return strcmp(((const StTensor *)a)->name, ((const StTensor *)b)->name);
}

typedef struct { uint64_t begin, end; const char *name; } Span;
static int cmp_span(const void *a, const void *b) {
    const Span *x = a, *y = b;
    return x->begin < y->begin ? -1 : x->begin > y->begin ? 1 : (x->end < y->end ? -1 : x->end > y->end);
}

static int read_exact(int fd, void *buf, size_t n, uint64_t off) {
    char *p = buf;
    while (n > 0) {
        ssize_t got = pread(fd, p, n, (off_t)off);
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0) return -1;
        p += got; n -= (size_t)got; off += (uint64_t)got;
    }
    return 0;
}

static int json_to_u64(const json_t *v, uint64_t *out) {
    if (!json_is_integer(v) || json_integer_value(v) < 0) return -1;
    *out = (uint64_t)json_integer_value(v);
    return 0;
}

// Parses one shard's header and appends its tensors to st. `only` (an index's weight map, may be
// NULL) is not used to filter: every tensor of the shard is validated and kept.
static int parse_shard(SafeTensors *st, int fi, LwError *err) {
    StFile *f = &st->files[fi];
    if (f->size_bytes < 8)
        return lw_err(err, HINT_REDOWNLOAD, "%s: truncated: %llu bytes, shorter than the 8-byte header length", f->path, (unsigned long long)f->size_bytes);
    unsigned char lenb[8];
    if (read_exact(f->fd, lenb, 8, 0)) return lw_err(err, HINT_REDOWNLOAD, "%s: cannot read the header length: %s", f->path, strerror(errno));
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = (hlen << 8) | lenb[i];
    if (hlen < 2 || hlen > ST_MAX_HEADER_BYTES || hlen > f->size_bytes - 8)
        return lw_err(err, hlen > f->size_bytes - 8 ? HINT_REDOWNLOAD : "this is not a safetensors file (or it is damaged)",
                      "%s: header length %llu is impossible for a file of %llu bytes", f->path, (unsigned long long)hlen,
                      (unsigned long long)f->size_bytes);
    f->data_start = 8 + hlen;
    uint64_t data_len = f->size_bytes - f->data_start;
    char *hdr = xmalloc(hlen + 1);
    if (read_exact(f->fd, hdr, hlen, 8)) { free(hdr); return lw_err(err, HINT_REDOWNLOAD, "%s: cannot read the %llu-byte header", f->path, (unsigned long long)hlen); }
    hdr[hlen] = 0;
    json_error_t je;
    json_t *root = json_loadb(hdr, hlen, JSON_REJECT_DUPLICATES, &je);
    free(hdr);
    if (!root) return lw_err(err, HINT_REDOWNLOAD, "%s: header is not valid JSON (byte %d: %s)", f->path, je.position, je.text);
    if (!json_is_object(root)) { json_decref(root); return lw_err(err, HINT_REDOWNLOAD, "%s: header is not a JSON object", f->path); }

    size_t n = json_object_size(root);
    Span *spans = xcalloc(n ? n : 1, sizeof *spans);
    int nspans = 0, rc = 0;
    const char *key;
    json_t *v;
    st->tensors = xrealloc(st->tensors, (st->n_tensors + n + 1) * sizeof *st->tensors);
    json_object_foreach(root, key, v) {
        if (strcmp(key, "__metadata__") == 0) continue;
        StTensor t = {0};
        t.file = fi;
        json_t *dt = json_object_get(v, "dtype"), *sh = json_object_get(v, "shape"), *of = json_object_get(v, "data_offsets");
        if (!json_is_object(v) || !json_is_string(dt) || !json_is_array(sh) || !json_is_array(of) || json_array_size(of) != 2) {
            rc = lw_err(err, HINT_REDOWNLOAD, "%s: tensor \"%s\": header entry lacks dtype/shape/data_offsets", f->path, key);
            break;
        }
        if (dtype_from_name(json_string_value(dt), &t.dtype)) {
            rc = lw_err(err, "lensweep reads BF16, F16 and F32 checkpoints; convert others with transformers (torch_dtype=torch.bfloat16)",
                        "%s: tensor \"%s\": unsupported dtype \"%s\"", f->path, key, json_string_value(dt));
            break;
        }
        t.ndim = (int)json_array_size(sh);
        if (t.ndim > ST_MAX_DIMS) { rc = lw_err(err, HINT_REDOWNLOAD, "%s: tensor \"%s\": %d dimensions", f->path, key, t.ndim); break; }
        uint64_t elems = 1;
        int bad = 0;
        for (int i = 0; i < t.ndim; i++) {
            uint64_t s;
            if (json_to_u64(json_array_get(sh, i), &s) || s > (1ull << 40)) { bad = 1; break; }
            t.shape[i] = (int64_t)s;
            if (s && elems > UINT64_MAX / s / 4) { bad = 1; break; }
            elems *= s;
        }
        if (bad) { rc = lw_err(err, HINT_REDOWNLOAD, "%s: tensor \"%s\": shape is not a list of sane non-negative integers", f->path, key); break; }
        uint64_t b, e;
        if (json_to_u64(json_array_get(of, 0), &b) || json_to_u64(json_array_get(of, 1), &e) || b > e) {
            rc = lw_err(err, HINT_REDOWNLOAD, "%s: tensor \"%s\": data_offsets must be [begin, end] with 0 <= begin <= end", f->path, key);
            break;
        }
        char shp[128];
        st_shape_str(t.ndim, t.shape, shp, sizeof shp);
        if (e - b != elems * dtype_size(t.dtype)) {
            rc = lw_err(err, HINT_REDOWNLOAD, "%s: tensor \"%s\": shape %s of %s needs %llu bytes but data_offsets [%llu, %llu] span %llu",
                        f->path, key, shp, dtype_name(t.dtype), (unsigned long long)(elems * dtype_size(t.dtype)),
                        (unsigned long long)b, (unsigned long long)e, (unsigned long long)(e - b));
            break;
        }
        if (e > data_len) {
            rc = lw_err(err, HINT_REDOWNLOAD, "%s: tensor \"%s\": data_offsets [%llu, %llu] lie beyond the end of the data (%llu bytes); the file is truncated or the header lies",
                        f->path, key, (unsigned long long)b, (unsigned long long)e, (unsigned long long)data_len);
            break;
        }
        t.offset = f->data_start + b;
        t.nbytes = e - b;
        t.name = xstrdup(key);
        spans[nspans++] = (Span){b, e, t.name};
        st->tensors[st->n_tensors++] = t;
    }
    if (rc == 0) {
        qsort(spans, nspans, sizeof *spans, cmp_span);
        // Sorted by begin: a non-empty span overlaps an earlier one iff it starts before the
        // furthest end seen so far.
        uint64_t max_end = 0;
        const char *max_name = NULL;
        for (int i = 0; i < nspans; i++) {
            if (spans[i].end > spans[i].begin && spans[i].begin < max_end) {
                rc = lw_err(err, HINT_REDOWNLOAD, "%s: tensor \"%s\": data_offsets overlap those of \"%s\"", f->path, spans[i].name, max_name);
                break;
            }
            if (spans[i].end > max_end) { max_end = spans[i].end; max_name = spans[i].name; }
        }
    }
    free(spans);
    json_decref(root);
    return rc;
}

static int open_file(SafeTensors *st, const char *name, const char *named_by, LwError *err) {
    char *path = xasprintf("%s/%s", st->dir, name);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat sb;
    if (fd < 0 || fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        int e = errno;
        if (fd >= 0) close(fd);
        int rc = named_by ? lw_err(err, "the checkpoint is incomplete: download the missing shard (all files the index names are needed)",
                                   "%s: missing shard named by %s: %s", path, named_by, fd < 0 ? strerror(e) : "not a regular file")
                          : lw_err(err, HINT_REDOWNLOAD, "%s: cannot open: %s", path, fd < 0 ? strerror(e) : "not a regular file");
        free(path);
        return rc;
    }
    st->files = xrealloc(st->files, (st->n_files + 1) * sizeof *st->files);
    st->files[st->n_files++] = (StFile){path, fd, (uint64_t)sb.st_size, 0};
    return parse_shard(st, st->n_files - 1, err);
}

static int open_index(SafeTensors *st, LwError *err) {
    char *ipath = xasprintf("%s/%s", st->dir, ST_INDEX_NAME);
    json_error_t je;
    json_t *root = json_load_file(ipath, JSON_REJECT_DUPLICATES, &je);
    int rc = 0;
    if (!root) { rc = lw_err(err, HINT_REDOWNLOAD, "%s:%d:%d: invalid JSON: %s", ipath, je.line, je.column, je.text); goto out; }
    json_t *wm = json_object_get(root, "weight_map");
    if (!json_is_object(wm) || json_object_size(wm) == 0) { rc = lw_err(err, HINT_REDOWNLOAD, "%s: field \"weight_map\" is missing or empty", ipath); goto out; }
    // Shards in order of first appearance among the sorted tensor names: deterministic.
    const char *key;
    json_t *v;
    json_object_foreach(wm, key, v) {
        if (!json_is_string(v)) { rc = lw_err(err, HINT_REDOWNLOAD, "%s: weight_map: tensor \"%s\" maps to %s, expected a file name", ipath, key, "a non-string"); goto out; }
        const char *fn = json_string_value(v);
        if (!*fn || strchr(fn, '/') || strcmp(fn, "..") == 0) {
            rc = lw_err(err, "shard names are plain file names in the checkpoint directory", "%s: weight_map: tensor \"%s\" maps to \"%s\"", ipath, key, fn);
            goto out;
        }
        int seen = 0;
        for (int i = 0; i < st->n_files; i++)
            if (strcmp(lw_basename(st->files[i].path), fn) == 0) seen = 1;
        if (!seen && open_file(st, fn, ipath, err)) { rc = -1; goto out; }
    }
    qsort(st->tensors, st->n_tensors, sizeof *st->tensors, cmp_tensor_name);
    json_object_foreach(wm, key, v) {
        const StTensor *t = st_find(st, key);
        if (!t || strcmp(lw_basename(st->files[t->file].path), json_string_value(v)) != 0) {
            rc = lw_err(err, HINT_REDOWNLOAD, "%s/%s: tensor \"%s\" named by %s is not in that shard", st->dir, json_string_value(v), key, ipath);
            goto out;
        }
    }
out:
    if (root) json_decref(root);
    free(ipath);
    return rc;
}

int st_open(const char *dir, SafeTensors *st, LwError *err) {
    memset(st, 0, sizeof *st);
    snprintf(st->dir, sizeof st->dir, "%s", dir);
    char *ipath = xasprintf("%s/%s", dir, ST_INDEX_NAME), *spath = xasprintf("%s/%s", dir, ST_SINGLE_NAME);
    int rc;
    if (lw_file_exists(ipath)) rc = open_index(st, err);
    else if (lw_file_exists(spath)) rc = open_file(st, ST_SINGLE_NAME, NULL, err);
    else rc = lw_err(err, "lensweep reads Hugging Face safetensors checkpoints (consolidated*.safetensors, original/ and *.bin are not used)",
                     "%s: missing (neither model.safetensors nor %s in %s)", spath, ST_INDEX_NAME, dir);
    free(ipath);
    free(spath);
    if (rc == 0) {
        qsort(st->tensors, st->n_tensors, sizeof *st->tensors, cmp_tensor_name);
        for (int i = 1; i < st->n_tensors; i++)
            if (strcmp(st->tensors[i].name, st->tensors[i - 1].name) == 0) {
                rc = lw_err(err, "two shards hold the same tensor; the checkpoint mixes files of different downloads",
                            "%s: tensor \"%s\" also appears in %s", st->files[st->tensors[i].file].path, st->tensors[i].name,
                            st->files[st->tensors[i - 1].file].path);
                break;
            }
    }
    if (rc) st_close(st);
    return rc;
}

void st_close(SafeTensors *st) {
    for (int i = 0; i < st->n_files; i++) { if (st->files[i].fd >= 0) close(st->files[i].fd); free(st->files[i].path); }
    for (int i = 0; i < st->n_tensors; i++) free(st->tensors[i].name);
    free(st->files);
    free(st->tensors);
    st->files = NULL; st->tensors = NULL;
    st->n_files = st->n_tensors = 0;
}

const StTensor *st_find(const SafeTensors *st, const char *name) {
    StTensor key = {0};
    key.name = (char *)name;
    return st->n_tensors ? bsearch(&key, st->tensors, st->n_tensors, sizeof key, cmp_tensor_name) : NULL;
}

// ---------------------------------------------------------------------------- reads

// Converts n elements; same dtype = copy; otherwise through fp32 (exact for widening).
static void convert(DType from, const void *src, DType to, void *dst, size_t n) {
    if (from == to) { memcpy(dst, src, n * dtype_size(from)); return; }
    if (to == DT_F32) { dtype_to_f32(from, src, dst, n); return; }
    if (from == DT_F32) { dtype_from_f32(to, src, dst, n); return; }
    float tmp[1024];
    for (size_t i = 0; i < n; i += 1024) {
        size_t k = n - i < 1024 ? n - i : 1024;
        dtype_to_f32(from, (const char *)src + i * dtype_size(from), tmp, k);
        dtype_from_f32(to, tmp, (char *)dst + i * dtype_size(to), k);
    }
}

#define ST_BOUNCE_BYTES (8u << 20)
#define ST_SEGMENT_DIRECT_BYTES 4096 // column segments at least this long get their own pread

static int pread_checked(SafeTensors *st, const StTensor *t, void *buf, size_t n, uint64_t off, LwError *err) {
    const StFile *f = &st->files[t->file];
    if (read_exact(f->fd, buf, n, off))
        return lw_err(err, "the file changed or shrank since it was opened, or the disk failed; check it and re-run",
                      "%s: tensor \"%s\": short read of %zu bytes at offset %llu", f->path, t->name, n, (unsigned long long)off);
    st->bytes_read += n;
    return 0;
}

int st_read_block(SafeTensors *st, const StTensor *t, int64_t row0, int64_t nrows, int64_t col0, int64_t ncols,
                  DType out, void *dst, LwError *err) {
    int64_t rows = t->ndim == 2 ? t->shape[0] : 1, cols = t->ndim == 2 ? t->shape[1] : t->ndim == 1 ? t->shape[0] : 0;
    LW_ASSERT(t->ndim == 1 || t->ndim == 2);
    LW_ASSERT(row0 >= 0 && nrows >= 0 && row0 + nrows <= rows && col0 >= 0 && ncols >= 0 && col0 + ncols <= cols);
    size_t es = dtype_size(t->dtype), eo = dtype_size(out);
    if (nrows == 0 || ncols == 0) return 0;
    char *d = dst;
    if (ncols == cols) {
        // Whole rows: one contiguous range, read straight into dst or through a bounce buffer.
        uint64_t off = t->offset + (uint64_t)row0 * cols * es;
        size_t total = (size_t)nrows * cols;
        if (out == t->dtype) return pread_checked(st, t, d, total * es, off, err);
        size_t chunk = ST_BOUNCE_BYTES / es;
        void *bounce = xmalloc(chunk * es);
        int rc = 0;
        for (size_t i = 0; i < total && rc == 0; i += chunk) {
            size_t k = total - i < chunk ? total - i : chunk;
            rc = pread_checked(st, t, bounce, k * es, off + i * es, err);
            if (rc == 0) convert(t->dtype, bounce, out, d + i * eo, k);
        }
        free(bounce);
        return rc;
    }
    size_t seg = (size_t)ncols * es;
    int rc = 0;
    if (seg >= ST_SEGMENT_DIRECT_BYTES) {
        // Long segments: one pread per row (TP column slices of real models: >= 1 KiB per row).
        void *bounce = out == t->dtype ? NULL : xmalloc(seg);
        for (int64_t r = 0; r < nrows && rc == 0; r++) {
            uint64_t off = t->offset + ((uint64_t)(row0 + r) * cols + col0) * es;
            char *to = d + (size_t)r * ncols * eo;
            rc = pread_checked(st, t, bounce ? bounce : to, seg, off, err);
            if (rc == 0 && bounce) convert(t->dtype, bounce, out, to, ncols);
        }
        free(bounce);
        return rc;
    }
    // Short segments: read whole rows in chunks and pick the columns out.
    size_t row_bytes = (size_t)cols * es;
    int64_t per = ST_BOUNCE_BYTES / row_bytes;
    if (per < 1) per = 1;
    char *bounce = xmalloc((size_t)per * row_bytes);
    for (int64_t r = 0; r < nrows && rc == 0; r += per) {
        int64_t k = nrows - r < per ? nrows - r : per;
        rc = pread_checked(st, t, bounce, (size_t)k * row_bytes, t->offset + (uint64_t)(row0 + r) * row_bytes, err);
        for (int64_t i = 0; i < k && rc == 0; i++)
            convert(t->dtype, bounce + i * row_bytes + col0 * es, out, d + (size_t)(r + i) * ncols * eo, ncols);
    }
    free(bounce);
    return rc;
}

int st_read_all(SafeTensors *st, const StTensor *t, DType out, void *dst, LwError *err) {
    uint64_t elems = 1;
    for (int i = 0; i < t->ndim; i++) elems *= (uint64_t)t->shape[i];
    // Any shape is one contiguous run: read it as a 1-row block.
    StTensor flat = *t;
    flat.ndim = 1;
    flat.shape[0] = (int64_t)elems;
    return st_read_block(st, &flat, 0, 1, 0, (int64_t)elems, out, dst, err);
}

// ---------------------------------------------------------------------------- writer

static uint64_t tensor_bytes(const StWriteTensor *t) {
    uint64_t n = dtype_size(t->dtype);
    for (int i = 0; i < t->ndim; i++) n *= (uint64_t)t->shape[i];
    return n;
}

static int write_all(FILE *f, const void *p, size_t n) { return n == 0 || fwrite(p, 1, n, f) == n ? 0 : -1; }

static int write_shard(const char *path, const StWriteTensor *t, int n, LwError *err) {
    json_t *hdr = json_object();
    json_t *meta = json_object();
    json_object_set_new(meta, "format", json_string("pt"));
    json_object_set_new(hdr, "__metadata__", meta);
    uint64_t off = 0;
    for (int i = 0; i < n; i++) {
        json_t *e = json_object(), *sh = json_array(), *of = json_array();
        json_object_set_new(e, "dtype", json_string(dtype_name(t[i].dtype)));
        for (int k = 0; k < t[i].ndim; k++) json_array_append_new(sh, json_integer(t[i].shape[k]));
        json_object_set_new(e, "shape", sh);
        json_array_append_new(of, json_integer((json_int_t)off));
        off += tensor_bytes(&t[i]);
        json_array_append_new(of, json_integer((json_int_t)off));
        json_object_set_new(e, "data_offsets", of);
        json_object_set_new(hdr, t[i].name, e);
    }
    char *text = json_dumps(hdr, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(hdr);
    size_t len = strlen(text), padded = (len + 7) & ~(size_t)7;
    FILE *f = fopen(path, "wb");
    if (!f) { free(text); return lw_err(err, "check that the directory is writable", "%s: cannot create: %s", path, strerror(errno)); }
    unsigned char lenb[8];
    for (int i = 0; i < 8; i++) lenb[i] = (unsigned char)((uint64_t)padded >> (8 * i));
    int bad = write_all(f, lenb, 8) || write_all(f, text, len);
    for (size_t i = len; i < padded && !bad; i++) bad = fputc(' ', f) == EOF;
    free(text);
    for (int i = 0; i < n && !bad; i++) bad = write_all(f, t[i].data, tensor_bytes(&t[i]));
    if (fclose(f) != 0) bad = 1;
    if (bad) return lw_err(err, "check free disk space", "%s: write failed: %s", path, strerror(errno));
    return 0;
}

// Removes the files of either layout (model.safetensors, the index, model-*-of-*.safetensors)
// so that a directory rewritten with another shard count holds exactly one checkpoint: the
// reader prefers the index, and a stale one would silently win.
static void remove_old_layout(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d))) {
        const char *n = e->d_name;
        size_t len = strlen(n);
        int shard = strncmp(n, "model-", 6) == 0 && strstr(n, "-of-") && len > 12 && strcmp(n + len - 12, ".safetensors") == 0;
        if (shard || strcmp(n, ST_SINGLE_NAME) == 0 || strcmp(n, ST_INDEX_NAME) == 0) {
            char *p = xasprintf("%s/%s", dir, n);
            unlink(p);
            free(p);
        }
    }
    closedir(d);
}

int st_write(const char *dir, const StWriteTensor *t, int n, int n_shards, LwError *err) {
    if (lw_mkdir_p(dir, err)) return -1;
    remove_old_layout(dir);
    if (n_shards <= 1) {
        char *path = xasprintf("%s/%s", dir, ST_SINGLE_NAME);
        int rc = write_shard(path, t, n, err);
        free(path);
        return rc;
    }
    if (n_shards > n) n_shards = n;
    uint64_t total = 0;
    for (int i = 0; i < n; i++) total += tensor_bytes(&t[i]);
    json_t *wm = json_object();
    int start = 0, rc = 0;
    uint64_t done = 0;
    for (int s = 0; s < n_shards && rc == 0; s++) {
        // Shard s ends once the running total passes (s+1)/N of the bytes, leaving at least one
        // tensor for every remaining shard.
        int end = start;
        uint64_t target = total * (uint64_t)(s + 1) / (uint64_t)n_shards;
        while (end < n - (n_shards - s - 1) && (end == start || done < target || s == n_shards - 1)) done += tensor_bytes(&t[end++]);
        char *name = xasprintf("model-%05d-of-%05d.safetensors", s + 1, n_shards);
        char *path = xasprintf("%s/%s", dir, name);
        rc = write_shard(path, t + start, end - start, err);
        for (int i = start; i < end; i++) json_object_set_new(wm, t[i].name, json_string(name));
        free(name);
        free(path);
        start = end;
    }
    if (rc == 0) {
        json_t *idx = json_object(), *meta = json_object();
        json_object_set_new(meta, "total_size", json_integer((json_int_t)total));
        json_object_set_new(idx, "metadata", meta);
        json_object_set_new(idx, "weight_map", wm);
        char *text = json_dumps(idx, JSON_INDENT(2) | JSON_SORT_KEYS);
        json_decref(idx);
        char *path = xasprintf("%s/%s", dir, ST_INDEX_NAME);
        size_t len = strlen(text);
        text = xrealloc(text, len + 2);
        text[len] = '\n';
        rc = lw_write_file(path, text, len + 1, err);
        free(text);
        free(path);
    } else {
        json_decref(wm);
    }
    return rc;
}

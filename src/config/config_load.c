// config_load — YAML model configs, `defaults:` chains and sweeps (libyaml document API, which
// keeps the line and column of every node, so every error can point at its key).
//
// A model inside a sweep is resolved as: built-in defaults < environment < the model's
// `defaults:` files < the sweep's `defaults:` files < the sweep's shared keys < the model
// config's own keys < CLI overrides. The sweep's own `name:` names the sweep, not a model.
#include "config/config_internal.h"
#include "config/probe_set.h"

#include <libgen.h>
#include <stdlib.h>
#include <string.h>

#include "config/model_shape.h"

#define MAX_DEFAULTS_DEPTH 8

static char *path_relative_to(const char *base_file, const char *rel) {
    if (rel[0] == '/') return xstrdup(rel);
    char *tmp = xstrdup(base_file);
    char *dir = dirname(tmp);
    char *r = !strcmp(dir, ".") ? xstrdup(rel) : xasprintf("%s/%s", dir, rel);
    free(tmp);
    return r;
}

static yaml_node_t *map_get(yaml_document_t *doc, yaml_node_t *m, const char *key, yaml_node_t **key_node) {
    if (!m || m->type != YAML_MAPPING_NODE) return NULL;
    for (yaml_node_pair_t *p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(doc, p->key);
        const char *ks = yaml_scalar(k);
        if (ks && !strcmp(ks, key)) {
            if (key_node) *key_node = k;
            return yaml_document_get_node(doc, p->value);
        }
    }
    return NULL;
}

static int is_section(const char *key) {
    size_t n = strlen(key);
    for (int i = 0; i < LW_N_OPTIONS; i++) {
        const char *dot = strchr(LW_OPTIONS[i].name, '.');
        if (dot && (size_t)(dot - LW_OPTIONS[i].name) == n && !strncmp(LW_OPTIONS[i].name, key, n)) return 1;
    }
    return 0;
}

typedef struct {
    yaml_document_t doc;
    yaml_node_t *root;
    char *path;
    int is_sweep;
} ConfigDoc;

static void doc_free(ConfigDoc *d) {
    if (d->path) yaml_document_delete(&d->doc);
    free(d->path);
    memset(d, 0, sizeof *d);
}

static int doc_open(const char *path, ConfigDoc *d, LwError *err) {
    memset(d, 0, sizeof *d);
    size_t n = strlen(path);
    if (lw_is_dir(path) || (lw_file_exists(path) && n > 5 && !strcmp(path + n - 5, ".gguf")))
        // `lensweep run CHECKPOINT`: a checkpoint where a config was expected
        return lw_err(err, "a checkpoint is given with --model: lensweep run --model CHECKPOINT --out DIR (or model: in a config)",
                      "%s: is a %s, not a config file", path, lw_is_dir(path) ? "directory" : "GGUF checkpoint");
    if (!lw_file_exists(path))
        return lw_err(err, "check the path (relative paths in a config are relative to that config's folder)",
                      "%s: no such config file", path);
    if (yaml_load_doc(path, &d->doc, err)) return -1;
    d->path = xstrdup(path);
    d->root = yaml_document_get_root_node(&d->doc);
    if (!d->root) return 0; // an empty file is an empty mapping
    if (d->root->type != YAML_MAPPING_NODE) {
        char w[600];
        yaml_where(w, sizeof w, path, d->root);
        lw_err(err, "a config is a mapping of `key: value` lines (see configs/models/*.yaml)",
               "%s: expects a mapping at the top level", w);
        doc_free(d);
        return -1;
    }
    d->is_sweep = map_get(&d->doc, d->root, "models", NULL) != NULL;
    return 0;
}

static int apply_file(const char *path, LwRunConfig *cfg, int depth, int as_defaults, LwError *err);

// Loads the files named by `defaults:` (a path or a list of paths, relative to this file).
static int apply_defaults_chain(ConfigDoc *d, LwRunConfig *cfg, int depth, LwError *err) {
    yaml_node_t *k = NULL, *v = map_get(&d->doc, d->root, "defaults", &k);
    if (!v) return 0;
    char w[600];
    yaml_where(w, sizeof w, d->path, v);
    if (depth >= MAX_DEFAULTS_DEPTH)
        return lw_err(err, "a defaults file names itself, directly or through others", "%s: defaults: nested more than %d deep",
                      w, MAX_DEFAULTS_DEPTH);
    yaml_node_t *single[1] = {v};
    int n = 1;
    yaml_node_t **items = single;
    yaml_node_t *buf[32];
    if (v->type == YAML_SEQUENCE_NODE) {
        n = 0;
        for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top && n < 32; it++)
            buf[n++] = yaml_document_get_node(&d->doc, *it);
        items = buf;
    }
    for (int i = 0; i < n; i++) {
        const char *rel = yaml_scalar(items[i]);
        yaml_where(w, sizeof w, d->path, items[i]);
        if (!rel || !*rel)
            return lw_err(err, "defaults: ../defaults.yaml (a path, or a list of paths)", "%s: defaults: expects a file path", w);
        char *p = path_relative_to(d->path, rel);
        if (!lw_file_exists(p)) {
            lw_err(err, "paths in `defaults:` are relative to the file that names them", "%s: defaults: %s: no such file", w, p);
            free(p);
            return -1;
        }
        int rc = apply_file(p, cfg, depth + 1, 1, err);
        free(p);
        if (rc) return -1;
    }
    return 0;
}

// Applies the keys of one mapping (prefix "" at the top, "slurm." inside `slurm:`, ...).
static int apply_mapping(ConfigDoc *d, yaml_node_t *m, const char *prefix, LwRunConfig *cfg, LwError *err) {
    int npairs = (int)(m->data.mapping.pairs.top - m->data.mapping.pairs.start);
    for (int i = 0; i < npairs; i++) {
        yaml_node_pair_t *p = &m->data.mapping.pairs.start[i];
        yaml_node_t *k = yaml_document_get_node(&d->doc, p->key), *v = yaml_document_get_node(&d->doc, p->value);
        char w[600];
        yaml_where(w, sizeof w, d->path, k);
        const char *ks = yaml_scalar(k);
        if (!ks) return lw_err(err, "keys are plain words such as tp_size", "%s: a key must be a plain word", w);
        for (int j = 0; j < i; j++) { // duplicate keys: libyaml keeps both, YAML forbids it
            const char *prev = yaml_scalar(yaml_document_get_node(&d->doc, m->data.mapping.pairs.start[j].key));
            if (prev && !strcmp(prev, ks))
                return lw_err(err, "delete one of the two lines", "%s: %s%s: duplicate key", w, prefix, ks);
        }
        if (!*prefix) {
            if (!strcmp(ks, "defaults")) continue; // handled before
            if (!strcmp(ks, "models")) {
                if (d->is_sweep) continue;
            }
            if (d->is_sweep && !strcmp(ks, "name")) continue; // the sweep's own name
            if (!strcmp(ks, "probe_set")) {
                LwProbeSet ps;
                if (probe_set_from_node(&ps, &d->doc, v, d->path, err)) return -1;
                probe_set_free(&cfg->probe_set);
                cfg->probe_set = ps;
                cfg->probe_set_inline = 1;
                continue;
            }
            if (is_section(ks)) {
                if (v->type != YAML_MAPPING_NODE) {
                    char vw[600];
                    yaml_where(vw, sizeof vw, d->path, v);
                    return lw_err(err, "write the section's keys indented below it, e.g.\n    slurm:\n      partition: gpu",
                                  "%s: %s: expects a mapping of %s.* keys", vw, ks, ks);
                }
                char pre[64];
                snprintf(pre, sizeof pre, "%s.", ks);
                if (apply_mapping(d, v, pre, cfg, err)) return -1;
                continue;
            }
        }
        char full[300];
        snprintf(full, sizeof full, "%s%s", prefix, ks);
        const LwOption *o = NULL;
        for (int j = 0; j < LW_N_OPTIONS; j++)
            if (!strcmp(LW_OPTIONS[j].name, full)) { o = &LW_OPTIONS[j]; break; }
        if (!o) {
            const char *near = config_nearest_key(full);
            char hint[400];
            if (near) snprintf(hint, sizeof hint, "did you mean '%s'? (lensweep run --help lists every key)", near);
            else snprintf(hint, sizeof hint, "lensweep run --help lists every key");
            if (!strcmp(full, "models"))
                snprintf(hint, sizeof hint, "`models:` belongs in a sweep file (configs/sweeps/), not in this file");
            return lw_err(err, hint, "%s: %s: unknown key", w, full);
        }
        if (opt_set_node(cfg, o, &d->doc, v, d->path, err)) return -1;
    }
    return 0;
}

static int apply_file(const char *path, LwRunConfig *cfg, int depth, int as_defaults, LwError *err) {
    ConfigDoc d;
    if (doc_open(path, &d, err)) return -1;
    int rc = 0;
    if (d.root) {
        yaml_node_t *k = NULL;
        if (d.is_sweep) {
            map_get(&d.doc, d.root, "models", &k);
            char w[600];
            yaml_where(w, sizeof w, path, k);
            rc = lw_err(err, as_defaults ? "a defaults file holds settings only, not `models:`"
                                         : "this is a sweep: run it with `slurm/submit` or `lensweep plan`; "
                                           "a single model config has no `models:`",
                        "%s: models: a sweep where one model config was expected", w);
        }
        if (!rc) rc = apply_defaults_chain(&d, cfg, depth, err);
        if (!rc) rc = apply_mapping(&d, d.root, "", cfg, err);
    }
    doc_free(&d);
    return rc;
}

int config_load_file(const char *path, LwRunConfig *cfg, LwError *err) {
    if (apply_file(path, cfg, 0, 0, err)) return -1;
    free(cfg->config_path);
    cfg->config_path = xstrdup(path);
    return 0;
}

// ---------------------------------------------------------------------------- TP check

int config_check_tp_shape(const LwRunConfig *cfg, const LwModelShape *s, LwError *err) {
    if (cfg->tp_size <= 1) return 0;
    char why[256];
    if (model_shape_check_tp(s, cfg->tp_size, cfg->tp_uneven_heads, why, sizeof why) == 0) return 0;
    const LwOption *o = config_option_find("tp_size");
    return lw_err(err, "tensor parallelism splits whole heads, MLP columns and vocabulary rows "
                       "(TENSOR_PARALLEL.md §3); use 1, 2, 4 or 8 for the ten models",
                  "%s: tp_size: %ld is impossible for %s: %s (shapes from %s)", cfg->src[o - LW_OPTIONS].where,
                  cfg->tp_size, cfg->model, why, s->source);
}

// read_checkpoint 0: the built-in table only, and nothing for a model whose shapes are its
// checkpoint's (the directory config_check_tp would read).
static int check_tp(const LwRunConfig *cfg, int read_checkpoint, LwError *err) {
    if (cfg->tp_size <= 1 || !cfg->model || !*cfg->model) return 0;
    LwModelShape s;
    int have = 0;
    const char *dir = cfg->model_dir ? cfg->model_dir : lw_is_dir(cfg->model) ? cfg->model : NULL;
    if (dir && !read_checkpoint) return 0;
    if (dir) {
        have = model_shape_from_config_json(dir, &s, err);
        if (have < 0) return -1;
    }
    if (!have) have = model_shape_builtin(cfg->model, &s);
    if (!have) return 0;
    return config_check_tp_shape(cfg, &s, err);
}

int config_check_tp(const LwRunConfig *cfg, LwError *err) { return check_tp(cfg, 1, err); }

int config_check_tp_builtin(const LwRunConfig *cfg, LwError *err) { return check_tp(cfg, 0, err); }

// ---------------------------------------------------------------------------- sweeps

static int finish_model(LwRunConfig *cfg, int cli_argc, char **cli_argv, LwError *err) {
    if (cli_argc > 0 && config_apply_cli(cfg, cli_argc, cli_argv, err)) return -1;
    if (config_finalize(cfg, err)) return -1;
    if (!cfg->model || !*cfg->model) {
        const char *f = cfg->config_path ? cfg->config_path : "command line";
        return lw_err(err, "name the checkpoint: model: org/name (a Hugging Face id) or model: /path/to/checkpoint",
                      "%s: model: not set", f);
    }
    return config_check_tp(cfg, err);
}

int sweep_load(const char *path, int cli_argc, char **cli_argv, LwSweep *sw, LwError *err) {
    memset(sw, 0, sizeof *sw);
    ConfigDoc d;
    if (doc_open(path, &d, err)) return -1;
    sw->path = xstrdup(path);
    char *base = xstrdup(lw_basename(path));
    size_t bl = strlen(base);
    if (bl > 5 && !strcmp(base + bl - 5, ".yaml")) base[bl - 5] = 0;
    sw->name = base;
    int rc = 0;
    if (!d.is_sweep) {
        sw->n = 1;
        sw->models = xcalloc(1, sizeof *sw->models);
        LwRunConfig *c = &sw->models[0];
        config_defaults(c);
        rc = config_apply_env(c, err);
        if (!rc) rc = config_load_file(path, c, err);
        if (!rc) rc = finish_model(c, cli_argc, cli_argv, err);
        doc_free(&d);
        if (rc) sweep_free(sw);
        return rc;
    }
    yaml_node_t *nk = NULL, *nv = map_get(&d.doc, d.root, "name", &nk);
    if (nv && yaml_scalar(nv) && *yaml_scalar(nv)) { free(sw->name); sw->name = xstrdup(yaml_scalar(nv)); }
    yaml_node_t *mk = NULL, *models = map_get(&d.doc, d.root, "models", &mk);
    char w[600];
    yaml_where(w, sizeof w, path, models);
    if (models->type != YAML_SEQUENCE_NODE || models->data.sequence.items.top == models->data.sequence.items.start) {
        rc = lw_err(err, "models:\n    - ../models/mistral-7b.yaml   (paths relative to the sweep file)",
                    "%s: models: expects a non-empty list of model config paths", w);
        goto out;
    }
    int n = (int)(models->data.sequence.items.top - models->data.sequence.items.start);
    sw->models = xcalloc(n, sizeof *sw->models);
    for (int i = 0; i < n && !rc; i++) {
        yaml_node_t *el = yaml_document_get_node(&d.doc, models->data.sequence.items.start[i]);
        yaml_where(w, sizeof w, path, el);
        const char *rel = yaml_scalar(el);
        if (!rel || !*rel) {
            rc = lw_err(err, "each entry is a path such as ../models/mistral-7b.yaml", "%s: models[%d]: expects a path", w, i);
            break;
        }
        char *mp = path_relative_to(path, rel);
        LwRunConfig *c = &sw->models[i];
        sw->n = i + 1;
        config_defaults(c);
        ConfigDoc md;
        if (!lw_file_exists(mp)) {
            rc = lw_err(err, "paths under `models:` are relative to the sweep file; list configs/models/ for the names",
                        "%s: models[%d]: %s: no such model config", w, i, mp);
            free(mp);
            break;
        }
        rc = config_apply_env(c, err);
        if (!rc) rc = doc_open(mp, &md, err);
        if (!rc) {
            if (md.is_sweep) {
                rc = lw_err(err, "a sweep lists model configs, not other sweeps", "%s: models[%d]: %s is a sweep", w, i, mp);
            } else if (md.root) {
                rc = apply_defaults_chain(&md, c, 0, err);
                if (!rc) rc = apply_defaults_chain(&d, c, 0, err);
                if (!rc) rc = apply_mapping(&d, d.root, "", c, err);
                if (!rc) rc = apply_mapping(&md, md.root, "", c, err);
            }
            doc_free(&md);
        }
        if (!rc) {
            c->config_path = xstrdup(mp);
            c->sweep_path = xstrdup(path);
            rc = finish_model(c, cli_argc, cli_argv, err);
        }
        free(mp);
        for (int j = 0; j < i && !rc; j++)
            if (!strcmp(sw->models[j].name, c->name))
                rc = lw_err(err, "give one of them another `name:` (it names the output file <out_dir>/<name>.h5)",
                            "%s: models[%d]: %s has the same name '%s' as models[%d] (%s)", w, i, c->config_path, c->name,
                            j, sw->models[j].config_path);
    }
out:
    doc_free(&d);
    if (rc) sweep_free(sw);
    return rc;
}

void sweep_free(LwSweep *sw) {
    for (int i = 0; i < sw->n; i++) config_free(&sw->models[i]);
    free(sw->models); free(sw->path); free(sw->name);
    memset(sw, 0, sizeof *sw);
}

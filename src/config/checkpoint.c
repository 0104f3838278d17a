// checkpoint — where a model's files are: a path, or a Hugging Face id under a model root.
//
// Users already have their models somewhere; we look where the Hugging Face tools put them:
//   `huggingface-cli download --local-dir <root>/<org>/<name>` (or <root>/<name>), and
//   the hub cache <hub>/models--<org>--<name>/snapshots/<revision>/ with refs/main naming the
//   revision (HF_HUB_CACHE, else HF_HOME/hub, else ~/.cache/huggingface/hub).
// A checkpoint directory must hold config.json (or a .gguf file is given directly). When nothing
// is found, the error lists every place that was tried, in order, so the user can see the typo.
#include "config/config.h"
#include "io/gguf.h"

#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define MAX_TRIED 24

typedef struct {
    int n;
    char *tried[MAX_TRIED];
} Tried;

static void tried_add(Tried *t, char *p) {
    for (int i = 0; i < t->n; i++)
        if (!strcmp(t->tried[i], p)) { free(p); return; }
    if (t->n < MAX_TRIED) t->tried[t->n++] = p;
    else free(p);
}

static int is_checkpoint_dir(const char *dir) {
    char *cj = xasprintf("%s/config.json", dir);
    int ok = lw_file_exists(cj) || gguf_checkpoint_path(dir, NULL, 0); // or exactly one .gguf
    free(cj);
    return ok;
}

// <hub>/models--org--name/snapshots/<rev>: refs/main when present, else the newest snapshot.
static char *hub_snapshot(const char *hub, const char *id, Tried *t) {
    char flat[512];
    size_t k = 0;
    for (const char *p = id; *p && k + 3 < sizeof flat; p++) { // org/name -> org--name
        if (*p == '/') { flat[k++] = '-'; flat[k++] = '-'; } else flat[k++] = *p;
    }
    flat[k] = 0;
    char *repo = xasprintf("%s/models--%s", hub, flat);
    char *snaps = xasprintf("%s/snapshots", repo);
    char *found = NULL;
    char *ref = xasprintf("%s/refs/main", repo);
    if (lw_file_exists(ref)) {
        LwError e = {0};
        size_t len;
        char *rev = lw_read_file(ref, &len, &e);
        if (rev) {
            while (len && (rev[len - 1] == '\n' || rev[len - 1] == ' ' || rev[len - 1] == '\r')) rev[--len] = 0;
            char *dir = xasprintf("%s/%s", snaps, rev);
            if (is_checkpoint_dir(dir)) found = dir;
            else tried_add(t, xasprintf("%s (named by refs/main)", dir)), free(dir);
            free(rev);
        }
    } else {
        DIR *dd = opendir(snaps);
        time_t best = 0;
        if (dd) {
            struct dirent *e;
            while ((e = readdir(dd))) {
                if (e->d_name[0] == '.') continue;
                char *dir = xasprintf("%s/%s", snaps, e->d_name);
                struct stat st;
                if (is_checkpoint_dir(dir) && stat(dir, &st) == 0 && (!found || st.st_mtime > best)) {
                    free(found);
                    found = xstrdup(dir);
                    best = st.st_mtime;
                }
                free(dir);
            }
            closedir(dd);
        }
        if (!found) tried_add(t, xasprintf("%s/<revision>", snaps));
    }
    free(ref); free(snaps); free(repo);
    return found;
}

int config_resolve_checkpoint(LwRunConfig *cfg, LwError *err) {
    const char *m = cfg->model;
    if (!m || !*m)
        return lw_err(err, "name the checkpoint: model: org/name or model: /path/to/checkpoint",
                      "%s: model: not set", cfg->config_path ? cfg->config_path : "command line");
    Tried t = {0};
    char *found = NULL;
    struct stat st;
    // 1. a path as given
    if (stat(m, &st) == 0) {
        if (S_ISREG(st.st_mode)) found = xstrdup(m); // e.g. a .gguf file
        else if (is_checkpoint_dir(m)) found = xstrdup(m);
        else tried_add(&t, xasprintf("%s (exists, but has no config.json)", m));
    } else tried_add(&t, xstrdup(m));
    // 2. a Hugging Face id: org/name or name (no leading '/' or '.')
    int looks_like_id = !found && m[0] != '/' && m[0] != '.' && strlen(m) < 200;
    const char *name = strrchr(m, '/') ? strrchr(m, '/') + 1 : m;
    const char *roots[2] = {cfg->model_root, getenv("LENSWEEP_MODEL_ROOT")};
    for (int r = 0; r < 2 && looks_like_id && !found; r++) {
        const char *root = roots[r];
        if (!root || !*root) continue;
        char *cands[2] = {xasprintf("%s/%s", root, m), xasprintf("%s/%s", root, name)};
        for (int c = 0; c < 2; c++) {
            if (!found && is_checkpoint_dir(cands[c])) found = xstrdup(cands[c]);
            else if (!found) tried_add(&t, xstrdup(cands[c]));
            free(cands[c]);
        }
        if (!found) found = hub_snapshot(root, m, &t); // a root that is itself a hub cache
    }
    // 3. the Hugging Face hub cache
    if (looks_like_id && !found) {
        const char *hubc = getenv("HF_HUB_CACHE"), *home = getenv("HF_HOME"), *uh = getenv("HOME");
        char *hubs[3] = {hubc && *hubc ? xstrdup(hubc) : NULL, home && *home ? xasprintf("%s/hub", home) : NULL,
                         (!hubc || !*hubc) && (!home || !*home) && uh ? xasprintf("%s/.cache/huggingface/hub", uh) : NULL};
        for (int h = 0; h < 3; h++) {
            if (hubs[h] && !found) found = hub_snapshot(hubs[h], m, &t);
            free(hubs[h]);
        }
    }
    if (found) {
        for (int i = 0; i < t.n; i++) free(t.tried[i]);
        free(cfg->model_dir);
        cfg->model_dir = found;
        return 0;
    }
    char msg[900];
    int off = 0;
    for (int i = 0; i < t.n && off < (int)sizeof msg - 8; i++)
        off += snprintf(msg + off, sizeof msg - off, "%s%s", i ? "; " : "", t.tried[i]);
    for (int i = 0; i < t.n; i++) free(t.tried[i]);
    const LwOption *o = config_option_find("model");
    return lw_err(err,
                  "download it (huggingface-cli download ID --local-dir ROOT/ID) and set model_root or "
                  "LENSWEEP_MODEL_ROOT, or set HF_HOME/HF_HUB_CACHE, or give model: a path",
                  "%s: model: checkpoint '%s' not found; looked in: %s", cfg->src[o - LW_OPTIONS].where, m, msg);
}

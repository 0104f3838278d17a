// battery — see battery.h; the file formats are documented in docs/BATTERY.md.
#include "config/battery.h"

#include <ctype.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "config/config.h"
#include "config/config_yaml.h"

#define KEYS "id, prompt, answer, group, control"

// ---------------------------------------------------------------------------- problems, items

static void add_problem_at(LwBattery *b, int line, const char *id, const char *hint, const char *fmt, va_list ap) {
    char what[800];
    vsnprintf(what, sizeof what, fmt, ap);
    b->problems = xrealloc(b->problems, sizeof *b->problems * (b->n_problems + 1));
    LwBatteryProblem *p = &b->problems[b->n_problems++];
    p->line = line;
    p->id = xstrdup(id ? id : "");
    if (line > 0) p->what = xasprintf("%s:%d: %s%s%s%s", b->path, line, what, hint ? " (hint: " : "", hint ? hint : "", hint ? ")" : "");
    else p->what = xasprintf("%s: %s%s%s%s", b->path, what, hint ? " (hint: " : "", hint ? hint : "", hint ? ")" : "");
}

static void problem(LwBattery *b, int line, const char *id, const char *hint, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static void problem(LwBattery *b, int line, const char *id, const char *hint, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    add_problem_at(b, line, id, hint, fmt, ap);
    va_end(ap);
}

void battery_add_problem(LwBattery *b, int item, const char *hint, const char *fmt, ...) {
    LW_ASSERT(item >= 0 && item < b->n_items);
    va_list ap;
    va_start(ap, fmt);
    add_problem_at(b, b->items[item].line, b->items[item].id, hint, fmt, ap);
    va_end(ap);
}

static void item_free(LwBatteryItem *it) {
    free(it->id); free(it->prompt); free(it->group); free(it->control);
    for (int i = 0; i < it->n_answers; i++) free(it->answers[i]);
    free(it->answers);
    memset(it, 0, sizeof *it);
}

static void add_answer(LwBatteryItem *it, const char *a) {
    it->answers = xrealloc(it->answers, sizeof(char *) * (it->n_answers + 1));
    it->answers[it->n_answers++] = xstrdup(a);
}

static int blank(const char *s) {
    for (; s && *s; s++)
        if (!isspace((unsigned char)*s)) return 0;
    return 1;
}

// Checks one parsed item and appends it (also when it has problems: battery_check drops those,
// and a duplicate of a bad item's id is still a duplicate). Takes ownership of it's strings.
static void add_item(LwBattery *b, LwBatteryItem *it, int missing_ok) {
    int n0 = b->n_problems;
    const char *id = it->id ? it->id : "";
    if (!missing_ok) {
        if (!it->id) problem(b, it->line, "", "every item names its `id`", "item without `id`");
        if (!it->prompt) problem(b, it->line, id, "every item names its `prompt`", "item '%s': missing `prompt`", id);
        if (it->n_answers == 0 && !it->answers)
            problem(b, it->line, id, "every item names its `answer` (a string or a list of acceptable answers)",
                    "item '%s': missing `answer`", id);
    }
    if (it->id && blank(it->id)) problem(b, it->line, id, "give the item an id (any unique text)", "item with an empty `id`");
    if (it->prompt && blank(it->prompt))
        problem(b, it->line, id, "every prompt needs some text", "item '%s': empty prompt", id);
    if (it->answers && it->n_answers == 0)
        problem(b, it->line, id, "list at least one acceptable answer", "item '%s': `answer` is an empty list", id);
    for (int i = 0; i < it->n_answers; i++)
        if (blank(it->answers[i]))
            problem(b, it->line, id, "every answer needs some text", "item '%s': answer %d is empty", id, i + 1);
    if (it->control && blank(it->control))
        problem(b, it->line, id, "leave `control` out when the item has no control prompt", "item '%s': empty control prompt", id);
    if (it->id && !blank(it->id))
        for (int j = 0; j < b->n_items; j++)
            if (b->items[j].id && !strcmp(b->items[j].id, it->id)) {
                problem(b, it->line, id, "ids name items uniquely", "duplicate id '%s' (first at line %d)", id, b->items[j].line);
                break;
            }
    (void)n0;
    if (!it->group) it->group = xstrdup("");
    if (!it->answers) it->answers = xmalloc(sizeof(char *));
    b->items = xrealloc(b->items, sizeof *b->items * (b->n_items + 1));
    b->items[b->n_items++] = *it;
    memset(it, 0, sizeof *it);
}

// ---------------------------------------------------------------------------- format detection

static const char *ext_of(const char *path) {
    const char *slash = strrchr(path, '/'), *dot = strrchr(path, '.');
    return dot && (!slash || dot > slash) ? dot + 1 : "";
}

static const char *format_of_ext(const char *ext) {
    if (!strcasecmp(ext, "yaml") || !strcasecmp(ext, "yml")) return "yaml";
    if (!strcasecmp(ext, "jsonl") || !strcasecmp(ext, "ndjson")) return "jsonl";
    if (!strcasecmp(ext, "csv")) return "csv";
    return NULL;
}

// What the content looks like from its first non-blank line that is no comment: "jsonl" (an
// object), "yaml" (a list item, `items:`, `name:`, `---` or another `key:`), "csv" (commas), or NULL.
static const char *format_of_content(const char *text) {
    const char *p = text;
    while (*p) {
        const char *e = strchr(p, '\n');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        const char *q = p, *end = p + n;
        while (q < end && isspace((unsigned char)*q)) q++;
        if (q < end && *q != '#') {
            if (*q == '{') return "jsonl";
            if (*q == '-' || !strncmp(q, "items:", 6) || !strncmp(q, "name:", 5)) return "yaml";
            if (memchr(q, ',', end - q)) return "csv";
            if (memchr(q, ':', end - q)) return "yaml";
            return NULL;
        }
        if (!e) break;
        p = e + 1;
    }
    return NULL;
}

static int yaml_has_items_key(const char *text) {
    for (const char *p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
        if (!strncmp(p, "items:", 6)) return 1;
    return 0;
}

int battery_is_battery_path(const char *path) {
    const char *f = format_of_ext(ext_of(path));
    if (!f) return 0;
    if (strcmp(f, "yaml")) return 1;
    size_t len;
    LwError e = {0};
    char *text = lw_read_file(path, &len, &e);
    if (!text) return 0;
    int r = yaml_has_items_key(text);
    free(text);
    return r;
}

static const char *format_words(const char *f) {
    return !strcmp(f, "jsonl") ? "JSON lines (one object per line)" : !strcmp(f, "csv") ? "CSV (a header row)" : "YAML (items: list)";
}

// ---------------------------------------------------------------------------- YAML

static int load_yaml(LwBattery *b, LwError *err) {
    yaml_document_t doc;
    if (yaml_load_doc(b->path, &doc, err)) return -1;
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    int rc = 0;
    yaml_node_t *items = NULL;
    if (!root || root->type != YAML_MAPPING_NODE) {
        rc = lw_err(err, "a YAML battery is a mapping with an `items:` list (docs/BATTERY.md)", "%s: expects a mapping with `items:`",
                    b->path);
        goto done;
    }
    for (yaml_node_pair_t *p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(&doc, p->key), *v = yaml_document_get_node(&doc, p->value);
        const char *ks = yaml_scalar(k);
        char w[600];
        yaml_where(w, sizeof w, b->path, k);
        if (ks && !strcmp(ks, "items")) items = v;
        else if (ks && !strcmp(ks, "name") && yaml_scalar(v) && *yaml_scalar(v)) { free(b->name); b->name = xstrdup(yaml_scalar(v)); }
        else {
            rc = lw_err(err, "the top level of a YAML battery has `name:` and `items:`", "%s: %s: unknown key", w, ks ? ks : "?");
            goto done;
        }
    }
    if (!items || items->type != YAML_SEQUENCE_NODE) {
        rc = lw_err(err, "items: is a list of {id, prompt, answer, group, control} mappings (docs/BATTERY.md)",
                    "%s: items: expects a list", b->path);
        goto done;
    }
    for (yaml_node_item_t *el = items->data.sequence.items.start; el < items->data.sequence.items.top; el++) {
        yaml_node_t *m = yaml_document_get_node(&doc, *el);
        LwBatteryItem it = {0};
        it.line = (int)m->start_mark.line + 1;
        if (m->type != YAML_MAPPING_NODE) {
            problem(b, it.line, "", "an item is a mapping {id: ..., prompt: ..., answer: ...}", "malformed item: expects a mapping");
            continue;
        }
        int bad = 0;
        for (yaml_node_pair_t *p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top; p++) {
            yaml_node_t *k = yaml_document_get_node(&doc, p->key), *v = yaml_document_get_node(&doc, p->value);
            const char *ks = yaml_scalar(k), *vs = yaml_scalar(v);
            int kl = (int)k->start_mark.line + 1;
            char **slot = !ks ? NULL : !strcmp(ks, "id") ? &it.id : !strcmp(ks, "prompt") ? &it.prompt
                        : !strcmp(ks, "group") ? &it.group : !strcmp(ks, "control") ? &it.control : NULL;
            if (ks && !strcmp(ks, "answer")) {
                if (vs) add_answer(&it, vs);
                else if (v->type == YAML_SEQUENCE_NODE) {
                    it.answers = xmalloc(sizeof(char *));
                    for (yaml_node_item_t *a = v->data.sequence.items.start; a < v->data.sequence.items.top; a++) {
                        const char *as = yaml_scalar(yaml_document_get_node(&doc, *a));
                        if (as) add_answer(&it, as);
                        else { problem(b, it.line, it.id, "answers are strings", "answer (line %d): a list element is not a string", kl); bad = 1; }
                    }
                } else { problem(b, it.line, it.id, "answer: a string or a list of strings", "answer (line %d): expects a string or a list", kl); bad = 1; }
            } else if (slot) {
                if (!vs) { problem(b, it.line, it.id, "write the value as a string", "%s (line %d): expects a string", ks, kl); bad = 1; }
                else { free(*slot); *slot = xstrdup(vs); }
            } else {
                problem(b, it.line, it.id, "valid keys: " KEYS, "%s (line %d): unknown key", ks ? ks : "(not a scalar)", kl);
                bad = 1;
            }
        }
        if (bad) { if (it.id || it.prompt) add_item(b, &it, 1); item_free(&it); continue; }
        add_item(b, &it, 0);
    }
done:
    yaml_document_delete(&doc);
    return rc;
}

// ---------------------------------------------------------------------------- JSON lines

static void load_jsonl(LwBattery *b, const char *text) {
    int line = 0;
    const char *p = text;
    while (*p) {
        line++;
        const char *e = strchr(p, '\n');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        char *s = xmalloc(n + 1);
        memcpy(s, p, n);
        s[n] = 0;
        p = e ? e + 1 : p + n;
        if (blank(s)) { free(s); continue; }
        json_error_t je;
        json_t *o = json_loads(s, JSON_REJECT_DUPLICATES, &je);
        free(s);
        if (!o || !json_is_object(o)) {
            problem(b, line, "", "one JSON object per line, e.g. {\"id\": \"q1\", \"prompt\": \"...\", \"answer\": \"Paris\"}",
                    "malformed line: %s", o ? "not a JSON object" : je.text);
            json_decref(o);
            continue;
        }
        LwBatteryItem it = {0};
        it.line = line;
        int bad = 0;
        const char *k;
        json_t *v;
        json_object_foreach(o, k, v) {
            char **slot = !strcmp(k, "id") ? &it.id : !strcmp(k, "prompt") ? &it.prompt : !strcmp(k, "group") ? &it.group
                        : !strcmp(k, "control") ? &it.control : NULL;
            if (!strcmp(k, "answer")) {
                if (json_is_string(v)) add_answer(&it, json_string_value(v));
                else if (json_is_array(v)) {
                    it.answers = xmalloc(sizeof(char *));
                    size_t i;
                    json_t *a;
                    json_array_foreach(v, i, a) {
                        if (json_is_string(a)) add_answer(&it, json_string_value(a));
                        else { problem(b, line, it.id, "answers are strings", "answer: element %zu is not a string", i + 1); bad = 1; }
                    }
                } else { problem(b, line, it.id, "answer: a string or a list of strings", "answer: expects a string or a list"); bad = 1; }
            } else if (slot) {
                if (json_is_string(v)) { free(*slot); *slot = xstrdup(json_string_value(v)); }
                else if (json_is_integer(v) && slot == &it.id) { free(*slot); *slot = xasprintf("%lld", (long long)json_integer_value(v)); }
                else if (json_is_null(v) && (slot == &it.group || slot == &it.control)) { }
                else { problem(b, line, it.id, "write the value as a JSON string", "%s: expects a string", k); bad = 1; }
            } else {
                problem(b, line, it.id, "valid keys: " KEYS, "%s: unknown key", k);
                bad = 1;
            }
        }
        json_decref(o);
        if (bad) { if (it.id) add_item(b, &it, 1); item_free(&it); continue; }
        add_item(b, &it, 0);
    }
}

// ---------------------------------------------------------------------------- CSV

// One record (RFC 4180: "..." quoting, "" inside quotes, newlines inside quotes). Returns the
// number of fields, -1 at the end of the text, -2 for a malformed record (an unterminated quote,
// text after a closing quote). *line advances over the newlines read.
static int csv_record(const char **pp, int *line, char ***fields) {
    const char *p = *pp, *start = *pp;
    int l0 = *line, eof_in_quotes = 0;
    if (!*p) return -1;
    int n = 0, bad = 0;
    *fields = NULL;
    for (;;) {
        size_t cap = 16, len = 0;
        char *f = xmalloc(cap);
        if (*p == '"') {
            p++;
            for (;;) {
                if (!*p) { bad = eof_in_quotes = 1; break; }
                if (*p == '"' && p[1] == '"') { p += 2; f[len++] = '"'; }
                else if (*p == '"') { p++; break; }
                else { if (*p == '\n') (*line)++; f[len++] = *p++; }
                if (len + 1 >= cap) f = xrealloc(f, cap *= 2);
            }
            if (!bad && *p && *p != ',' && *p != '\n' && !(*p == '\r' && p[1] == '\n')) bad = 1;
        } else {
            while (*p && *p != ',' && *p != '\n' && !(*p == '\r' && p[1] == '\n')) {
                if (*p == '"') bad = 1;
                f[len++] = *p++;
                if (len + 1 >= cap) f = xrealloc(f, cap *= 2);
            }
        }
        f[len] = 0;
        *fields = xrealloc(*fields, sizeof(char *) * (n + 1));
        (*fields)[n++] = f;
        if (bad) { // skip to the end of the physical line
            while (*p && *p != '\n') p++;
            break;
        }
        if (*p == ',') { p++; continue; }
        break;
    }
    if (eof_in_quotes) { // an unterminated quote: the record is its first physical line only
        const char *nl = strchr(start, '\n');
        p = nl ? nl : start + strlen(start);
        *line = l0;
    }
    if (*p == '\r') p++;
    if (*p == '\n') { p++; (*line)++; }
    *pp = p;
    return bad ? -2 - n : n; // -2 - n keeps n for freeing
}

static void free_fields(char **f, int n) {
    for (int i = 0; i < n; i++) free(f[i]);
    free(f);
}

static int load_csv(LwBattery *b, const char *text, LwError *err) {
    const char *p = text;
    int line = 1, col[5] = {-1, -1, -1, -1, -1}; // id prompt answer group control
    static const char *const NAMES[5] = {"id", "prompt", "answer", "group", "control"};
    char **f;
    int hl = line, nh = csv_record(&p, &line, &f);
    if (nh == -1) return lw_err(err, "the first row names the columns: id,prompt,answer[,group][,control]", "%s: empty file", b->path);
    if (nh < 0) {
        free_fields(f, -2 - nh);
        return lw_err(err, "the first row names the columns: id,prompt,answer[,group][,control]", "%s:1: malformed header row", b->path);
    }
    for (int i = 0; i < nh; i++) {
        int k = -1;
        for (int j = 0; j < 5; j++)
            if (!strcmp(f[i], NAMES[j])) k = j;
        if (k < 0 || col[k] >= 0) {
            int rc = lw_err(err, "the header names each of id, prompt, answer, group, control at most once",
                            "%s:%d: column %d '%s': %s", b->path, hl, i + 1, f[i], k < 0 ? "unknown key" : "named twice");
            free_fields(f, nh);
            return rc;
        }
        col[k] = i;
    }
    free_fields(f, nh);
    for (int j = 0; j < 3; j++)
        if (col[j] < 0)
            return lw_err(err, "the first row names the columns: id,prompt,answer[,group][,control]",
                          "%s:%d: header: missing column '%s'", b->path, hl, NAMES[j]);
    for (;;) {
        int l0 = line, n = csv_record(&p, &line, &f);
        if (n == -1) break;
        if (n < 0) {
            problem(b, l0, "", "quote a field that holds commas or quotes as \"...\" (a quote inside as \"\")",
                    "malformed line: a quote out of place");
            free_fields(f, -2 - n);
            continue;
        }
        if (n == 1 && !*f[0]) { free_fields(f, n); continue; } // blank line
        if (n != nh) {
            problem(b, l0, col[0] < n ? f[col[0]] : "", "every row has as many fields as the header",
                    "malformed line: %d fields, the header has %d", n, nh);
            free_fields(f, n);
            continue;
        }
        LwBatteryItem it = {0};
        it.line = l0;
        it.id = xstrdup(f[col[0]]);
        it.prompt = xstrdup(f[col[1]]);
        it.answers = xmalloc(sizeof(char *));
        for (const char *a = f[col[2]];;) { // acceptable answers separated by '|'
            const char *bar = strchr(a, '|');
            char *one = bar ? xasprintf("%.*s", (int)(bar - a), a) : xstrdup(a);
            add_answer(&it, one);
            free(one);
            if (!bar) break;
            a = bar + 1;
        }
        if (col[3] >= 0) it.group = xstrdup(f[col[3]]);
        if (col[4] >= 0 && *f[col[4]]) it.control = xstrdup(f[col[4]]);
        free_fields(f, n);
        add_item(b, &it, 0);
    }
    return 0;
}

// ---------------------------------------------------------------------------- load, check

static uint64_t hash_items(const LwBattery *b) {
    uint64_t h = LW_FNV1A64_INIT;
    for (int i = 0; i < b->n_items; i++) {
        const LwBatteryItem *it = &b->items[i];
        h = config_fnv1a64(it->id, strlen(it->id) + 1, h);
        h = config_fnv1a64(it->prompt ? it->prompt : "", strlen(it->prompt ? it->prompt : "") + 1, h);
        for (int j = 0; j < it->n_answers; j++) h = config_fnv1a64(it->answers[j], strlen(it->answers[j]) + 1, h);
        h = config_fnv1a64("\x1f", 1, h);
        h = config_fnv1a64(it->group, strlen(it->group) + 1, h);
        h = config_fnv1a64(it->control ? it->control : "\x1e", strlen(it->control ? it->control : "\x1e") + 1, h);
    }
    return h;
}

int battery_load(const char *path, LwBattery *b, LwError *err) {
    memset(b, 0, sizeof *b);
    b->path = xstrdup(path);
    const char *f = format_of_ext(ext_of(path));
    if (!f) {
        lw_err(err, "a battery is a .yaml, .jsonl or .csv file (docs/BATTERY.md)", "%s: probes: unknown file extension '.%s'",
               path, ext_of(path));
        goto fail;
    }
    b->format = f;
    size_t len;
    char *text = lw_read_file(path, &len, err);
    if (!text) goto fail;
    if (memchr(text, 0, len)) {
        free(text);
        lw_err(err, "a battery is a text file", "%s: holds NUL bytes (not a %s file)", path, format_words(f));
        goto fail;
    }
    const char *looks = format_of_content(text);
    if (!looks) {
        int empty = blank(text);
        free(text);
        if (empty) lw_err(err, "add items (docs/BATTERY.md)", "%s: empty battery", path);
        else lw_err(err, "see docs/BATTERY.md for the three formats", "%s: does not look like %s", path, format_words(f));
        goto fail;
    }
    if (strcmp(looks, f)) {
        free(text);
        char hint[200];
        snprintf(hint, sizeof hint, "name the file .%s, or write it as %s (docs/BATTERY.md)", !strcmp(looks, "yaml") ? "yaml" : looks,
                 format_words(f));
        lw_err(err, hint, "%s: looks like %s, not %s as its extension says", path, format_words(looks), format_words(f));
        goto fail;
    }
    {   // name: the basename without extension (YAML may override)
        const char *base = lw_basename(path), *dot = strrchr(base, '.');
        b->name = dot ? xasprintf("%.*s", (int)(dot - base), base) : xstrdup(base);
    }
    int rc = 0;
    if (!strcmp(f, "yaml")) rc = load_yaml(b, err);
    else if (!strcmp(f, "jsonl")) load_jsonl(b, text);
    else rc = load_csv(b, text, err);
    free(text);
    if (rc) goto fail;
    if (b->n_items == 0 && b->n_problems == 0) {
        lw_err(err, "add items (docs/BATTERY.md)", "%s: the battery has no items", path);
        goto fail;
    }
    b->content_hash = hash_items(b);
    return 0;
fail:
    battery_free(b);
    return -1;
}

int battery_check(LwBattery *b, int skip, const char *skip_option_where, LwError *err) {
    if (b->n_problems == 0) return 0;
    for (int i = 1; i < b->n_problems; i++) { // by line (stable): the reader's and the tokenizer's in file order
        LwBatteryProblem p = b->problems[i];
        int j = i;
        for (; j > 0 && b->problems[j - 1].line > p.line; j--) b->problems[j] = b->problems[j - 1];
        b->problems[j] = p;
    }
    int file_level = 0;
    for (int i = 0; i < b->n_problems; i++) file_level |= b->problems[i].line == 0;
    if (!skip || file_level) {
        // As many lines as the message holds; when they do not all fit, every one is printed first.
        char msg[sizeof err->msg];
        int len = snprintf(msg, sizeof msg, "%s: %d bad item%s:", b->path, b->n_problems, b->n_problems == 1 ? "" : "s");
        int shown = 0;
        for (; shown < b->n_problems; shown++) {
            size_t need = strlen(b->problems[shown].what) + 64;
            if (len + need >= sizeof msg) break;
            len += snprintf(msg + len, sizeof msg - len, "\n  %s", b->problems[shown].what);
        }
        if (shown < b->n_problems) {
            for (int i = 0; i < b->n_problems; i++) lw_warn("bad item: %s", b->problems[i].what);
            snprintf(msg + len, sizeof msg - len, "\n  ... and %d more (all %d listed above)", b->n_problems - shown,
                     b->n_problems);
        }
        return lw_err(err, "fix the items, or skip them with skip_bad_items: true (--skip-bad-items); the run lists skipped items",
                      "%s", msg);
    }
    (void)skip_option_where;
    // skip: drop every item named by a problem (by line and id), keep the problems as `skipped`
    int *drop = xcalloc(b->n_items ? b->n_items : 1, sizeof(int));
    for (int i = 0; i < b->n_problems; i++) {
        LwBatteryProblem *p = &b->problems[i];
        lw_warn("skipping bad item: %s", p->what);
        for (int j = 0; j < b->n_items; j++) // by line; by id too where the problem names one
            if (b->items[j].line == p->line && (!*p->id || !strcmp(b->items[j].id ? b->items[j].id : "", p->id))) drop[j] = 1;
    }
    int k = 0;
    for (int j = 0; j < b->n_items; j++) {
        if (drop[j]) item_free(&b->items[j]);
        else b->items[k++] = b->items[j];
    }
    free(drop);
    b->n_items = k;
    b->skipped = xrealloc(b->skipped, sizeof *b->skipped * (b->n_skipped + b->n_problems));
    memcpy(b->skipped + b->n_skipped, b->problems, sizeof *b->problems * b->n_problems);
    b->n_skipped += b->n_problems;
    free(b->problems);
    b->problems = NULL;
    b->n_problems = 0;
    if (b->n_items == 0)
        return lw_err(err, "fix the items (docs/BATTERY.md)", "%s: every item was skipped as bad (%d listed above)", b->path,
                      b->n_skipped);
    b->content_hash = hash_items(b);
    return 0;
}

void battery_free(LwBattery *b) {
    free(b->path); free(b->name);
    for (int i = 0; i < b->n_items; i++) item_free(&b->items[i]);
    free(b->items);
    for (int i = 0; i < b->n_problems; i++) { free(b->problems[i].id); free(b->problems[i].what); }
    free(b->problems);
    for (int i = 0; i < b->n_skipped; i++) { free(b->skipped[i].id); free(b->skipped[i].what); }
    free(b->skipped);
    memset(b, 0, sizeof *b);
}

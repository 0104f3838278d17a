// config — the parser and validation over the option table (config_options.c): defaults,
// text/CLI/environment values, canonical printing, the config hash and the final checks. YAML
// files: config_load.c; probe sets: probe_set.c; checkpoints: checkpoint.c.
//
// Values live in typed fields of LwRunConfig; each table row carries the field's offset, so
// there is exactly one place (the table) that knows an option exists.
#include "config/config_internal.h"
#include "config/probe_set.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define FIELD(cfg, o, T) ((T *)((char *)(cfg) + (o)->offset))

// ---------------------------------------------------------------------------- lookup

static int name_eq(const char *a, const char *b) { // '-' and '_' are the same letter
    for (; *a && *b; a++, b++) {
        char x = *a == '-' ? '_' : *a, y = *b == '-' ? '_' : *b;
        if (x != y) return 0;
    }
    return *a == *b;
}

const LwOption *config_option_find(const char *name) {
    for (int i = 0; i < LW_N_OPTIONS; i++)
        if (name_eq(name, LW_OPTIONS[i].name) || (LW_OPTIONS[i].alias && name_eq(name, LW_OPTIONS[i].alias)))
            return &LW_OPTIONS[i];
    return NULL;
}

static const char *const STRUCT_KEYS[] = {"defaults", "models", "probe_set", NULL};

const char *config_nearest_key(const char *key) {
    const char *best = NULL;
    int bd = 1 << 30;
    for (int i = 0; i < LW_N_OPTIONS; i++) {
        const char *n = LW_OPTIONS[i].name;
        int d = lw_edit_distance(key, n);
        // A key given without its section ("partition") matches "slurm.partition".
        const char *dot = strchr(n, '.');
        if (dot && lw_edit_distance(key, dot + 1) < d) d = lw_edit_distance(key, dot + 1);
        if (d < bd) { bd = d; best = n; }
    }
    for (int i = 0; STRUCT_KEYS[i]; i++) {
        int d = lw_edit_distance(key, STRUCT_KEYS[i]);
        if (d < bd) { bd = d; best = STRUCT_KEYS[i]; }
    }
    int len = strlen(key);
    return bd <= (len < 6 ? 2 : len / 3 + 1) ? best : NULL;
}

// ---------------------------------------------------------------------------- values

static const char *type_name(LwOptType t) {
    switch (t) {
    case LW_OPT_BOOL: return "a boolean (true/false)";
    case LW_OPT_INT: return "an integer";
    case LW_OPT_FLOAT: return "a number";
    case LW_OPT_STRING: return "a string";
    case LW_OPT_STRING_LIST: return "a list of strings";
    case LW_OPT_INT_LIST: return "a list of integers";
    case LW_OPT_FLOAT_LIST: return "a list of numbers";
    }
    return "?";
}

static int parse_bool(const char *s, int *out) {
    static const char *T[] = {"true", "yes", "on", "True", "TRUE", "Yes", "On", NULL};
    static const char *F[] = {"false", "no", "off", "False", "FALSE", "No", "Off", NULL};
    for (int i = 0; T[i]; i++) if (!strcmp(s, T[i])) { *out = 1; return 0; }
    for (int i = 0; F[i]; i++) if (!strcmp(s, F[i])) { *out = 0; return 0; }
    return -1;
}

static int parse_long(const char *s, long *out) {
    errno = 0;
    char *end;
    long v = strtol(s, &end, 10);
    if (!*s || *end || errno) return -1;
    *out = v;
    return 0;
}

static int parse_double(const char *s, double *out) {
    errno = 0;
    char *end;
    double v = strtod(s, &end);
    if (!*s || *end || errno || !isfinite(v)) return -1;
    *out = v;
    return 0;
}

static int choice_ok(const char *choices, const char *v) {
    if (!choices) return 1;
    size_t n = strlen(v);
    for (const char *p = choices; *p;) {
        const char *bar = strchr(p, '|');
        size_t len = bar ? (size_t)(bar - p) : strlen(p);
        if (len == n && !strncmp(p, v, n)) return 1;
        if (!bar) break;
        p = bar + 1;
    }
    return 0;
}

static void bounds_text(const LwOption *o, char *buf, size_t n) {
    char a[40], b[40];
    snprintf(a, sizeof a, "%.15g", o->min);
    snprintf(b, sizeof b, "%.15g", o->max);
    snprintf(buf, n, "%s must lie in [%s, %s]", o->name, a, b);
}

// Checks one scalar against the option's element type and bounds. `where` prefixes errors.
static int check_scalar(const LwOption *o, const char *text, const char *where, long *lv, double *dv, int *bv,
                        LwError *err) {
    char hint[256];
    switch (o->type) {
    case LW_OPT_BOOL:
        if (parse_bool(text, bv))
            return lw_err(err, "write true or false", "%s: %s: expects %s, got '%s'", where, o->name,
                          type_name(o->type), text);
        return 0;
    case LW_OPT_INT:
    case LW_OPT_INT_LIST:
        if (parse_long(text, lv)) {
            bounds_text(o, hint, sizeof hint);
            return lw_err(err, hint, "%s: %s: expects %s, got '%s'", where, o->name,
                          o->type == LW_OPT_INT ? "an integer" : "integers", text);
        }
        if (*lv < o->min || *lv > o->max) {
            bounds_text(o, hint, sizeof hint);
            return lw_err(err, hint, "%s: %s: %ld is out of range", where, o->name, *lv);
        }
        return 0;
    case LW_OPT_FLOAT:
    case LW_OPT_FLOAT_LIST:
        if (parse_double(text, dv)) {
            bounds_text(o, hint, sizeof hint);
            return lw_err(err, hint, "%s: %s: expects %s, got '%s'", where, o->name,
                          o->type == LW_OPT_FLOAT ? "a number" : "numbers", text);
        }
        if (*dv < o->min || *dv > o->max) {
            bounds_text(o, hint, sizeof hint);
            return lw_err(err, hint, "%s: %s: %s is out of range", where, o->name, text);
        }
        return 0;
    case LW_OPT_STRING:
    case LW_OPT_STRING_LIST:
        if (!choice_ok(o->choices, text)) {
            snprintf(hint, sizeof hint, "%s is one of: %s", o->name, o->choices);
            for (char *p = hint; *p; p++) if (*p == '|') *p = ',';
            return lw_err(err, hint, "%s: %s: '%s' is not a valid value", where, o->name, text);
        }
        return 0;
    }
    return 0;
}

static void list_clear(const LwRunConfig *cfg, const LwOption *o) {
    if (o->type == LW_OPT_STRING_LIST) {
        LwStrList *l = FIELD(cfg, o, LwStrList);
        for (int i = 0; i < l->n; i++) free(l->v[i]);
        free(l->v);
        l->v = NULL; l->n = 0;
    } else if (o->type == LW_OPT_INT_LIST) {
        LwIntList *l = FIELD(cfg, o, LwIntList);
        free(l->v); l->v = NULL; l->n = 0;
    } else if (o->type == LW_OPT_FLOAT_LIST) {
        LwFloatList *l = FIELD(cfg, o, LwFloatList);
        free(l->v); l->v = NULL; l->n = 0;
    }
}

// Sets a scalar option or appends to a list option (after check_scalar). Lists are cleared by
// the caller first.
static int set_or_append(LwRunConfig *cfg, const LwOption *o, const char *text, const char *where, LwError *err) {
    long lv = 0; double dv = 0; int bv = 0;
    if (check_scalar(o, text, where, &lv, &dv, &bv, err)) return -1;
    switch (o->type) {
    case LW_OPT_BOOL: *FIELD(cfg, o, int) = bv; break;
    case LW_OPT_INT: *FIELD(cfg, o, long) = lv; break;
    case LW_OPT_FLOAT: *FIELD(cfg, o, double) = dv; break;
    case LW_OPT_STRING: {
        char **s = FIELD(cfg, o, char *);
        free(*s);
        *s = xstrdup(text);
        break;
    }
    case LW_OPT_STRING_LIST: {
        LwStrList *l = FIELD(cfg, o, LwStrList);
        l->v = xrealloc(l->v, (l->n + 1) * sizeof *l->v);
        l->v[l->n++] = xstrdup(text);
        break;
    }
    case LW_OPT_INT_LIST: {
        LwIntList *l = FIELD(cfg, o, LwIntList);
        l->v = xrealloc(l->v, (l->n + 1) * sizeof *l->v);
        l->v[l->n++] = lv;
        break;
    }
    case LW_OPT_FLOAT_LIST: {
        LwFloatList *l = FIELD(cfg, o, LwFloatList);
        l->v = xrealloc(l->v, (l->n + 1) * sizeof *l->v);
        l->v[l->n++] = dv;
        break;
    }
    }
    return 0;
}

static int is_list(const LwOption *o) {
    return o->type == LW_OPT_STRING_LIST || o->type == LW_OPT_INT_LIST || o->type == LW_OPT_FLOAT_LIST;
}

static void record_source(LwRunConfig *cfg, const LwOption *o, const char *where) {
    int i = (int)(o - LW_OPTIONS);
    snprintf(cfg->src[i].where, sizeof cfg->src[i].where, "%s", where);
}

int opt_set_text(LwRunConfig *cfg, const LwOption *o, const char *text, const char *where, LwError *err) {
    if (!is_list(o)) {
        if (set_or_append(cfg, o, text, where, err)) return -1;
        record_source(cfg, o, where);
        return 0;
    }
    // "[a, b]" or "a,b" or "" (empty list)
    char *buf = xstrdup(text), *p = buf;
    while (isspace((unsigned char)*p)) p++;
    size_t n = strlen(p);
    while (n && isspace((unsigned char)p[n - 1])) p[--n] = 0;
    if (*p == '[' && n && p[n - 1] == ']') { p[n - 1] = 0; p++; }
    list_clear(cfg, o);
    int rc = 0;
    for (char *tok = p; tok && rc == 0;) {
        char *comma = strchr(tok, ',');
        if (comma) *comma = 0;
        while (isspace((unsigned char)*tok)) tok++;
        size_t m = strlen(tok);
        while (m && isspace((unsigned char)tok[m - 1])) tok[--m] = 0;
        if (m) rc = set_or_append(cfg, o, tok, where, err);
        else if (comma) rc = lw_err(err, "separate list elements by single commas, e.g. norm,raw",
                                    "%s: %s: empty list element", where, o->name);
        tok = comma ? comma + 1 : NULL;
    }
    free(buf);
    if (!rc) record_source(cfg, o, where);
    return rc;
}

int opt_set_node(LwRunConfig *cfg, const LwOption *o, yaml_document_t *doc, yaml_node_t *node, const char *file,
                 LwError *err) {
    char where[600];
    yaml_where(where, sizeof where, file, node);
    if (node->type == YAML_MAPPING_NODE)
        return lw_err(err, "write the value on the same line as its key (see lensweep run --help)",
                      "%s: %s: expects %s, got a mapping", where, o->name, type_name(o->type));
    if (node->type == YAML_SCALAR_NODE) {
        const char *v = yaml_scalar(node);
        int plain = node->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
        if (plain && (!strcmp(v, "null") || !strcmp(v, "~") || !*v)) {
            // null: strings become unset, lists empty; numbers and booleans need a value.
            if (o->type == LW_OPT_STRING) {
                char **s = FIELD(cfg, o, char *);
                free(*s);
                *s = xstrdup("");
                record_source(cfg, o, where);
                return 0;
            }
            if (is_list(o)) { list_clear(cfg, o); record_source(cfg, o, where); return 0; }
            return lw_err(err, "give a value or delete the line to keep the default",
                          "%s: %s: expects %s, got null", where, o->name, type_name(o->type));
        }
        if (is_list(o)) list_clear(cfg, o); // a scalar for a list = a one-element list
        if (set_or_append(cfg, o, v, where, err)) return -1;
        record_source(cfg, o, where);
        return 0;
    }
    // sequence
    if (!is_list(o))
        return lw_err(err, "give a single value, not a list",
                      "%s: %s: expects %s, got a list", where, o->name, type_name(o->type));
    list_clear(cfg, o);
    for (yaml_node_item_t *it = node->data.sequence.items.start; it < node->data.sequence.items.top; it++) {
        yaml_node_t *el = yaml_document_get_node(doc, *it);
        char ew[600];
        yaml_where(ew, sizeof ew, file, el);
        const char *v = yaml_scalar(el);
        if (!v)
            return lw_err(err, "list elements are plain values, e.g. [norm, raw]",
                          "%s: %s: expects %s, got a nested %s", ew, o->name, type_name(o->type),
                          el->type == YAML_MAPPING_NODE ? "mapping" : "list");
        if (set_or_append(cfg, o, v, ew, err)) return -1;
    }
    record_source(cfg, o, where);
    return 0;
}

// ---------------------------------------------------------------------------- defaults, env

void config_defaults(LwRunConfig *cfg) {
    memset(cfg, 0, sizeof *cfg);
    LW_ASSERT(LW_N_OPTIONS <= (int)(sizeof cfg->src / sizeof cfg->src[0]));
    for (int i = 0; i < LW_N_OPTIONS; i++) {
        LwError err = {0};
        if (opt_set_text(cfg, &LW_OPTIONS[i], LW_OPTIONS[i].default_yaml, "default", &err))
            lw_die_err(&err, LW_EXIT_RUNTIME); // a bad row in the table is a bug
    }
    probe_set_reference(&cfg->probe_set);
}

int config_apply_env(LwRunConfig *cfg, LwError *err) {
    for (int i = 0; i < LW_N_OPTIONS; i++) {
        const LwOption *o = &LW_OPTIONS[i];
        const char *v = o->env ? getenv(o->env) : NULL;
        if (!v || !*v) continue;
        char where[128];
        snprintf(where, sizeof where, "$%s (environment)", o->env);
        if (opt_set_text(cfg, o, v, where, err)) return -1;
    }
    return 0;
}

// ---------------------------------------------------------------------------- CLI

// A boolean option's name: `--flag` or `--no-flag` (*negated = 1). NULL for any other word.
static const LwOption *bool_option(const char *key, int *negated) {
    const LwOption *o = config_option_find(key);
    *negated = 0;
    if (!o && !strncmp(key, "no-", 3)) {
        o = config_option_find(key + 3);
        *negated = 1;
    }
    return o && o->type == LW_OPT_BOOL ? o : NULL;
}

int config_cli_words(int argc, char *const *argv, int i) {
    const char *a = argv[i];
    if (strncmp(a, "--", 2) || strchr(a, '=')) return 1;
    int negated, b;
    if (bool_option(a + 2, &negated)) return i + 1 < argc && parse_bool(argv[i + 1], &b) == 0 ? 2 : 1;
    return config_option_find(a + 2) && i + 1 < argc ? 2 : 1;
}

int config_apply_cli(LwRunConfig *cfg, int argc, char **argv, LwError *err) {
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (strncmp(a, "--", 2) || !a[2]) {
            return lw_err(err, "options are written --key value (lensweep run --help lists them)",
                          "command line: unexpected argument '%s'", a);
        }
        char key[256];
        snprintf(key, sizeof key, "%s", a + 2);
        const char *val = NULL;
        char *eq = strchr(key, '=');
        if (eq) { *eq = 0; val = a + 2 + (eq - key) + 1; }
        int negated = 0;
        const LwOption *o = bool_option(key, &negated);
        if (!o) o = config_option_find(key);
        if (!o) {
            const char *near = config_nearest_key(key);
            char hint[300];
            if (near) snprintf(hint, sizeof hint, "did you mean --%s? (lensweep run --help lists every option)", near);
            else snprintf(hint, sizeof hint, "lensweep run --help lists every option");
            return lw_err(err, hint, "command line: --%s: unknown option", key);
        }
        char where[300];
        snprintf(where, sizeof where, "--%s (command line)", o->name);
        if (o->type == LW_OPT_BOOL) {
            // `--flag`, `--flag true|false`, `--flag=VALUE`; `--no-flag` (and its forms) negates
            int b;
            if (!val) val = config_cli_words(argc, argv, i) == 2 ? argv[++i] : "true";
            if (parse_bool(val, &b))
                return lw_err(err, "write --flag, --flag true|false or --flag=true|false",
                              "%s: %s: expects %s, got '%s'", where, o->name, type_name(o->type), val);
            if (negated) val = b ? "false" : "true";
        } else if (!val) {
            if (i + 1 >= argc)
                return lw_err(err, "give a value after the option, e.g. --tp_size 2",
                              "command line: --%s: missing value", o->name);
            val = argv[++i];
        }
        if (opt_set_text(cfg, o, val, where, err)) return -1;
    }
    return 0;
}

int config_from_args(LwRunConfig *cfg, int argc, char **argv, LwError *err) {
    config_defaults(cfg);
    if (config_apply_env(cfg, err)) return -1;
    int file_at = -1;
    for (int i = 0; i < argc; i++) {
        if (!strncmp(argv[i], "--", 2)) {
            // skip the option's value when it is written as a second word (`--flag true` too); an
            // unknown option takes the word after it, so config_apply_cli() names the option
            int words = config_cli_words(argc, argv, i);
            int negated;
            if (words == 1 && !strchr(argv[i], '=') && !config_option_find(argv[i] + 2) &&
                !bool_option(argv[i] + 2, &negated) && i + 1 < argc && strncmp(argv[i + 1], "--", 2))
                words = 2;
            i += words - 1;
            continue;
        }
        file_at = i;
        break;
    }
    int negated;
    const LwOption *before = file_at > 0 && !strncmp(argv[file_at - 1], "--", 2) && !strchr(argv[file_at - 1], '=')
                                 ? bool_option(argv[file_at - 1] + 2, &negated) : NULL;
    if (before && !lw_file_exists(argv[file_at]) && !lw_is_dir(argv[file_at]))
        // `--flag maybe`: the word after a boolean that is not true/false reads as a config path
        return lw_err(err, "write --flag, --flag true|false or --flag=true|false (a config file is given as a path)",
                      "--%s (command line): %s: expects %s, got '%s' (and no config file has that name)",
                      before->name, before->name, type_name(before->type), argv[file_at]);
    if (file_at >= 0 && config_load_file(argv[file_at], cfg, err)) return -1;
    char **rest = xmalloc((argc + 1) * sizeof *rest);
    int n = 0;
    for (int i = 0; i < argc; i++) if (i != file_at) rest[n++] = argv[i];
    int rc = config_apply_cli(cfg, n, rest, err);
    free(rest);
    if (rc) return -1;
    return config_finalize(cfg, err);
}

// ---------------------------------------------------------------------------- printing, hash

static void print_value(FILE *f, const LwRunConfig *cfg, const LwOption *o) {
    char b[64];
    switch (o->type) {
    case LW_OPT_BOOL: fputs(*FIELD(cfg, o, int) ? "true" : "false", f); break;
    case LW_OPT_INT: fprintf(f, "%ld", *FIELD(cfg, o, long)); break;
    case LW_OPT_FLOAT: config_format_double(b, sizeof b, *FIELD(cfg, o, double)); fputs(b, f); break;
    case LW_OPT_STRING: config_print_string(f, *FIELD(cfg, o, char *)); break;
    case LW_OPT_STRING_LIST: {
        const LwStrList *l = FIELD(cfg, o, LwStrList);
        fputc('[', f);
        for (int i = 0; i < l->n; i++) { if (i) fputs(", ", f); config_print_string(f, l->v[i]); }
        fputc(']', f);
        break;
    }
    case LW_OPT_INT_LIST: {
        const LwIntList *l = FIELD(cfg, o, LwIntList);
        fputc('[', f);
        for (int i = 0; i < l->n; i++) fprintf(f, "%s%ld", i ? ", " : "", l->v[i]);
        fputc(']', f);
        break;
    }
    case LW_OPT_FLOAT_LIST: {
        const LwFloatList *l = FIELD(cfg, o, LwFloatList);
        fputc('[', f);
        for (int i = 0; i < l->n; i++) {
            config_format_double(b, sizeof b, l->v[i]);
            fprintf(f, "%s%s", i ? ", " : "", b);
        }
        fputc(']', f);
        break;
    }
    }
}

char *config_value_text(const LwRunConfig *cfg, const LwOption *o) {
    char *buf = NULL, b[64];
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    LW_ASSERT(f);
    switch (o->type) {
    case LW_OPT_STRING: fputs(*FIELD(cfg, o, char *) ? *FIELD(cfg, o, char *) : "", f); break;
    case LW_OPT_STRING_LIST: {
        const LwStrList *l = FIELD(cfg, o, LwStrList);
        for (int i = 0; i < l->n; i++) fprintf(f, "%s%s", i ? "," : "", l->v[i]);
        break;
    }
    case LW_OPT_INT_LIST: {
        const LwIntList *l = FIELD(cfg, o, LwIntList);
        for (int i = 0; i < l->n; i++) fprintf(f, "%s%ld", i ? "," : "", l->v[i]);
        break;
    }
    case LW_OPT_FLOAT_LIST: {
        const LwFloatList *l = FIELD(cfg, o, LwFloatList);
        for (int i = 0; i < l->n; i++) {
            config_format_double(b, sizeof b, l->v[i]);
            fprintf(f, "%s%s", i ? "," : "", b);
        }
        break;
    }
    default: print_value(f, cfg, o); break; // bool, int, float: the same text as in YAML
    }
    fclose(f);
    return buf;
}

// need_flags: only options with one of these flags (0 = all). sourced: only options not at their
// built-in default, each followed by a comment naming where its value came from.
static void print_options_sel(FILE *f, const LwRunConfig *cfg, unsigned need_flags, int sourced) {
    char section[64] = "";
    for (int i = 0; i < LW_N_OPTIONS; i++) {
        const LwOption *o = &LW_OPTIONS[i];
        if (need_flags && !(o->flags & need_flags)) continue;
        if (sourced && (!cfg->src[i].where[0] || !strcmp(cfg->src[i].where, "default"))) continue;
        const char *dot = strchr(o->name, '.');
        const char *leaf = o->name;
        if (dot) {
            size_t len = dot - o->name;
            if (strlen(section) != len || strncmp(section, o->name, len)) {
                snprintf(section, sizeof section, "%.*s", (int)len, o->name);
                fprintf(f, "%s:\n", section);
            }
            leaf = dot + 1;
        } else section[0] = 0;
        fprintf(f, "%s%s: ", dot ? "  " : "", leaf);
        print_value(f, cfg, o);
        if (sourced) fprintf(f, "  # %s", cfg->src[i].where);
        fputc('\n', f);
    }
}

static void print_options(FILE *f, const LwRunConfig *cfg, unsigned need_flags) {
    print_options_sel(f, cfg, need_flags, 0);
}

void config_print_sourced(FILE *f, const LwRunConfig *cfg) {
    fprintf(f, "# lensweep %s resolved configuration; config_hash %s\n", LENSWEEP_VERSION, cfg->config_hash);
    fprintf(f, "# options at their built-in defaults are left out; each other value names its source\n");
    print_options_sel(f, cfg, 0, 1);
    if (cfg->battery) { // read back, `probes` names the battery again (an inline probe_set would win)
        fprintf(f, "# probes names a battery of %d items (content hash %016llx)\n", cfg->battery->n_items,
                (unsigned long long)cfg->battery->content_hash);
        return;
    }
    fprintf(f, "probe_set:  # %s\n", cfg->probe_set.source ? cfg->probe_set.source : "built-in");
    probe_set_print(f, &cfg->probe_set, "  ");
}

void config_print(FILE *f, const LwRunConfig *cfg) {
    fprintf(f, "# lensweep %s resolved configuration; config_hash %s\n", LENSWEEP_VERSION, cfg->config_hash);
    print_options(f, cfg, 0);
    if (cfg->battery) {
        fprintf(f, "# probes names a battery of %d items (content hash %016llx)\n", cfg->battery->n_items,
                (unsigned long long)cfg->battery->content_hash);
        return;
    }
    fprintf(f, "probe_set:\n");
    probe_set_print(f, &cfg->probe_set, "  ");
}

uint64_t config_fnv1a64(const void *data, size_t n, uint64_t h) {
    const unsigned char *p = data;
    for (size_t i = 0; i < n; i++) { h ^= p[i]; h *= 0x100000001b3ULL; }
    return h;
}

static void compute_hash(LwRunConfig *cfg) {
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    LW_ASSERT(f);
    fprintf(f, "lensweep-config-hash-v1\n");
    print_options(f, cfg, LW_OPTF_HASHED);
    probe_set_print(f, &cfg->probe_set, "");
    if (cfg->battery) fprintf(f, "battery: %d items %016llx\n", cfg->battery->n_items, (unsigned long long)cfg->battery->content_hash);
    // battery_positions changes a battery's file only when not 1 (docs/BATTERY.md "Positions")
    if (cfg->battery && cfg->battery_positions != 1) fprintf(f, "battery_positions: %ld\n", cfg->battery_positions);
    fclose(f);
    uint64_t h = config_fnv1a64(buf, len, LW_FNV1A64_INIT);
    snprintf(cfg->config_hash, sizeof cfg->config_hash, "%016llx", (unsigned long long)h);
    free(buf);
}

// ---------------------------------------------------------------------------- finalize

static int where_of(const LwRunConfig *cfg, const char *name, char *buf, size_t n) {
    const LwOption *o = config_option_find(name);
    snprintf(buf, n, "%s", o ? cfg->src[o - LW_OPTIONS].where : "?");
    return 0;
}

// Slurm's time limit syntax (sbatch(1) --time): MM, MM:SS, HH:MM:SS, D-HH, D-HH:MM, D-HH:MM:SS.
static int slurm_time_ok(const char *t) {
    if (!strcasecmp(t, "UNLIMITED") || !strcasecmp(t, "INFINITE")) return 1;
    const char *p = t;
    int fields = 0;
    const char *dash = strchr(t, '-');
    if (dash) {
        if (dash == t) return 0;
        for (const char *q = t; q < dash; q++) if (!isdigit((unsigned char)*q)) return 0;
        p = dash + 1;
    }
    int digits = 0;
    for (; *p; p++) {
        if (isdigit((unsigned char)*p)) digits++;
        else if (*p == ':' && digits) { fields++; digits = 0; }
        else return 0;
    }
    if (!digits) return 0;
    return ++fields <= 3;
}

// A Slurm memory size: digits and an optional K/M/G/T unit.
static int slurm_mem_ok(const char *m) {
    const char *p = m;
    while (isdigit((unsigned char)*p)) p++;
    if (p == m) return 0;
    if (*p && strchr("KMGTkmgt", *p)) p++;
    return *p == 0;
}

int config_finalize(LwRunConfig *cfg, LwError *err) {
    char w[512];
    for (int i = 0; i < cfg->lenses.n; i++)
        for (int j = 0; j < i; j++)
            if (!strcmp(cfg->lenses.v[i], cfg->lenses.v[j])) {
                where_of(cfg, "lenses", w, sizeof w);
                return lw_err(err, "name each lens once", "%s: lenses: '%s' is listed twice", w, cfg->lenses.v[i]);
            }
    if (cfg->lenses.n == 0) {
        where_of(cfg, "lenses", w, sizeof w);
        return lw_err(err, "the norm lens is the primary lens: lenses: [norm, raw]", "%s: lenses: empty", w);
    }
    if (cfg->last_layer_temp_min >= cfg->last_layer_temp_max) {
        where_of(cfg, "last_layer_temp_max", w, sizeof w);
        return lw_err(err, "the grid runs from last_layer_temp_min up to last_layer_temp_max",
                      "%s: last_layer_temp_max must be larger than last_layer_temp_min", w);
    }
    if (cfg->norm_temp_min >= cfg->norm_temp_max) {
        where_of(cfg, "norm_temp_max", w, sizeof w);
        return lw_err(err, "the grid runs from norm_temp_min up to norm_temp_max",
                      "%s: norm_temp_max must be larger than norm_temp_min", w);
    }
    if (cfg->artefact_weights.n != 3) {
        where_of(cfg, "artefact_weights", w, sizeof w);
        return lw_err(err, "three weights: KL>=1 fraction, norm-only semantics, max KL (METRICS.md §8.4)",
                      "%s: artefact_weights: %d values, need 3", w, cfg->artefact_weights.n);
    }
    if (!cfg->model || !*cfg->model) {
        if (!cfg->name || !*cfg->name) {
            // nothing to name yet: callers that need a model check cfg->model themselves
        }
    }
    if ((!cfg->name || !*cfg->name) && cfg->model && *cfg->model) {
        char tmp[1024];
        snprintf(tmp, sizeof tmp, "%s", cfg->model);
        size_t n = strlen(tmp);
        while (n > 1 && tmp[n - 1] == '/') tmp[--n] = 0;
        const char *b = strrchr(tmp, '/');
        b = b ? b + 1 : tmp;
        char nm[512];
        snprintf(nm, sizeof nm, "%s", b);
        size_t m = strlen(nm);
        if (m > 5 && !strcmp(nm + m - 5, ".gguf")) nm[m - 5] = 0;
        free(cfg->name);
        cfg->name = xstrdup(nm);
    }
    if (cfg->name && (strchr(cfg->name, '/') || !strcmp(cfg->name, ".") || !strcmp(cfg->name, ".."))) {
        where_of(cfg, "name", w, sizeof w);
        return lw_err(err, "name is a file name (no '/'), e.g. Mistral-7B-v0.1",
                      "%s: name: '%s' cannot be a file name", w, cfg->name);
    }
    if (cfg->slurm_time && *cfg->slurm_time && !slurm_time_ok(cfg->slurm_time)) {
        where_of(cfg, "slurm.time", w, sizeof w);
        return lw_err(err, "Slurm time formats: MM, MM:SS, HH:MM:SS, D-HH, D-HH:MM, D-HH:MM:SS (e.g. \"02:00:00\")",
                      "%s: slurm.time: '%s' is not a Slurm time limit", w, cfg->slurm_time);
    }
    if (cfg->fit_time && *cfg->fit_time && !slurm_time_ok(cfg->fit_time)) {
        where_of(cfg, "fit.time", w, sizeof w);
        return lw_err(err, "Slurm time formats: MM, MM:SS, HH:MM:SS, D-HH, D-HH:MM, D-HH:MM:SS (e.g. \"12:00:00\")",
                      "%s: fit.time: '%s' is not a Slurm time limit", w, cfg->fit_time);
    }
    for (int i = 0; i < cfg->fit_lenses.n; i++) {
        const char *l = cfg->fit_lenses.v[i];
        int prism = !strcmp(l, "prism");
        const char *dir = prism ? cfg->prism_dir : cfg->tuned_lens_dir;
        if (!dir || !*dir) {
            where_of(cfg, "fit.lenses", w, sizeof w);
            return lw_err(err, prism ? "set prism_dir: the fit writes the artifact there and the run decodes with it"
                                     : "set tuned_lens_dir: the fit writes the translators there and the run decodes with them",
                          "%s: fit.lenses: %s is fitted into %s, which is not set", w, l, prism ? "prism_dir" : "tuned_lens_dir");
        }
        if (!prism && (!cfg->fit_corpus || !*cfg->fit_corpus)) {
            where_of(cfg, "fit.lenses", w, sizeof w);
            return lw_err(err, "set fit.corpus to a text file (plain text, or JSON lines with a `text` field)",
                          "%s: fit.lenses: the tuned-lens fit needs a corpus (fit.corpus), which is not set", w);
        }
    }
    if (cfg->slurm_mem_per_cpu && *cfg->slurm_mem_per_cpu && !slurm_mem_ok(cfg->slurm_mem_per_cpu)) {
        where_of(cfg, "slurm.mem_per_cpu", w, sizeof w);
        return lw_err(err, "a whole number with an optional unit K, M, G or T (e.g. \"8G\")",
                      "%s: slurm.mem_per_cpu: '%s' is not a Slurm memory size", w, cfg->slurm_mem_per_cpu);
    }
    if (cfg->battery) { battery_free(cfg->battery); free(cfg->battery); cfg->battery = NULL; }
    if (cfg->probes && *cfg->probes && !cfg->probe_set_inline && cfg->battery_no_load) {
        // export: the run file holds what was probed (a reference run's config has its probe set inline)
    } else if (cfg->probes && *cfg->probes && !cfg->probe_set_inline && battery_is_battery_path(cfg->probes)) {
        // a battery: its item problems wait for `run`, which adds the tokenizer's and reports all
        cfg->battery = xcalloc(1, sizeof *cfg->battery);
        if (battery_load(cfg->probes, cfg->battery, err)) { free(cfg->battery); cfg->battery = NULL; return -1; }
    } else if (cfg->probes && *cfg->probes && !cfg->probe_set_inline) {
        LwProbeSet ps;
        if (probe_set_load(cfg->probes, &ps, err)) return -1;
        probe_set_free(&cfg->probe_set);
        cfg->probe_set = ps;
    }
    if (config_check_tp_builtin(cfg, err)) return -1;
    compute_hash(cfg);
    free(cfg->yaml_text);
    size_t len = 0;
    FILE *f = open_memstream(&cfg->yaml_text, &len);
    LW_ASSERT(f);
    config_print(f, cfg);
    fclose(f);
    return 0;
}

void config_free(LwRunConfig *cfg) {
    for (int i = 0; i < LW_N_OPTIONS; i++) {
        const LwOption *o = &LW_OPTIONS[i];
        if (o->type == LW_OPT_STRING) { free(*FIELD(cfg, o, char *)); *FIELD(cfg, o, char *) = NULL; }
        else if (is_list(o)) list_clear(cfg, o);
    }
    free(cfg->config_path); free(cfg->sweep_path); free(cfg->model_dir); free(cfg->yaml_text);
    probe_set_free(&cfg->probe_set);
    if (cfg->battery) { battery_free(cfg->battery); free(cfg->battery); }
    memset(cfg, 0, sizeof *cfg);
}

// probe_set — the prompts, facts and auxiliary prompts a run probes (METRICS.md §1).
//
// The reference set is built in (so a run with no files still measures what the reference
// measured) and also committed as configs/probes/reference.yaml; the unit test checks that the
// file and the built-in set are identical. YAML shape:
//   name: reference
//   templates: {orig: "...{country}...", no_filler: "...{country}..."}
//   facts: [{key: "Germany→Berlin", country: Germany, answer: Berlin}, ...]   (index optional)
//   control: {prompt: "...", answer: Paris}
//   test_prompts: ["...", ...]
//   temperature_exploration: [0.1, 2.0]
#include "config/probe_set.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *const REF_TEST_PROMPTS[] = {
    "Berlin is the capital of",
    "Germany's capital city is called simply",
    "The capital city of Germany is named simply",
    "Germany has its capital at the city called simply",
    "In Germany the capital city is simply",
    "Germany's capital city is called",
    "The capital city of Germany is named",
    "Germany has its capital at",
    "In Germany the capital city is known as",
    "Give the country name only, plain text. Berlin is the capital of",
    "Give the city name only, plain text. Germany's capital city is called",
    "Give the city name only, plain text. The capital city of Germany is named simply",
    "Give the city name only, plain text. Germany has its capital at",
    "Give the city name only, plain text. In Germany, the capital city is known as",
};

void probe_set_reference(LwProbeSet *ps) {
    memset(ps, 0, sizeof *ps);
    ps->name = xstrdup("reference");
    ps->source = xstrdup("built-in");
    ps->template_orig = xstrdup("Give the city name only, plain text. The capital of {country} is called simply");
    ps->template_no_filler = xstrdup("Give the city name only, plain text. The capital of {country} is called");
    static const char *const C[][2] = {
        {"Germany", "Berlin"}, {"France", "Paris"}, {"Italy", "Rome"}, {"Japan", "Tokyo"}, {"Canada", "Ottawa"}};
    for (int i = 0; i < 5; i++) {
        ps->facts[i].index = i;
        ps->facts[i].country = xstrdup(C[i][0]);
        ps->facts[i].answer = xstrdup(C[i][1]);
        ps->facts[i].key = xasprintf("%s\xe2\x86\x92%s", C[i][0], C[i][1]); // U+2192
    }
    ps->n_facts = 5;
    ps->control_prompt = xstrdup("Give the city name only, plain text. The capital of France is called simply");
    ps->control_answer = xstrdup("Paris");
    ps->n_test_prompts = (int)(sizeof REF_TEST_PROMPTS / sizeof REF_TEST_PROMPTS[0]);
    for (int i = 0; i < ps->n_test_prompts; i++) ps->test_prompts[i] = xstrdup(REF_TEST_PROMPTS[i]);
    ps->n_temps = 2;
    ps->temps[0] = 0.1;
    ps->temps[1] = 2.0;
}

void probe_set_free(LwProbeSet *ps) {
    free(ps->name); free(ps->source); free(ps->template_orig); free(ps->template_no_filler);
    for (int i = 0; i < ps->n_facts; i++) { free(ps->facts[i].key); free(ps->facts[i].country); free(ps->facts[i].answer); }
    free(ps->control_prompt); free(ps->control_answer);
    for (int i = 0; i < ps->n_test_prompts; i++) free(ps->test_prompts[i]);
    memset(ps, 0, sizeof *ps);
}

char *probe_set_prompt(const LwProbeSet *ps, const char *variant, int fact) {
    LW_ASSERT(fact >= 0 && fact < ps->n_facts);
    const char *t = !strcmp(variant, "no_filler") ? ps->template_no_filler : ps->template_orig;
    const char *at = strstr(t, "{country}");
    LW_ASSERT(at); // checked when the set was loaded
    return xasprintf("%.*s%s%s", (int)(at - t), t, ps->facts[fact].country, at + strlen("{country}"));
}

// ---------------------------------------------------------------------------- YAML

typedef struct {
    yaml_document_t *doc;
    const char *file;
    LwError *err;
} Ctx;

static yaml_node_t *node_at(Ctx *c, int id) { return yaml_document_get_node(c->doc, id); }

static int need_string(Ctx *c, yaml_node_t *v, const char *key, char **out) {
    char w[600];
    yaml_where(w, sizeof w, c->file, v);
    const char *s = yaml_scalar(v);
    if (!s || (v->data.scalar.style == YAML_PLAIN_SCALAR_STYLE && (!*s || !strcmp(s, "null") || !strcmp(s, "~"))))
        return lw_err(c->err, "write the text in double quotes", "%s: %s: expects a non-empty string", w, key);
    free(*out);
    *out = xstrdup(s);
    return 0;
}

static int unknown_key(Ctx *c, yaml_node_t *k, const char *section, const char *valid) {
    char w[600];
    yaml_where(w, sizeof w, c->file, k);
    char hint[400];
    snprintf(hint, sizeof hint, "valid keys%s%s: %s", *section ? " of " : "", section, valid);
    return lw_err(c->err, hint, "%s: %s%s%s: unknown key", w, section, *section ? "." : "", yaml_scalar(k));
}

static int need_template(Ctx *c, yaml_node_t *v, const char *key, char **out) {
    if (need_string(c, v, key, out)) return -1;
    if (!strstr(*out, "{country}")) {
        char w[600];
        yaml_where(w, sizeof w, c->file, v);
        return lw_err(c->err, "a template names the place of the country as {country}",
                      "%s: %s: has no {country}", w, key);
    }
    return 0;
}

static int load_fact(Ctx *c, LwProbeSet *ps, yaml_node_t *m) {
    char w[600];
    yaml_where(w, sizeof w, c->file, m);
    if (ps->n_facts >= LW_MAX_FACTS)
        return lw_err(c->err, "split the probe set", "%s: facts: more than %d facts", w, LW_MAX_FACTS);
    if (m->type != YAML_MAPPING_NODE)
        return lw_err(c->err, "a fact is {key: \"Germany→Berlin\", country: Germany, answer: Berlin}",
                      "%s: facts[%d]: expects a mapping", w, ps->n_facts);
    LwFact *f = &ps->facts[ps->n_facts];
    memset(f, 0, sizeof *f);
    f->index = ps->n_facts;
    ps->n_facts++; // so probe_set_free releases partial facts
    for (yaml_node_pair_t *p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top; p++) {
        yaml_node_t *k = node_at(c, p->key), *v = node_at(c, p->value);
        const char *ks = yaml_scalar(k);
        if (!ks) return unknown_key(c, k, "facts[]", "key, index, country, answer");
        if (!strcmp(ks, "key")) { if (need_string(c, v, "facts[].key", &f->key)) return -1; }
        else if (!strcmp(ks, "country")) { if (need_string(c, v, "facts[].country", &f->country)) return -1; }
        else if (!strcmp(ks, "answer")) { if (need_string(c, v, "facts[].answer", &f->answer)) return -1; }
        else if (!strcmp(ks, "index")) {
            const char *s = yaml_scalar(v);
            char vw[600];
            yaml_where(vw, sizeof vw, c->file, v);
            char *end = NULL;
            long idx = s ? strtol(s, &end, 10) : -1;
            if (!s || !*s || *end || idx != f->index)
                return lw_err(c->err, "facts are indexed by their order, from 0; drop `index` or fix it",
                              "%s: facts[%d].index: expected %d, got '%s'", vw, f->index, f->index, s ? s : "?");
        } else return unknown_key(c, k, "facts[]", "key, index, country, answer");
    }
    if (!f->country || !f->answer)
        return lw_err(c->err, "a fact names at least country and answer", "%s: facts[%d]: missing %s", w, f->index,
                      !f->country ? "country" : "answer");
    if (!f->key) f->key = xasprintf("%s\xe2\x86\x92%s", f->country, f->answer);
    return 0;
}

int probe_set_from_node(LwProbeSet *ps, yaml_document_t *doc, yaml_node_t *root, const char *file, LwError *err) {
    Ctx c = {doc, file, err};
    memset(ps, 0, sizeof *ps);
    ps->source = xstrdup(file);
    char w[600];
    yaml_where(w, sizeof w, file, root);
    if (root->type != YAML_MAPPING_NODE) {
        lw_err(err, "see configs/probes/reference.yaml", "%s: probe set: expects a mapping", w);
        goto fail;
    }
    for (yaml_node_pair_t *p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top; p++) {
        yaml_node_t *k = node_at(&c, p->key), *v = node_at(&c, p->value);
        const char *ks = yaml_scalar(k);
        const char *valid = "name, templates, facts, control, test_prompts, temperature_exploration";
        char vw[600];
        yaml_where(vw, sizeof vw, file, v);
        if (!ks) { unknown_key(&c, k, "", valid); goto fail; }
        if (!strcmp(ks, "name")) { if (need_string(&c, v, "name", &ps->name)) goto fail; }
        else if (!strcmp(ks, "templates") || !strcmp(ks, "control")) {
            int is_t = ks[0] == 't';
            if (v->type != YAML_MAPPING_NODE) {
                lw_err(err, is_t ? "templates: {orig: \"...{country}...\", no_filler: \"...\"}"
                                 : "control: {prompt: \"...\", answer: Paris}",
                       "%s: %s: expects a mapping", vw, ks);
                goto fail;
            }
            for (yaml_node_pair_t *q = v->data.mapping.pairs.start; q < v->data.mapping.pairs.top; q++) {
                yaml_node_t *k2 = node_at(&c, q->key), *v2 = node_at(&c, q->value);
                const char *k2s = yaml_scalar(k2);
                int rc;
                if (is_t && k2s && !strcmp(k2s, "orig")) rc = need_template(&c, v2, "templates.orig", &ps->template_orig);
                else if (is_t && k2s && !strcmp(k2s, "no_filler"))
                    rc = need_template(&c, v2, "templates.no_filler", &ps->template_no_filler);
                else if (!is_t && k2s && !strcmp(k2s, "prompt")) rc = need_string(&c, v2, "control.prompt", &ps->control_prompt);
                else if (!is_t && k2s && !strcmp(k2s, "answer")) rc = need_string(&c, v2, "control.answer", &ps->control_answer);
                else rc = unknown_key(&c, k2, ks, is_t ? "orig, no_filler" : "prompt, answer");
                if (rc) goto fail;
            }
        } else if (!strcmp(ks, "facts") || !strcmp(ks, "test_prompts") || !strcmp(ks, "temperature_exploration")) {
            if (v->type != YAML_SEQUENCE_NODE) {
                lw_err(err, "write a YAML list (- item lines or [a, b])", "%s: %s: expects a list", vw, ks);
                goto fail;
            }
            for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top; it++) {
                yaml_node_t *el = node_at(&c, *it);
                char ew[600];
                yaml_where(ew, sizeof ew, file, el);
                if (ks[0] == 'f') {
                    if (load_fact(&c, ps, el)) goto fail;
                } else if (!strcmp(ks, "test_prompts")) {
                    if (ps->n_test_prompts >= LW_MAX_TEST_PROMPTS) {
                        lw_err(err, "split the probe set", "%s: test_prompts: more than %d", ew, LW_MAX_TEST_PROMPTS);
                        goto fail;
                    }
                    char *s = NULL;
                    if (need_string(&c, el, "test_prompts[]", &s)) goto fail;
                    ps->test_prompts[ps->n_test_prompts++] = s;
                } else {
                    const char *s = yaml_scalar(el);
                    char *end = NULL;
                    double t = s ? strtod(s, &end) : NAN;
                    if (!s || !*s || *end || !(t > 0) || !isfinite(t)) {
                        lw_err(err, "temperatures are positive numbers, e.g. [0.1, 2.0]",
                               "%s: temperature_exploration: '%s' is not a positive number", ew, s ? s : "(not a scalar)");
                        goto fail;
                    }
                    if (ps->n_temps >= LW_MAX_TEMPS) {
                        lw_err(err, "fewer temperatures", "%s: temperature_exploration: more than %d", ew, LW_MAX_TEMPS);
                        goto fail;
                    }
                    ps->temps[ps->n_temps++] = t;
                }
            }
        } else { unknown_key(&c, k, "", valid); goto fail; }
    }
    const char *missing = !ps->template_orig ? "templates.orig" : !ps->template_no_filler ? "templates.no_filler"
                        : ps->n_facts == 0 ? "facts" : !ps->control_prompt ? "control.prompt"
                        : !ps->control_answer ? "control.answer" : NULL;
    if (missing) {
        lw_err(err, "see configs/probes/reference.yaml for a complete probe set", "%s: probe set: missing %s", w, missing);
        goto fail;
    }
    if (!ps->name) ps->name = xstrdup(lw_basename(file));
    return 0;
fail:
    probe_set_free(ps);
    return -1;
}

int probe_set_load(const char *path, LwProbeSet *ps, LwError *err) {
    yaml_document_t doc;
    if (yaml_load_doc(path, &doc, err)) return -1;
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    int rc;
    if (!root) rc = lw_err(err, "see configs/probes/reference.yaml", "%s: empty probe-set file", path);
    else rc = probe_set_from_node(ps, &doc, root, path, err);
    yaml_document_delete(&doc);
    return rc;
}

void probe_set_print(FILE *f, const LwProbeSet *ps, const char *ind) {
    char b[64];
    fprintf(f, "%sname: ", ind); config_print_string(f, ps->name); fputc('\n', f);
    fprintf(f, "%stemplates:\n%s  orig: ", ind, ind); config_print_string(f, ps->template_orig);
    fprintf(f, "\n%s  no_filler: ", ind); config_print_string(f, ps->template_no_filler);
    fprintf(f, "\n%sfacts:\n", ind);
    for (int i = 0; i < ps->n_facts; i++) {
        fprintf(f, "%s  - {key: ", ind); config_print_string(f, ps->facts[i].key);
        fprintf(f, ", index: %d, country: ", ps->facts[i].index); config_print_string(f, ps->facts[i].country);
        fprintf(f, ", answer: "); config_print_string(f, ps->facts[i].answer); fprintf(f, "}\n");
    }
    fprintf(f, "%scontrol:\n%s  prompt: ", ind, ind); config_print_string(f, ps->control_prompt);
    fprintf(f, "\n%s  answer: ", ind); config_print_string(f, ps->control_answer);
    fprintf(f, "\n%stest_prompts:%s\n", ind, ps->n_test_prompts ? "" : " []");
    for (int i = 0; i < ps->n_test_prompts; i++) {
        fprintf(f, "%s  - ", ind); config_print_string(f, ps->test_prompts[i]); fputc('\n', f);
    }
    fprintf(f, "%stemperature_exploration: [", ind);
    for (int i = 0; i < ps->n_temps; i++) {
        config_format_double(b, sizeof b, ps->temps[i]);
        fprintf(f, "%s%s", i ? ", " : "", b);
    }
    fprintf(f, "]\n");
}

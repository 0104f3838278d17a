// run_plan — see run_plan.h.
#include "cmd/run_plan.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/util.h"

const char *opt_where(const LwRunConfig *cfg, const char *name) {
    const LwOption *o = config_option_find(name);
    return o ? cfg->src[o - LW_OPTIONS].where : "config";
}

const char *probe_where(const LwRunConfig *cfg) {
    const LwProbeSet *ps = &cfg->probe_set;
    if (cfg->probe_set_inline) return cfg->config_path && *cfg->config_path ? cfg->config_path : "probe_set";
    return ps->source ? ps->source : "built-in probe set";
}

// ---------------------------------------------------------------------------- validation

static int encode_seq(const Tokenizer *tok, const char *text, int bos, int V, const char *key, const char *where,
                      int32_t **ctx, int *n_ctx, int32_t **ids, int *T, LwError *err) {
    if (!text || !*text)
        return lw_err(err, "every prompt needs some text", "%s: %s: empty prompt", where, key);
    int32_t *c = NULL;
    int n = tok_encode(tok, text, strlen(text), 0, &c, err);
    if (n < 0) return -1;
    if (n == 0) { free(c); return lw_err(err, "every prompt needs some text", "%s: %s: the prompt tokenizes to no ids", where, key); }
    int off = bos >= 0 ? 1 : 0;
    int32_t *s = xmalloc(sizeof(int32_t) * (n + off));
    if (off) s[0] = bos;
    for (int i = 0; i < n; i++) {
        if (c[i] < 0 || c[i] >= V) {
            free(c); free(s);
            return lw_err(err, "the tokenizer does not belong to this checkpoint (its ids exceed the unembedding rows)",
                          "%s: %s: token id %d is outside the model's vocabulary of %d", where, key, c[i], V);
        }
        s[i + off] = c[i];
    }
    if (ctx) { *ctx = c; *n_ctx = n; } else free(c);
    *ids = s;
    *T = n + off;
    return 0;
}

int plan_build(const LwRunConfig *cfg, const ModelConfig *mc, const Tokenizer *tok, Plan *pl, LwError *err) {
    const LwProbeSet *ps = &cfg->probe_set;
    const char *where = probe_where(cfg);
    int V = mc->vocab, n = mc->n_layers;
    memset(pl, 0, sizeof *pl);

    // BOS (METRICS.md §0.3): none for Qwen; else config.json's bos_token_id, else the template's
    pl->bos_id = family_prompt_bos(mc, tok_template_bos(tok));
    if (pl->bos_id >= V)
        return lw_err(err, "the checkpoint's config.json and tokenizer disagree", "%s/config.json: bos_token_id: %d is outside the vocabulary of %d",
                      cfg->model_dir, pl->bos_id, V);

    if (ps->n_facts < 1) return lw_err(err, "a probe set needs at least one fact", "%s: facts: empty", where);
    // passes in §1.2 order
    for (int k = 0; k < ps->n_facts; k++)
        for (int vi = 0; vi < 2; vi++) {
            Pass *p = &pl->passes[pl->n_passes++];
            p->prompt_id = "pos";
            p->variant = vi ? "no_filler" : "orig";
            p->fact_index = k;
            snprintf(p->name, sizeof p->name, "pos_%s_%d", p->variant, k);
            p->text = probe_set_prompt(ps, p->variant, k);
            p->answer = ps->facts[k].answer;
            snprintf(p->key_text, sizeof p->key_text, "templates.%s with facts[%d].country", p->variant, k);
            snprintf(p->key_answer, sizeof p->key_answer, "facts[%d].answer", k);
            p->contrast_id = -1;
        }
    Pass *ctl = &pl->passes[pl->n_passes++];
    ctl->prompt_id = "ctl";
    ctl->variant = "orig";
    ctl->fact_index = -1;
    snprintf(ctl->name, sizeof ctl->name, "ctl_orig");
    ctl->text = xstrdup(ps->control_prompt ? ps->control_prompt : "");
    ctl->answer = ps->control_answer ? ps->control_answer : "";
    snprintf(ctl->key_text, sizeof ctl->key_text, "control.prompt");
    snprintf(ctl->key_answer, sizeof ctl->key_answer, "control.answer");

    for (int i = 0; i < pl->n_passes; i++) {
        Pass *p = &pl->passes[i];
        if (encode_seq(tok, p->text, pl->bos_id, V, p->key_text, where, &p->ctx_ids, &p->n_ctx, &p->ids, &p->T, err))
            return -1;
        if (!p->answer || !*p->answer)
            return lw_err(err, "every fact names its gold answer", "%s: %s: empty answer", where, p->key_answer);
        if (tok_align_answer(tok, p->text, p->answer, &p->align, err)) return -1;
        if (!p->align.ok)
            return lw_err(err, "choose an answer that adds tokens after the prompt (METRICS.md §2.2)",
                          "%s: %s: \"%s\" cannot be aligned after the prompt \"%s\" (neither \" %s\" nor \"%s\" adds a token)",
                          where, p->key_answer, p->answer, p->text, p->answer, p->answer);
        if (p->align.first_id >= V)
            return lw_err(err, "the tokenizer does not belong to this checkpoint", "%s: %s: answer id %d is outside the vocabulary of %d",
                          where, p->key_answer, p->align.first_id, V);
        p->prompt_vocab = xmalloc(sizeof(int32_t) * p->n_ctx);
        for (int j = 0; j < p->n_ctx; j++) {
            int32_t id = p->ctx_ids[j], dup = 0;
            for (int q = 0; q < p->n_prompt_vocab; q++) dup |= p->prompt_vocab[q] == id;
            if (!dup && !tok_wsp_token(tok_decode_one(tok, id), tok_id_to_token(tok, id))) p->prompt_vocab[p->n_prompt_vocab++] = id;
        }
    }
    ctl->contrast_id = pl->passes[0].align.first_id; // Berlin aligned on the Germany orig prompt (§1.3)
    pl->calib[0] = 0;
    pl->calib[1] = 1;
    pl->calib[2] = pl->n_passes - 1;

    for (int i = 0; i < ps->n_test_prompts; i++) {
        char key[64];
        snprintf(key, sizeof key, "test_prompts[%d]", i);
        if (encode_seq(tok, ps->test_prompts[i], pl->bos_id, V, key, where, NULL, NULL, &pl->tests[i].ids, &pl->tests[i].T, err))
            return -1;
    }
    pl->n_tests = ps->n_test_prompts;

    // top-k sizes cannot exceed the vocabulary
    static const char *const TOPK[] = {"topk_pure", "topk_records", "topk_records_other", "topk_final",
                                       "topk_test_prompts", "topk_temperature", "prompt_topk", NULL};
    const long vals[] = {cfg->topk_pure, cfg->topk_records, cfg->topk_records_other, cfg->topk_final,
                         cfg->topk_test_prompts, cfg->topk_temperature, cfg->prompt_topk};
    for (int i = 0; TOPK[i]; i++)
        if (vals[i] > V)
            return lw_err(err, "top-k lists are taken over the vocabulary; use a value up to its size",
                          "%s: %s: %ld is larger than the model's vocabulary (%d ids)", opt_where(cfg, TOPK[i]), TOPK[i], vals[i], V);
    // layer indices: skip-layer m names block n-m (§19.6); an explicit m beyond the model is an error
    const char *sw = opt_where(cfg, "skip_layers_m");
    if (strcmp(sw, "default"))
        for (int i = 0; i < cfg->skip_layers_m.n; i++)
            if (cfg->skip_layers_m.v[i] > n)
                return lw_err(err, "skip_layers_m values are block counts from the top, at most the number of blocks",
                              "%s: skip_layers_m: %ld is beyond the model's %d blocks", sw, cfg->skip_layers_m.v[i], n);
    return 0;
}

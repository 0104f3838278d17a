// plan_batch — see plan_batch.h. Reads the checkpoint's config.json and tokenizer, never a weight.
#include "config/plan_batch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/model_config.h"
#include "tok/checkpoint_tok.h"
#include "tok/tok.h"

static long ceil_div(long a, long b) { return (a + b - 1) / b; }

// Tokens of the forward of text: [BOS] + ids (tok), else the estimate of plan_probe_tokens.
static int prompt_tokens(const Tokenizer *tok, int bos, const char *text) {
    if (tok) {
        int32_t *ids = NULL;
        LwError e = {0};
        int n = tok_encode(tok, text, strlen(text), 0, &ids, &e);
        free(ids);
        if (n >= 0) return n + (bos >= 0);
    }
    return (int)ceil_div((long)strlen(text), 4) + 1;
}

// Batches of the n prompts of lengths lens, as `run` makes them (model_batch_plan).
static int batches_of(const int *lens, int n, int max_tokens) {
    if (n <= 0) return 0;
    int *first = xmalloc(sizeof(int) * ((size_t)n + 1));
    int nb = model_batch_plan(lens, n, max_tokens, first);
    free(first);
    return nb;
}

static void add_prompt(PlanBatch *pb, int **lens, int *cap, int len) {
    if (pb->n_prompts == *cap) *lens = xrealloc(*lens, sizeof(int) * (size_t)(*cap = *cap ? 2 * *cap : 64));
    (*lens)[pb->n_prompts++] = len;
    pb->tokens += len;
    if (len > pb->longest) pb->longest = len;
}

int plan_batch_tokens(const LwRunConfig *cfg, const LwModelShape *s, int tp, int64_t *token_bytes) {
    long R = tp > 0 ? tp : 1, H = s->n_heads, KV = s->n_kv_heads;
    // rank 0's slices (model/tp.c: whole heads, the first and largest ranges when uneven)
    long heads = ceil_div(H, R), ff = ceil_div(s->d_ff, R);
    long kv = cfg->tp_uneven_heads ? (heads - 1) / (H / (KV > 0 ? KV : 1)) + 1 : R <= KV ? KV / R : 1;
    size_t tb = model_token_bytes(s->n_layers, s->d_model, s->head_dim, heads, kv, ff, cfg->tp_exact);
    if (token_bytes) *token_bytes = (int64_t)tb;
    return model_batch_tokens_of(tb, (double)cfg->batch_memory_mb);
}

long plan_pass_batch_tokens(const PlanBatch *pb, int batch_tokens) {
    int n = pb->n_pass_lens;
    if (n <= 0) return 0;
    int first[2 * LW_MAX_FACTS + 1];
    int nb = model_batch_plan(pb->pass_lens, n, batch_tokens > 0 ? batch_tokens : 1, first);
    long best = 0;
    for (int b = 0; b < nb; b++) {
        long t = 0;
        for (int i = first[b]; i < first[b + 1]; i++) t += pb->pass_lens[i];
        if (t > best) best = t;
    }
    return best;
}

void plan_batches(const LwRunConfig *cfg, const LwModelShape *s, int tp, const char *checkpoint, PlanBatch *pb) {
    memset(pb, 0, sizeof *pb);
    pb->batch_tokens = plan_batch_tokens(cfg, s, tp, &pb->token_bytes);

    Tokenizer *tok = NULL;
    int bos = 0; // estimated lengths count a BOS
    if (checkpoint && *checkpoint) {
        LwError e = {0};
        ModelConfig mc;
        memset(&mc, 0, sizeof mc);
        if (model_config_load(checkpoint, &mc, &e) == 0 && (tok = checkpoint_tokenizer_load(checkpoint, &e)))
            bos = family_prompt_bos(&mc, tok_template_bos(tok));
    }
    pb->tokenized = tok != NULL;
    int *lens = NULL, cap = 0;
    if (cfg->battery) {
        pb->battery = 1;
        pb->pos_k = cfg->battery_positions;
        const LwBattery *b = cfg->battery;
        for (int i = 0; i < b->n_items; i++) {
            int T = prompt_tokens(tok, bos, b->items[i].prompt);
            add_prompt(pb, &lens, &cap, T);
            if (cfg->battery_positions != 1) // cmd/run_battery.c item_positions
                pb->pos_rows += cfg->battery_positions == 0 || cfg->battery_positions >= T ? T : cfg->battery_positions;
            if (b->items[i].control) {
                add_prompt(pb, &lens, &cap, prompt_tokens(tok, bos, b->items[i].control));
                pb->n_controls++;
            }
        }
        pb->n_batches = batches_of(lens, pb->n_prompts, pb->batch_tokens);
    } else {
        const LwProbeSet *ps = &cfg->probe_set;
        if (ps->n_facts > 0) { // calibration: the primary fact's two prompts and the control
            for (int v = 0; v < 2; v++) {
                char *p = probe_set_prompt(ps, v ? "no_filler" : "orig", 0);
                add_prompt(pb, &lens, &cap, prompt_tokens(tok, bos, p));
                free(p);
            }
            if (ps->control_prompt) add_prompt(pb, &lens, &cap, prompt_tokens(tok, bos, ps->control_prompt));
        }
        pb->n_batches = batches_of(lens, pb->n_prompts, pb->batch_tokens);
        for (int f = 1; f < ps->n_facts && f < LW_MAX_FACTS; f++) // the other passes (cmd/run.c run_pass_forwards)
            for (int v = 0; v < 2; v++) {
                char *p = probe_set_prompt(ps, v ? "no_filler" : "orig", f);
                pb->pass_lens[pb->n_pass_lens++] = prompt_tokens(tok, bos, p);
                free(p);
            }
        int *tl = xmalloc(sizeof(int) * (size_t)(ps->n_test_prompts + 1));
        for (int i = 0; i < ps->n_test_prompts; i++) tl[i] = prompt_tokens(tok, bos, ps->test_prompts[i]);
        pb->n_tests = ps->n_test_prompts;
        pb->test_batches = batches_of(tl, pb->n_tests, pb->batch_tokens);
        free(tl);
    }
    free(lens);
    if (tok) tok_free(tok);
}

void plan_batch_describe(const PlanBatch *pb, long budget_mb, char *buf, size_t n) {
    int o = snprintf(buf, n, "up to %d tokens per batch (%.2f KB per token on rank 0, batch_memory_mb %ld); ", pb->batch_tokens,
                     pb->token_bytes / 1e3, budget_mb);
    if (o < 0 || (size_t)o >= n) return;
    const char *how = pb->tokenized ? "tokenized" : "estimated";
    if (pb->battery) {
        o += snprintf(buf + o, n - o, "battery: %d prompts (%d items + %d control), %ld tokens (%s), longest %d: %d batch%s",
                      pb->n_prompts, pb->n_prompts - pb->n_controls, pb->n_controls, pb->tokens, how, pb->longest, pb->n_batches,
                      pb->n_batches == 1 ? "" : "es");
        if (pb->pos_rows > 0 && o > 0 && (size_t)o < n)
            snprintf(buf + o, n - o, "; battery_positions %ld: %ld position rows decoded", pb->pos_k, pb->pos_rows);
    }
    else
        snprintf(buf + o, n - o, "calibration: %d prompts, %ld tokens (%s): %d batch%s; test prompts: %d in %d batch%s; "
                 "the passes one forward each", pb->n_prompts, pb->tokens, how, pb->n_batches, pb->n_batches == 1 ? "" : "es",
                 pb->n_tests, pb->test_batches, pb->test_batches == 1 ? "" : "es");
}

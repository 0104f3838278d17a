// test_config — config.json variants the ten checkpoints (and their relatives) actually use:
// head_dim absent or explicit, sliding_window null / disabled by use_sliding_window, Gemma
// soft-cap defaults and nulls, bos/eos as ints, lists or absent, rope_theta inside
// rope_parameters, and the errors for what lensweep does not implement.
#include <stdlib.h>
#include <unistd.h>

#include "model/model.h"
#include "test.h"

static char dir[64];

// Writes a config from a JSON body (the "architectures" entry and dimensions are prepended).
static int load_cfg(const char *arch, const char *extra, ModelConfig *c, LwError *err) {
    char path[128];
    snprintf(path, sizeof path, "%s/config.json", dir);
    FILE *f = fopen(path, "w");
    fprintf(f, "{\"architectures\": [\"%s\"], \"hidden_size\": 64, \"intermediate_size\": 96, \"num_hidden_layers\": 2,"
               " \"num_attention_heads\": 4, \"vocab_size\": 100, \"max_position_embeddings\": 128, \"rms_norm_eps\": 1e-6%s%s}",
            arch, extra[0] ? ", " : "", extra);
    fclose(f);
    memset(err, 0, sizeof *err);
    return model_config_load(dir, c, err);
}

TEST(defaults_and_variants) {
    ModelConfig c;
    LwError err;
    CHECKF(load_cfg("LlamaForCausalLM", "", &c, &err) == 0, "%s", err.msg);
    CHECK(c.family == FAM_LLAMA && c.n_kv_heads == 4 && c.head_dim == 16 && c.rope_theta == 10000.0);
    CHECK(c.bos_id == -1 && c.eos_id == -1 && !c.tied && c.sliding_window == 0);

    CHECK(load_cfg("LlamaForCausalLM", "\"head_dim\": 24, \"num_key_value_heads\": 2, \"bos_token_id\": 7, \"eos_token_id\": [9, 11]", &c, &err) == 0);
    CHECK(c.head_dim == 24 && c.n_kv_heads == 2 && c.bos_id == 7 && c.eos_id == 9);

    CHECK(load_cfg("MistralForCausalLM", "\"sliding_window\": null", &c, &err) == 0 && c.sliding_window == 0);
    CHECK(load_cfg("MistralForCausalLM", "", &c, &err) == 0 && c.sliding_window == 4096); // MistralConfig default
    CHECK(load_cfg("LlamaForCausalLM", "\"sliding_window\": 16", &c, &err) == 0 && c.sliding_window == 0); // Llama has none
    CHECK(load_cfg("MistralForCausalLM", "\"sliding_window\": 4096", &c, &err) == 0 && c.sliding_window == 4096);
    CHECK(load_cfg("Qwen2ForCausalLM", "\"sliding_window\": 131072, \"use_sliding_window\": false", &c, &err) == 0 && c.sliding_window == 0);
    CHECK(load_cfg("Qwen3ForCausalLM", "\"rope_parameters\": {\"rope_type\": \"default\", \"rope_theta\": 1000000.0}", &c, &err) == 0);
    CHECK(c.rope_theta == 1e6);

    // Gemma-2: absent soft-caps take the model defaults (50 / 30); null turns one off; always tied.
    CHECK(load_cfg("Gemma2ForCausalLM", "\"tie_word_embeddings\": false", &c, &err) == 0);
    CHECK(c.tied && c.attn_softcap == 50.0 && c.final_softcap == 30.0 && c.query_pre_attn_scalar == 256.0);
    CHECK(load_cfg("Gemma2ForCausalLM", "\"attn_logit_softcapping\": null, \"final_logit_softcapping\": 3.0, \"query_pre_attn_scalar\": 144", &c, &err) == 0);
    CHECK(c.attn_softcap == 0 && c.final_softcap == 3.0 && c.query_pre_attn_scalar == 144.0);

    // Llama with tie_word_embeddings true (e.g. SmolLM / Llama-3.2-1B style).
    CHECK(load_cfg("LlamaForCausalLM", "\"tie_word_embeddings\": true", &c, &err) == 0 && c.tied);
    // model_type when architectures is absent.
    char path[128];
    snprintf(path, sizeof path, "%s/config.json", dir);
    FILE *f = fopen(path, "w");
    fprintf(f, "{\"model_type\": \"qwen3\", \"hidden_size\": 64, \"intermediate_size\": 96, \"num_hidden_layers\": 2, \"num_attention_heads\": 4,"
               " \"vocab_size\": 100, \"max_position_embeddings\": 128, \"rms_norm_eps\": 1e-6}");
    fclose(f);
    memset(&err, 0, sizeof err);
    CHECK(model_config_load(dir, &c, &err) == 0 && c.family == FAM_QWEN3);
}

TEST(refusals_name_file_and_field) {
    ModelConfig c;
    LwError err;
    struct { const char *arch, *extra, *want; } cases[] = {
        {"GPTNeoXForCausalLM", "", "unsupported architecture \"GPTNeoXForCausalLM\""},
        {"LlamaForCausalLM", "\"rope_scaling\": {\"rope_type\": \"llama3\", \"factor\": 8.0}", "unsupported rope type \"llama3\""},
        {"LlamaForCausalLM", "\"hidden_act\": \"gelu\"", "field \"hidden_act\" = gelu, expected \"silu\""},
        {"LlamaForCausalLM", "\"attention_bias\": true", "field \"attention_bias\" = true is not supported"},
        {"Qwen2ForCausalLM", "\"use_sliding_window\": true", "field \"use_sliding_window\" = true"},
        {"LlamaForCausalLM", "\"num_key_value_heads\": 3", "field \"num_key_value_heads\" = 3 does not divide"},
        {"LlamaForCausalLM", "\"head_dim\": 15", "field \"head_dim\" = 15 is odd"},
        {"LlamaForCausalLM", "\"head_dim\": 1.5", "field \"head_dim\" is a number, expected an integer"},
        {"LlamaForCausalLM", "\"bos_token_id\": \"<s>\"", "field \"bos_token_id\" is a string"},
        {"Gemma2ForCausalLM", "\"hidden_activation\": \"gelu\"", "field \"hidden_activation\" = gelu"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        CHECK(load_cfg(cases[i].arch, cases[i].extra, &c, &err) != 0);
        CHECKF(strstr(err.msg, cases[i].want) && strstr(err.msg, "config.json") && err.hint[0], "case %zu: %s", i, err.msg);
    }
    char path[128];
    snprintf(path, sizeof path, "%s/config.json", dir);
    FILE *f = fopen(path, "w");
    fprintf(f, "{\"architectures\": [\"LlamaForCausalLM\"], ");
    fclose(f);
    memset(&err, 0, sizeof err);
    CHECK(model_config_load(dir, &c, &err) != 0);
    CHECKF(strstr(err.msg, "invalid JSON") && strstr(err.msg, path), "%s", err.msg);
}

// The BOS rule of METRICS.md §0.3, as the family table states it: Qwen prompts get none whatever
// config.json says; the others take config.json's bos_token_id, else the tokenizer template's.
TEST(prompt_bos_by_family) {
    ModelConfig c;
    LwError err = {0};
    CHECK(load_cfg("Qwen2ForCausalLM", "\"bos_token_id\": 151643", &c, &err) == 0 && family_prompt_bos(&c, 7) == -1);
    CHECK(load_cfg("Qwen3ForCausalLM", "", &c, &err) == 0 && family_prompt_bos(&c, 7) == -1);
    CHECK(load_cfg("LlamaForCausalLM", "\"bos_token_id\": 1", &c, &err) == 0 && family_prompt_bos(&c, 7) == 1);
    CHECK(load_cfg("MistralForCausalLM", "", &c, &err) == 0 && family_prompt_bos(&c, 7) == 7);
    CHECK(load_cfg("Gemma2ForCausalLM", "\"bos_token_id\": 2", &c, &err) == 0 && family_prompt_bos(&c, 7) == 2);
}

// The shape-only reading (plan, inspect, the tp_size check) of the same reader: it needs only the
// keys that size the weights, and gives the same shape as the full reading.
TEST(shape_only_reading) {
    char path[128];
    snprintf(path, sizeof path, "%s/config.json", dir);
    FILE *f = fopen(path, "w"); // no max_position_embeddings, rms_norm_eps, rope or activation
    fprintf(f, "{\"architectures\": [\"Qwen2ForCausalLM\"], \"hidden_size\": 64, \"intermediate_size\": 96,"
               " \"num_hidden_layers\": 2, \"num_attention_heads\": 4, \"num_key_value_heads\": 2, \"vocab_size\": 100,"
               " \"torch_dtype\": \"float32\"}");
    fclose(f);
    ModelConfig c;
    LwError err = {0};
    CHECK(model_config_load(dir, &c, &err) != 0);
    CHECKF(strstr(err.msg, "missing field \"max_position_embeddings\""), "%s", err.msg);
    memset(&err, 0, sizeof err);
    CHECKF(model_config_load_shape(dir, &c, &err) == 0, "%s", err.msg);
    CHECK(c.family == FAM_QWEN2 && c.n_layers == 2 && c.d_model == 64 && c.n_heads == 4 && c.n_kv_heads == 2);
    CHECK(c.head_dim == 16 && c.d_ff == 96 && c.vocab == 100 && !c.tied && !strcmp(c.torch_dtype, "float32"));
    // a complete config: both readings agree on every shape field
    ModelConfig full, sh;
    CHECK(load_cfg("Gemma2ForCausalLM", "\"head_dim\": 24, \"num_key_value_heads\": 2, \"torch_dtype\": \"bfloat16\"", &full, &err) == 0);
    CHECK(model_config_load_shape(dir, &sh, &err) == 0);
    CHECK(sh.family == full.family && sh.n_layers == full.n_layers && sh.d_model == full.d_model && sh.n_heads == full.n_heads);
    CHECK(sh.n_kv_heads == full.n_kv_heads && sh.head_dim == 24 && full.head_dim == 24 && sh.d_ff == full.d_ff && sh.vocab == full.vocab);
    CHECK(sh.tied && full.tied && !strcmp(sh.torch_dtype, "bfloat16") && !strcmp(full.torch_dtype, "bfloat16"));
}

int main(void) {
    snprintf(dir, sizeof dir, "/tmp/lwtest_cfg.XXXXXX");
    if (!mkdtemp(dir)) return 1;
    RUN(defaults_and_variants);
    RUN(refusals_name_file_and_field);
    RUN(prompt_bos_by_family);
    RUN(shape_only_reading);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0) return 1;
    return test_summary();
}

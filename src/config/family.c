// config/family — the five families as one table of data (ARCHITECTURES.md §4).
//
// The forward pass reads these flags instead of branching on the family name, so a reader finds
// every difference between Llama, Mistral, Qwen2, Qwen3 and Gemma-2 in this one screen. The
// config loader maps config.json "architectures"[0] to a row of this table.
#include <string.h>

#include "config/model_config.h"

const FamilyInfo LW_FAMILIES[FAM_COUNT] = {
    //          name       hf_arch               model_type  +1 emb bias qkn sand gelu tied slide_even caps qpas nobos sw
    [FAM_LLAMA]   = {"llama",   "LlamaForCausalLM",   "llama",   0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0},
    [FAM_MISTRAL] = {"mistral", "MistralForCausalLM", "mistral", 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1},
    [FAM_QWEN2]   = {"qwen2",   "Qwen2ForCausalLM",   "qwen2",   0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 2},
    [FAM_QWEN3]   = {"qwen3",   "Qwen3ForCausalLM",   "qwen3",   0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, 2},
    [FAM_GEMMA2]  = {"gemma2",  "Gemma2ForCausalLM",  "gemma2",  1, 1, 0, 0, 1, 1, 1, 1, 1, 1, 0, 1},
};

int family_prompt_bos(const ModelConfig *mc, int template_bos) {
    if (LW_FAMILIES[mc->family].no_bos) return -1;
    return mc->bos_id >= 0 ? mc->bos_id : template_bos;
}

int family_from_name(const char *name) {
    if (!name) return -1;
    for (int f = 0; f < FAM_COUNT; f++)
        if (strcmp(name, LW_FAMILIES[f].name) == 0) return f;
    return -1;
}

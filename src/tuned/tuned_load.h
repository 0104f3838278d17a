// tuned_load — reading a tuned-lens artifact (docs/TUNED.md "Artifact") for `run`.
//
// The checks come in the order a user can act on, every one before any weight of the model is
// read, each an error naming the file and the field (exit 2 at the caller):
//   1. DIR/provenance.json present (fit-tuned writes it last: without it the fit is incomplete),
//      a JSON object, `format` = "lensweep-tuned";
//   2. the model: `d_model`, `n_layers`, `vocab` equal to the checkpoint's, `config_sha256` equal
//      to the SHA-256 of its config.json (when both are known; null for GGUF), `rank` ≥ 1;
//   3. DIR/tuned.safetensors: its SHA-256 equal to provenance's `safetensors_sha256` (when
//      recorded: a damaged or truncated copy), then every tensor U.<ℓ> [d, k], V.<ℓ> [d, k],
//      c.<ℓ> [d] (ℓ = 0..n−2) and log_tau [n−1] present, F32, of that shape, inside the file
//      (a truncated file is named as such) and finite.
#ifndef LW_TUNED_LOAD_H
#define LW_TUNED_LOAD_H

#include "tuned/tuned.h"
#include "util/util.h"

#define TUNED_SAFETENSORS "tuned.safetensors"
#define TUNED_PROVENANCE "provenance.json"

// Loads the artifact in `dir` for a model of width d, n_layers blocks and vocabulary `vocab`
// whose config.json hashes to config_sha256 ("" or NULL: unknown). On success t holds the
// translators (t->path = dir, t->config_sha256 and t->vocab from provenance) and 0 is returned;
// -1 with err set otherwise (t left empty).
int tuned_artifact_load(const char *dir, int d, int n_layers, int vocab, const char *config_sha256, TunedLens *t,
                        LwError *err);

#endif

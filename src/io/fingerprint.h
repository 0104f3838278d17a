// fingerprint — the checkpoint files a run read, recorded in its run file (root attribute
// `checkpoint_files`, docs/HDF5.md) so that weights rewritten while they were loaded, or
// replaced after the run (another seed or another family written into the same directory), are
// not passed on: `run` stops when a file changed during its load, and `plan` calls a finished
// model's file stale when its checkpoint no longer matches.
//
// One line per file: "<name>\t<size in bytes>\t<mtime in ns>\n", names sorted, for every
// *.safetensors, *.gguf, config.json, tokenizer.json, tokenizer_config.json and
// model.safetensors.index.json of the checkpoint directory (or the one GGUF file). Size and
// modification time are what a rewrite changes at no cost to read; they are not a content hash.
#ifndef LW_IO_FINGERPRINT_H
#define LW_IO_FINGERPRINT_H

#include <stddef.h>

// The fingerprint text of a checkpoint directory or file (malloc'd; "" when nothing matches).
char *checkpoint_fingerprint(const char *path);

// Compares two fingerprints: 0 when equal, else 1 with `what` naming the first difference
// ("model.safetensors: 16905024 bytes, modified 2026-12-07T12:44:36Z; now 16905028 bytes,
// modified ...", or "config.json: missing now").
int fingerprint_diff(const char *then, const char *now, char *what, size_t len);

#endif

// fingerprint — the checkpoint files a run read, recorded in its run file (root attribute
// `checkpoint_files`, docs/HDF5.md) so that weights rewritten while they were loaded, or
// replaced after the run (another seed or another family written into the same directory), are
// not passed on: `run` stops when a file changed during its load, and `plan` calls a finished
// model's file stale when its checkpoint no longer matches.
//
// One line per file: "<name>\t<size in bytes>\t<mtime in ns>\n", names sorted, for config.json,
// tokenizer.json, tokenizer_config.json, model.safetensors.index.json and the weight files the
// load reads: the shards the index's weight_map names, else model.safetensors, else (a GGUF
// directory) every *.gguf and *.safetensors; or the one GGUF file. Weight files the load does not
// read (Mistral's consolidated.safetensors beside the shards, an adapter) are neither recorded
// nor hashed, so they cost no hashing time and replacing them does not make a run stale. Size and
// modification time are what a rewrite changes at no cost to read; they are not a content hash.
//
// The content hash (root attribute `checkpoint_sha256`): the SHA-256 of every file of the
// fingerprint, in the format `sha256sum` prints ("<64 hex digits>  <name>\n", the same order), so
// `cd <checkpoint> && sha256sum -c` checks a checkpoint against a run file. `run` computes it on
// a thread beside the weight load (each rank hashes every R-th file, whole, so the ranks share the
// work; the load's reads and the hash's reads meet in the page cache), and waits for it after
// the load. A fine-tune written with the same sizes and its mtime restored passes the size/mtime
// check; `plan --verify-content` (which reads every byte again: the cost is the hash rate times
// the checkpoint's size) and a resumed battery run (its journal key includes the hash) find it.
#ifndef LW_IO_FINGERPRINT_H
#define LW_IO_FINGERPRINT_H

#include <stddef.h>
#include <stdint.h>

#include "util/util.h"

// The fingerprint text of a checkpoint directory or file (malloc'd; "" when nothing matches).
char *checkpoint_fingerprint(const char *path);
// The same, plus every file still present that `also` (a fingerprint recorded earlier) lists:
// `plan` compares a run's recorded fingerprint with this, so a run file written when every
// *.safetensors of the directory was recorded still compares file for file.
char *checkpoint_fingerprint_also(const char *path, const char *also);

// Compares two fingerprints: 0 when equal, else 1 with `what` naming the first difference
// ("model.safetensors: 16905024 bytes, modified 2026-12-07T12:44:36Z; now 16905028 bytes,
// modified ...", or "config.json: missing now").
int fingerprint_diff(const char *then, const char *now, char *what, size_t len);

// Hashing the files of `fingerprint` (taken of `path`): the files whose index i in its sorted
// list has i % n_parts == part, on a thread (part 0 of 1: every file).
typedef struct CheckpointHash CheckpointHash;
CheckpointHash *checkpoint_hash_start(const char *path, const char *fingerprint, int part, int n_parts);
// Waits for the thread. Returns 0 with *digests (malloc'd, *n_files × 32 bytes; zeros for other
// parts' files) and *bytes (what this part hashed), or -1 with err naming the file that could
// not be read. Frees h either way.
int checkpoint_hash_finish(CheckpointHash *h, uint8_t **digests, int *n_files, int64_t *bytes, LwError *err);
// Stops the thread at its next block and frees h (a failed load).
void checkpoint_hash_cancel(CheckpointHash *h);
// The `checkpoint_sha256` text from the digests of every part (n_parts × n_files × 32 bytes, part
// after part, as comm_allgather lays them out): file i's digest comes from part i % n_parts.
char *checkpoint_sha256_text(const char *fingerprint, const uint8_t *all, int n_parts);
// Compares two `checkpoint_sha256` texts over the files both list: 0 when equal, else 1 with
// `what` naming the first file whose content differs.
int checkpoint_sha256_diff(const char *then, const char *now, char *what, size_t len);

#endif

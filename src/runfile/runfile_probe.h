// runfile_probe — what a run file says about itself, without reading its measurements: the few
// root attributes (docs/HDF5.md) that tell `plan` whether a model is done: `complete`,
// `config_hash`, the checksum trailer's marker `integrity`, the checkpoint's fingerprint
// (`checkpoint_files`, io/fingerprint.h) and content hash (`checkpoint_sha256`).
//
// Never an error: an attribute that is absent or of another type is reported absent, and a file
// libhdf5 cannot open (truncated, damaged, not HDF5) is `hdf5 = 0`; HDF5's error stack stays
// silent meanwhile (these are expected cases for a status check). Does not verify the checksum
// trailer (io/checksum.h's runfile_verify does, without libhdf5).
#ifndef LW_RUNFILE_PROBE_H
#define LW_RUNFILE_PROBE_H

typedef struct {
    int hdf5;                // 1: libhdf5 opened the file; 0: not a readable HDF5 file (the rest is unset)
    int has_integrity;       // the root attribute `integrity` exists
    int has_complete;        // `complete` exists and is an integer ...
    long long complete;      // ... of this value
    char *config_hash;       // NULL: absent or not a string
    char *checkpoint_files;  // NULL: absent (files written before lensweep recorded it)
    char *checkpoint_sha256; // NULL: absent (files written before lensweep recorded it)
} RunfileSelf;

// Reads the root attributes of the run file at path into *out (zeroed first). 0, or -1 when
// libhdf5 cannot open it (out->hdf5 = 0). Free with runfile_self_free either way.
int runfile_probe(const char *path, RunfileSelf *out);
void runfile_self_free(RunfileSelf *s);

#endif

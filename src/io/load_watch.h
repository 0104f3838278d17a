// load_watch — progress of a checkpoint load: model_load reads synchronously; rank 0 watches its
// own read counter (/proc/self/io rchar) from a small thread and reports bytes and GB/s on the
// progress line until the load returns.
#ifndef LW_LOAD_WATCH_H
#define LW_LOAD_WATCH_H

typedef struct {
    volatile int stop;
    double t0;
    double total_bytes; // checkpoint bytes (the weight files the load reads), for the share read
    int ranks;
} LoadWatch;

// The thread's body (pthread_create(..., load_watch, &watch)); returns when watch->stop is set.
void *load_watch(void *arg);
// Bytes of a checkpoint: the file itself, or the weight files of a directory the load reads
// (io/fingerprint.h).
double checkpoint_bytes(const char *path);

#endif

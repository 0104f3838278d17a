// test_plan — `lensweep plan`'s numbers and statuses (config/plan.h, runfile/plan_status.h).
//
// Status: real HDF5 files written here with the HDF5 C API in each state docs/HDF5.md describes
// (complete with the same / another config hash, no `complete`, complete = 0, a truncated file, a
// leftover .tmp.<pid>), read back by plan_h5_status. Sizes: TENSOR_PARALLEL.md §6's table
// ("Memory per GPU (bf16 weights)"), copied into the checks; time estimates derived by hand in
// the comments. Slurm settings: sbatch(1)'s --time syntax, errors with file:line:col.
#include <hdf5.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/config.h"
#include "config/plan.h"
#include "runfile/plan_status.h"
#include "test.h"

static char g_dir[256];

#define CHECK_CONTAINS(hay, needle) CHECKF(strstr((hay), (needle)) != NULL, "'%s' lacks '%s'", (hay), (needle))

static void write_text(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
}

// An HDF5 file with the given root attributes: complete < 0 = absent; hash NULL = absent;
// fixed_len: the hash as a fixed-length string (h5py writes those for numpy bytes).
static void write_h5(const char *path, int complete, const char *hash, int fixed_len) {
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    hid_t sp = H5Screate(H5S_SCALAR);
    if (hash) {
        hid_t ty = H5Tcopy(H5T_C_S1);
        if (fixed_len) {
            H5Tset_size(ty, strlen(hash));
            hid_t a = H5Acreate2(f, "config_hash", ty, sp, H5P_DEFAULT, H5P_DEFAULT);
            H5Awrite(a, ty, hash);
            H5Aclose(a);
        } else {
            H5Tset_size(ty, H5T_VARIABLE);
            H5Tset_cset(ty, H5T_CSET_UTF8);
            hid_t a = H5Acreate2(f, "config_hash", ty, sp, H5P_DEFAULT, H5P_DEFAULT);
            H5Awrite(a, ty, &hash);
            H5Aclose(a);
        }
        H5Tclose(ty);
    }
    if (complete >= 0) {
        long long v = complete;
        hid_t a = H5Acreate2(f, "complete", H5T_STD_I64LE, sp, H5P_DEFAULT, H5P_DEFAULT);
        H5Awrite(a, H5T_NATIVE_LLONG, &v);
        H5Aclose(a);
    }
    H5Sclose(sp);
    H5Fclose(f);
}

TEST(h5_status) {
    char p[512], d[512];
    const char *hash = "0123456789abcdef";
    snprintf(p, sizeof p, "%s/m.h5", g_dir);
    unlink(p);
    CHECK(plan_h5_status(p, hash, d, sizeof d) == PLAN_TODO);
    // a killed run leaves only its temporary name
    char t[600];
    snprintf(t, sizeof t, "%s.tmp.4242", p);
    write_h5(t, -1, hash, 0);
    CHECK(plan_h5_status(p, hash, d, sizeof d) == PLAN_INCOMPLETE);
    CHECK_CONTAINS(d, "m.h5.tmp.4242");
    unlink(t);
    write_h5(p, 1, hash, 0);
    CHECK(plan_h5_status(p, hash, d, sizeof d) == PLAN_DONE);
    CHECK(plan_h5_status(p, "fedcba9876543210", d, sizeof d) == PLAN_STALE);
    CHECK_CONTAINS(d, "config_hash 0123456789abcdef in the file, fedcba9876543210 now");
    write_h5(p, 1, hash, 1); // fixed-length string attribute
    CHECK(plan_h5_status(p, hash, d, sizeof d) == PLAN_DONE);
    write_h5(p, -1, hash, 0); // no `complete`: the writer died before the last attribute
    CHECK(plan_h5_status(p, hash, d, sizeof d) == PLAN_INCOMPLETE);
    write_h5(p, 0, hash, 0);
    CHECK(plan_h5_status(p, hash, d, sizeof d) == PLAN_INCOMPLETE);
    write_h5(p, 1, NULL, 0); // complete but no hash: cannot be trusted to match
    CHECK(plan_h5_status(p, hash, d, sizeof d) == PLAN_STALE);
    // a truncated file (the first 100 bytes of a real one)
    write_h5(p, 1, hash, 0);
    CHECK(truncate(p, 100) == 0);
    CHECK(plan_h5_status(p, hash, d, sizeof d) == PLAN_INCOMPLETE);
    CHECK_CONTAINS(d, "not a readable HDF5 file");
    unlink(p);
}

// TENSOR_PARALLEL.md §6, "Memory per GPU (bf16 weights)", GB = 1e9 bytes, at the committed TP size
// (tp 1 except Llama-3-70B and Qwen2.5-72B at 2).
static const struct { const char *name; double gb; long tp; } TP6[] = {
    {"Mistral-7B-v0.1", 14.5, 1}, {"Meta-Llama-3-8B", 16.1, 1}, {"Qwen3-8B", 16.4, 1}, {"gemma-2-9b", 18.5, 1},
    {"Qwen3-14B", 29.5, 1}, {"gemma-2-27b", 54.5, 1}, {"Yi-34B", 68.8, 1}, {"Meta-Llama-3-70B", 70.6, 2},
    {"Mistral-Small-24B-Base-2501", 47.1, 1}, {"Qwen2.5-72B", 72.7, 2},
};

TEST(ten_models_without_weights) {
    char hub[400];
    snprintf(hub, sizeof hub, "%s/empty-hub", g_dir);
    mkdir(hub, 0755);
    setenv("HF_HUB_CACHE", hub, 1);
    unsetenv("LENSWEEP_MODEL_ROOT");
    char out[400];
    snprintf(out, sizeof out, "%s/run10", g_dir);
    char *cli[] = {"--out", out};
    LwSweep sw;
    LwError err = {0};
    CHECK(sweep_load("configs/sweeps/ten-models.yaml", 2, cli, &sw, &err) == 0);
    CHECKF(!err.set, "%s", err.msg);
    if (err.set) return;
    CHECK(sw.n == 10);
    for (int i = 0; i < sw.n && i < 10; i++) {
        PlanRow r;
        CHECK(plan_model(&sw.models[i], &r, &err) == 0);
        CHECK_STR(sw.models[i].name, TP6[i].name);
        CHECK(!r.checkpoint_found);
        CHECK_CONTAINS(r.checkpoint_error, "not found; looked in:");
        CHECK_CONTAINS(r.checkpoint_error, hub); // the HF cache it was pointed at is listed
        CHECK(r.have_shape);
        CHECK(r.ranks == TP6[i].tp && r.gpus == TP6[i].tp && r.nodes == 1); // gpus_per_node 8
        CHECKF(fabs(r.weights_per_gpu_bytes / 1e9 - TP6[i].gb) < 0.05, "%s: %.2f GB vs %.1f", TP6[i].name,
               r.weights_per_gpu_bytes / 1e9, TP6[i].gb);
        CHECK(r.fits);
        CHECK(plan_row_status(&r) == PLAN_TODO);
        char want[600];
        snprintf(want, sizeof want, "%s/%s.h5", out, TP6[i].name);
        CHECK_STR(r.h5_path, want);
    }
    // time estimate: the bytes one rank reads at the on-disk dtype / plan.read_gb_per_s (1.0) + 120 s.
    // Mistral-7B (bf16 on disk): 14.48 GB -> 134.5 s; limit max(15 min, 3 x 134.5 s) = 00:15:00.
    PlanRow r;
    plan_model(&sw.models[0], &r, &err);
    // + the forward and lens compute (config/plan_memory.c: GPU exact rate 17e12 FLOP/s, weights
    // read at 1.7e12 B/s). Longest prompt of the reference set 80 characters -> 20 + 1 (BOS) = 21
    // tokens. Forward: 2 x (7,241,732,096 - 2 x 32000 x 4096 = 6,979,588,096) x 21 + attention
    // 4 x 32 x 32 x 128 x 21^2 = 2.9337e11 FLOPs -> 17.257 ms (> 14.48 GB / 1.7e12 = 8.52 ms), for
    // 11 passes + 14 test prompts = 0.4314 s; lens: 2 x 4096 x 32000 x (2 lenses x 33 x 21 + 21)
    // = 3.6884e11 FLOPs per pass -> 21.70 ms x 11 = 0.2387 s; 0.6701 s in all.
    CHECK_NEAR(r.compute_seconds, 0.6701, 0.001);
    CHECK_NEAR(r.est_seconds - r.compute_seconds, 120 + 14.483464192, 0.01);
    CHECK_STR(r.slurm_time, "00:15:00");
    // gemma-2-9b is stored in fp32 (ARCHITECTURES.md §1): twice its 18.48 GB bf16 size is read.
    plan_model(&sw.models[3], &r, &err);
    CHECK_NEAR(r.est_seconds - r.compute_seconds, 120 + 2 * 18.483411968, 0.01);
    sweep_free(&sw);

    // slower storage: Llama-3-70B at TP 2 reads 70.555 GB per rank; at 0.1 GB/s that is 705.55 s
    // + 120 = 825.55 s; the limit is 3 x that = 2476.65 s, rounded up to 42 minutes.
    char *slow[] = {"--out", out, "--plan.read_gb_per_s", "0.1"};
    CHECK(sweep_load("configs/models/Meta-Llama-3-70B.yaml", 4, slow, &sw, &err) == 0);
    plan_model(&sw.models[0], &r, &err);
    // (+ its compute, a few seconds: 3 x (825.55 + 4.4) s still rounds up to 42 minutes)
    CHECK_NEAR(r.est_seconds - r.compute_seconds, 825.55, 0.01);
    CHECK(r.compute_seconds > 0 && r.compute_seconds < 10);
    CHECK_STR(r.slurm_time, "00:42:00");
    sweep_free(&sw);
    // TP 1 for Llama-3-70B does not fit 80 GB (141.1 GB per GPU); on 4 GPUs per node, TP 8 = 2 nodes
    char *tp1[] = {"--out", out, "--tp_size", "1"};
    CHECK(sweep_load("configs/models/Meta-Llama-3-70B.yaml", 4, tp1, &sw, &err) == 0);
    plan_model(&sw.models[0], &r, &err);
    CHECK(!r.fits);
    CHECK_NEAR(r.weights_per_gpu_bytes / 1e9, 141.1, 0.05);
    sweep_free(&sw);
    char *tp8[] = {"--out", out, "--tp_size", "8", "--slurm.gpus_per_node", "4"};
    CHECK(sweep_load("configs/models/Meta-Llama-3-70B.yaml", 6, tp8, &sw, &err) == 0);
    plan_model(&sw.models[0], &r, &err);
    CHECK(r.ranks == 8 && r.nodes == 2 && r.tasks_per_node == 4);
    CHECK_NEAR(r.weights_per_gpu_bytes / 1e9, 17.6, 0.05);
    sweep_free(&sw);
    // device: cpu requests no GPU even where slurm.request_gpus is true, and holds fp32 weights
    // (Mistral-7B: 2 x 14.48 GB); no GPU memory limit applies
    char *cpu[] = {"--out", out, "--device", "cpu"};
    CHECK(sweep_load("configs/models/Mistral-7B-v0.1.yaml", 4, cpu, &sw, &err) == 0);
    plan_model(&sw.models[0], &r, &err);
    CHECK(sw.models[0].slurm_request_gpus == 1 && r.gpus == 0 && r.ranks == 1 && r.fits);
    CHECK_NEAR(r.weights_per_gpu_bytes / 1e9, 2 * 14.483464192, 0.001);
    sweep_free(&sw);
    unsetenv("HF_HUB_CACHE");
}

TEST(sizes_from_config_json_and_status) {
    // A checkpoint found in the --local-dir layout under model_root: its config.json wins over the
    // table. Shapes chosen by hand: L=2, d=8, H=2, KV=1, hd=4, ff=16, V=100, untied, fp32 on disk.
    // Per block: q 8*8 + k,v 2*8*4 + o 8*8 + mlp 3*8*16 = 64+64+64+384 = 576 split, norms 2*8 = 16.
    // Embedding + head 2*100*8 = 1600, final norm 8. Params = 2*(576+16) + 1600 + 8 = 2792.
    // CPU run (device cpu, no GPUs requested) at TP 2: fp32 compute, per rank (2*576 + 1600)/2 + 2*16 + 8
    // = 1376 + 40 = 1416 params = 5664 bytes.
    char root[400], dir[600], out[400], cfgp[600];
    snprintf(root, sizeof root, "%s/models", g_dir);
    snprintf(dir, sizeof dir, "%s/org-tiny", root);
    snprintf(out, sizeof out, "%s/run1", g_dir);
    mkdir(root, 0755); mkdir(dir, 0755); mkdir(out, 0755);
    char cj[700];
    snprintf(cj, sizeof cj, "%s/config.json", dir);
    write_text(cj, "{\"architectures\": [\"LlamaForCausalLM\"], \"num_hidden_layers\": 2, \"hidden_size\": 8,"
                   " \"num_attention_heads\": 2, \"num_key_value_heads\": 1, \"head_dim\": 4, \"intermediate_size\": 16,"
                   " \"vocab_size\": 100, \"tie_word_embeddings\": false, \"torch_dtype\": \"float32\"}\n");
    snprintf(cfgp, sizeof cfgp, "%s/tiny.yaml", g_dir);
    char text[1200];
    snprintf(text, sizeof text,
             "model: org-tiny\nmodel_root: %s\nout_dir: %s\ntp_size: 2\ndevice: cpu\n"
             "slurm:\n  request_gpus: false\n  gpus_per_node: 1\n  time: \"1-00:00\"\n", root, out);
    write_text(cfgp, text);
    LwSweep sw;
    LwError err = {0};
    CHECK(sweep_load(cfgp, 0, NULL, &sw, &err) == 0);
    CHECKF(!err.set, "%s", err.msg);
    if (err.set) return;
    PlanRow r;
    CHECK(plan_model(&sw.models[0], &r, &err) == 0);
    CHECK(r.checkpoint_found);
    CHECK_STR(r.checkpoint, dir);
    CHECK_CONTAINS(r.shape.source, "config.json");
    CHECK(r.params == 2792);
    CHECK(r.weights_per_gpu_bytes == 5664);
    CHECK(r.gpus == 0 && r.ranks == 2 && r.nodes == 2 && r.tasks_per_node == 1);
    CHECK(r.fits);
    CHECK_STR(r.slurm_time, "1-00:00"); // slurm.time given: used as is
    CHECK(plan_row_status(&r) == PLAN_TODO);
    // done, then stale: the same model with another hashed option
    char h5[700];
    snprintf(h5, sizeof h5, "%s/org-tiny.h5", out);
    write_h5(h5, 1, sw.models[0].config_hash, 0);
    CHECK(plan_model(&sw.models[0], &r, &err) == 0 && plan_row_status(&r) == PLAN_DONE);
    sweep_free(&sw);
    char *cli[] = {"--topk_pure", "6"};
    CHECK(sweep_load(cfgp, 2, cli, &sw, &err) == 0);
    CHECK(plan_model(&sw.models[0], &r, &err) == 0 && plan_row_status(&r) == PLAN_STALE);
    sweep_free(&sw);
    // a threshold applied by export is not part of the hash: still done
    char *cli2[] = {"--copy_threshold", "0.9"};
    CHECK(sweep_load(cfgp, 2, cli2, &sw, &err) == 0);
    CHECK(plan_model(&sw.models[0], &r, &err) == 0 && plan_row_status(&r) == PLAN_DONE);
    sweep_free(&sw);
    // a found checkpoint whose heads do not split over tp_size: an error naming the config line
    char *cli3[] = {"--tp_size", "4"}; // 2 heads over 4 ranks
    memset(&err, 0, sizeof err);
    if (sweep_load(cfgp, 2, cli3, &sw, &err) == 0) {
        CHECK(plan_model(&sw.models[0], &r, &err) == -1);
        sweep_free(&sw);
    }
    CHECK_CONTAINS(err.msg, "tp_size: 4 is impossible");
    CHECK_CONTAINS(err.msg, "2 attention heads");
    // what run would refuse once it knows the shapes, refused before anything is queued:
    // skip-layer m = 3 of a 2-block model, a top-k of 101 over 100 vocabulary ids
    char *cli4[] = {"--skip_layers_m", "2,3"};
    memset(&err, 0, sizeof err);
    CHECK(sweep_load(cfgp, 2, cli4, &sw, &err) == 0);
    CHECK(plan_model(&sw.models[0], &r, &err) == -1);
    sweep_free(&sw);
    CHECK_CONTAINS(err.msg, "--skip_layers_m (command line): skip_layers_m: 3 is beyond the 2 blocks of org-tiny");
    char *cli5[] = {"--topk_records", "101"};
    memset(&err, 0, sizeof err);
    CHECK(sweep_load(cfgp, 2, cli5, &sw, &err) == 0);
    CHECK(plan_model(&sw.models[0], &r, &err) == -1);
    sweep_free(&sw);
    CHECK_CONTAINS(err.msg, "topk_records: 101 is larger than the vocabulary of org-tiny (100 ids");
}

TEST(resolved_config_keeps_the_hash) {
    // What `plan --write-configs` writes (config_print) and the job later runs must hash the same,
    // else every resubmission would re-run finished models.
    LwSweep sw;
    LwError err = {0};
    char *cli[] = {"--copy_margin", "0.2", "--positions", "3"};
    CHECK(sweep_load("configs/sweeps/ten-models.yaml", 4, cli, &sw, &err) == 0);
    if (err.set) return;
    for (int i = 0; i < sw.n; i++) {
        char p[600];
        snprintf(p, sizeof p, "%s/resolved-%d.yaml", g_dir, i);
        FILE *f = fopen(p, "w");
        config_print_sourced(f, &sw.models[i]);
        fclose(f);
        LwRunConfig c;
        char *argv[] = {p};
        memset(&err, 0, sizeof err);
        CHECK(config_from_args(&c, 1, argv, &err) == 0);
        CHECKF(!err.set, "%s", err.msg);
        CHECK_STR(c.config_hash, sw.models[i].config_hash);
        CHECK(c.positions == 3 && c.copy_margin == 0.2 && c.tp_size == sw.models[i].tp_size);
        // config_value_text -> --key=value -> the same value, for every option
        LwRunConfig d;
        config_defaults(&d);
        for (int k = 0; k < LW_N_OPTIONS; k++) {
            char *v = config_value_text(&c, &LW_OPTIONS[k]);
            char *arg = xasprintf("--%s=%s", LW_OPTIONS[k].name, v);
            char *a[1] = {arg};
            CHECKF(config_apply_cli(&d, 1, a, &err) == 0, "%s: %s", arg, err.msg);
            free(arg);
            free(v);
        }
        d.probe_set_inline = 1; // the probe set itself is not an option
        probe_set_free(&d.probe_set);
        probe_set_reference(&d.probe_set);
        CHECK(config_finalize(&d, &err) == 0);
        CHECK_STR(d.config_hash, c.config_hash);
        CHECK(d.copy_margin == 0.2 && d.copy_strict_sweep.n == 4 && d.copy_strict_sweep.v[3] == 0.95);
        config_free(&d);
        config_free(&c);
    }
    sweep_free(&sw);
}

TEST(slurm_option_errors) {
    // sbatch(1) --time: "minutes", "minutes:seconds", "hours:minutes:seconds", "days-hours",
    // "days-hours:minutes" and "days-hours:minutes:seconds"; memory: a number with K/M/G/T.
    static const struct { const char *yaml, *where, *msg; } bad[] = {
        {"slurm:\n  time: \"2h\"\n", "t.yaml:2:9", "slurm.time: '2h' is not a Slurm time limit"},
        {"slurm:\n  time: \"1:2:3:4\"\n", "t.yaml:2:9", "not a Slurm time limit"},
        {"slurm:\n  time: \"-1\"\n", "t.yaml:2:9", "not a Slurm time limit"},
        {"slurm:\n  mem_per_cpu: 4GB\n", "t.yaml:2:16", "slurm.mem_per_cpu: '4GB' is not a Slurm memory size"},
        {"slurm:\n  gpus_per_node: 0\n", "t.yaml:2:18", "slurm.gpus_per_node: 0 is out of range"},
        {"slurm:\n  cpus_per_tsk: 4\n", "t.yaml:2:3", "slurm.cpus_per_tsk: unknown key"},
        {"plan:\n  read_gb_per_s: fast\n", "t.yaml:2:18", "plan.read_gb_per_s: expects a number, got 'fast'"},
    };
    char p[400];
    snprintf(p, sizeof p, "%s/t.yaml", g_dir);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        write_text(p, bad[i].yaml);
        LwRunConfig c;
        LwError err = {0};
        config_defaults(&c);
        if (config_load_file(p, &c, &err) == 0) config_finalize(&c, &err);
        CHECKF(err.set, "case %zu accepted", i);
        CHECKF(strstr(err.msg, bad[i].where) != NULL, "case %zu: '%s' lacks '%s'", i, err.msg, bad[i].where);
        CHECKF(strstr(err.msg, bad[i].msg) != NULL, "case %zu: '%s' lacks '%s'", i, err.msg, bad[i].msg);
        config_free(&c);
    }
    static const char *good[] = {"30", "30:00", "02:00:00", "1-0", "1-02:00", "1-02:00:00", "UNLIMITED"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        char y[200];
        snprintf(y, sizeof y, "slurm:\n  time: \"%s\"\n  mem_per_cpu: 512M\n", good[i]);
        write_text(p, y);
        LwRunConfig c;
        LwError err = {0};
        config_defaults(&c);
        if (config_load_file(p, &c, &err) == 0) config_finalize(&c, &err);
        CHECKF(!err.set, "'%s' refused: %s", good[i], err.msg);
        config_free(&c);
    }
}

TEST(formatting) {
    char b[64];
    plan_format_slurm_time(b, sizeof b, 900);
    CHECK_STR(b, "00:15:00");
    plan_format_slurm_time(b, sizeof b, 901); // rounded up to the next minute
    CHECK_STR(b, "00:16:00");
    plan_format_slurm_time(b, sizeof b, 26 * 3600 + 60);
    CHECK_STR(b, "1-02:01:00");
    plan_format_duration(b, sizeof b, 58.3); // whole seconds, rounded up
    CHECK_STR(b, "59s");
    plan_format_duration(b, sizeof b, 59.2);
    CHECK_STR(b, "1m00s");
    plan_format_duration(b, sizeof b, 191);
    CHECK_STR(b, "3m11s");
    plan_format_duration(b, sizeof b, 7199);
    CHECK_STR(b, "2h00m");
}

int main(void) {
    snprintf(g_dir, sizeof g_dir, "/tmp/lw_test_plan.%d", (int)getpid());
    mkdir(g_dir, 0755);
    RUN(h5_status);
    RUN(ten_models_without_weights);
    RUN(sizes_from_config_json_and_status);
    RUN(resolved_config_keeps_the_hash);
    RUN(slurm_option_errors);
    RUN(formatting);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
    if (system(cmd)) {}
    return test_summary();
}

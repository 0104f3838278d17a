// export_summary — one lens's per-pass summary block in output-<model>.json, written by one
// writer for both lenses that have one: the norm lens's at the primary pass, among the keys of
// `diagnostics` (OUTPUTS.md §11.2 "Primary-pass summary"), and the tuned lens's, one object per
// pass in tuned_lens.summaries (§11.2's last paragraph, METRICS.md §19.3). Same keys in the same
// order; the surface/geometry keys end in the lens's name and cos_milestones is keyed by it.
// What else differs between the two is data of ExLensSummary (the flags below), so a change to
// the block is made once.
#ifndef LW_EXPORT_SUMMARY_H
#define LW_EXPORT_SUMMARY_H

#include "config/config.h"
#include "export/export_rules.h"
#include "export/pyfmt.h"
#include "runfile/run_read.h"

typedef struct {
    const char *lens;            // "norm" / "tuned": suffix of the surface/geometry keys, key in cos_milestones
    const ExPass *p;             // the pass
    const ExNext *x;             // the lens's NEXT values in it
    const ExRows *r;             // its per-layer rows (export_rules.h)
    const ExSummary *s;          // its §13 summary
    double teacher_entropy_bits; // H(P_final), what the entropy gap is taken against
    int n;                       // blocks (layers 0..n)
    int has;                     // 0: the lens has no values in this pass (milestones null, no entropy gap)
    int first_layer;             // first layer of the entropy gap (the tuned lens has no row 0)
    int depth_fractions;         // write depth_fractions (the norm lens)
    int confirmed;               // write the keys about the confirmed semantic layer (the norm lens) ...
    int L_confirmed;             // ... that layer (-1: unconfirmed)
    int signed_soft_deltas;      // copy_detector.deltas.Δ_sem_minus_copy_soft of a negative difference:
                                 // the number (norm lens) or null (tuned lens), as each block had it
} ExLensSummary;

// The block's keys, L_copy .. semantic_gate, into the object open in j.
void ex_summary_json(const LwRunConfig *c, const ExRun *run, const ExLensSummary *ls, JsonW *j);
// JSON pieces the other writers share: {"p25", "p50", "p75"} of p[0..2]; a list of integers.
void ex_json_pct3(JsonW *j, const double *p);
void ex_json_long_list(JsonW *j, const long *v, int n);
// Its semantic_margin and semantic_gate objects (also written into the top-level `summary`,
// where semantic_gate puts delta_abs first: summary_order 1).
void ex_summary_semantic_margin_json(const LwRunConfig *c, const ExRun *run, const ExLensSummary *ls, JsonW *j);
void ex_summary_semantic_gate_json(const LwRunConfig *c, const ExLensSummary *ls, int summary_order, JsonW *j);

#endif

// battery — probe sets as data (issue 15): items with an id, a prompt, one or more acceptable
// gold answers, an optional group (paraphrases of one fact) and an optional control prompt, read
// from YAML (`items:` list), JSON lines (one object per line) or CSV (a header row naming the
// columns), with the same keys everywhere: id, prompt, answer, group, control (docs/BATTERY.md).
//
// The format is chosen by the file's extension (.yaml/.yml, .jsonl/.ndjson, .csv) and checked
// against the content: a JSON-lines file named .csv is named as such, with a hint. Problems of
// single items (an empty prompt, a duplicate id, a malformed line, a missing or unknown key) do
// not stop the reading: every one is collected with its file:line, so a file with ten bad items
// costs one round trip. battery_check() turns the list into one error (exit 2), or, when skipping
// was asked for, drops those items and keeps them in `skipped` for the run file and the JSON.
// Problems found later (a prompt that tokenizes to nothing, an answer that cannot be aligned) are
// added with battery_add_problem() and go through the same battery_check().
#ifndef LW_BATTERY_H
#define LW_BATTERY_H

#include <stdint.h>
#include <stdio.h>

#include "util/util.h"

typedef struct {
    char *id;       // unique within the battery
    char *prompt;   // non-empty
    int n_answers;  // >= 1
    char **answers; // acceptable gold answers, in file order
    char *group;    // "" when none
    char *control;  // NULL when none
    int line;       // 1-based line of the file where the item starts
} LwBatteryItem;

typedef struct {
    int line;    // 1-based line of the item (0: the whole file)
    char *id;    // the item's id when it has one, else ""
    char *what;  // "<file>:<line>: <what is wrong> (hint: ...)"
} LwBatteryProblem;

typedef struct {
    char *path;
    const char *format;   // "yaml", "jsonl" or "csv"
    char *name;           // YAML `name:`, else the file's basename without extension
    int n_items;
    LwBatteryItem *items;
    int n_problems;       // found and not yet resolved by battery_check
    LwBatteryProblem *problems;
    int n_skipped;        // dropped by battery_check(skip = 1)
    LwBatteryProblem *skipped;
    uint64_t content_hash; // FNV-1a 64 over the items as read (config hash)
} LwBattery;

// 1 when path names a battery rather than a reference-style probe-set YAML: a .jsonl, .ndjson or
// .csv file, or a YAML file whose top level has the key `items`. 0 otherwise (also when the file
// cannot be read: probe_set_load then names the problem).
int battery_is_battery_path(const char *path);

// Reads the file. Returns 0 (item problems, if any, are in b->problems), or -1 with err when the
// file as a whole cannot be used (cannot be read, unknown extension, of another format, a YAML
// syntax error, a CSV header without the needed columns).
int battery_load(const char *path, LwBattery *b, LwError *err);

// Adds a problem of item i (line and id taken from it). fmt gives what is wrong, hint what to do.
void battery_add_problem(LwBattery *b, int item, const char *hint, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

// No problems: 0. Problems and skip == 0: -1 with err listing them (every one, or as many as the
// message holds with the rest printed as warnings first) and the hint to fix them or skip them.
// skip == 1: the items with problems are removed (kept in b->skipped, each reported with
// lw_warn), 0; -1 when no item is left or when a problem concerns the whole file.
int battery_check(LwBattery *b, int skip, const char *skip_option_where, LwError *err);

void battery_free(LwBattery *b);

#endif

// test_battery — the battery loader (config/battery.c, docs/BATTERY.md) on hand-written fixtures
// in tests/fixtures/battery/: the same three items read from YAML, JSON lines and CSV; every bad
// item of a file reported at once with its line (lines counted by hand in the fixtures); skipping;
// a file of another format than its extension says.
#include <stdlib.h>
#include <string.h>

#include "config/battery.h"
#include "config/config.h"
#include "test.h"

#define B FIXTURES "/battery/"

static int has_problem(const LwBattery *b, int line, const char *needle) {
    for (int i = 0; i < b->n_problems; i++)
        if (b->problems[i].line == line && strstr(b->problems[i].what, needle)) return 1;
    return 0;
}

// good.yaml, good.jsonl and good.csv hold the same three items (written by hand)
static void check_good(const char *file, const int lines[3]) {
    LwBattery b;
    LwError err = {0};
    int rc = battery_load(file, &b, &err);
    CHECKF(rc == 0, "%s: %s", file, err.msg);
    if (rc) return;
    CHECKF(b.n_items == 3 && b.n_problems == 0, "%s: %d items, %d problems", file, b.n_items, b.n_problems);
    if (b.n_items != 3) { battery_free(&b); return; }
    CHECK_STR(b.items[0].id, "de");
    CHECK_STR(b.items[0].prompt, "The capital of Germany is called");
    CHECK(b.items[0].n_answers == 1);
    CHECK_STR(b.items[0].answers[0], "Berlin");
    CHECK_STR(b.items[0].group, "germany");
    CHECK(b.items[0].control == NULL);
    CHECK_STR(b.items[1].id, "de-para");
    CHECK_STR(b.items[1].prompt, "Germany's capital city is named");
    CHECKF(b.items[1].n_answers == 2, "%s: %d answers", file, b.items[1].n_answers);
    if (b.items[1].n_answers == 2) { CHECK_STR(b.items[1].answers[0], "Berlin"); CHECK_STR(b.items[1].answers[1], "Berlin city"); }
    CHECK_STR(b.items[2].id, "fr");
    CHECK_STR(b.items[2].answers[0], "Paris");
    CHECK_STR(b.items[2].group, "");
    CHECK_STR(b.items[2].control, "The capital of Italy is called");
    for (int i = 0; i < 3; i++) CHECKF(b.items[i].line == lines[i], "%s: item %d at line %d, want %d", file, i, b.items[i].line, lines[i]);
    battery_free(&b);
}

TEST(same_items_in_three_formats) {
    static const int yl[3] = {4, 8, 12}, jl[3] = {1, 2, 4}, cl[3] = {2, 3, 4};
    check_good(B "good.yaml", yl);
    check_good(B "good.jsonl", jl);
    check_good(B "good.csv", cl);
    // the three formats give the same content hash (same items)
    LwBattery a, b, c;
    LwError err = {0};
    CHECK(battery_load(B "good.yaml", &a, &err) == 0 && battery_load(B "good.jsonl", &b, &err) == 0 &&
          battery_load(B "good.csv", &c, &err) == 0);
    CHECK(a.content_hash == b.content_hash && b.content_hash == c.content_hash);
    CHECK_STR(a.name, "capitals"); // YAML name:
    CHECK_STR(b.name, "good");     // else the basename
    battery_free(&a); battery_free(&b); battery_free(&c);
}

TEST(detection_by_extension_and_content) {
    CHECK(battery_is_battery_path(B "good.yaml"));
    CHECK(battery_is_battery_path(B "good.jsonl"));
    CHECK(battery_is_battery_path(B "good.csv"));
    CHECK(!battery_is_battery_path(FIXTURES "/probes/one-fact.yaml")); // a reference-style probe set
    LwBattery b;
    LwError err = {0};
    CHECK(battery_load(B "jsonl-named.csv", &b, &err) == -1);
    CHECKF(strstr(err.msg, "jsonl-named.csv") && strstr(err.msg, "looks like JSON lines") && strstr(err.msg, "not CSV"), "%s", err.msg);
    CHECKF(strstr(err.hint, ".jsonl"), "%s", err.hint);
    memset(&err, 0, sizeof err);
    CHECK(battery_load(B "csv-named.jsonl", &b, &err) == -1);
    CHECKF(strstr(err.msg, "looks like CSV") && strstr(err.msg, "not JSON lines"), "%s", err.msg);
    memset(&err, 0, sizeof err);
    CHECK(battery_load(B "bad-header.csv", &b, &err) == -1);
    CHECKF(strstr(err.msg, "bad-header.csv:1: column 3 'answers': unknown key"), "%s", err.msg);
}

TEST(every_bad_jsonl_item_at_once) {
    LwBattery b;
    LwError err = {0};
    CHECK(battery_load(B "bad.jsonl", &b, &err) == 0);
    CHECKF(b.n_problems == 6, "%d problems", b.n_problems);
    CHECK(has_problem(&b, 2, "bad.jsonl:2: item 'empty': empty prompt"));
    CHECK(has_problem(&b, 3, "duplicate id 'ok1' (first at line 1)"));
    CHECK(has_problem(&b, 4, "bad.jsonl:4: malformed line"));
    CHECK(has_problem(&b, 5, "item 'noans': missing `answer`"));
    CHECK(has_problem(&b, 6, "hint: unknown key"));
    CHECK(has_problem(&b, 7, "item 'ok2': answer 2 is empty"));
    // not skipping: one error naming them all, with the skip option in the hint
    CHECK(battery_check(&b, 0, "default", &err) == -1);
    CHECKF(strstr(err.msg, "6 bad items") && strstr(err.msg, "bad.jsonl:2:") && strstr(err.msg, "bad.jsonl:7:"), "%s", err.msg);
    CHECKF(strstr(err.hint, "skip_bad_items"), "%s", err.hint);
    // skipping: ok1 (line 1) and ok3 (line 8) are left, six skipped
    memset(&err, 0, sizeof err);
    CHECK(battery_check(&b, 1, "default", &err) == 0);
    CHECKF(b.n_items == 2 && b.n_skipped == 6, "%d items, %d skipped", b.n_items, b.n_skipped);
    if (b.n_items == 2) { CHECK_STR(b.items[0].id, "ok1"); CHECK(b.items[0].line == 1); CHECK_STR(b.items[1].id, "ok3"); }
    battery_free(&b);
}

TEST(every_bad_csv_item_at_once) {
    LwBattery b;
    LwError err = {0};
    CHECK(battery_load(B "bad.csv", &b, &err) == 0);
    CHECKF(b.n_problems == 5, "%d problems", b.n_problems);
    CHECK(has_problem(&b, 3, "item 'b': empty prompt"));
    CHECK(has_problem(&b, 4, "duplicate id 'a' (first at line 2)"));
    CHECK(has_problem(&b, 5, "malformed line: a quote out of place"));
    CHECK(has_problem(&b, 6, "malformed line: 5 fields, the header has 4"));
    CHECK(has_problem(&b, 7, "item 'e': answer 2 is empty"));
    CHECK(battery_check(&b, 1, "default", &err) == 0);
    CHECKF(b.n_items == 2, "%d items", b.n_items);
    if (b.n_items == 2) { CHECK_STR(b.items[0].id, "a"); CHECK_STR(b.items[1].id, "f"); CHECK(b.items[1].line == 8); }
    battery_free(&b);
}

TEST(every_bad_yaml_item_at_once) {
    LwBattery b;
    LwError err = {0};
    CHECK(battery_load(B "bad.yaml", &b, &err) == 0);
    CHECKF(b.n_problems == 5, "%d problems", b.n_problems);
    CHECK(has_problem(&b, 5, "item 'b': empty prompt"));
    CHECK(has_problem(&b, 8, "item 'c': missing `answer`"));
    CHECK(has_problem(&b, 10, "colour (line 13): unknown key"));
    CHECK(has_problem(&b, 14, "duplicate id 'a' (first at line 2)"));
    CHECK(has_problem(&b, 17, "malformed item"));
    CHECK(battery_check(&b, 1, "default", &err) == 0);
    CHECKF(b.n_items == 1 && b.n_skipped == 5, "%d items %d skipped", b.n_items, b.n_skipped);
    battery_free(&b);
}

TEST(later_problems_and_all_skipped) {
    LwBattery b;
    LwError err = {0};
    CHECK(battery_load(B "good.jsonl", &b, &err) == 0);
    battery_add_problem(&b, 1, "choose another answer", "item '%s': answer cannot be aligned", b.items[1].id);
    CHECK(battery_check(&b, 0, "default", &err) == -1);
    CHECKF(strstr(err.msg, "1 bad item:") && strstr(err.msg, "good.jsonl:2: item 'de-para': answer cannot be aligned (hint: choose another answer)"),
           "%s", err.msg);
    memset(&err, 0, sizeof err);
    for (int i = 0; i < 3; i++) battery_add_problem(&b, i, NULL, "bad");
    CHECK(battery_check(&b, 1, "default", &err) == -1); // nothing left to run
    CHECKF(strstr(err.msg, "every item was skipped"), "%s", err.msg);
    battery_free(&b);
}

// A config naming a battery by `probes` carries it (the reference probe set stays loaded).
TEST(config_names_a_battery) {
    LwRunConfig cfg;
    LwError err = {0};
    char *argv[] = {"--model", "x", "--probes", B "good.csv", "--skip-bad-items"};
    int rc = config_from_args(&cfg, 5, argv, &err);
    CHECKF(rc == 0, "%s", err.msg);
    if (rc) return;
    CHECK(cfg.battery && cfg.battery->n_items == 3 && cfg.skip_bad_items == 1);
    char h1[17];
    memcpy(h1, cfg.config_hash, sizeof h1);
    config_free(&cfg);
    char *argv2[] = {"--model", "x", "--probes", B "good.yaml"};
    CHECK(config_from_args(&cfg, 4, argv2, &err) == 0);
    CHECK(!strcmp(h1, cfg.config_hash)); // same items: same measurements, same hash
    config_free(&cfg);
    char *argv3[] = {"--model", "x", "--probes", B "bad.jsonl"};
    CHECK(config_from_args(&cfg, 4, argv3, &err) == 0);
    CHECK(strcmp(h1, cfg.config_hash) != 0);
    config_free(&cfg);
}

int main(void) {
    RUN(same_items_in_three_formats);
    RUN(detection_by_extension_and_content);
    RUN(every_bad_jsonl_item_at_once);
    RUN(every_bad_csv_item_at_once);
    RUN(every_bad_yaml_item_at_once);
    RUN(later_problems_and_all_skipped);
    RUN(config_names_a_battery);
    return test_summary();
}

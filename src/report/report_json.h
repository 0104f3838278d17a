// report_json — finding a value in an exported JSON and the line it sits on.
//
// The cross-model table cites every number by file and line (output-<model>.json:900), as the
// published cross-model evaluation does, so a reader can check it in the file. The exporter
// writes JSON with 2-space indentation and one key per line (OUTPUTS.md §11), so a key's line
// is found by following the indentation; compact JSON simply yields no line number.
#ifndef LW_REPORT_JSON_H
#define LW_REPORT_JSON_H

#include <jansson.h>

// Value at a '/'-separated path of object keys ("diagnostics/first_kl_below_0.5"); NULL if a
// key is absent (a JSON null is returned as jansson's null value, not NULL).
json_t *report_json_path(json_t *root, const char *path);

// 1-based line of the key that ends path in the pretty-printed text, or 0 when not found.
int report_json_line(const char *text, const char *path);

#endif

// report_json — see report_json.h.
#include "report/report_json.h"

#include <string.h>

json_t *report_json_path(json_t *root, const char *path) {
    json_t *v = root;
    const char *p = path;
    char key[256];
    while (v && *p) {
        const char *slash = strchr(p, '/');
        size_t len = slash ? (size_t)(slash - p) : strlen(p);
        if (len >= sizeof key || !json_is_object(v)) return NULL;
        memcpy(key, p, len);
        key[len] = 0;
        v = json_object_get(v, key);
        p = slash ? slash + 1 : p + len;
    }
    return v;
}

#define MAX_DEPTH 32

int report_json_line(const char *text, const char *path) {
    if (!text || !path) return 0;
    // Split the path into segments.
    const char *seg[MAX_DEPTH];
    size_t seg_len[MAX_DEPTH];
    int n_seg = 0;
    for (const char *p = path; *p && n_seg < MAX_DEPTH;) {
        const char *slash = strchr(p, '/');
        seg[n_seg] = p;
        seg_len[n_seg] = slash ? (size_t)(slash - p) : strlen(p);
        n_seg++;
        if (!slash) break;
        p = slash + 1;
    }
    // matched[d] = the key at depth d (1-based) equals seg[d-1] and every shallower one matched.
    int matched[MAX_DEPTH + 1] = {1};
    int line = 1;
    for (const char *p = text; *p; line++) {
        const char *eol = strchr(p, '\n');
        if (!eol) eol = p + strlen(p);
        int indent = 0;
        while (p + indent < eol && p[indent] == ' ') indent++;
        if (p[indent] == '"' && indent % 2 == 0 && indent > 0) {
            int depth = indent / 2;
            const char *k = p + indent + 1, *q = k;
            while (q < eol && *q != '"') q += (*q == '\\' && q + 1 < eol) ? 2 : 1;
            if (depth <= n_seg && depth <= MAX_DEPTH) {
                size_t klen = (size_t)(q - k);
                matched[depth] = matched[depth - 1] && klen == seg_len[depth - 1] &&
                                 memcmp(k, seg[depth - 1], klen) == 0;
                if (matched[depth] && depth == n_seg) return line;
            }
        }
        p = *eol ? eol + 1 : eol;
    }
    return 0;
}

// config_yaml — see config_yaml.h.
#include "config/config_yaml.h"

#include <stdlib.h>
#include <string.h>

int yaml_load_doc(const char *path, yaml_document_t *doc, LwError *err) {
    size_t len = 0;
    char *text = lw_read_file(path, &len, err);
    if (!text) return -1;
    yaml_parser_t p;
    yaml_parser_initialize(&p);
    yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
    int ok = yaml_parser_load(&p, doc);
    if (!ok) {
        yaml_mark_t m = p.problem_mark;
        lw_err(err, "fix the YAML syntax at that place (indentation, quotes, a missing ':')",
               "%s:%zu:%zu: YAML syntax error: %s%s%s", path, m.line + 1, m.column + 1,
               p.problem ? p.problem : "unreadable", p.context ? " " : "", p.context ? p.context : "");
    }
    yaml_parser_delete(&p);
    free(text);
    return ok ? 0 : -1;
}

void yaml_where(char *buf, size_t n, const char *file, const yaml_node_t *node) {
    snprintf(buf, n, "%s:%zu:%zu", file, node->start_mark.line + 1, node->start_mark.column + 1);
}

const char *yaml_scalar(const yaml_node_t *node) {
    return node && node->type == YAML_SCALAR_NODE ? (const char *)node->data.scalar.value : NULL;
}

void config_format_double(char *buf, size_t n, double v) {
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, n, "%.*g", prec, v);
        if (strtod(buf, NULL) == v) break;
    }
    // keep a float looking like one in YAML ("1" -> "1.0") unless it uses an exponent
    if (!strpbrk(buf, ".eEn") && strlen(buf) + 3 < n) strcat(buf, ".0");
}

void config_print_string(FILE *f, const char *s) {
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
        if (*p == '"' || *p == '\\') fprintf(f, "\\%c", *p);
        else if (*p == '\n') fputs("\\n", f);
        else if (*p == '\t') fputs("\\t", f);
        else if (*p < 0x20) fprintf(f, "\\x%02x", *p);
        else fputc(*p, f);
    }
    fputc('"', f);
}

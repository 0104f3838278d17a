// config_internal — helpers shared by the config/*.c files (not a public API).
#ifndef LW_CONFIG_INTERNAL_H
#define LW_CONFIG_INTERNAL_H

#include <yaml.h>

#include "config/config.h"

// Sets an option from text (defaults, environment, CLI): lists are comma-separated, with optional
// [ ]. `where` names the source for errors ("--lenses (command line)"). Returns 0 or -1 with err.
int opt_set_text(LwRunConfig *cfg, const LwOption *o, const char *text, const char *where, LwError *err);
// Sets an option from a YAML node (scalar or sequence). Errors are "<file>:<l>:<c>: <key>: ...".
int opt_set_node(LwRunConfig *cfg, const LwOption *o, yaml_document_t *doc, yaml_node_t *node,
                 const char *file, LwError *err);
// Nearest option name (or structural key) to `key`, or NULL when nothing is close.
const char *config_nearest_key(const char *key);
// "file:line:col" of a node (1-based).
void yaml_where(char *buf, size_t n, const char *file, const yaml_node_t *node);
// Parses a whole file into doc; errors carry file:line:col of libyaml's complaint.
int yaml_load_doc(const char *path, yaml_document_t *doc, LwError *err);
// Returns the scalar text of node or NULL when it is not a scalar.
const char *yaml_scalar(const yaml_node_t *node);
int probe_set_from_node(LwProbeSet *ps, yaml_document_t *doc, yaml_node_t *root, const char *file, LwError *err);
void probe_set_print(FILE *f, const LwProbeSet *ps, const char *indent);
void config_print_string(FILE *f, const char *s); // YAML double-quoted
void config_format_double(char *buf, size_t n, double v); // shortest text that round-trips

#endif

// config_yaml — the YAML helpers every config file shares: loading a document (libyaml's document
// API keeps the line and column of every node, so errors can point at a key), node positions and
// scalars, and the YAML text of strings and doubles that the canonical printing writes. Internal
// to config/; below config.c, config_load.c, probe_set.c and battery.c.
#ifndef LW_CONFIG_YAML_H
#define LW_CONFIG_YAML_H

#include <stdio.h>
#include <yaml.h>

#include "util/util.h"

// "file:line:col" of a node (1-based).
void yaml_where(char *buf, size_t n, const char *file, const yaml_node_t *node);
// Parses a whole file into doc; errors carry file:line:col of libyaml's complaint.
int yaml_load_doc(const char *path, yaml_document_t *doc, LwError *err);
// Returns the scalar text of node or NULL when it is not a scalar.
const char *yaml_scalar(const yaml_node_t *node);
void config_print_string(FILE *f, const char *s); // YAML double-quoted
void config_format_double(char *buf, size_t n, double v); // shortest text that round-trips

#endif

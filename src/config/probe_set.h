// probe_set — reading and printing probe sets inside config/ (not a public API; the public
// probe_set_load is in config.h). Below config.c (which prints the set) and config_load.c
// (which reads `probe_set:` keys).
#ifndef LW_CONFIG_PROBE_SET_H
#define LW_CONFIG_PROBE_SET_H

#include "config/config.h"
#include "config/config_yaml.h"

int probe_set_from_node(LwProbeSet *ps, yaml_document_t *doc, yaml_node_t *root, const char *file, LwError *err);
void probe_set_print(FILE *f, const LwProbeSet *ps, const char *indent);

#endif

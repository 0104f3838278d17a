// lens_temps — the temperature grids of the lens's temperature probes, fp32 like the reference.
#ifndef LW_LENS_TEMPS_H
#define LW_LENS_TEMPS_H

// §9 last-layer probe: last_temps[i] = 10^(log10(min) + (log10(max) - log10(min))·i/(n_last-1)).
void lens_last_temp_grid(double min, double max, int n_last, double *last_temps);
// §10 norm-temperature calibration: grid[g] = exp(ln(min) + (ln(max) - ln(min))·g/(G-1)).
void lens_norm_temp_grid(double min, double max, int G, double *grid);

#endif

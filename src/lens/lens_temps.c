// lens_temps — see lens_temps.h.
#include "lens/lens_temps.h"

#include <math.h>

// §9 grid: s = 10^(log10(min) + (log10(max) - log10(min))·i/(N-1)), fp32 like the reference
void lens_last_temp_grid(double min, double max, int n_last, double *last_temps) {
    for (int i = 0; i < n_last; i++) {
        double a = log10(min), b = log10(max);
        last_temps[i] = (float)pow(10.0, a + (b - a) * i / (n_last - 1));
    }
}

void lens_norm_temp_grid(double min, double max, int G, double *grid) {
    for (int g = 0; g < G; g++) {
        double a = log(min), b = log(max);
        grid[g] = (float)exp(a + (b - a) * g / (G - 1));
    }
}

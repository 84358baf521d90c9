// fa-lint: allow(FA602) a reason
int x; /* fa-lint: allow(FA601, FA6O2) */

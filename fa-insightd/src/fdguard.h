/* fdguard.h — surviving descriptor exhaustion.
 *
 * nng 1.5.2's HTTP server retries a failed accept at once: out of
 * descriptors (EMFILE), accept fails while the listening socket stays
 * readable, and the daemon spins at 100 % CPU inside nng. This module
 * interposes accept() and accept4() for the whole process (nng's calls
 * resolve to them):
 * when accept4 fails for lack of descriptors it frees a spare descriptor
 * held for the purpose, accepts the waiting connection and closes it at
 * once (counted: connections_shed), takes the spare back, and tells the
 * caller "try again later" (EAGAIN), so nng waits for the next connection
 * instead of spinning. When descriptors free up, accepts succeed again.
 *
 * The same interposition hands every accepted connection to conns.c (the
 * connection cap and timeouts nng lacks), and close() is interposed too so
 * that conns.c forgets a connection before its descriptor is closed. */
#ifndef FA_INSIGHTD_FDGUARD_H
#define FA_INSIGHTD_FDGUARD_H

/* Start-up, before any listener: takes the spare descriptor. Returns 0,
 * or -1 when the guard cannot work (then accept4 is only passed through). */
int fdguard_init(void);

#endif

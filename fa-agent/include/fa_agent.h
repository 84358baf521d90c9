/*
 * fa_agent.h — live memory telemetry for a game that uses framealloc.
 *
 * WHAT IT IS
 *   libfa-agent sits beside libframealloc in the game. At the end of every
 *   frame (through lib's fa_on_frame_end hook, so the game keeps calling only
 *   fa_end_frame) it takes a snapshot straight into a slot of a preallocated
 *   single-producer ring; a sender thread turns each snapshot into fa_proto
 *   messages (HELLO, TAGS, FRAME), encodes them and ships them to
 *   fa-insightd over an nng PUSH socket with non-blocking sends. Encoding is
 *   the sender's job because it costs as much as the snapshot itself (see
 *   fa-agent/README.md). The game thread never blocks and never calls malloc
 *   after fa_agent_start(): when the daemon is absent or slow, frames are
 *   dropped and counted by reason, and the dialer reconnects by itself (each
 *   new connection starts with a HELLO carrying the full tag dictionary). An
 *   optional file emitter writes JSON snapshots into a directory on request
 *   (a `snapshot.request` file) or periodically. The same messages can also
 *   go to a capture file, instead of or beside the daemon (capture_path, or
 *   FA_INSIGHT_URL=file:PATH with no code change): one complete session per
 *   file, read by `fa-cli compare` and `fa-cli export` without a daemon and
 *   imported by fa-insightd (format: proto/PROTOCOL.md §10).
 *
 * QUICK START
 *     fa_alloc_t *fa = fa_create(NULL);
 *     fa_agent_t *agent = NULL;
 *     int rc = fa_agent_start(fa, &(fa_agent_desc_t){.session_label = "level 3"}, &agent);
 *     if (rc != FA_OK) log("telemetry off: %s", fa_strerror(rc));  // the game runs on
 *     for (;;) {
 *         fa_begin_frame(fa);
 *         ...
 *         fa_end_frame(fa);               // the agent's hook runs in here
 *     }
 *     fa_agent_stop(agent, NULL);         // flush, BYE, close (bounded time)
 *     fa_destroy(fa);
 *   Build: cc game.c $(pkg-config --cflags --libs fa-agent)
 *   The URL comes from the desc, else from the environment variable
 *   FA_INSIGHT_URL, else tcp://127.0.0.1:7879. A URL file:PATH (or
 *   file://PATH) writes a capture file at PATH instead of streaming.
 *
 * THREADS
 *   - Game thread: the thread whose fa_end_frame() ends the context's frame
 *     (lib's main thread). The agent's hook runs there: lib's
 *     fa_snapshot_take() (O(threads x tags), lib's thread-list lock) into a
 *     ring slot, plus O(1) of its own: no lock, no system call, no malloc.
 *     With no daemon connected it does not even take the snapshot.
 *   - Sender thread: one per agent, started by fa_agent_start(). It builds,
 *     encodes and sends the messages, appends them to the capture file
 *     (one write() each), checks the request file, writes JSON files
 *     (cJSON, malloc, file I/O) and runs the log callback.
 *   - nng's own threads dial and redial; their pipe callbacks only set
 *     atomic flags.
 *   - fa_agent_stats() and fa_agent_request_snapshot() may be called by any
 *     thread at any time while the agent lives.
 *
 * OWNERSHIP
 *   fa_agent_start() allocates the agent and everything the game thread
 *   will use (the ring and its snapshot arrays) and copies the desc's
 *   strings; fa_agent_stop() frees all of it. The fa_alloc_t MUST outlive
 *   the agent (queued snapshots point at lib's tag paths): stop the agent
 *   before fa_destroy().
 *
 * FORK
 *   nng cannot run in a forked child (it aborts: "nng is not fork-reentrant
 *   safe"), and the child has no sender thread. So, through a pthread_atfork
 *   child handler, the child's copy of every agent is inert: its hook only
 *   counts frames as dropped ("disconnected"), fa_agent_stats() reports it
 *   never connected, and fa_agent_stop() frees the copy without touching nng
 *   or the parent's thread and returns FA_ERR_STATE. In a child of a process
 *   whose agent had opened nng, fa_agent_start() returns FA_ERR_STATE (and
 *   logs FA_AGENT_LOG_FORKED) instead of aborting. The parent's agent is not
 *   affected. To stream from a child: exec() there, or start agents only in
 *   children, never in the parent before fork().
 *
 * ERRORS
 *   Functions that return int return FA_OK (0) or a negative fa_err from
 *   framealloc.h. nng and errno failures are mapped where they enter
 *   (FA_ERR_INVALID_ARG for a URL nng refuses, FA_ERR_SYSTEM otherwise) and
 *   reported with their native code through the log callback. The agent
 *   never prints and never calls exit.
 */
#ifndef FA_AGENT_H
#define FA_AGENT_H

#include <framealloc.h>

#include <stdbool.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The daemon's default ingest address, and the environment variable that
 * overrides it when the desc leaves the URL empty. */
#define FA_AGENT_DEFAULT_URL "tcp://127.0.0.1:7879"
#define FA_AGENT_URL_ENV "FA_INSIGHT_URL"
/* The protocol the stream speaks when the desc leaves it 0: "1.1" for a
 * daemon older than 1.2 (one FRAME per frame), "1.2" (the default). */
#define FA_AGENT_PROTO_ENV "FA_INSIGHT_PROTO"
/* When the desc leaves them empty: a file whose first line is the daemon's
 * shared ingest secret, and the PEM file of the certificate authorities
 * that signed the daemon's certificate (tls+tcp:// URLs). fa-cli reads the
 * same FA_INSIGHT_CA for HTTPS. */
#define FA_AGENT_SECRET_FILE_ENV "FA_INSIGHT_SECRET_FILE"
#define FA_AGENT_CA_ENV "FA_INSIGHT_CA"

/* The request file the file emitter looks for in its directory, and the
 * names of the files it writes: snapshot_<frame>.json. */
#define FA_AGENT_REQUEST_FILE "snapshot.request"

typedef struct fa_agent_s fa_agent_t;

/* ------------------------------------------------------------------------ */
/* Log items                                                                 */
/* ------------------------------------------------------------------------ */

/* What the agent reports through fa_agent_desc_t.log_cb: id, value, text.
 * Ids are stable; tests assert on them, not on the text. */
#define FA_AGENT_LOG_TABLE(X)                                                                                \
    X(FA_AGENT_LOG_CONNECTED, 1, "connected to the daemon")                                                  \
    X(FA_AGENT_LOG_DISCONNECTED, 2, "connection to the daemon lost")                                         \
    X(FA_AGENT_LOG_HELLO_SENT, 3, "session announced (HELLO sent)")                                          \
    X(FA_AGENT_LOG_SEND_FAILED, 4, "an nng send failed")                                                     \
    X(FA_AGENT_LOG_FLUSH_TIMEOUT, 5, "stop: pending frames dropped at time-out")                             \
    X(FA_AGENT_LOG_BYE_SENT, 6, "stop: BYE sent")                                                            \
    X(FA_AGENT_LOG_BYE_NOT_SENT, 7, "stop: BYE could not be sent")                                           \
    X(FA_AGENT_LOG_SNAPSHOT_WRITTEN, 8, "JSON snapshot file written")                                        \
    X(FA_AGENT_LOG_SNAPSHOT_FAILED, 9, "JSON snapshot file not written")                                     \
    X(FA_AGENT_LOG_DIAL_FAILED, 10, "nng refused the URL or the dialer")                                     \
    X(FA_AGENT_LOG_UNREACHABLE, 11, "the daemon has been unreachable for unreachable_ms (value: ms)")        \
    X(FA_AGENT_LOG_REACHABLE, 12, "the daemon is reachable again (value: ms it was not)")                    \
    X(FA_AGENT_LOG_FORKED, 13, "fa_agent_start in a forked child: nng cannot run there")                     \
    X(FA_AGENT_LOG_CAPTURE_FAILED, 14, "capture file not opened or not written")                             \
    X(FA_AGENT_LOG_BAD_PROTOCOL, 15, "protocol_minor or $FA_INSIGHT_PROTO (detail) is not 1.1 or 1.2")       \
    X(FA_AGENT_LOG_SECRET_FAILED, 16, "ingest secret file not read (detail: its path, never the secret)")     \
    X(FA_AGENT_LOG_TLS_FAILED, 17, "TLS set-up refused (detail: the CA file or the reason)")

typedef enum fa_agent_log_id {
#define FA_AGENT__LOG_ENUM(name, value, msg) name = value,
    FA_AGENT_LOG_TABLE(FA_AGENT__LOG_ENUM)
#undef FA_AGENT__LOG_ENUM
} fa_agent_log_id;

typedef struct fa_agent_log_event {
    fa_agent_log_id id;
    int code;           /* native error (nng_err or errno) when relevant, else 0 */
    uint64_t value;     /* id-specific: frame number of a snapshot file,
                           frames dropped at a flush time-out, bytes sent,
                           the capture file's size kept after a failed write */
    const char *detail; /* human text (a path, a URL), valid during the call */
} fa_agent_log_event_t;

/* Runs on the agent's sender thread (or, for FA_AGENT_LOG_DIAL_FAILED,
 * _SECRET_FAILED, _TLS_FAILED and a capture file that cannot be opened, on
 * the thread calling
 * fa_agent_start). It MUST NOT block for long, MUST NOT
 * call fa_agent_stop() and MUST NOT assume it runs on the game thread. */
typedef void (*fa_agent_log_cb)(const fa_agent_log_event_t *ev, void *user);

/* The enum name of a log id ("FA_AGENT_LOG_CONNECTED"; "FA_AGENT_LOG_UNKNOWN"
 * otherwise) and its text. Static storage, any thread, O(1). */
FA_API const char *fa_agent_log_name(int id);
FA_API const char *fa_agent_log_text(int id);

/* ------------------------------------------------------------------------ */
/* Configuration                                                             */
/* ------------------------------------------------------------------------ */

typedef enum fa_agent_emit_mode {
    FA_AGENT_EMIT_DEFAULT = 0, /* REQUEST when emit_dir is set, else OFF */
    FA_AGENT_EMIT_OFF = 1,     /* no files */
    FA_AGENT_EMIT_REQUEST = 2, /* one file per <dir>/snapshot.request (or
                                  fa_agent_request_snapshot()), rate-limited */
    FA_AGENT_EMIT_AUTO = 3     /* one file every emit_interval_ms, requests too */
} fa_agent_emit_mode;

/* Zero means "default" for every field (read the defaults back with
 * fa_agent_desc_effective()). Strings are copied by fa_agent_start(). */
typedef struct fa_agent_desc {
    const char *url;           /* NULL/"": $FA_INSIGHT_URL, else the default */
    const char *app_name;      /* NULL/"": the program's name */
    const char *session_label; /* free text shown by the daemon; "" */
    const char *build_id;      /* the game's build identifier; "" */
    /* Ring and message sizes. Memory: ring_slots x (max_tags x
     * sizeof(fa_tag_row_t) + max_threads x sizeof(fa_thread_row_t) +
     * max_findings x sizeof(fa_finding_t) + 4 x max_site_rows x
     * sizeof(fa_site_row_t)), allocated at start; only the rows a game
     * really has are ever touched (site rows are touched at start: 2.6 MB
     * with the defaults). A slot holds up to 4 x max_site_rows active
     * (site, tag) pairs as they are, and the sender ranks them into at most
     * max_site_rows rows; with more active pairs, lib ranks them on the game
     * thread (the same rows, at a higher cost there). */
    uint32_t ring_slots;   /* snapshots queued for the sender; 64, rounded
                              up to a power of two, at least 2 */
    uint32_t max_tags;     /* tag rows per FRAME; lib's max_tags, at most
                              4096 (tags beyond are counted, not sent) */
    uint32_t max_threads;  /* thread rows per FRAME; 64 */
    uint32_t max_findings; /* behaviour findings per FRAME; 64 */
    uint32_t max_site_rows; /* call-site rows per FRAME; 256 (at most 4096):
                               the largest (site, tag) pairs, and the rest of
                               each tag in its one "other" row, so that the
                               rows always add up to the tag rows */
    /* Transport. */
    uint32_t stop_timeout_ms;  /* bound of fa_agent_stop(); 1000 */
    uint32_t send_wait_ms;     /* how long the sender waits for nng to take
                                  one message before dropping it; 5 */
    uint32_t idle_sleep_us;    /* sender's sleep when the ring is empty; 1000 */
    uint32_t reconnect_min_ms; /* nng redial interval; 100 */
    uint32_t reconnect_max_ms; /* its exponential back-off bound; 1000 */
    uint32_t send_buffer;      /* NNG_OPT_SENDBUF in messages; 0 (default):
                                  unbuffered, so that nng takes a message only
                                  when the connection can carry it, and the
                                  agent's ring is the one queue */
    /* Capture file (proto/PROTOCOL.md §10): the session's messages appended
     * to PATH by the sender thread, beside the stream. NULL/"": none, unless
     * the URL is file:PATH, which captures to PATH instead of streaming (a
     * different capture_path then is FA_ERR_INVALID_ARG). The file is
     * created or truncated by fa_agent_start(). */
    const char *capture_path;
    /* File emitter. */
    const char *emit_dir; /* NULL/"": no file emitter */
    fa_agent_emit_mode emit_mode;
    uint32_t emit_keep;        /* newest files kept; 8 */
    uint32_t emit_interval_ms; /* least time between two files (and AUTO's
                                  period); 1000 */
    uint32_t emit_poll_ms;     /* how often the sender checks for the
                                  request file; 100 */
    /* Observability. */
    uint32_t unreachable_ms; /* no daemon for this long (since start or since
                                the connection was lost): one
                                FA_AGENT_LOG_UNREACHABLE, then one
                                FA_AGENT_LOG_REACHABLE when it is back; 3000 */
    fa_agent_log_cb log_cb;  /* NULL: nothing reported */
    void *log_user;
    /* Re-announcement. */
    uint32_t hello_interval_ms; /* the HELLO is sent again this often on a
                                   connection, so that a daemon which lost it
                                   (restarted, or its queue was full) learns
                                   the session's name and tags; 10000 */
    /* Protocol 1.2 (proto/PROTOCOL.md §5.6): when the sender is behind, the
     * snapshots waiting in the ring leave in one FRAMES message (up to
     * max_batch of them); a snapshot that finds the sender idle leaves at
     * once, alone. Tag rows are sent only when they changed since the
     * previous frame, with a key frame (every row) at least every
     * keyframe_interval frames: all that a lost message can cost. A daemon
     * older than 1.2 cannot read FRAMES (it counts them as unknown and
     * stores no frame) and the agent cannot tell (PUSH has no back
     * channel): set protocol_minor to 1 for such a daemon. The capture
     * file always holds 1.1 FRAMEs. */
    uint32_t protocol_minor;    /* 0: $FA_INSIGHT_PROTO ("1.1" or "1.2"),
                                   else 2; 1: one FRAME per frame (1.1); 2 */
    uint32_t max_batch;         /* frames per message at most; 32 (1..256) */
    uint32_t keyframe_interval; /* frames; 60 (1: every frame is a key) */
    /* Remote daemons (fa-insightd --ingest tls+tcp://... --ingest-secret-file).
     * ingest_secret: the daemon's shared secret, sent in every HELLO to the
     * daemon (never to the capture file; 1 to 255 bytes, longer is
     * FA_ERR_INVALID_ARG). NULL/"": the first line (surrounding white space
     * removed) of the file $FA_INSIGHT_SECRET_FILE names, when set; an
     * unreadable or empty file is FA_ERR_INVALID_ARG (logged
     * FA_AGENT_LOG_SECRET_FAILED). Without a secret none is sent, and a
     * daemon that requires one refuses the session. The secret is sent in
     * clear inside the message: use it with tls+tcp://.
     * tls_ca_file: PEM certificate authorities that signed the daemon's
     * certificate, for a tls+tcp:// URL (the daemon's certificate and its
     * name, the URL's host, are verified). NULL/"": $FA_INSIGHT_CA; a
     * tls+tcp:// URL without either, or a file nng cannot load, is
     * FA_ERR_INVALID_ARG (logged FA_AGENT_LOG_TLS_FAILED). Both are copied
     * by fa_agent_start(); the secret's copy is wiped when the agent is
     * freed, and fa_agent_desc_effective() reports it as NULL. */
    const char *ingest_secret;
    const char *tls_ca_file;
} fa_agent_desc_t;

/* ------------------------------------------------------------------------ */
/* Counters                                                                  */
/* ------------------------------------------------------------------------ */

/* Counters since the agent started. Each is read atomically, but they are
 * not one consistent set while frames flow; after fa_agent_stop() they are
 * final and, when the agent streams, frames_seen == frames_sent +
 * frames_dropped (a capture-only agent sends nothing and counts only
 * dropped_ring_full). */
typedef struct fa_agent_stats {
    uint64_t frames_seen;           /* frame ends the agent's hook ran for */
    uint64_t frames_sent;           /* FRAME messages handed to nng */
    uint64_t frames_dropped;        /* the sum of the four reasons below */
    uint64_t dropped_ring_full;     /* the sender fell behind: no free slot */
    uint64_t dropped_send_failed;   /* nng did not take the message in time */
    uint64_t dropped_encode_failed; /* a message could not be encoded */
    uint64_t dropped_disconnected;  /* no daemon connected */
    uint64_t messages_sent;         /* HELLO + FRAME + TAGS + SITES + BYE */
    uint64_t bytes_sent;            /* bytes of those messages */
    uint64_t hellos_sent;
    uint64_t tags_sent;         /* TAGS messages */
    uint64_t sites_sent;        /* SITES messages (call-site definitions) */
    uint64_t connects;          /* connections established */
    uint64_t reconnects;        /* connections after the first */
    uint64_t snapshots_written; /* JSON files written */
    uint64_t snapshot_errors;   /* JSON files that could not be written */
    uint32_t ring_used;         /* snapshots waiting in the ring now */
    uint32_t ring_capacity;
    bool connected; /* a daemon is attached now */
    bool bye_sent;  /* final: the BYE was handed to nng */
    /* The capture file (all 0 without one). After fa_agent_stop(),
     * frames_seen == frames_captured + capture_dropped. */
    uint64_t frames_captured;      /* FRAME messages written to it */
    uint64_t capture_dropped;      /* frames that are not in it: no free ring
                                      slot (dropped_ring_full), a failed write,
                                      or still queued at the stop time-out */
    uint64_t capture_bytes;        /* its size: file header and messages */
    uint64_t capture_write_errors; /* writes that failed; the file was cut
                                      back to its last whole message */
} fa_agent_stats_t;

/* ------------------------------------------------------------------------ */
/* Lifecycle                                                                 */
/* ------------------------------------------------------------------------ */

/* Starts an agent on fa: allocates its buffers, opens the PUSH socket, dials
 * the URL in the background (the daemon need not be up; nng redials), starts
 * the sender thread and registers the frame-end hook (one of lib's 8). desc
 * may be NULL (all defaults); it is copied. On success writes *out and
 * returns FA_OK; on failure *out is untouched and nothing is left running:
 * FA_ERR_INVALID_ARG (NULL fa or out, a URL nng refuses, an empty file:
 * path, file:PATH with a different capture_path, an ingest secret that is
 * missing from its file or too long, a tls+tcp:// URL without a usable CA
 * file), FA_ERR_NO_MEMORY,
 * FA_ERR_STATE (lib's 8 frame hooks are taken, or this is a forked child of a
 * process whose agent used nng: see FORK), FA_ERR_SYSTEM (socket or
 * thread creation, or the capture file cannot be created: logged with
 * errno). Any thread; allocates; reads the environment; may take
 * milliseconds. The first frames may be dropped as "disconnected" until the
 * connection is up. */
FA_API FA_NODISCARD int fa_agent_start(fa_alloc_t *fa, const fa_agent_desc_t *desc, fa_agent_t **out);

/* Stops the agent: removes its hook, lets the sender flush the ring for at
 * most three quarters of stop_timeout_ms (frames still pending then are
 * dropped and counted; without a daemon they are dropped at once), sends a
 * BYE with the session's counts when a daemon is connected (waiting until it
 * was written to the connection, within stop_timeout_ms), closes
 * the socket, joins the thread and frees everything. Writes the final
 * counters to *final_stats when it is not NULL. A capture file gets its
 * own BYE and is flushed to disk (fdatasync) and closed. Returns FA_OK when
 * every frame was flushed and the BYE was handed to nng and written to the
 * capture file (each that the agent has), FA_ERR_TIMEOUT otherwise (the
 * agent is freed either way), FA_ERR_STATE for the inert copy in a forked
 * child (freed, nng untouched, nothing written; see FORK). NULL agent:
 * FA_ERR_INVALID_ARG.
 * It MUST be called on the game thread, or while no fa_end_frame() of the
 * main thread is running (lib may still be calling the hook otherwise), and
 * before fa_destroy(). Blocks up to stop_timeout_ms plus nng's close. */
FA_API int fa_agent_stop(fa_agent_t *agent, fa_agent_stats_t *final_stats);

/* Copies the counters into *out. Any thread, while the agent lives; lock-free,
 * O(1). */
FA_API void fa_agent_stats(const fa_agent_t *agent, fa_agent_stats_t *out);

/* The desc in force: defaults filled in, the URL resolved (environment
 * included), strings pointing to the agent's copies (valid until
 * fa_agent_stop()). Any thread; O(1). */
FA_API fa_agent_desc_t fa_agent_desc_effective(const fa_agent_t *agent);

/* The session id carried by every message: 64 random bits, never 0. */
FA_API uint64_t fa_agent_session_id(const fa_agent_t *agent);

/* Asks the file emitter for one JSON snapshot, as a request file would (same
 * rate limit). FA_ERR_STATE when the agent has no file emitter. Any thread;
 * one atomic store. */
FA_API int fa_agent_request_snapshot(fa_agent_t *agent);

#ifdef __cplusplus
}
#endif
#endif /* FA_AGENT_H */

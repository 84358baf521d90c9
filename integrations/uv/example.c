/* README example (make test-install-integrations builds it with pkg-config). */
#include <fa_uv.h>
#include <stdio.h>
#include <uv.h>

static void on_stat(uv_fs_t *req) { printf("stat: %d\n", (int)req->result), uv_fs_req_cleanup(req); }

int main(void) {
    fa_alloc_t *fa = fa_create(NULL);
    fa_uv_install(fa, "net/uv");                      /* before any other uv_ call */
    uv_loop_t loop;
    uv_loop_init(&loop);
    uv_fs_t req;
    uv_fs_stat(&loop, &req, "/", on_stat);            /* the path copy is a block under net/uv */
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    uv_library_shutdown();                            /* libuv frees its globals now, not at exit */
    fa_uv_uninstall();
    fa_destroy(fa);
}

/* test_static.c — the web root handler refuses every way out of the root
 * (the directory handler of nng 1.5.2 serves /../ paths). */
#include "helpers.h"

#include <limits.h>
#include <sys/stat.h>

static char root[PATH_MAX], outside[PATH_MAX * 2];
static char *dir;
/* What the manifest lists: everything but "unlisted.json" (and the links,
 * which must be refused for leaving the root anyway). */
static const char files_list[] = "index.html\napp.js\nstyle.css\nsub/index.html\na b.txt\nlink\ndirlink/secret\n";

static void setup(void) {
    dir = tmp_dir();
    char path[PATH_MAX * 2];
    snprintf(path, sizeof path, "%s/web", dir);
    mkdir(path, 0755);
    cr_assert(realpath(path, root));
    snprintf(path, sizeof path, "%s/web/sub", dir);
    mkdir(path, 0755);
    static const char *files[] = {"index.html", "app.js", "style.css", "sub/index.html", "a b.txt",
                                  "unlisted.json"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", root, files[i]);
        FILE *f = fopen(path, "w");
        fputs("x", f);
        fclose(f);
    }
    snprintf(outside, sizeof outside, "%s/secret", dir);
    FILE *f = fopen(outside, "w");
    fputs("secret", f);
    fclose(f);
    snprintf(path, sizeof path, "%s/link", root);
    cr_assert(symlink(outside, path) == 0);
    snprintf(path, sizeof path, "%s/dirlink", root);
    cr_assert(symlink(dir, path) == 0);
}

static void teardown(void) {
    rm_tree(dir);
    free(dir);
}

TestSuite(static_files, .init = setup, .fini = teardown);

static void want(const char *target, const char *rel) {
    char out[PATH_MAX], exp[PATH_MAX * 2];
    int rc = static_resolve(root, files_list, target, out, sizeof out);
    cr_assert_eq(rc, 0, "%s: %d", target, rc);
    snprintf(exp, sizeof exp, "%s/%s", root, rel);
    cr_assert_str_eq(out, exp, "%s", target);
}

Test(static_files, serves_files_directories_and_strips_queries) {
    want("/", "index.html");
    want("/index.html", "index.html");
    want("/index.html?v=1#x", "index.html");
    want("/app.js", "app.js");
    want("/sub/", "sub/index.html");
    want("/sub", "sub/index.html");
    want("/a%20b.txt", "a b.txt");
    want("//app.js", "app.js");
}

Test(static_files, refuses_traversal_absolute_paths_and_encodings) {
    static const char *probes[] = {
        "/../secret",
        "/..",
        "/%2e%2e/secret",
        "/%2E%2E/secret",
        "/..%2fsecret",
        "/%2e%2e%2fsecret",
        "/sub/../../secret",
        "/sub/%2e%2e/%2e%2e/secret",
        "/./index.html",
        "/%2e/index.html",
        "/link",
        "/dirlink/secret",
        "/etc/passwd",
        "/%2fetc%2fpasswd",
        "/index.html%00.js",
        "/%00",
        "/%zz",
        "/..\\secret",
        "/%5c..%5csecret",
        "index.html",
        "",
        "/missing.html",
        "/sub/missing/",
    };
    char out[PATH_MAX];
    for (size_t i = 0; i < sizeof probes / sizeof probes[0]; i++)
        cr_assert_eq(static_resolve(root, files_list, probes[i], out, sizeof out), 404, "%s was not refused", probes[i]);
}

Test(static_files, mime_types) {
    cr_assert_str_eq(static_mime_type("/x/index.html"), "text/html; charset=utf-8");
    cr_assert_str_eq(static_mime_type("a.JS"), "text/javascript; charset=utf-8");
    cr_assert_str_eq(static_mime_type("a.css"), "text/css; charset=utf-8");
    cr_assert_str_eq(static_mime_type("a.svg"), "image/svg+xml");
    cr_assert_str_eq(static_mime_type("a.woff2"), "font/woff2");
    cr_assert_str_eq(static_mime_type("a.json"), "application/json");
    cr_assert_str_eq(static_mime_type("noext"), "application/octet-stream");
    cr_assert_str_eq(static_mime_type("dir.d/noext"), "application/octet-stream");
}

Test(static_files, only_the_files_the_manifest_lists_are_served) {
    char out[PATH_MAX];
    cr_assert_eq(static_resolve(root, files_list, "/unlisted.json", out, sizeof out), 404);
    cr_assert_eq(static_resolve(root, NULL, "/index.html", out, sizeof out), 404, "no list, no file");
    cr_assert_eq(static_resolve(root, "app.js\n", "/", out, sizeof out), 404, "index.html not listed");
    cr_assert_eq(static_resolve(root, files_list, "/app.js", out, sizeof out), 0);
}

Test(static_files, manifest_is_read_and_refuses_climbing_out) {
    char path[PATH_MAX * 2], err[512], *files = NULL;
    cr_assert_eq(static_load_manifest(root, &files, err, sizeof err), -1, "missing manifest");
    snprintf(path, sizeof path, "%s/MANIFEST", root);
    FILE *f = fopen(path, "w");
    fputs("# built files\n/index.html\nsub/index.html\r\n\n", f);
    fclose(f);
    cr_assert_eq(static_load_manifest(root, &files, err, sizeof err), 0, "%s", err);
    cr_assert_str_eq(files, "index.html\nsub/index.html\n");
    free(files);
    f = fopen(path, "w");
    fputs("../secret\n", f);
    fclose(f);
    cr_assert_eq(static_load_manifest(root, &files, err, sizeof err), -1);
}

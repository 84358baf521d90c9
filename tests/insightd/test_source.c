/* test_source.c — --source-root shows lines of files under the root and
 * nothing else: no way out by "..", absolute names, symbolic links, and no
 * special file (a FIFO would block a reader thread forever). */
#include "helpers.h"

#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

#include "source.h"

static char root[PATH_MAX], outside[PATH_MAX * 2];
static char *dir;
static source_lines_t out;

static void write_file(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    cr_assert(f, "%s", path);
    fputs(text, f);
    fclose(f);
}

static void setup(void) {
    dir = tmp_dir();
    char path[PATH_MAX * 2];
    snprintf(path, sizeof path, "%s/src", dir);
    mkdir(path, 0755);
    cr_assert(realpath(path, root));
    snprintf(path, sizeof path, "%s/game", root);
    mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/game/physics.c", root);
    write_file(path, "line 1\nline 2\n\tline 3\nline 4\nline 5\nlast line without newline");
    snprintf(outside, sizeof outside, "%s/secret.c", dir);
    write_file(outside, "TOP SECRET 1\nTOP SECRET 2\nTOP SECRET 3\n");
    snprintf(path, sizeof path, "%s/game/link.c", root);
    cr_assert(symlink(outside, path) == 0);
    snprintf(path, sizeof path, "%s/up", root);
    cr_assert(symlink(dir, path) == 0);
    snprintf(path, sizeof path, "%s/game/inside_link.c", root);
    cr_assert(symlink("physics.c", path) == 0);
    snprintf(path, sizeof path, "%s/game/fifo.c", root);
    cr_assert(mkfifo(path, 0600) == 0);
    snprintf(path, sizeof path, "%s/game/null.c", root);
    cr_assert(symlink("/dev/null", path) == 0);
    snprintf(path, sizeof path, "%s/game/dir.c", root);
    mkdir(path, 0755);
    memset(&out, 0, sizeof out);
    /* A reader blocked on a FIFO fails the test instead of hanging it. */
    alarm(20);
}

static void teardown(void) {
    alarm(0);
    rm_tree(dir);
    free(dir);
}

TestSuite(source, .init = setup, .fini = teardown);

Test(source, shows_the_line_and_its_neighbours_clipped_to_the_file) {
    cr_assert_eq(source_read(root, "game/physics.c", 3, 1, &out), SOURCE_OK);
    cr_assert_str_eq(out.path, "game/physics.c");
    cr_assert_eq(out.first, 2);
    cr_assert_eq(out.count, 3);
    cr_assert_str_eq(out.lines[0], "line 2");
    cr_assert_str_eq(out.lines[1], "    line 3", "tabs expanded");
    cr_assert_str_eq(out.lines[2], "line 4");
    cr_assert_eq(source_read(root, "game/physics.c", 1, 3, &out), SOURCE_OK);
    cr_assert_eq(out.first, 1);
    cr_assert_eq(out.count, 4);
    cr_assert_eq(source_read(root, "game/physics.c", 6, 2, &out), SOURCE_OK, "a last line without newline");
    cr_assert_eq(out.count, 3);
    cr_assert_str_eq(out.lines[2], "last line without newline");
    cr_assert_eq(source_read(root, "game/physics.c", 7, 2, &out), SOURCE_NO_LINE);
    cr_assert_eq(source_read(root, "game/physics.c", 0, 2, &out), SOURCE_NOT_FOUND, "no line 0");
}

Test(source, finds_a_file_named_as_the_compiler_saw_it_elsewhere) {
    cr_assert_eq(source_read(root, "/home/ci/build/game/physics.c", 2, 0, &out), SOURCE_OK);
    cr_assert_str_eq(out.path, "game/physics.c");
    cr_assert_str_eq(out.lines[0], "line 2");
    cr_assert_eq(source_read(root, "../game/physics.c", 2, 0, &out), SOURCE_OK, "the suffix under the root");
    cr_assert_str_eq(out.path, "game/physics.c");
    cr_assert_eq(source_read(root, "game/inside_link.c", 2, 0, &out), SOURCE_OK, "a link inside the root");
    cr_assert_str_eq(out.path, "game/physics.c", "named by what it resolves to");
}

Test(source, never_reads_outside_the_root) {
    char name[PATH_MAX * 2];
    const char *refused[] = {
        "secret.c",               /* not under the root */
        "../secret.c",            /* traversal */
        "game/../../secret.c",    /* traversal inside the name */
        "game/./../../secret.c",  /* dot components */
        "game/link.c",            /* a link out of the root */
        "up/secret.c",            /* a directory link out of the root */
        "up/src/../secret.c",     /* both */
        "game\\..\\..\\secret.c", /* backslashes */
        "/etc/passwd",            /* absolute, and no passwd under the root */
        "",                       /* nothing */
    };
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        int rc = source_read(root, refused[i], 1, 2, &out);
        cr_assert_eq(rc, SOURCE_NOT_FOUND, "'%s': %d", refused[i], rc);
    }
    /* The absolute name of the secret itself: its last component is not
     * under the root either. */
    cr_assert_eq(source_read(root, outside, 1, 0, &out), SOURCE_NOT_FOUND);
    /* A root that is a prefix of the file's directory's name is not it. */
    snprintf(name, sizeof name, "%s-other", root);
    mkdir(name, 0755);
    snprintf(name, sizeof name, "%s-other/x.c", root);
    write_file(name, "x\n");
    cr_assert_eq(source_read(root, "../src-other/x.c", 1, 0, &out), SOURCE_NOT_FOUND);
    cr_assert_eq(source_read(NULL, "game/physics.c", 1, 0, &out), SOURCE_NOT_FOUND, "off");
    cr_assert_eq(source_read("", "game/physics.c", 1, 0, &out), SOURCE_NOT_FOUND, "off");
}

Test(source, refuses_special_files_and_directories_without_blocking) {
    cr_assert_eq(source_read(root, "game/fifo.c", 1, 0, &out), SOURCE_NOT_FOUND, "a FIFO");
    cr_assert_eq(source_read(root, "game/null.c", 1, 0, &out), SOURCE_NOT_FOUND, "a device, through a link");
    cr_assert_eq(source_read(root, "game/dir.c", 1, 0, &out), SOURCE_NOT_FOUND, "a directory");
}

Test(source, lines_are_sanitised_and_cut) {
    char path[PATH_MAX * 2];
    snprintf(path, sizeof path, "%s/game/evil.c", root);
    char text[2 * SOURCE_LINE_MAX + 64];
    /* An escape sequence, a bidi override, then a very long line. */
    int n = snprintf(text, sizeof text,
                     "a\x1b[2Jb\xe2\x80\xae"
                     "c\n");
    memset(text + n, 'x', SOURCE_LINE_MAX + 50);
    strcpy(text + n + SOURCE_LINE_MAX + 50, "\nafter\n");
    write_file(path, text);
    cr_assert_eq(source_read(root, "game/evil.c", 2, 1, &out), SOURCE_OK);
    cr_assert_eq(out.count, 3);
    cr_assert_null(strchr(out.lines[0], '\x1b'), "%s", out.lines[0]);
    cr_assert_null(strstr(out.lines[0], "\xe2\x80\xae"), "%s", out.lines[0]);
    cr_assert_eq(strlen(out.lines[1]), SOURCE_LINE_MAX, "a long line is cut");
    cr_assert_str_eq(out.lines[2], "after", "and the next line is still line 3");
}

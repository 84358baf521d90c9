/* report_xml.c — JUnit XML (the Jenkins/GitLab dialect: testsuites >
 * testsuite > testcase with failure/error) and checkstyle XML (checkstyle >
 * file > error), the two formats CI servers read for code findings.
 * JUnit: one test case per linted file (passing when clean) and one failing
 * case per finding, so a CI shows both the coverage and the findings; a
 * unit that does not parse is an <error> case. */
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "report.h"
#include "util.h"

/* Writes s escaped for XML text and attributes; control characters that
 * XML 1.0 cannot hold become U+FFFD. */
static void xml_escaped(FILE *f, const char *s) {
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        switch (*p) {
        case '&':
            fputs("&amp;", f);
            break;
        case '<':
            fputs("&lt;", f);
            break;
        case '>':
            fputs("&gt;", f);
            break;
        case '"':
            fputs("&quot;", f);
            break;
        case '\'':
            fputs("&apos;", f);
            break;
        case '\n':
            fputs("&#10;", f);
            break;
        case '\t':
            fputs("&#9;", f);
            break;
        default:
            if (*p < 0x20)
                fputs("\xEF\xBF\xBD", f);
            else
                fputc(*p, f);
        }
    }
}

static size_t findings_in(const run_output_t *out, const char *file) {
    size_t n = 0;
    for (size_t i = 0; i < out->findings.count; i++)
        n += strcmp(out->findings.items[i].file, file) == 0;
    return n;
}

/* Opens <testcase> for a whole file (a clean file, or one that failed to
 * parse); the caller closes it with "/>" or writes children. */
static void file_testcase(FILE *f, const char *root, const char *abs) {
    char *path = report_path(root, abs);
    fputs("    <testcase classname=\"fa-lint\" name=\"", f);
    xml_escaped(f, path);
    fputs("\" time=\"0\"", f);
    free(path);
}

static int write_junit(FILE *f, const run_output_t *out, const report_info_t *info) {
    /* Files with findings that no unit listed (none today) still count. */
    size_t clean = 0;
    for (size_t i = 0; i < out->files.count; i++)
        clean += findings_in(out, out->files.items[i]) == 0;
    size_t tests = clean + out->findings.count + out->errors.count;
    fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    fprintf(f, "<testsuites name=\"fa-lint\" tests=\"%zu\" failures=\"%zu\" errors=\"%zu\" time=\"%.3f\">\n",
            tests, out->findings.count, out->errors.count, info->seconds);
    fprintf(f,
            "  <testsuite name=\"fa-lint\" tests=\"%zu\" failures=\"%zu\" errors=\"%zu\" skipped=\"0\" "
            "time=\"%.3f\">\n",
            tests, out->findings.count, out->errors.count, info->seconds);
    for (size_t i = 0; i < out->files.count; i++) {
        if (findings_in(out, out->files.items[i])) continue;
        file_testcase(f, info->root, out->files.items[i]);
        fputs("/>\n", f);
    }
    for (size_t i = 0; i < out->findings.count; i++) {
        const lint_finding_t *x = &out->findings.items[i];
        const char *code = rule_get(x->rule)->code;
        char *path = report_path(info->root, x->file);
        fputs("    <testcase classname=\"", f);
        xml_escaped(f, path);
        fprintf(f, "\" name=\"%s line %u: ", code, x->line);
        xml_escaped(f, x->message);
        fputs("\" time=\"0\">\n      <failure message=\"", f);
        xml_escaped(f, x->message);
        fprintf(f, "\" type=\"%s\">", code);
        char *text = xasprintf("%s:%u:%u: %s %s (%s)", path, x->line, x->col, code, x->message,
                               x->level == LEVEL_DENY ? "deny" : "warn");
        xml_escaped(f, text);
        free(text);
        fputs("</failure>\n    </testcase>\n", f);
        free(path);
    }
    for (size_t i = 0; i < out->errors.count; i++) {
        file_testcase(f, info->root, out->error_files.items[i]);
        fputs(">\n      <error message=\"does not compile\" type=\"parse\">", f);
        xml_escaped(f, out->errors.items[i]);
        fputs("</error>\n    </testcase>\n", f);
    }
    fputs("  </testsuite>\n</testsuites>\n", f);
    return ferror(f) ? -1 : 0;
}

static int write_checkstyle(FILE *f, const run_output_t *out, const report_info_t *info) {
    fputs("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<checkstyle version=\"4.3\">\n", f);
    size_t i = 0;
    while (i < out->findings.count) {
        const char *file = out->findings.items[i].file;
        char *path = report_path(info->root, file);
        fputs("  <file name=\"", f);
        xml_escaped(f, path);
        fputs("\">\n", f);
        free(path);
        for (; i < out->findings.count && strcmp(out->findings.items[i].file, file) == 0; i++) {
            const lint_finding_t *x = &out->findings.items[i];
            fprintf(f, "    <error line=\"%u\" column=\"%u\" severity=\"%s\" message=\"", x->line, x->col,
                    x->level == LEVEL_DENY ? "error" : "warning");
            xml_escaped(f, rule_get(x->rule)->code);
            fputs(": ", f);
            xml_escaped(f, x->message);
            fprintf(f, "\" source=\"fa-lint.%s\"/>\n", rule_get(x->rule)->code);
        }
        fputs("  </file>\n", f);
    }
    for (size_t k = 0; k < out->errors.count; k++) {
        char *path = report_path(info->root, out->error_files.items[k]);
        fputs("  <file name=\"", f);
        xml_escaped(f, path);
        fputs("\">\n    <error line=\"1\" severity=\"error\" message=\"", f);
        xml_escaped(f, out->errors.items[k]);
        fputs("\" source=\"fa-lint.parse\"/>\n  </file>\n", f);
        free(path);
    }
    fputs("</checkstyle>\n", f);
    return ferror(f) ? -1 : 0;
}

int report_write_xml(FILE *f, report_format format, const run_output_t *out, const report_info_t *info) {
    return format == FORMAT_JUNIT ? write_junit(f, out, info) : write_checkstyle(f, out, info);
}

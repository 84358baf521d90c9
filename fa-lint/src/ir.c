/* ir.c — libclang cursors to the analysis tree (see ir.h). One walk per
 * function definition; system headers are skipped whole. */
#include "ir.h"

#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

/* ---- arena -------------------------------------------------------------- */

typedef struct chunk {
    struct chunk *next;
    size_t used, cap;
    _Alignas(16) char data[];
} chunk_t;

struct ir_unit {
    CXTranslationUnit tu;
    chunk_t *chunks;
    ir_file_t *files;
    size_t nfiles, files_cap;
    CXFile last_file;
    unsigned last_index;
    ir_function_t *funcs;
    size_t nfuncs, funcs_cap;
    ir_report_fn report;
    void *user;
    /* The function being built: its variables and their cursors. */
    ir_var_t *vars;
    CXCursor *var_cursors;
    size_t nvars, vars_cap, var_cursors_cap;
};

static void *arena_alloc(ir_unit_t *u, size_t n) {
    n = (n + 15) & ~(size_t)15;
    if (!u->chunks || u->chunks->cap - u->chunks->used < n) {
        size_t cap = n > 65536 ? n : 65536;
        chunk_t *c = xmalloc(sizeof *c + cap);
        c->next = u->chunks;
        c->used = 0;
        c->cap = cap;
        u->chunks = c;
    }
    void *p = u->chunks->data + u->chunks->used;
    u->chunks->used += n;
    return p;
}

static const char *arena_str(ir_unit_t *u, const char *s) {
    size_t n = strlen(s);
    char *p = arena_alloc(u, n + 1);
    memcpy(p, s, n + 1);
    return p;
}

/* A CXString copied into the arena (NULL when empty). */
static const char *arena_cxstr(ir_unit_t *u, CXString s) {
    const char *c = clang_getCString(s);
    const char *r = c && *c ? arena_str(u, c) : NULL;
    clang_disposeString(s);
    return r;
}

/* The name of an allocation function as the checks know it. A build with
 * call sites (framealloc.h's FA__SITE macros) calls the _site twin of each
 * name with a static site record appended (fa_heap_alloc ->
 * fa_heap_alloc_site; fa_frame_sprintf_site takes it second): the twin is
 * read as the name, calls and definitions alike. */
static const char *api_name(ir_unit_t *u, const char *name) {
    static const char twin[] = "_site";
    size_t n = name ? strlen(name) : 0, t = sizeof twin - 1;
    if (n <= 3 + t || strncmp(name, "fa_", 3) != 0 || strcmp(name + n - t, twin) != 0) return name;
    char *p = arena_alloc(u, n - t + 1);
    memcpy(p, name, n - t);
    p[n - t] = '\0';
    return p;
}

/* ---- files and locations ------------------------------------------------ */

static unsigned file_index(ir_unit_t *u, CXFile f) {
    if (f == u->last_file && u->nfiles) return u->last_index;
    for (size_t i = 0; i < u->nfiles; i++) {
        if (u->files[i].handle == f ||
            (f && u->files[i].handle && clang_File_isEqual(u->files[i].handle, f))) {
            u->last_file = f;
            u->last_index = (unsigned)i;
            return (unsigned)i;
        }
    }
    xgrow(&u->files, &u->files_cap, u->nfiles + 1, sizeof *u->files);
    ir_file_t *e = &u->files[u->nfiles];
    *e = (ir_file_t){.handle = f};
    CXString name = clang_File_tryGetRealPathName(f);
    const char *n = clang_getCString(name);
    if (!n || !*n) {
        clang_disposeString(name);
        name = clang_getFileName(f);
        n = clang_getCString(name);
    }
    char *real = n ? realpath(n, NULL) : NULL;
    e->path = real ? real : xstrdup(n ? n : "<unknown>");
    clang_disposeString(name);
    e->report = f && u->report(e->path, &e->rel, u->user);
    if (e->report) e->text = clang_getFileContents(u->tu, f, &e->len);
    u->last_file = f;
    u->last_index = (unsigned)u->nfiles;
    return (unsigned)u->nfiles++;
}

static void set_location(ir_unit_t *u, node_t *n, CXCursor c) {
    CXSourceRange r = clang_getCursorExtent(c);
    CXFile f, f2;
    unsigned line, col, off, line2, col2;
    clang_getExpansionLocation(clang_getRangeStart(r), &f, &line, &col, &off);
    clang_getExpansionLocation(clang_getRangeEnd(r), &f2, &line2, &col2, &off);
    n->file = file_index(u, f);
    n->line = line;
    n->col = col;
    if (f2 == f && (line2 > line || (line2 == line && col2 > col))) {
        n->end_line = line2;
        n->end_col = col2;
    } else {
        n->end_line = line;
        n->end_col = col;
    }
}

void ir_locate(ir_unit_t *u, const node_t *n) {
    if (n->located) return;
    node_t *m = (node_t *)n; /* the location is a cache, not the node's meaning */
    set_location(u, m, n->cursor);
    m->located = true;
}

/* The source text from the end of a to the start of b, when both are
 * plain file positions in one file (not inside one macro expansion). */
static bool text_between(ir_unit_t *u, CXSourceLocation a, CXSourceLocation b, const char **text,
                         size_t *len) {
    CXFile fa, fb;
    unsigned oa, ob;
    clang_getFileLocation(a, &fa, NULL, NULL, &oa);
    clang_getFileLocation(b, &fb, NULL, NULL, &ob);
    if (!fa || fa != fb || ob < oa) return false;
    size_t size;
    const char *buf = clang_getFileContents(u->tu, fa, &size);
    if (!buf || ob > size) return false;
    *text = buf + oa;
    *len = ob - oa;
    return true;
}

/* The operator spelled between two operands: blanks, parentheses and
 * comments dropped. Empty when unknown. */
static void operator_text(const char *t, size_t n, char *out, size_t outlen) {
    size_t k = 0;
    for (size_t i = 0; i < n && k + 1 < outlen; i++) {
        char c = t[i];
        if (c == '/' && i + 1 < n && t[i + 1] == '*') {
            i += 2;
            while (i + 1 < n && !(t[i] == '*' && t[i + 1] == '/'))
                i++;
            i++;
            continue;
        }
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '(' || c == ')') continue;
        if (!strchr("=<>!&|^+-*/%,?:~", c)) {
            k = 0; /* anything else: not a lone operator */
            break;
        }
        out[k++] = c;
    }
    out[k] = 0;
}

/* ---- types -------------------------------------------------------------- */

static unsigned type_flags(CXType t) {
    CXType c = clang_getCanonicalType(t);
    switch (c.kind) {
    case CXType_Pointer: {
        CXType p = clang_getCanonicalType(clang_getPointeeType(c));
        return NF_PTR | (p.kind == CXType_FunctionProto || p.kind == CXType_FunctionNoProto ? NF_FUNCPTR : 0);
    }
    case CXType_ConstantArray:
    case CXType_IncompleteArray:
    case CXType_VariableArray:
        return NF_PTR | NF_ARRAY;
    default:
        return 0;
    }
}

/* The struct tag and typedef name of t, or of what t points to. */
static void record_names(ir_unit_t *u, CXType t, const char **record, const char **alias) {
    *record = *alias = NULL;
    CXType c = clang_getCanonicalType(t);
    CXType written = t;
    if (c.kind == CXType_Pointer) {
        written = clang_getPointeeType(t);
        c = clang_getCanonicalType(written);
    } else if (c.kind == CXType_ConstantArray || c.kind == CXType_IncompleteArray) {
        written = clang_getArrayElementType(t);
        c = clang_getCanonicalType(written);
    }
    if (c.kind != CXType_Record) return;
    *record = arena_cxstr(u, clang_getCursorSpelling(clang_getTypeDeclaration(c)));
    while (written.kind == CXType_Elaborated)
        written = clang_Type_getNamedType(written);
    if (written.kind == CXType_Typedef) *alias = arena_cxstr(u, clang_getTypedefName(written));
}

/* ---- cursors ------------------------------------------------------------ */

typedef struct kids {
    CXCursor *items;
    size_t count, cap;
} kids_t;

static enum CXChildVisitResult collect(CXCursor c, CXCursor parent, CXClientData data) {
    (void)parent;
    kids_t *k = data;
    xgrow(&k->items, &k->cap, k->count + 1, sizeof *k->items);
    k->items[k->count++] = c;
    return CXChildVisit_Continue;
}

static kids_t children_of(CXCursor c) {
    kids_t k = {0};
    clang_visitChildren(c, collect, &k);
    return k;
}

static bool is_code(enum CXCursorKind k) {
    return clang_isExpression(k) || clang_isStatement(k) || k == CXCursor_VarDecl;
}

static node_t *new_node(ir_unit_t *u, node_kind kind, CXCursor c) {
    node_t *n = arena_alloc(u, sizeof *n);
    memset(n, 0, sizeof *n);
    n->kind = (unsigned char)kind;
    n->var = -1;
    n->cursor = c;
    return n;
}

static node_t *build(ir_unit_t *u, CXCursor c);

static void set_children(ir_unit_t *u, node_t *n, const CXCursor *cs, size_t count) {
    n->child = arena_alloc(u, (count ? count : 1) * sizeof *n->child);
    n->nchild = 0;
    for (size_t i = 0; i < count; i++) {
        if (!is_code(clang_getCursorKind(cs[i]))) continue;
        node_t *k = build(u, cs[i]);
        if (k) n->child[n->nchild++] = k;
    }
}

static int var_lookup(ir_unit_t *u, CXCursor decl) {
    for (size_t i = u->nvars; i-- > 0;)
        if (clang_equalCursors(u->var_cursors[i], decl)) return (int)i;
    return -1;
}

static int var_add(ir_unit_t *u, CXCursor decl, bool is_param, int param_index) {
    xgrow(&u->vars, &u->vars_cap, u->nvars + 1, sizeof *u->vars);
    xgrow(&u->var_cursors, &u->var_cursors_cap, u->nvars + 1, sizeof *u->var_cursors);
    ir_var_t *v = &u->vars[u->nvars];
    CXType t = clang_getCursorType(decl);
    unsigned f = type_flags(t);
    *v = (ir_var_t){.name = arena_cxstr(u, clang_getCursorSpelling(decl)),
                    .is_param = is_param,
                    .param_index = param_index,
                    .is_static = !is_param && clang_Cursor_getStorageClass(decl) == CX_SC_Static,
                    .is_pointer = (f & NF_PTR) != 0,
                    .is_array = (f & NF_ARRAY) != 0};
    if (!v->name) v->name = "";
    record_names(u, t, &v->record, &v->alias);
    u->var_cursors[u->nvars] = decl;
    return (int)u->nvars++;
}

static const char *string_value(ir_unit_t *u, CXCursor c) {
    CXEvalResult ev = clang_Cursor_Evaluate(c);
    const char *r = NULL;
    if (ev) {
        if (clang_EvalResult_getKind(ev) == CXEval_StrLiteral)
            r = arena_str(u, clang_EvalResult_getAsStr(ev));
        clang_EvalResult_dispose(ev);
    }
    if (!r) {
        /* The literal as written, without its quotes. */
        CXString s = clang_getCursorSpelling(c);
        const char *t = clang_getCString(s);
        size_t n = t ? strlen(t) : 0;
        if (n >= 2 && t[0] == '"' && t[n - 1] == '"') {
            char *p = arena_alloc(u, n - 1);
            memcpy(p, t + 1, n - 2);
            p[n - 2] = 0;
            r = p;
        }
        clang_disposeString(s);
    }
    return r ? r : "";
}

/* String literals under a cursor (an initialiser of a budget table). */
typedef struct literal_walk {
    ir_unit_t *u;
    const char **items;
    size_t count, cap;
} literal_walk_t;

static enum CXChildVisitResult find_literals(CXCursor c, CXCursor parent, CXClientData data) {
    (void)parent;
    literal_walk_t *w = data;
    if (clang_getCursorKind(c) == CXCursor_StringLiteral) {
        xgrow(&w->items, &w->cap, w->count + 1, sizeof *w->items);
        w->items[w->count++] = string_value(w->u, c);
    } else if (clang_getCursorKind(c) == CXCursor_DeclRefExpr) {
        CXCursor ref = clang_getCursorReferenced(c);
        if (clang_getCursorKind(ref) == CXCursor_VarDecl && w->count < 4096)
            clang_visitChildren(ref, find_literals, w);
        return CXChildVisit_Continue;
    }
    return CXChildVisit_Recurse;
}

static void budget_strings(ir_unit_t *u, node_t *call, CXCursor arg) {
    literal_walk_t w = {.u = u};
    if (clang_getCursorKind(arg) == CXCursor_StringLiteral)
        find_literals(arg, arg, &w);
    else
        clang_visitChildren(arg, find_literals, &w);
    if (w.count) {
        const char **s = arena_alloc(u, w.count * sizeof *s);
        memcpy(s, w.items, w.count * sizeof *s);
        call->strings = s;
        call->nstrings = (unsigned)w.count;
    }
    free(w.items);
}

static node_t *build_call(ir_unit_t *u, CXCursor c) {
    node_t *n = new_node(u, K_CALL, c);
    n->name = api_name(u, arena_cxstr(u, clang_getCursorSpelling(c)));
    if (!n->name) n->name = "";
    n->flags |= (unsigned short)type_flags(clang_getCursorType(c));
    int nargs = clang_Cursor_getNumArguments(c);
    if (nargs < 0) nargs = 0;
    n->child = arena_alloc(u, (nargs ? (size_t)nargs : 1) * sizeof *n->child);
    for (int i = 0; i < nargs; i++) {
        CXCursor a = clang_Cursor_getArgument(c, (unsigned)i);
        node_t *k = build(u, a);
        if (!k) k = new_node(u, K_OTHER, a);
        n->child[n->nchild++] = k;
    }
    if (nargs >= 2 && (strcmp(n->name, "fa_budget_set") == 0 || strcmp(n->name, "fa_budget_set_ex") == 0))
        budget_strings(u, n, clang_Cursor_getArgument(c, 1));
    return n;
}

long long ir_integer(const node_t *n) {
    if (n->kind != K_INTEGER) return 0;
    if (!(n->flags & NF_VALUE)) {
        node_t *m = (node_t *)n; /* a cache: evaluated when a check asks */
        CXEvalResult ev = clang_Cursor_Evaluate(n->cursor);
        if (ev) {
            if (clang_EvalResult_getKind(ev) == CXEval_Int) m->value = clang_EvalResult_getAsLongLong(ev);
            clang_EvalResult_dispose(ev);
        }
        m->flags |= NF_VALUE;
    }
    return n->value;
}

static bool constant_true(const node_t *n) {
    return n->kind == K_INTEGER && ir_integer(n) != 0;
}

/* A loop condition that is a constant or a flag (an integer or boolean
 * variable or member, possibly negated, or a negated call such as
 * !window_should_close(w)): no visible bound. Pointers walked to NULL,
 * comparisons and calls that fill an out-parameter (while
 * (SDL_PollEvent(&ev)), a reader draining its input) are bounds. */
static bool flag_condition(const node_t *n) {
    if (!n) return true;
    if (constant_true(n)) return true;
    if (n->kind == K_ARITH && n->op == '!' && n->nchild == 1)
        return n->child[0]->kind == K_CALL ? !(n->child[0]->flags & NF_PTR) : flag_condition(n->child[0]);
    if (n->kind == K_VAR || n->kind == K_MEMBER) return !(n->flags & NF_PTR);
    if (n->kind == K_CALL) {
        for (unsigned i = 0; i < n->nchild; i++)
            if (n->child[i]->kind == K_ADDR) return false;
        return !(n->flags & NF_PTR);
    }
    return false;
}

/* for (init; cond; inc): whether cond, read from the source, is empty or
 * a constant; unknown (inside a macro) counts as bounded. */
static bool for_unbounded(ir_unit_t *u, CXCursor c) {
    CXSourceRange r = clang_getCursorExtent(c);
    const char *t;
    size_t n;
    if (!text_between(u, clang_getRangeStart(r), clang_getRangeEnd(r), &t, &n)) return false;
    if (n < 4 || strncmp(t, "for", 3) != 0) return false;
    size_t i = 3;
    while (i < n && t[i] != '(')
        i++;
    int depth = 0, part = 0;
    size_t cond_start = 0, cond_end = 0;
    for (; i < n; i++) {
        char ch = t[i];
        if (ch == '(')
            depth++;
        else if (ch == ')') {
            if (--depth == 0) break;
        } else if (ch == ';' && depth == 1) {
            part++;
            if (part == 1) cond_start = i + 1;
            if (part == 2) cond_end = i;
        }
    }
    if (part != 2) return false;
    bool empty = true;
    for (size_t k = cond_start; k < cond_end; k++) {
        char ch = t[k];
        if (ch == ' ' || ch == '\t' || ch == '\n') continue;
        if (ch == '1' || ch == '(' || ch == ')') continue;
        if (cond_end - k >= 4 && strncmp(t + k, "true", 4) == 0) {
            k += 3;
            continue;
        }
        empty = false;
        break;
    }
    return empty;
}

/* The operator written between a and b, or "" (inside a macro, say). */
static void operator_between(ir_unit_t *u, CXSourceLocation a, CXSourceLocation b, char op[8]) {
    const char *t;
    size_t len;
    op[0] = 0;
    if (text_between(u, a, b, &t, &len)) operator_text(t, len, op, 8);
}

static node_t *build_binary(ir_unit_t *u, CXCursor c, const kids_t *k) {
    node_t *n = new_node(u, K_ARITH, c);
    n->flags |= (unsigned short)type_flags(clang_getCursorType(c));
    set_children(u, n, k->items, k->count);
    if (n->nchild != 2) return n;
    char op[8];
    operator_between(u, clang_getRangeEnd(clang_getCursorExtent(k->items[0])),
                     clang_getRangeStart(clang_getCursorExtent(k->items[1])), op);
    if (!op[0]) {
        /* Inside a macro: a pointer-typed operator between two pointers
         * can only be an assignment (or a comma). */
        if ((n->flags & NF_PTR) && (n->child[0]->flags & NF_PTR) && (n->child[1]->flags & NF_PTR))
            strcpy(op, "=");
    }
    if (strcmp(op, "=") == 0) {
        n->kind = K_ASSIGN;
        n->op = '=';
    } else if (!strcmp(op, "<") || !strcmp(op, ">") || !strcmp(op, "<=") || !strcmp(op, ">=") ||
               !strcmp(op, "==") || !strcmp(op, "!=")) {
        n->kind = K_CMP;
        n->op = op[1] == 0     ? (unsigned char)op[0]
                : op[0] == '<' ? 'l'
                : op[0] == '>' ? 'g'
                : op[0] == '=' ? 'e'
                               : 'n';
    } else {
        n->op = op[0] ? (unsigned char)op[0] : '?';
        if (strcmp(op, "&&") == 0) n->op = 'A';
        if (strcmp(op, "||") == 0) n->op = 'O';
    }
    return n;
}

static node_t *build_unary(ir_unit_t *u, CXCursor c, const kids_t *k) {
    node_t *n = new_node(u, K_ARITH, c);
    unsigned f = type_flags(clang_getCursorType(c));
    n->flags |= (unsigned short)f;
    set_children(u, n, k->items, k->count);
    if (n->nchild != 1) return n;
    char op[8];
    operator_between(u, clang_getRangeStart(clang_getCursorExtent(c)),
                     clang_getRangeStart(clang_getCursorExtent(k->items[0])), op);
    if (!op[0]) {
        unsigned cf = n->child[0]->flags;
        if ((f & NF_PTR) && !(cf & NF_PTR))
            strcpy(op, "&");
        else if ((cf & NF_PTR) && !(cf & NF_ARRAY) && !(f & NF_PTR))
            strcpy(op, "*");
    }
    if (strcmp(op, "&") == 0)
        n->kind = K_ADDR;
    else if (strcmp(op, "*") == 0)
        n->kind = K_DEREF;
    else
        n->op = op[0] ? (unsigned char)op[0] : 'u';
    return n;
}

/* Cursors that become one node kind with their children as they are. */
static int plain_kind(enum CXCursorKind kind) {
    switch (kind) {
    case CXCursor_CompoundStmt:
        return K_BLOCK;
    case CXCursor_DeclStmt:
        return K_SEQ;
    case CXCursor_IfStmt:
        return K_IF;
    case CXCursor_SwitchStmt:
        return K_SWITCH;
    case CXCursor_CaseStmt:
    case CXCursor_DefaultStmt:
        return K_CASE;
    case CXCursor_ReturnStmt:
        return K_RETURN;
    case CXCursor_ArraySubscriptExpr:
        return K_INDEX;
    case CXCursor_ConditionalOperator:
        return K_COND;
    case CXCursor_InitListExpr:
        return K_INIT;
    case CXCursor_CompoundAssignOperator:
        return K_ASSIGN;
    default:
        return -1;
    }
}

static node_t *build(ir_unit_t *u, CXCursor c) {
    enum CXCursorKind kind = clang_getCursorKind(c);
    kids_t k = {0};
    node_t *n = NULL;
    int plain = plain_kind(kind);
    if (plain >= 0) {
        k = children_of(c);
        n = new_node(u, (node_kind)plain, c);
        n->flags |= (unsigned short)type_flags(clang_getCursorType(c));
        set_children(u, n, k.items, k.count);
        free(k.items);
        if (n->kind == K_SEQ && n->nchild == 1) return n->child[0];
        if (n->kind == K_ASSIGN) n->op = 'c'; /* +=, -=, ...: the target keeps its origin */
        return n;
    }
    switch (kind) {
    case CXCursor_UnexposedExpr:
    case CXCursor_ParenExpr:
    case CXCursor_CStyleCastExpr:
    case CXCursor_UnexposedStmt: {
        k = children_of(c);
        size_t code = 0, last = 0;
        for (size_t i = 0; i < k.count; i++)
            if (is_code(clang_getCursorKind(k.items[i]))) {
                code++;
                last = i;
            }
        if (code == 1) {
            n = build(u, k.items[last]);
            if (n && kind == CXCursor_CStyleCastExpr) {
                unsigned f = type_flags(clang_getCursorType(c));
                n->flags = (unsigned short)((n->flags & ~(NF_PTR | NF_FUNCPTR | NF_ARRAY)) | f);
            }
            break;
        }
        n = new_node(u, K_OTHER, c);
        set_children(u, n, k.items, k.count);
        break;
    }
    case CXCursor_WhileStmt:
    case CXCursor_DoStmt:
        k = children_of(c);
        n = new_node(u, K_LOOP, c);
        n->op = kind == CXCursor_WhileStmt ? 'w' : 'd';
        set_children(u, n, k.items, k.count);
        if (n->nchild == 2 && flag_condition(n->child[kind == CXCursor_WhileStmt ? 0 : 1]))
            n->flags |= NF_UNBOUNDED;
        break;
    case CXCursor_ForStmt: {
        k = children_of(c);
        /* FA_WITH_TAG: for (fa__tag_guard_t g = fa__tag_guard_begin(...); ...) */
        if (k.count >= 2 && clang_getCursorKind(k.items[0]) == CXCursor_DeclStmt) {
            node_t *init = build(u, k.items[0]);
            if (init && init->kind == K_DECL && init->nchild == 1 && init->child[0]->kind == K_CALL &&
                strcmp(init->child[0]->name, "fa__tag_guard_begin") == 0) {
                n = new_node(u, K_TAGSCOPE, c);
                n->child = arena_alloc(u, 2 * sizeof *n->child);
                n->child[0] = init->child[0];
                n->child[1] = build(u, k.items[k.count - 1]);
                n->nchild = n->child[1] ? 2 : 1;
                break;
            }
        }
        n = new_node(u, K_LOOP, c);
        n->op = 'f';
        set_children(u, n, k.items, k.count);
        if (for_unbounded(u, c)) n->flags |= NF_UNBOUNDED;
        break;
    }
    case CXCursor_BreakStmt:
        n = new_node(u, K_BREAK, c);
        break;
    case CXCursor_ContinueStmt:
        n = new_node(u, K_CONTINUE, c);
        break;
    case CXCursor_GotoStmt:
        k = children_of(c);
        n = new_node(u, K_GOTO, c);
        if (k.count) n->name = arena_cxstr(u, clang_getCursorSpelling(k.items[0]));
        break;
    case CXCursor_LabelStmt:
        k = children_of(c);
        n = new_node(u, K_LABEL, c);
        n->name = arena_cxstr(u, clang_getCursorSpelling(c));
        set_children(u, n, k.items, k.count);
        break;
    case CXCursor_VarDecl: {
        n = new_node(u, K_DECL, c);
        n->var = var_add(u, c, false, -1);
        n->flags |= (unsigned short)type_flags(clang_getCursorType(c));
        n->name = u->vars[n->var].name;
        n->record = u->vars[n->var].record;
        n->alias = u->vars[n->var].alias;
        k = children_of(c);
        size_t last = SIZE_MAX;
        for (size_t i = 0; i < k.count; i++)
            if (clang_isExpression(clang_getCursorKind(k.items[i]))) last = i;
        if (last != SIZE_MAX) set_children(u, n, &k.items[last], 1);
        break;
    }
    case CXCursor_CallExpr:
        n = build_call(u, c);
        break;
    case CXCursor_DeclRefExpr: {
        CXCursor ref = clang_getCursorReferenced(c);
        enum CXCursorKind rk = clang_getCursorKind(ref);
        if (rk == CXCursor_VarDecl || rk == CXCursor_ParmDecl) {
            n = new_node(u, K_VAR, c);
            n->var = var_lookup(u, ref);
            n->flags |= (unsigned short)type_flags(clang_getCursorType(c));
            if (n->var < 0) {
                n->flags |= NF_GLOBAL;
                n->name = arena_cxstr(u, clang_getCursorSpelling(c));
            } else {
                n->name = u->vars[n->var].name;
                if (u->vars[n->var].is_static) n->flags |= NF_GLOBAL;
            }
            record_names(u, clang_getCursorType(c), &n->record, &n->alias);
        } else if (rk == CXCursor_FunctionDecl) {
            n = new_node(u, K_FUNC, c);
            n->name = api_name(u, arena_cxstr(u, clang_getCursorSpelling(c)));
        } else {
            n = new_node(u, K_OTHER, c);
        }
        break;
    }
    case CXCursor_MemberRefExpr:
        k = children_of(c);
        n = new_node(u, K_MEMBER, c);
        n->name = arena_cxstr(u, clang_getCursorSpelling(c));
        n->flags |= (unsigned short)type_flags(clang_getCursorType(c));
        set_children(u, n, k.items, k.count);
        if (n->nchild) {
            CXCursor base = k.items[0];
            record_names(u, clang_getCursorType(base), &n->record, &n->alias);
        }
        break;
    case CXCursor_BinaryOperator:
        k = children_of(c);
        n = build_binary(u, c, &k);
        break;
    case CXCursor_UnaryOperator:
        k = children_of(c);
        n = build_unary(u, c, &k);
        break;
    case CXCursor_StringLiteral:
        n = new_node(u, K_STRING, c);
        n->name = string_value(u, c);
        n->flags |= NF_PTR;
        break;
    case CXCursor_IntegerLiteral:
    case CXCursor_CharacterLiteral:
    case CXCursor_UnaryExpr: /* sizeof, _Alignof: the operand is not evaluated */
        n = new_node(u, K_INTEGER, c);
        break;
    default:
        k = children_of(c);
        n = new_node(u, K_OTHER, c);
        n->flags |= (unsigned short)type_flags(clang_getCursorType(c));
        set_children(u, n, k.items, k.count);
        break;
    }
    free(k.items);
    return n;
}

/* ---- the unit ----------------------------------------------------------- */

static void build_function(ir_unit_t *u, CXCursor fn) {
    u->nvars = 0;
    int nparams = clang_Cursor_getNumArguments(fn);
    for (int i = 0; i < nparams; i++)
        var_add(u, clang_Cursor_getArgument(fn, (unsigned)i), true, i);
    kids_t k = children_of(fn);
    node_t *body = NULL;
    for (size_t i = k.count; i-- > 0;)
        if (clang_getCursorKind(k.items[i]) == CXCursor_CompoundStmt) {
            body = build(u, k.items[i]);
            break;
        }
    free(k.items);
    if (!body) return;
    xgrow(&u->funcs, &u->funcs_cap, u->nfuncs + 1, sizeof *u->funcs);
    ir_function_t *f = &u->funcs[u->nfuncs++];
    node_t where;
    set_location(u, &where, fn);
    CXSourceLocation at = clang_getCursorLocation(fn);
    CXFile file;
    unsigned line, col, off;
    clang_getExpansionLocation(at, &file, &line, &col, &off);
    *f = (ir_function_t){.name = api_name(u, arena_cxstr(u, clang_getCursorSpelling(fn))),
                         .body = body,
                         .nvars = (unsigned)u->nvars,
                         .nparams = nparams > 0 ? (unsigned)nparams : 0,
                         .file = where.file,
                         .line = line,
                         .col = col,
                         .end_line = line,
                         .end_col = col,
                         .is_static = clang_Cursor_getStorageClass(fn) == CX_SC_Static};
    if (!f->name) f->name = "";
    f->vars = arena_alloc(u, (u->nvars ? u->nvars : 1) * sizeof *f->vars);
    if (u->nvars) memcpy(f->vars, u->vars, u->nvars * sizeof *f->vars);
}

static enum CXChildVisitResult top_level(CXCursor c, CXCursor parent, CXClientData data) {
    (void)parent;
    ir_unit_t *u = data;
    enum CXCursorKind kind = clang_getCursorKind(c);
    if (kind == CXCursor_FunctionDecl) {
        if (!clang_isCursorDefinition(c)) return CXChildVisit_Continue;
        if (clang_Location_isInSystemHeader(clang_getCursorLocation(c))) return CXChildVisit_Continue;
        build_function(u, c);
    } else if (kind == CXCursor_LinkageSpec || kind == CXCursor_Namespace) {
        return CXChildVisit_Recurse;
    }
    return CXChildVisit_Continue;
}

ir_unit_t *ir_build(CXTranslationUnit tu, ir_report_fn report, void *user) {
    ir_unit_t *u = xcalloc(1, sizeof *u);
    u->tu = tu;
    u->report = report;
    u->user = user;
    clang_visitChildren(clang_getTranslationUnitCursor(tu), top_level, u);
    free(u->vars);
    free(u->var_cursors);
    u->vars = NULL;
    u->var_cursors = NULL;
    return u;
}

void ir_free(ir_unit_t *u) {
    if (!u) return;
    while (u->chunks) {
        chunk_t *next = u->chunks->next;
        free(u->chunks);
        u->chunks = next;
    }
    for (size_t i = 0; i < u->nfiles; i++) {
        free(u->files[i].path);
        free(u->files[i].rel);
    }
    free(u->files);
    free(u->funcs);
    free(u);
}

unsigned ir_function_count(const ir_unit_t *u) {
    return (unsigned)u->nfuncs;
}
ir_function_t *ir_function_at(ir_unit_t *u, unsigned i) {
    return &u->funcs[i];
}
const ir_file_t *ir_file_at(const ir_unit_t *u, unsigned i) {
    return &u->files[i];
}
unsigned ir_file_count(const ir_unit_t *u) {
    return (unsigned)u->nfiles;
}

ir_function_t *ir_function_find(ir_unit_t *u, const char *name) {
    for (size_t i = 0; i < u->nfuncs; i++)
        if (strcmp(u->funcs[i].name, name) == 0) return &u->funcs[i];
    return NULL;
}

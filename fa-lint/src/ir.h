/* ir.h — the small tree that analyze.c walks: one function body taken from
 * libclang once, with implicit casts and parentheses removed, operators
 * recovered from the source text (LLVM 14's C API does not expose them),
 * string literals evaluated, and variables numbered per function. The
 * analysis runs several passes over it (function summaries to a fixed
 * point), which would be several libclang walks otherwise.
 * Internal to the analysis (ir.c builds, analyze.c reads). Nodes live in
 * the arena of their translation unit and die with it. */
#ifndef FA_LINT_IR_H
#define FA_LINT_IR_H

#include <clang-c/Index.h>
#include <stdbool.h>
#include <stddef.h>

typedef enum node_kind {
    K_OTHER,  /* any expression or statement not below; children evaluated */
    K_BLOCK,  /* { ... }: a scope */
    K_SEQ,    /* several declarations in one statement: no scope */
    K_IF,     /* cond, then [, else] */
    K_LOOP,   /* op 'w' while(cond, body), 'd' do(body, cond), 'f' for(..., body) */
    K_SWITCH, /* cond, body */
    K_CASE,   /* case/default: children then the statement */
    K_RETURN, /* [value] */
    K_BREAK,
    K_CONTINUE,
    K_GOTO,     /* name: the label */
    K_LABEL,    /* name; child: the statement */
    K_DECL,     /* var: the local declared; [init] */
    K_CALL,     /* name: callee ("" through a pointer); children: arguments */
    K_VAR,      /* var >= 0: a local or parameter; var < 0: global (flags) */
    K_FUNC,     /* name: a function used as a value (a callback) */
    K_MEMBER,   /* name: the field; child: the base; record: base's struct */
    K_ASSIGN,   /* op '=' or 'c' (compound); lhs, rhs */
    K_ADDR,     /* &child */
    K_DEREF,    /* *child */
    K_INDEX,    /* base[index] */
    K_COND,     /* c ? a : b */
    K_ARITH,    /* other binary/unary operators; op: the first character */
    K_CMP,      /* relational or equality; op '<' '>' 'l'(<=) 'g'(>=) 'e'(==) 'n'(!=) */
    K_STRING,   /* name: the literal's value */
    K_INTEGER,  /* value: the literal's value */
    K_INIT,     /* { initialiser list } */
    K_TAGSCOPE, /* FA_WITH_TAG's one-shot loop: guard call, body */
} node_kind;

enum node_flags {
    NF_PTR = 1u << 0,       /* the expression's type is a pointer or array */
    NF_GLOBAL = 1u << 1,    /* K_VAR: file-scope or static storage */
    NF_UNBOUNDED = 1u << 2, /* K_LOOP: no visible bound */
    NF_FUNCPTR = 1u << 3,   /* the expression's type is a function pointer */
    NF_MACRO = 1u << 4,     /* written inside a macro expansion */
    NF_ARRAY = 1u << 5,     /* K_VAR/K_DECL: an array variable */
    NF_VALUE = 1u << 6,     /* K_INTEGER: value evaluated */
};

typedef struct node node_t;
struct node {
    unsigned char kind, op;
    unsigned short flags;
    unsigned nchild;
    node_t **child;
    const char *name;   /* see node_kind */
    const char *record; /* struct tag of the pointee/value type, or NULL */
    const char *alias;  /* typedef name of that type as written, or NULL */
    int var;            /* K_VAR/K_DECL: the function's variable number */
    long long value;    /* K_INTEGER: read it with ir_integer() */
    /* Where the user wrote it (expansion locations): only valid after
     * ir_locate(), which computes them when a finding needs them. */
    unsigned file; /* index in the unit's file table */
    unsigned line, col, end_line, end_col;
    bool located;
    CXCursor cursor;
    const char *const *strings; /* K_CALL of fa_budget_set*: literals the tag argument reaches */
    unsigned nstrings;
};

typedef struct ir_var {
    const char *name;
    bool is_param, is_static, is_pointer, is_array;
    int param_index;
    const char *record; /* pointee struct tag, for long-lived types */
    const char *alias;
} ir_var_t;

typedef struct ir_file {
    CXFile handle;
    char *path;  /* absolute */
    char *rel;   /* relative to the root, or NULL when outside it */
    bool report; /* findings here are reported */
    const char *text;
    size_t len;
} ir_file_t;

typedef struct ir_function {
    const char *name;
    node_t *body;
    ir_var_t *vars;
    unsigned nvars, nparams;
    unsigned file, line, col, end_line, end_col;
    bool is_static;
} ir_function_t;

typedef struct ir_unit ir_unit_t;

/* Reads every function definition of tu outside system headers. The
 * callback decides per file whether findings there are reported (the root
 * and excludes). NULL only on no memory (which exits). */
typedef bool (*ir_report_fn)(const char *abs_path, char **rel_out, void *user);
ir_unit_t *ir_build(CXTranslationUnit tu, ir_report_fn report, void *user);
void ir_free(ir_unit_t *u);

/* The value of a K_INTEGER node (0 for others), evaluated once. */
long long ir_integer(const node_t *n);
/* Fills n's location fields (once). */
void ir_locate(ir_unit_t *u, const node_t *n);

unsigned ir_function_count(const ir_unit_t *u);
ir_function_t *ir_function_at(ir_unit_t *u, unsigned i);
/* The definition named name in this unit, or NULL. */
ir_function_t *ir_function_find(ir_unit_t *u, const char *name);
const ir_file_t *ir_file_at(const ir_unit_t *u, unsigned i);
unsigned ir_file_count(const ir_unit_t *u);

#endif

/*
 * Python's own SQLite, for ecocomp's compiled parts (ecocomp/ledger/_scanc.c,
 * ecocomp/_bulkc.c): the SQLite functions they call, looked up in the library that Python's
 * _sqlite3 module uses (dlsym on its handle searches it and its dependencies), never
 * linked: two copies of SQLite in one process would undo each other's POSIX locks, and a
 * connection of Python's can only be used with the functions of the library that opened it.
 *
 * Include once per extension module: `SQL` and `py_sqlite_attach` are static to it.
 */
#ifndef ECOCOMP_SQLITE_DL_H
#define ECOCOMP_SQLITE_DL_H

#include <Python.h>
#include <dlfcn.h>
#include <string.h>

typedef struct sqlite3 sqlite3;
typedef struct sqlite3_stmt sqlite3_stmt;
typedef struct sqlite3_context sqlite3_context;
typedef struct sqlite3_value sqlite3_value;
typedef struct sqlite3_module sqlite3_module;
/* sqlite3.h's, up to the one field ecocomp sets (idxNum; the layout is stable since 3.7) */
typedef struct sqlite3_index_info {
    int nConstraint;
    void *aConstraint;
    int nOrderBy;
    void *aOrderBy;
    void *aConstraintUsage;
    int idxNum;
} sqlite3_index_info;
/* the virtual table ABI (sqlite3.h, stable since 3.7; iVersion 1 reads up to xRename) */
typedef struct sqlite3_vtab {
    const sqlite3_module *pModule;
    int nRef;
    char *zErrMsg;
} sqlite3_vtab;
typedef struct sqlite3_vtab_cursor {
    sqlite3_vtab *pVtab;
} sqlite3_vtab_cursor;
struct sqlite3_module {
    int iVersion;
    int (*xCreate)(sqlite3 *, void *, int, const char *const *, sqlite3_vtab **, char **);
    int (*xConnect)(sqlite3 *, void *, int, const char *const *, sqlite3_vtab **, char **);
    int (*xBestIndex)(sqlite3_vtab *, sqlite3_index_info *);
    int (*xDisconnect)(sqlite3_vtab *);
    int (*xDestroy)(sqlite3_vtab *);
    int (*xOpen)(sqlite3_vtab *, sqlite3_vtab_cursor **);
    int (*xClose)(sqlite3_vtab_cursor *);
    int (*xFilter)(sqlite3_vtab_cursor *, int, const char *, int, sqlite3_value **);
    int (*xNext)(sqlite3_vtab_cursor *);
    int (*xEof)(sqlite3_vtab_cursor *);
    int (*xColumn)(sqlite3_vtab_cursor *, sqlite3_context *, int);
    int (*xRowid)(sqlite3_vtab_cursor *, long long *);
    int (*xUpdate)(sqlite3_vtab *, int, sqlite3_value **, long long *);
    int (*xBegin)(sqlite3_vtab *);
    int (*xSync)(sqlite3_vtab *);
    int (*xCommit)(sqlite3_vtab *);
    int (*xRollback)(sqlite3_vtab *);
    int (*xFindFunction)(sqlite3_vtab *, int, const char *,
                         void (**)(sqlite3_context *, int, sqlite3_value **), void **);
    int (*xRename)(sqlite3_vtab *, const char *);
};
#define SQLITE_OK 0
#define SQLITE_ERROR 1
#define SQLITE_NOMEM 7
#define SQLITE_CONSTRAINT 19
#define SQLITE_TOOBIG 18
#define SQLITE_LIMIT_LENGTH 0
#define SQLITE_ROW 100
#define SQLITE_DONE 101
#define SQLITE_INTEGER 1
#define SQLITE_TEXT 3
#define SQLITE_BLOB 4
#define SQLITE_NULL 5
#define SQLITE_UTF8 1
#define SQLITE_DIRECTONLY 0x000080000
#define SQLITE_VTAB_DIRECTONLY 3
#define SQLITE_OPEN_READONLY 0x00000001
#define SQLITE_OPEN_URI 0x00000040
#define SQLITE_OPEN_NOMUTEX 0x00008000
#define SQLITE_STATIC ((void (*)(void *))0)
#define SQLITE_TRANSIENT ((void (*)(void *))-1)

static struct {
    int (*open_v2)(const char *, sqlite3 **, int, const char *);
    int (*close_v2)(sqlite3 *);
    int (*prepare_v2)(sqlite3 *, const char *, int, sqlite3_stmt **, const char **);
    int (*bind_int64)(sqlite3_stmt *, int, long long);
    int (*bind_text)(sqlite3_stmt *, int, const char *, int, void (*)(void *));
    int (*bind_null)(sqlite3_stmt *, int);
    int (*bind_parameter_count)(sqlite3_stmt *);
    int (*stmt_readonly)(sqlite3_stmt *);
    int (*step)(sqlite3_stmt *);
    int (*reset)(sqlite3_stmt *);
    int (*column_count)(sqlite3_stmt *);
    int (*column_type)(sqlite3_stmt *, int);
    long long (*column_int64)(sqlite3_stmt *, int);
    const void *(*column_blob)(sqlite3_stmt *, int);
    const unsigned char *(*column_text)(sqlite3_stmt *, int);
    int (*column_bytes)(sqlite3_stmt *, int);
    int (*finalize)(sqlite3_stmt *);
    int (*extended_errcode)(sqlite3 *);
    const char *(*errmsg)(sqlite3 *);
    int (*auto_extension)(void (*)(void));
    int (*cancel_auto_extension)(void (*)(void));
    int (*create_function_v2)(sqlite3 *, const char *, int, int, void *,
                              void (*)(sqlite3_context *, int, sqlite3_value **),
                              void (*)(sqlite3_context *, int, sqlite3_value **),
                              void (*)(sqlite3_context *), void (*)(void *));
    sqlite3 *(*context_db_handle)(sqlite3_context *);
    void (*result_int64)(sqlite3_context *, long long);
    int (*libversion_number)(void);
    void (*result_text)(sqlite3_context *, const char *, int, void (*)(void *));
    void (*result_null)(sqlite3_context *);
    void (*result_error)(sqlite3_context *, const char *, int);
    int (*create_module_v2)(sqlite3 *, const char *, const sqlite3_module *, void *,
                            void (*)(void *));
    int (*declare_vtab)(sqlite3 *, const char *);
    int (*vtab_config)(sqlite3 *, int, ...);
    int (*limit)(sqlite3 *, int, int);
    int ready;
} SQL = {0};

/* sqlite_attach(path of _sqlite3): find SQLite in that loaded module; True if found. */
static PyObject *py_sqlite_attach(PyObject *self, PyObject *arg) {
    (void)self;
    if (!PyUnicode_Check(arg)) {
        PyErr_SetString(PyExc_TypeError, "sqlite_attach() takes the path of _sqlite3");
        return NULL;
    }
    if (SQL.ready) Py_RETURN_TRUE;
    const char *path = PyUnicode_AsUTF8(arg);
    if (path == NULL) return NULL;
    /* RTLD_NOLOAD: only a module Python has loaded already */
    void *handle = dlopen(path, RTLD_LAZY | RTLD_LOCAL | RTLD_NOLOAD);
    if (handle == NULL) Py_RETURN_FALSE;
#define FIND(field, name)                                    \
    *(void **)(&SQL.field) = dlsym(handle, "sqlite3_" name); \
    if (SQL.field == NULL) goto missing;
    FIND(open_v2, "open_v2")
    FIND(close_v2, "close_v2")
    FIND(prepare_v2, "prepare_v2")
    FIND(bind_int64, "bind_int64")
    FIND(bind_text, "bind_text")
    FIND(bind_null, "bind_null")
    FIND(bind_parameter_count, "bind_parameter_count")
    FIND(stmt_readonly, "stmt_readonly")
    FIND(step, "step")
    FIND(reset, "reset")
    FIND(column_count, "column_count")
    FIND(column_type, "column_type")
    FIND(column_int64, "column_int64")
    FIND(column_blob, "column_blob")
    FIND(column_text, "column_text")
    FIND(column_bytes, "column_bytes")
    FIND(finalize, "finalize")
    FIND(extended_errcode, "extended_errcode")
    FIND(errmsg, "errmsg")
    FIND(auto_extension, "auto_extension")
    FIND(cancel_auto_extension, "cancel_auto_extension")
    FIND(create_function_v2, "create_function_v2")
    FIND(context_db_handle, "context_db_handle")
    FIND(result_int64, "result_int64")
    FIND(libversion_number, "libversion_number")
    FIND(result_text, "result_text")
    FIND(result_null, "result_null")
    FIND(result_error, "result_error")
    FIND(create_module_v2, "create_module_v2")
    FIND(declare_vtab, "declare_vtab")
    FIND(vtab_config, "vtab_config")
    FIND(limit, "limit")
#undef FIND
#ifdef RTLD_DEFAULT
    /* _sqlite3 binds its SQLite functions in the global scope first (a preloaded library,
     * an interpreter linked with SQLite) and only then in its own dependencies, where dlsym
     * found them: if the global scope has other ones, they may be another copy */
    void *global = dlsym(RTLD_DEFAULT, "sqlite3_open_v2");
    if (global != NULL && global != *(void **)(&SQL.open_v2)) goto missing;
#endif
    SQL.ready = 1;
    dlclose(handle); /* NOLOAD took a reference; the module keeps the library loaded */
    Py_RETURN_TRUE;
missing:
    dlclose(handle);
    memset(&SQL, 0, sizeof SQL);
    Py_RETURN_FALSE;
}

#endif

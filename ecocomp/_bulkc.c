/*
 * ecocomp._bulkc: the compiled insert of the readings import's fast path.
 *
 * `insert(handle, sql, n, columns)` runs one statement, `INSERT INTO t (...) SELECT c0, c1,
 * ... FROM ecocomp_block`, on a connection Python's sqlite3 module opened: `ecocomp_block`
 * is a virtual table whose rows are the n rows of a block of readings, each value read
 * straight from the block's columns (pyarrow buffers, or a few Python values), with no
 * Python object per row and without the GIL while SQLite works, so the next block is parsed
 * meanwhile. One statement a block, not one a row: SQLite opens the table's and indexes'
 * cursors once and binds nothing (measured: 4.1 s instead of 6.7 s for 2.45 M readings).
 * It changes nothing of what is stored: the same values in the same order as `executemany`
 * over the rows (tests/test_bulk_insert.py holds them equal).
 *
 * The connection is found through SQLite itself, never through the layout of Python's
 * connection object: while `watch()` is on, every connection opened gets a function
 * `ecocomp_bulk_handle()` that returns its own handle and the `ecocomp_block` table (an
 * SQLite auto extension, both DIRECTONLY), and the store asks its connection for the handle.
 * The SQLite functions are those of the library Python's _sqlite3 module uses
 * (ecocomp/_sqlite_dl.h).
 *
 * The block is read by the connection inserting it, in the thread stepping the insert, while
 * `insert()` runs, and by no other: a statement that Python code run meanwhile (a function
 * of the statement) keeps reads no more rows after the call, and its current row is its own
 * copy; an insert inside an insert gives the outer block back; indices and offsets are
 * checked again as they are read (a writable buffer may change while SQLite works).
 *
 * `pack(columns, n, max_readings, split)` packs a block of readings (its ten columns, read
 * by the same code as the insert's) into parts, each of at most max_readings readings of one
 * (section, parameter, source, month), each part's readings as JSON text that SQLite's
 * json_each unpacks and its monthly sums (see bulk_insert.pack): the keys ranked (a
 * dictionary's values once), the rows sorted by one radix sort of the ranks packed in a
 * 32-bit key (or a counting sort a rank when they do not fit), the JSON written into one
 * buffer and the sums added up, all without the GIL; the Python objects made at the end.
 *
 * Columns, one per column c0, c1, ... of the table, each a tuple:
 *   (0, values)                  a sequence of str, int or None, indexed by `indices`:
 *   (0, values, indices)         indices an int32 buffer (a pyarrow dictionary's), from
 *                                element `offset` = the 4th item, or (0, values) for one
 *                                value repeated on every row
 *   (1, offsets, data, offset)   a pyarrow string array with no nulls: int32 offsets, bytes
 *   (2, data, validity, offset)  a pyarrow int64 array: validity a bitmap or None
 *   (3, start)                   start, start + 1, … (row numbers)
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "_sqlite_dl.h"

#define MAX_COLUMNS 32

/* --------------------------------------------------- the connection's handle */

static void handle_function(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
    (void)argc;
    (void)argv;
    SQL.result_int64(ctx, (long long)(intptr_t)SQL.context_db_handle(ctx));
}

static const sqlite3_module block_module;

static int register_handle(sqlite3 *db, char **error, const void *api) {
    (void)error;
    (void)api;
    /* DIRECTONLY: callable from the statements of the program, never from a view or a
     * trigger that a database file brings */
    int rc = SQL.create_function_v2(db, "ecocomp_bulk_handle", 0,
                                    SQLITE_UTF8 | SQLITE_DIRECTONLY, NULL, handle_function,
                                    NULL, NULL, NULL);
    if (rc == SQLITE_OK) rc = SQL.create_module_v2(db, "ecocomp_block", &block_module, NULL, NULL);
    return rc;
}

static PyObject *py_watch(PyObject *self, PyObject *on) {
    (void)self;
    if (!SQL.ready) {
        PyErr_SetString(PyExc_RuntimeError, "sqlite_attach() first");
        return NULL;
    }
    int truth = PyObject_IsTrue(on);
    if (truth < 0) return NULL;
    /* SQLITE_DIRECTONLY is 3.30.0's (3.31.0's for a virtual table): an older SQLite drops
     * the flag without a word, and a view or trigger of a database file could read the
     * handle. No handle there. */
    if (truth && SQL.libversion_number() < 3031000) Py_RETURN_FALSE;
    void (*entry)(void) = (void (*)(void))register_handle;
    if (truth) {
        if (SQL.auto_extension(entry) != SQLITE_OK) Py_RETURN_FALSE;
    } else {
        SQL.cancel_auto_extension(entry);
    }
    Py_RETURN_TRUE;
}

/* ------------------------------------------------------------------ columns */

enum { K_VALUES = 0, K_STRINGS = 1, K_INT64 = 2, K_RANGE = 3 };
enum { V_NULL = 0, V_INT, V_TEXT };

typedef struct {
    int type;
    long long i;
    const char *s;
    Py_ssize_t n;
} Value;

typedef struct {
    int kind;
    Py_ssize_t offset;
    /* K_VALUES */
    PyObject *held; /* the values, as a tuple of ours */
    Value *values;
    Py_ssize_t count;
    const int32_t *indices; /* NULL: values[0] on every row */
    /* K_STRINGS */
    const int32_t *offsets;
    const char *data;
    Py_ssize_t data_len;
    /* K_INT64 */
    const int64_t *ints;
    const uint8_t *valid;
    /* K_RANGE */
    long long start;
    Py_buffer views[2];
    int nviews;
} Column;

static void column_free(Column *c) {
    for (int v = 0; v < c->nviews; v++) PyBuffer_Release(&c->views[v]);
    c->nviews = 0;
    PyMem_Free(c->values);
    c->values = NULL;
    Py_CLEAR(c->held);
}

/* offset + n (n >= 0), or -1 for a negative offset or a sum past PY_SSIZE_T_MAX */
static Py_ssize_t rows_to(Py_ssize_t offset, Py_ssize_t n) {
    return offset < 0 || offset > PY_SSIZE_T_MAX - n ? -1 : offset + n;
}

/* A buffer of at least `items` items of `size` bytes, held until column_free; `items` < 0
 * (rows_to: no such count) is refused. Compared as items, not multiplied out into bytes,
 * which could wrap and let a short buffer pass. */
static const void *column_view(Column *c, PyObject *obj, Py_ssize_t items, Py_ssize_t size,
                               Py_ssize_t *len) {
    Py_buffer *view = &c->views[c->nviews];
    if (PyObject_GetBuffer(obj, view, PyBUF_SIMPLE) < 0) return NULL;
    c->nviews++;
    if (items < 0 || items > view->len / size) {
        PyErr_SetString(PyExc_ValueError, "a column's buffer is shorter than its rows");
        return NULL;
    }
    if (len != NULL) *len = view->len;
    return view->buf;
}

static int value_from(Value *v, PyObject *obj) {
    if (obj == Py_None) {
        v->type = V_NULL;
    } else if (PyLong_CheckExact(obj)) {
        int overflow = 0;
        v->i = PyLong_AsLongLongAndOverflow(obj, &overflow);
        if (overflow || (v->i == -1 && PyErr_Occurred())) {
            PyErr_SetString(PyExc_OverflowError, "an integer beyond 64 bits");
            return -1;
        }
        v->type = V_INT;
    } else if (PyUnicode_CheckExact(obj)) {
        v->s = PyUnicode_AsUTF8AndSize(obj, &v->n);
        if (v->s == NULL) return -1;
        if (v->n > INT32_MAX) {
            PyErr_SetString(PyExc_OverflowError, "a text of over 2 GB");
            return -1;
        }
        v->type = V_TEXT;
    } else {
        PyErr_Format(PyExc_TypeError, "a column value of type %.100s (str, int or None only)",
                     Py_TYPE(obj)->tp_name);
        return -1;
    }
    return 0;
}

static int column_parse(Column *c, PyObject *spec, Py_ssize_t n) {
    memset(c, 0, sizeof *c);
    if (!PyTuple_Check(spec) || PyTuple_GET_SIZE(spec) < 2) {
        PyErr_SetString(PyExc_TypeError, "a column is a tuple (kind, ...)");
        return -1;
    }
    Py_ssize_t size = PyTuple_GET_SIZE(spec);
    long kind = PyLong_AsLong(PyTuple_GET_ITEM(spec, 0));
    if (kind == -1 && PyErr_Occurred()) return -1;
    c->kind = (int)kind;
    switch (kind) {
    case K_VALUES: {
        c->held = PySequence_Tuple(PyTuple_GET_ITEM(spec, 1));
        if (c->held == NULL) return -1;
        c->count = PyTuple_GET_SIZE(c->held);
        if (c->count == 0) {
            PyErr_SetString(PyExc_ValueError, "a column with no values");
            return -1;
        }
        c->values = PyMem_Calloc((size_t)c->count, sizeof(Value));
        if (c->values == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        for (Py_ssize_t k = 0; k < c->count; k++)
            if (value_from(&c->values[k], PyTuple_GET_ITEM(c->held, k)) < 0) return -1;
        if (size == 2) return 0;
        if (size != 4) break;
        c->offset = PyLong_AsSsize_t(PyTuple_GET_ITEM(spec, 3));
        if (c->offset < 0) break;
        c->indices = column_view(c, PyTuple_GET_ITEM(spec, 2), rows_to(c->offset, n), 4, NULL);
        if (c->indices == NULL) return -1;
        c->indices += c->offset;
        for (Py_ssize_t r = 0; r < n; r++) /* checked once, so the loop cannot stray */
            if (c->indices[r] < 0 || c->indices[r] >= c->count) {
                PyErr_SetString(PyExc_ValueError, "an index outside the column's values");
                return -1;
            }
        return 0;
    }
    case K_STRINGS: {
        if (size != 4) break;
        c->offset = PyLong_AsSsize_t(PyTuple_GET_ITEM(spec, 3));
        if (c->offset < 0) break;
        c->offsets =
            column_view(c, PyTuple_GET_ITEM(spec, 1), rows_to(rows_to(c->offset, n), 1), 4, NULL);
        if (c->offsets == NULL) return -1;
        c->offsets += c->offset;
        c->data = column_view(c, PyTuple_GET_ITEM(spec, 2), 0, 1, &c->data_len);
        if (c->data == NULL) return -1;
        for (Py_ssize_t r = 0; r < n; r++)
            if (c->offsets[r] < 0 || c->offsets[r] > c->offsets[r + 1] ||
                c->offsets[r + 1] > c->data_len) {
                PyErr_SetString(PyExc_ValueError, "a string column's offsets are not sound");
                return -1;
            }
        return 0;
    }
    case K_INT64: {
        if (size != 4) break;
        c->offset = PyLong_AsSsize_t(PyTuple_GET_ITEM(spec, 3));
        if (c->offset < 0) break;
        c->ints = column_view(c, PyTuple_GET_ITEM(spec, 1), rows_to(c->offset, n), 8, NULL);
        if (c->ints == NULL) return -1;
        PyObject *valid = PyTuple_GET_ITEM(spec, 2);
        if (valid != Py_None) {
            Py_ssize_t rows = rows_to(c->offset, n);
            c->valid = column_view(c, valid, rows < 0 ? -1 : rows / 8 + (rows % 8 != 0), 1, NULL);
            if (c->valid == NULL) return -1;
        }
        return 0;
    }
    case K_RANGE:
        if (size != 2) break;
        c->start = PyLong_AsLongLong(PyTuple_GET_ITEM(spec, 1));
        if (c->start == -1 && PyErr_Occurred()) return -1;
        if (n > 0 && c->start > LLONG_MAX - (long long)(n - 1)) {
            /* start + r must not wrap (executemany raises on the row past 2^63 - 1) */
            PyErr_SetString(PyExc_OverflowError, "row numbers beyond 64 bits");
            return -1;
        }
        return 0;
    }
    if (!PyErr_Occurred()) PyErr_SetString(PyExc_ValueError, "a column spec of unknown form");
    return -1;
}

/* ------------------------------------------- the block as a table: ecocomp_block */

/* The block an `insert()` call is writing, in the thread that runs its statement: SQLite
 * calls the table's methods in the thread that steps the statement. NULL: no block, and
 * the table has no rows (any other statement that names it reads nothing). */
typedef struct {
    const Column *cols;
    int ncols;
    Py_ssize_t n;
    Py_ssize_t at; /* the row being read: the refused one when the statement fails */
    Py_ssize_t longest; /* the connection's SQLITE_LIMIT_LENGTH */
    sqlite3 *db; /* the connection whose statement inserts it: no other one reads it */
    unsigned long long serial; /* this call's, in this thread */
    int readers; /* cursors opened on it: `at` is the refused row only when one was */
} Feed;

static _Thread_local Feed *feeding = NULL;
static _Thread_local unsigned long long feeds = 0;
/* The connection whose insert statement `insert()` is preparing in this thread, else NULL:
 * the plans SQLite makes meanwhile are the insert's own (xBestIndex marks them OWN). */
static _Thread_local sqlite3 *preparing = NULL;
enum { OTHER = 0, OWN = 1 };

typedef struct {
    sqlite3_vtab base;
    sqlite3 *db;
} BlockTable;

typedef struct {
    sqlite3_vtab_cursor base;
    Feed *feed; /* what xFilter found: NULL, no rows */
    unsigned long long serial; /* feed->serial then */
    Py_ssize_t r;
    /* SQLITE_STATIC for the insert's own statement, which is done with the block when
     * insert() returns; a copy for any other (a statement that a Python function of the
     * insert ran may keep its current row after the call, when the buffers are gone) */
    void (*texts)(void *);
} BlockCursor;

/* This thread's block if it is the one the cursor started reading and its call is still
 * under way, else NULL: a statement that outlives the call (one a Python function ran on
 * this connection during it, kept and stepped later) reads no more rows, never the
 * buffers and the Feed that the call has given back. */
static Feed *live(const BlockCursor *cursor) {
    Feed *feed = feeding;
    return feed != NULL && feed == cursor->feed && feed->serial == cursor->serial ? feed : NULL;
}

/* This thread's block if `table` is of the connection inserting it, else NULL. */
static Feed *fed(sqlite3_vtab *table) {
    Feed *feed = feeding;
    return feed != NULL && feed->db == ((BlockTable *)table)->db ? feed : NULL;
}

static int block_connect(sqlite3 *db, void *aux, int argc, const char *const *argv,
                         sqlite3_vtab **out, char **error) {
    (void)aux;
    (void)argc;
    (void)argv;
    (void)error;
    /* columns c0 … c31, one per column of the block; past its columns, NULL */
    char ddl[16 + MAX_COLUMNS * 5] = "CREATE TABLE x(";
    for (int k = 0; k < MAX_COLUMNS; k++) {
        char name[8];
        snprintf(name, sizeof name, k ? ",c%d" : "c%d", k);
        strcat(ddl, name);
    }
    strcat(ddl, ")");
    int rc = SQL.declare_vtab(db, ddl);
    /* never from a view or a trigger that a database file brings */
    if (rc == SQLITE_OK) rc = SQL.vtab_config(db, SQLITE_VTAB_DIRECTONLY);
    if (rc != SQLITE_OK) return rc;
    BlockTable *table = calloc(1, sizeof *table);
    if (table == NULL) return SQLITE_NOMEM;
    table->db = db;
    *out = &table->base;
    return SQLITE_OK;
}

static int block_disconnect(sqlite3_vtab *table) {
    free(table);
    return SQLITE_OK;
}

static int block_best_index(sqlite3_vtab *table, sqlite3_index_info *info) {
    /* one way to read it: every row, in order; marked OWN in insert()'s own statement
     * (SQLite plans again, unmarked, a statement it prepares again: it copies then) */
    info->idxNum = preparing == ((BlockTable *)table)->db ? OWN : OTHER;
    return SQLITE_OK;
}

static int block_open(sqlite3_vtab *table, sqlite3_vtab_cursor **out) {
    BlockCursor *cursor = calloc(1, sizeof *cursor);
    if (cursor == NULL) return SQLITE_NOMEM;
    Feed *feed = fed(table);
    if (feed != NULL) feed->readers++;
    *out = &cursor->base;
    return SQLITE_OK;
}

static int block_close(sqlite3_vtab_cursor *cursor) {
    free(cursor);
    return SQLITE_OK;
}

static int block_filter(sqlite3_vtab_cursor *base, int num, const char *str, int argc,
                        sqlite3_value **argv) {
    (void)str;
    (void)argc;
    (void)argv;
    BlockCursor *cursor = (BlockCursor *)base;
    Feed *feed = fed(base->pVtab);
    cursor->texts = num == OWN ? SQLITE_STATIC : SQLITE_TRANSIENT;
    cursor->feed = feed;
    cursor->serial = feed != NULL ? feed->serial : 0;
    cursor->r = 0;
    if (feed != NULL) feed->at = 0;
    return SQLITE_OK;
}

static int block_next(sqlite3_vtab_cursor *base) {
    BlockCursor *cursor = (BlockCursor *)base;
    Feed *feed = live(cursor);
    cursor->r++;
    if (feed != NULL) feed->at = cursor->r;
    return SQLITE_OK;
}

static int block_eof(sqlite3_vtab_cursor *base) {
    BlockCursor *cursor = (BlockCursor *)base;
    Feed *feed = live(cursor);
    return feed == NULL || cursor->r >= feed->n;
}

/* what SQLite says of a column read when the block is not there as it was checked */
static int changed(sqlite3_context *ctx, const char *what) {
    SQL.result_error(ctx, what, -1);
    return SQLITE_ERROR;
}

static int block_column(sqlite3_vtab_cursor *base, sqlite3_context *ctx, int k) {
    BlockCursor *cursor = (BlockCursor *)base;
    Feed *feed = live(cursor);
    Py_ssize_t r = cursor->r;
    if (feed == NULL) return changed(ctx, "ecocomp_block read after its insert ended");
    if (k < 0 || k >= feed->ncols) {
        SQL.result_null(ctx);
        return SQLITE_OK;
    }
    const Column *c = &feed->cols[k];
    switch (c->kind) {
    case K_VALUES: {
        /* checked again here: a buffer is writable (a bytearray) by Python code that runs
         * while SQLite works (a function of the statement, another thread) */
        int32_t i = c->indices ? c->indices[r] : 0;
        if (i < 0 || i >= c->count)
            return changed(ctx, "an index outside the column's values (changed during the insert)");
        const Value *v = &c->values[i];
        if (v->type == V_INT)
            SQL.result_int64(ctx, v->i);
        else if (v->type == V_TEXT && v->n > feed->longest)
            return SQLITE_TOOBIG; /* what binding it would have said */
        else if (v->type == V_TEXT)
            SQL.result_text(ctx, v->s, (int)v->n, cursor->texts);
        else
            SQL.result_null(ctx);
        break;
    }
    case K_STRINGS: {
        int32_t a = c->offsets[r], b = c->offsets[r + 1];
        if (a < 0 || b < a || b > c->data_len)
            return changed(ctx, "a string column's offsets are not sound (changed during the insert)");
        if (b - a > feed->longest) return SQLITE_TOOBIG;
        SQL.result_text(ctx, c->data + a, b - a, cursor->texts);
        break;
    }
    case K_INT64: {
        Py_ssize_t at = c->offset + r;
        if (c->valid != NULL && !((c->valid[at >> 3] >> (at & 7)) & 1))
            SQL.result_null(ctx);
        else
            SQL.result_int64(ctx, c->ints[at]);
        break;
    }
    default:
        SQL.result_int64(ctx, c->start + r);
    }
    return SQLITE_OK;
}

static int block_rowid(sqlite3_vtab_cursor *base, long long *rowid) {
    *rowid = ((BlockCursor *)base)->r;
    return SQLITE_OK;
}

/* eponymous only (no xCreate): `FROM ecocomp_block`, never CREATE VIRTUAL TABLE */
static const sqlite3_module block_module = {
    1,    NULL,         block_connect, block_best_index, block_disconnect, NULL,
    block_open, block_close, block_filter, block_next, block_eof, block_column,
    block_rowid, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
};

/* `sql` past blanks and comments, as sqlite3 skips them after the one statement it runs */
static const char *past_blanks(const char *sql) {
    for (;;) {
        if (*sql == ' ' || *sql == '\t' || *sql == '\f' || *sql == '\n' || *sql == '\r') {
            sql++;
        } else if (sql[0] == '-' && sql[1] == '-') {
            const char *end = strchr(sql, '\n');
            if (end == NULL) return sql + strlen(sql);
            sql = end + 1;
        } else if (sql[0] == '/' && sql[1] == '*') {
            const char *end = strstr(sql + 2, "*/");
            if (end == NULL) return sql + strlen(sql);
            sql = end + 2;
        } else {
            return sql;
        }
    }
}

/* sqlite3.ProgrammingError(message), what executemany raises for a statement it refuses */
static void programming_error(const char *message) {
    PyObject *module = PyImport_ImportModule("sqlite3");
    if (module == NULL) return;
    PyObject *kind = PyObject_GetAttrString(module, "ProgrammingError");
    Py_DECREF(module);
    if (kind == NULL) return;
    PyErr_SetString(kind, message);
    Py_DECREF(kind);
}

/* insert(handle, sql, n, columns): runs `sql`, one statement without parameters that reads
 * `ecocomp_block` (INSERT INTO t (...) SELECT c0, c1, ... FROM ecocomp_block), once, the
 * block's n rows its rows. None when it ran to the end, else (code, message, row) of
 * SQLite's error, `row` the block's row SQLite refused, or -1 where that is not known; the
 * statement's changes are all undone by SQLite (the caller rolls back its transaction). */
static PyObject *py_insert(PyObject *self, PyObject *args) {
    (void)self;
    long long handle;
    const char *sql;
    Py_ssize_t n;
    PyObject *specs;
    if (!PyArg_ParseTuple(args, "LsnO!", &handle, &sql, &n, &PyTuple_Type, &specs)) return NULL;
    if (!SQL.ready) {
        PyErr_SetString(PyExc_RuntimeError, "sqlite_attach() first");
        return NULL;
    }
    if (handle == 0 || n < 0) {
        PyErr_SetString(PyExc_ValueError, "no connection, or a negative count");
        return NULL;
    }
    int ncols = (int)PyTuple_GET_SIZE(specs);
    if (ncols > MAX_COLUMNS) {
        PyErr_SetString(PyExc_ValueError, "too many columns");
        return NULL;
    }
    Column cols[MAX_COLUMNS];
    int parsed = 0;
    PyObject *result = NULL;
    sqlite3_stmt *stmt = NULL;
    sqlite3 *db = (sqlite3 *)(intptr_t)handle;
    for (; parsed < ncols; parsed++)
        if (column_parse(&cols[parsed], PyTuple_GET_ITEM(specs, parsed), n) < 0) {
            column_free(&cols[parsed]);
            goto done;
        }
    const char *tail = NULL;
    sqlite3 *was = preparing;
    preparing = db;
    int rc = SQL.prepare_v2(db, sql, -1, &stmt, &tail);
    preparing = was;
    if (rc == SQLITE_OK && tail != NULL && *past_blanks(tail) != '\0') {
        programming_error("You can only execute one statement at a time.");
        goto done;
    }
    /* executemany refuses a statement that writes nothing (SELECT, PRAGMA, BEGIN) */
    if (rc == SQLITE_OK && stmt != NULL && SQL.stmt_readonly(stmt)) {
        programming_error("executemany() can only execute DML statements.");
        goto done;
    }
    if (rc == SQLITE_OK && (stmt == NULL || SQL.bind_parameter_count(stmt) != 0)) {
        PyErr_SetString(PyExc_ValueError, "the statement has parameters, or is empty");
        goto done;
    }
    Py_ssize_t r = -1; /* no row read: the statement did not run */
    if (rc == SQLITE_OK) {
        Feed feed = {cols, ncols, n, 0, SQL.limit(db, SQLITE_LIMIT_LENGTH, -1), db, ++feeds, 0};
        Py_BEGIN_ALLOW_THREADS
        /* an insert inside this one (a function of the statement that inserts a block of
         * its own) gives this block back to this statement when it ends */
        Feed *outer = feeding;
        feeding = &feed;
        rc = SQL.step(stmt);
        while (rc == SQLITE_ROW) rc = SQL.step(stmt); /* INSERT ... RETURNING */
        feeding = outer;
        if (rc == SQLITE_DONE) rc = SQLITE_OK;
        Py_END_ALLOW_THREADS
        /* The row being read is the refused one only if the insert was the one reader and
         * SQLite refused it before the end: after the end (the block is copied whole first
         * when the table has triggers; a foreign key is checked at the statement's end), or
         * with a second reader (a subquery, a trigger of the program's), no row is known. */
        r = feed.readers == 1 && feed.at < n ? feed.at : -1;
    }
    if (rc == SQLITE_OK) {
        result = Py_NewRef(Py_None);
    } else {
        /* the message before reset/finalize, which may replace it */
        result = Py_BuildValue("(isn)", SQL.extended_errcode(db), SQL.errmsg(db), r);
    }
done:
    if (stmt != NULL) SQL.finalize(stmt);
    for (int k = 0; k < parsed; k++) column_free(&cols[k]);
    return result;
}

/* ------------------------------------------- pack: a block into per-group parts */

/* The ten columns of a block of readings (columnar.Batch.columns), in this order. */
enum {
    P_SECTION, P_AT, P_PARAMETER, P_SOURCE, P_VALUE, P_BELOW, P_FLAG, P_UNITS, P_EXP, P_ROW,
    P_COLUMNS
};
static const char *const pack_names[P_COLUMNS] = {
    "section", "sampled_at", "parameter", "source", "value", "below_dl", "flag", "eff_units",
    "eff_exp", "row",
};

/* what the packing, without the GIL, ran into */
enum { P_OK = 0, P_NOMEM, P_TYPE, P_CHANGED, P_TOOMANY, P_TIME, P_OVERFLOW };

/* Row r's text in column c: P_TYPE where the row's value is not a text (an int or NULL),
 * P_CHANGED where an index or offset is no longer sound (a writable buffer changed since
 * column_parse checked it: read again here, without the GIL). */
static inline int text_at(const Column *c, Py_ssize_t r, const char **s, size_t *len) {
    if (c->kind == K_VALUES) {
        int32_t i = c->indices ? c->indices[r] : 0;
        if (i < 0 || i >= c->count) return P_CHANGED;
        const Value *v = &c->values[i];
        if (v->type != V_TEXT) return P_TYPE;
        *s = v->s;
        *len = (size_t)v->n;
        return P_OK;
    }
    if (c->kind == K_STRINGS) {
        int32_t a = c->offsets[r], b = c->offsets[r + 1];
        if (a < 0 || b < a || b > c->data_len) return P_CHANGED;
        *s = c->data + a;
        *len = (size_t)(b - a);
        return P_OK;
    }
    return P_TYPE;
}

/* Row r's integer in column c, or *null = 1 for NULL; P_TYPE for a text. */
static inline int int_at(const Column *c, Py_ssize_t r, long long *x, int *null) {
    *null = 0;
    switch (c->kind) {
    case K_VALUES: {
        int32_t i = c->indices ? c->indices[r] : 0;
        if (i < 0 || i >= c->count) return P_CHANGED;
        const Value *v = &c->values[i];
        if (v->type == V_TEXT) return P_TYPE;
        if (v->type == V_NULL)
            *null = 1;
        else
            *x = v->i;
        return P_OK;
    }
    case K_INT64: {
        Py_ssize_t at = c->offset + r;
        if (c->valid != NULL && !((c->valid[at >> 3] >> (at & 7)) & 1))
            *null = 1;
        else
            *x = c->ints[at];
        return P_OK;
    }
    case K_RANGE:
        *x = c->start + r;
        return P_OK;
    }
    return P_TYPE;
}

/* The byte length of the first 7 characters of UTF-8 text s (all of it if shorter): the
 * month of an ISO time, YYYY-MM. */
static size_t month_len(const char *s, size_t len) {
    int seen = 0;
    for (size_t k = 0; k < len; k++)
        if (((unsigned char)s[k] & 0xC0) != 0x80 && ++seen > 7) return k;
    return len;
}

/* The bytes of UTF-8 time s that its part's month says, `YYYY-MM-` (its first 8 characters,
 * the 8th a '-'), or 0 where s is no such time or has nothing after them. */
static size_t time_cut(const char *s, size_t len) {
    size_t m = month_len(s, len);
    return m + 1 < len && s[m] == '-' ? m + 1 : 0;
}

typedef struct {
    const char *s;
    size_t len;
    uint32_t at;
} Entry;

#define NOT_TEXT UINT32_MAX

/* byte order, a shorter prefix first: SQLite's BINARY collation */
static int entry_order(const void *a, const void *b) {
    const Entry *x = a, *y = b;
    size_t common = x->len < y->len ? x->len : y->len;
    int c = common ? memcmp(x->s, y->s, common) : 0;
    if (c != 0) return c;
    return (x->len > y->len) - (x->len < y->len);
}

/* Each row's rank among the texts of column c (among their months when `month`): equal
 * texts one rank, ranks in byte order, *distinct of them. A dictionary's values are ranked
 * once, not each row. */
static int rank_rows(const Column *c, Py_ssize_t n, int month, uint32_t *rank,
                     uint32_t *distinct) {
    Py_ssize_t m;
    if (c->kind == K_VALUES)
        m = c->count;
    else if (c->kind == K_STRINGS)
        m = n;
    else
        return P_TYPE;
    if ((size_t)m > UINT32_MAX) return P_TOOMANY;
    size_t room = m > 0 ? (size_t)m : 1; /* malloc(0) may be NULL */
    Entry *entries = malloc(room * sizeof *entries);
    uint32_t *of = malloc(room * sizeof *of);
    if (entries == NULL || of == NULL) {
        free(entries);
        free(of);
        return P_NOMEM;
    }
    int err = P_OK;
    for (Py_ssize_t k = 0; err == P_OK && k < m; k++) {
        const char *s = "";
        size_t len = 0;
        if (c->kind == K_VALUES) {
            /* a value that is not a text is ranked as "" here; a row that picks it is
             * refused below */
            const Value *v = &c->values[k];
            if (v->type == V_TEXT) {
                s = v->s;
                len = (size_t)v->n;
            }
        } else {
            err = text_at(c, k, &s, &len);
        }
        entries[k].s = s;
        entries[k].len = month ? month_len(s, len) : len;
        entries[k].at = (uint32_t)k;
    }
    if (err == P_OK && m > 0) {
        qsort(entries, (size_t)m, sizeof *entries, entry_order);
        uint32_t next = 0;
        for (Py_ssize_t k = 0; k < m; k++) {
            if (k > 0 && entry_order(&entries[k - 1], &entries[k]) != 0) next++;
            of[entries[k].at] = next;
        }
        if (c->kind == K_VALUES) /* not a text: NOT_TEXT, refused where a row picks it */
            for (Py_ssize_t k = 0; k < m; k++)
                if (c->values[k].type != V_TEXT) of[k] = NOT_TEXT;
        *distinct = next + 1;
    }
    for (Py_ssize_t r = 0; err == P_OK && r < n; r++) {
        if (c->kind == K_STRINGS) {
            rank[r] = of[r];
            continue;
        }
        int32_t i = c->indices ? c->indices[r] : 0;
        if (i < 0 || i >= c->count)
            err = P_CHANGED;
        else if ((rank[r] = of[i]) == NOT_TEXT)
            err = P_TYPE;
    }
    free(entries);
    free(of);
    return err;
}

/* perm, stably sorted by key[perm[p]] (a counting sort: keys below `distinct`) */
static int sort_by(const uint32_t *key, uint32_t distinct, Py_ssize_t n, uint32_t *perm,
                   uint32_t *spare) {
    if (distinct <= 1) return P_OK;
    size_t *start = calloc((size_t)distinct + 1, sizeof *start);
    if (start == NULL) return P_NOMEM;
    for (Py_ssize_t p = 0; p < n; p++) start[key[perm[p]] + 1]++;
    for (uint32_t k = 0; k < distinct; k++) start[k + 1] += start[k];
    for (Py_ssize_t p = 0; p < n; p++) spare[start[key[perm[p]]]++] = perm[p];
    memcpy(perm, spare, (size_t)n * sizeof *perm);
    free(start);
    return P_OK;
}

typedef struct {
    char *p;
    size_t len, cap;
} Buf;

/* room for `more` bytes at the end of b */
static int reserve(Buf *b, unsigned long long more) {
    if (more <= b->cap - b->len) return P_OK;
    if (more > (SIZE_MAX >> 2) - b->len) return P_NOMEM;
    size_t cap = b->cap ? b->cap : (size_t)1 << 16;
    while (cap - b->len < more) cap *= 2;
    char *p = realloc(b->p, cap);
    if (p == NULL) return P_NOMEM;
    b->p = p;
    b->cap = cap;
    return P_OK;
}

/* s as a JSON string: `"` and `\` escaped, every byte below 0x20 as \u00xx, the others as
 * they are (UTF-8); at most 2 + 6 * len bytes */
static char *put_text(char *o, const char *s, size_t len) {
    static const char hex[] = "0123456789abcdef";
    *o++ = '"';
    for (size_t k = 0; k < len; k++) { /* byte by byte: the texts are short */
        unsigned char b = (unsigned char)s[k];
        if (b >= 0x20 && b != '"' && b != '\\') {
            *o++ = (char)b;
        } else if (b == '"' || b == '\\') {
            *o++ = '\\';
            *o++ = (char)b;
        } else {
            memcpy(o, "\\u00", 4);
            o[4] = hex[b >> 4];
            o[5] = hex[b & 15];
            o += 6;
        }
    }
    *o++ = '"';
    return o;
}

/* A dictionary column's texts as JSON strings, escaped once, not on each row that picks
 * them: json + at[i] … json + at[i + 1] the i-th value's (nothing for a value that is not a
 * text, or with `cut` not a time: a row that picks it is refused). With `cut`, each text
 * without the bytes time_cut says (sampled_at). json NULL: not a dictionary column. */
typedef struct {
    char *json;
    size_t *at;
} Escaped;

/* bytes copied at once (a constant size is inlined): the buffers are padded for it */
enum { COPY_PAD = 32 };

/* len bytes of s at o, maybe up to COPY_PAD bytes more from s (both padded for it) */
static inline char *put_padded(char *o, const char *s, size_t len) {
    if (len <= COPY_PAD)
        memcpy(o, s, COPY_PAD);
    else
        memcpy(o, s, len);
    return o + len;
}

static int escape_values(const Column *c, Escaped *e, int cut) {
    if (c->kind != K_VALUES) return P_OK;
    unsigned long long room = COPY_PAD; /* a fixed-size copy may read past the last one */
    for (Py_ssize_t k = 0; k < c->count; k++)
        if (c->values[k].type == V_TEXT) room += 2 + 6ULL * (size_t)c->values[k].n;
    if (room > SIZE_MAX / 2) return P_NOMEM;
    e->at = malloc(((size_t)c->count + 1) * sizeof *e->at);
    e->json = malloc((size_t)room);
    if (e->at == NULL || e->json == NULL) return P_NOMEM;
    char *o = e->json;
    for (Py_ssize_t k = 0; k < c->count; k++) {
        e->at[k] = (size_t)(o - e->json);
        const Value *v = &c->values[k];
        if (v->type != V_TEXT) continue;
        size_t skip = cut ? time_cut(v->s, (size_t)v->n) : 0;
        if (cut && skip == 0) continue; /* not a time: refused where a row picks it */
        o = put_text(o, v->s + skip, (size_t)v->n - skip);
    }
    e->at[c->count] = (size_t)(o - e->json);
    return P_OK;
}

/* Row r's text of column c: escaped already (*raw = 0: the JSON string, quotes and all),
 * or as it is (*raw = 1); with `cut` (sampled_at, escaped with cut) without the bytes
 * time_cut says, P_TIME where it says none; the errors of text_at. */
static inline int json_at(const Column *c, const Escaped *e, Py_ssize_t r, int cut,
                          const char **s, size_t *len, int *raw) {
    if (e->json == NULL) {
        *raw = 1;
        int err = text_at(c, r, s, len);
        if (err != P_OK || !cut) return err;
        size_t skip = time_cut(*s, *len);
        if (skip == 0) return P_TIME;
        *s += skip;
        *len -= skip;
        return P_OK;
    }
    int32_t i = c->indices ? c->indices[r] : 0;
    if (i < 0 || i >= c->count) return P_CHANGED;
    if (c->values[i].type != V_TEXT) return P_TYPE;
    *raw = 0;
    *s = e->json + e->at[i];
    *len = e->at[i + 1] - e->at[i];
    return *len == 0 ? P_TIME : P_OK; /* a text's JSON has its quotes at least */
}

/* x in decimal, two digits at a time: at most 20 bytes */
static inline char *put_int(char *o, long long x) {
    static const char pairs[] =
        "0001020304050607080910111213141516171819202122232425262728293031323334353637383940414243444546474849"
        "5051525354555657585960616263646566676869707172737475767778798081828384858687888990919293949596979899";
    static const unsigned long long tens[20] = {
        1ULL, 10ULL, 100ULL, 1000ULL, 10000ULL, 100000ULL, 1000000ULL, 10000000ULL,
        100000000ULL, 1000000000ULL, 10000000000ULL, 100000000000ULL, 1000000000000ULL,
        10000000000000ULL, 100000000000000ULL, 1000000000000000ULL, 10000000000000000ULL,
        100000000000000000ULL, 1000000000000000000ULL, 10000000000000000000ULL,
    };
    unsigned long long u = x < 0 ? 0ULL - (unsigned long long)x : (unsigned long long)x;
    if (x < 0) *o++ = '-';
    int digits = 1;
    while (digits < 20 && u >= tens[digits]) digits++;
    char *d = o + digits; /* written from the last digit back */
    while (u >= 100) {
        unsigned two = (unsigned)(u % 100);
        u /= 100;
        d -= 2;
        d[0] = pairs[2 * two];
        d[1] = pairs[2 * two + 1];
    }
    if (u >= 10) {
        d[-2] = pairs[2 * u];
        d[-1] = pairs[2 * u + 1];
    } else {
        d[-1] = (char)('0' + u);
    }
    return o + digits;
}

/* Bits to tell `distinct` values apart (0 for one). */
static int bits_for(uint32_t distinct) {
    int bits = 0;
    while (bits < 32 && (distinct - 1) >> bits) bits++;
    return bits;
}

/* a, stably sorted by its items' bits 32 … 32 + bits - 1 (an LSD radix sort, 11 bits a
 * pass, a pass skipped where every item has the same digit) */
static void radix_sort(uint64_t *a, uint64_t *spare, Py_ssize_t n, int bits) {
    enum { DIGIT = 11 };
    size_t start[1 << DIGIT];
    uint64_t *from = a, *to = spare;
    for (int shift = 32; shift < 32 + bits; shift += DIGIT) {
        memset(start, 0, sizeof start);
        for (Py_ssize_t p = 0; p < n; p++) start[(from[p] >> shift) & ((1 << DIGIT) - 1)]++;
        if (start[(from[0] >> shift) & ((1 << DIGIT) - 1)] == (size_t)n) continue;
        size_t sum = 0;
        for (int k = 0; k < 1 << DIGIT; k++) {
            size_t here = start[k];
            start[k] = sum;
            sum += here;
        }
        for (Py_ssize_t p = 0; p < n; p++)
            to[start[(from[p] >> shift) & ((1 << DIGIT) - 1)]++] = from[p];
        uint64_t *was = from;
        from = to;
        to = was;
    }
    if (from != a) memcpy(a, from, (size_t)n * sizeof *a);
}

typedef struct {
    Py_ssize_t first, last, count; /* rows of the block: the earliest, the latest */
    size_t start, end;             /* its JSON in the buffer */
    /* its readings' monthly sums (store._MONTHLY_SELECT's): valid = flag not 'invalid' */
    long long valid, high, low, inexact, exponent, nondetects, suspect, invalid;
    int units;                     /* valid readings with eff_units: high and low not NULL */
} Part;

typedef struct {
    const Column *cols;
    Py_ssize_t n;
    Py_ssize_t most;  /* readings a part at most */
    long long split;  /* eff_units / split and eff_units % split summed (> 0) */
    uint32_t *ranks; /* 5 × n: section, parameter, source, month, sampled_at */
    uint32_t *perm, *spare;
    uint64_t *keys; /* 2 × n: (group, time) rank << 32 | row, when that fits, and room */
    Part *parts;
    Py_ssize_t nparts;
    Escaped escaped[3]; /* sampled_at (without its month), value, flag */
    Buf json;
    int repeated;    /* a group holds one sampled_at twice */
    int bad_column;  /* the column of a P_TYPE, P_CHANGED, P_TIME or P_OVERFLOW */
    Py_ssize_t bad_row; /* the row of a P_TIME, P_OVERFLOW */
} Packing;

/* 1 where the reading at sorted position p (> 0) is of another group than the one before
 * it; *again = 1 where it is of the same group and time. */
static inline int starts_group(const Packing *w, int packed, int time_bits, Py_ssize_t p,
                               int *again) {
    if (packed) {
        uint64_t key = w->keys[p] >> 32, before = w->keys[p - 1] >> 32;
        int fresh = key >> time_bits != before >> time_bits;
        *again = !fresh && key == before;
        return fresh;
    }
    const Py_ssize_t n = w->n;
    const uint32_t *sec = w->ranks, *par = sec + n, *src = par + n, *mon = src + n, *at = mon + n;
    uint32_t r = w->perm[p], q = w->perm[p - 1];
    int fresh = sec[r] != sec[q] || par[r] != par[q] || src[r] != src[q] || mon[r] != mon[q];
    *again = !fresh && at[r] == at[q];
    return fresh;
}

/* The block's rows sorted by (section, parameter, source, month, sampled_at), each group
 * cut into parts of at most w->most readings, each part's JSON written into w->json and its
 * sums added up: no Python object touched (runs without the GIL). */
static int pack_block(Packing *w) {
    const Column *cols = w->cols;
    Py_ssize_t n = w->n;
    static const int ranked[5] = {P_SECTION, P_PARAMETER, P_SOURCE, P_AT, P_AT};
    uint32_t distinct[5];
    for (int k = 0; k < 5; k++) {
        distinct[k] = 1;
        int err = rank_rows(&cols[ranked[k]], n, k == 3, w->ranks + (size_t)k * n, &distinct[k]);
        if (err != P_OK) {
            w->bad_column = ranked[k];
            return err;
        }
    }
    static const int text_columns[3] = {P_AT, P_VALUE, P_FLAG};
    for (int k = 0; k < 3; k++)
        if (escape_values(&cols[text_columns[k]], &w->escaped[k], k == 0) != P_OK)
            return P_NOMEM;
    /* every time YYYY-MM-…, before any part is made (the same error whatever the order) */
    for (Py_ssize_t r = 0; r < n; r++) {
        const char *s;
        size_t len;
        int raw;
        int err = json_at(&cols[P_AT], &w->escaped[0], r, 1, &s, &len, &raw);
        if (err != P_OK) {
            w->bad_column = P_AT;
            w->bad_row = r;
            return err;
        }
    }
    int bits[5], total = 0;
    for (int k = 0; k < 5; k++) total += bits[k] = bits_for(distinct[k]);
    /* The ranks in one 32-bit key when they fit (always, but for blocks of many thousands
     * of distinct texts): one radix sort of (key, row); else a counting sort a rank. */
    int packed = total <= 32;
    if (packed) {
        for (Py_ssize_t r = 0; r < n; r++) {
            uint64_t key = 0;
            for (int k = 0; k < 5; k++) key = key << bits[k] | w->ranks[(size_t)k * n + r];
            w->keys[r] = key << 32 | (uint64_t)r;
        }
        radix_sort(w->keys, w->keys + n, n, total);
    } else {
        for (Py_ssize_t p = 0; p < n; p++) w->perm[p] = (uint32_t)p;
        for (int k = 4; k >= 0; k--) { /* least significant first: each pass stable */
            int err = sort_by(w->ranks + (size_t)k * n, distinct[k], n, w->perm, w->spare);
            if (err != P_OK) return err;
        }
    }
    if (reserve(&w->json, (unsigned long long)n * 64) != P_OK) return P_NOMEM;
    Part *part = NULL;
    Py_ssize_t size = 0, big = 0; /* the group's parts still to make: `big` of size + 1 first */
    Py_ssize_t room = 0;          /* readings the current part still takes */
    for (Py_ssize_t p = 0; p < n; p++) {
        uint32_t r = packed ? (uint32_t)w->keys[p] : w->perm[p];
        int again = 0;
        int fresh = p == 0 || starts_group(w, packed, bits[4], p, &again);
        if (again) w->repeated = 1;
        if (fresh) { /* the group's readings, cut into ceil(g / most) parts, sizes ±1 */
            Py_ssize_t g = 1;
            int ignored;
            while (p + g < n && !starts_group(w, packed, bits[4], p + g, &ignored)) g++;
            Py_ssize_t cuts = g / w->most + (g % w->most != 0);
            size = g / cuts;
            big = g % cuts;
            room = 0;
        }
        const char *texts[3];
        size_t lens[3];
        int raws[3];
        /* 4 integers of 20 digits, [ ] and commas, and a padded copy's bytes past them */
        unsigned long long most = 6 + 80 + 12 + COPY_PAD;
        for (int k = 0; k < 3; k++) {
            int err = json_at(&cols[text_columns[k]], &w->escaped[k], r, k == 0, &texts[k],
                              &lens[k], &raws[k]);
            if (err != P_OK) {
                w->bad_column = text_columns[k];
                w->bad_row = r;
                return err;
            }
            most += raws[k] ? 2 + 6ULL * lens[k] : lens[k];
        }
        long long ints[4] = {0, 0, 0, 0};
        static const int int_columns[4] = {P_BELOW, P_UNITS, P_EXP, P_ROW};
        int nulls[4];
        for (int k = 0; k < 4; k++) {
            int err = int_at(&cols[int_columns[k]], r, &ints[k], &nulls[k]);
            if (err == P_OK && nulls[k] && int_columns[k] != P_UNITS) err = P_TYPE;
            if (err != P_OK) {
                w->bad_column = int_columns[k];
                return err;
            }
        }
        /* the flag as SQL compares it (BINARY): its text, not its JSON */
        const char *flag;
        size_t flag_len;
        int err = text_at(&cols[P_FLAG], r, &flag, &flag_len);
        if (err != P_OK) {
            w->bad_column = P_FLAG;
            return err;
        }
        int suspect = flag_len == 7 && memcmp(flag, "suspect", 7) == 0;
        int invalid = flag_len == 7 && memcmp(flag, "invalid", 7) == 0;
        if (reserve(&w->json, most) != P_OK) return P_NOMEM;
        char *o = w->json.p + w->json.len;
        if (room == 0) { /* a new part: of a new group, or the group's next */
            if (part != NULL) {
                *o++ = ']';
                part->end = (size_t)(o - w->json.p);
            }
            part = &w->parts[w->nparts++];
            memset(part, 0, sizeof *part);
            part->first = r;
            part->start = (size_t)(o - w->json.p);
            room = size + (big > 0);
            if (big > 0) big--;
            *o++ = '[';
        } else {
            *o++ = ',';
        }
        room--;
        part->last = r;
        part->count++;
        part->suspect += suspect;
        part->invalid += invalid;
        if (!invalid) {
            if (part->valid == 0 || ints[2] < part->exponent) part->exponent = ints[2];
            part->valid++;
            part->nondetects += ints[0] != 0;
            if (nulls[1]) {
                part->inexact++;
            } else {
                part->units++;
                /* C's / and % truncate toward zero, as SQLite's do */
                if (__builtin_add_overflow(part->high, ints[1] / w->split, &part->high) ||
                    __builtin_add_overflow(part->low, ints[1] % w->split, &part->low)) {
                    w->bad_column = P_UNITS;
                    w->bad_row = r;
                    return P_OVERFLOW;
                }
            }
        }
        *o++ = '[';
        o = raws[0] ? put_text(o, texts[0], lens[0]) : put_padded(o, texts[0], lens[0]);
        *o++ = ',';
        o = raws[1] ? put_text(o, texts[1], lens[1]) : put_padded(o, texts[1], lens[1]);
        *o++ = ',';
        o = put_int(o, ints[0]);
        *o++ = ',';
        o = raws[2] ? put_text(o, texts[2], lens[2]) : put_padded(o, texts[2], lens[2]);
        *o++ = ',';
        if (nulls[1]) {
            memcpy(o, "null", 4);
            o += 4;
        } else {
            o = put_int(o, ints[1]);
        }
        *o++ = ',';
        o = put_int(o, ints[2]);
        *o++ = ',';
        o = put_int(o, ints[3]);
        *o++ = ']';
        w->json.len = (size_t)(o - w->json.p);
    }
    if (part != NULL) {
        w->json.p[w->json.len++] = ']'; /* reserved with the last row */
        part->end = w->json.len;
    }
    return P_OK;
}

/* Row r's text of column c as a str: a dictionary's own str object, else decoded; only the
 * first 7 characters when `month`. */
static PyObject *text_object(const Column *c, Py_ssize_t r, int month) {
    const char *s;
    size_t len;
    if (c->kind == K_VALUES && !month) {
        int32_t i = c->indices ? c->indices[r] : 0; /* read once, checked as it is used */
        if (i >= 0 && i < c->count && c->values[i].type == V_TEXT)
            return Py_NewRef(PyTuple_GET_ITEM(c->held, i));
    } else if (text_at(c, r, &s, &len) == P_OK) {
        return PyUnicode_DecodeUTF8(s, (Py_ssize_t)(month ? month_len(s, len) : len), NULL);
    }
    PyErr_SetString(PyExc_ValueError, "a column changed while it was packed");
    return NULL;
}

/* A part's sum that SQL's SUM makes NULL where it adds up no reading */
static PyObject *sum_or_none(long long x, int some) {
    return some ? PyLong_FromLongLong(x) : Py_NewRef(Py_None);
}

/* pack(columns, n, most, split): see bulk_insert.pack */
static PyObject *py_pack(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *specs;
    Py_ssize_t n, most;
    long long split;
    if (!PyArg_ParseTuple(args, "O!nnL", &PyTuple_Type, &specs, &n, &most, &split))
        return NULL;
    if (most < 1) {
        PyErr_SetString(PyExc_ValueError, "max_readings must be 1 or more");
        return NULL;
    }
    if (split < 1) {
        PyErr_SetString(PyExc_ValueError, "split must be 1 or more");
        return NULL;
    }
    if (PyTuple_GET_SIZE(specs) != P_COLUMNS) {
        PyErr_SetString(PyExc_ValueError,
                        "pack takes the 10 columns of a block of readings (section, "
                        "sampled_at, parameter, source, value, below_dl, flag, eff_units, "
                        "eff_exp, row)");
        return NULL;
    }
    if (n < 0 || n > INT32_MAX) {
        PyErr_SetString(PyExc_ValueError, "a negative count, or a block of over 2^31 rows");
        return NULL;
    }
    Column cols[P_COLUMNS];
    int parsed = 0;
    PyObject *result = NULL;
    Packing w;
    memset(&w, 0, sizeof w);
    for (; parsed < P_COLUMNS; parsed++)
        if (column_parse(&cols[parsed], PyTuple_GET_ITEM(specs, parsed), n) < 0) {
            column_free(&cols[parsed]);
            goto done;
        }
    w.cols = cols;
    w.n = n;
    w.most = most;
    w.split = split;
    if (n == 0) {
        result = PyList_New(0);
        goto done;
    }
    w.ranks = PyMem_RawMalloc((size_t)n * 5 * sizeof *w.ranks);
    w.perm = PyMem_RawMalloc((size_t)n * sizeof *w.perm);
    w.spare = PyMem_RawMalloc((size_t)n * sizeof *w.spare);
    w.parts = PyMem_RawMalloc((size_t)n * sizeof *w.parts);
    w.keys = PyMem_RawMalloc((size_t)n * 2 * sizeof *w.keys);
    if (w.ranks == NULL || w.perm == NULL || w.spare == NULL || w.parts == NULL ||
        w.keys == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    int err;
    Py_BEGIN_ALLOW_THREADS
    err = pack_block(&w);
    Py_END_ALLOW_THREADS
    switch (err) {
    case P_OK:
        break;
    case P_NOMEM:
        PyErr_NoMemory();
        goto done;
    case P_TYPE:
        PyErr_Format(PyExc_ValueError,
                     "the %s column holds a value of the wrong type (section, sampled_at, "
                     "parameter, source, value and flag are str; below_dl, eff_exp and row "
                     "int; eff_units int or None)",
                     pack_names[w.bad_column]);
        goto done;
    case P_TOOMANY:
        PyErr_Format(PyExc_ValueError, "the %s column has over 2^32 values",
                     pack_names[w.bad_column]);
        goto done;
    case P_TIME: {
        PyObject *at = text_object(&cols[P_AT], w.bad_row, 0);
        if (at == NULL) goto done;
        PyErr_Format(PyExc_ValueError,
                     "the sampled_at column holds %R (row %zd of the block), not a time "
                     "YYYY-MM-... (its 8th character '-', and more after it)",
                     at, w.bad_row + 1);
        Py_DECREF(at);
        goto done;
    }
    case P_OVERFLOW:
        PyErr_Format(PyExc_OverflowError,
                     "the eff_units column's sums overflow 64 bits (row %zd of the block)",
                     w.bad_row + 1);
        goto done;
    default:
        PyErr_Format(PyExc_ValueError, "the %s column changed while it was packed",
                     pack_names[w.bad_column]);
        goto done;
    }
    if (w.repeated) {
        result = Py_NewRef(Py_None);
        goto done;
    }
    PyObject *list = PyList_New(w.nparts);
    if (list == NULL) goto done;
    for (Py_ssize_t g = 0; g < w.nparts; g++) {
        const Part *part = &w.parts[g];
        PyObject *items[16] = {
            text_object(&cols[P_SECTION], part->first, 0),
            text_object(&cols[P_PARAMETER], part->first, 0),
            text_object(&cols[P_SOURCE], part->first, 0),
            text_object(&cols[P_AT], part->first, 1),
            text_object(&cols[P_AT], part->first, 0),
            text_object(&cols[P_AT], part->last, 0),
            PyLong_FromSsize_t(part->count),
            PyUnicode_DecodeUTF8(w.json.p + part->start, (Py_ssize_t)(part->end - part->start),
                                 NULL),
            PyLong_FromLongLong(part->valid),
            sum_or_none(part->high, part->units),
            sum_or_none(part->low, part->units),
            PyLong_FromLongLong(part->inexact),
            sum_or_none(part->exponent, part->valid > 0),
            PyLong_FromLongLong(part->nondetects),
            PyLong_FromLongLong(part->suspect),
            PyLong_FromLongLong(part->invalid),
        };
        PyObject *tuple = PyTuple_New(16);
        int whole = tuple != NULL;
        for (int k = 0; k < 16; k++) {
            if (items[k] == NULL) whole = 0;
            if (tuple != NULL && items[k] != NULL)
                PyTuple_SET_ITEM(tuple, k, items[k]); /* steals it */
            else
                Py_XDECREF(items[k]);
        }
        if (!whole) {
            Py_XDECREF(tuple);
            Py_DECREF(list);
            goto done;
        }
        PyList_SET_ITEM(list, g, tuple);
    }
    result = list;
done:
    PyMem_RawFree(w.ranks);
    PyMem_RawFree(w.perm);
    PyMem_RawFree(w.spare);
    PyMem_RawFree(w.parts);
    PyMem_RawFree(w.keys);
    for (int k = 0; k < 3; k++) {
        free(w.escaped[k].json);
        free(w.escaped[k].at);
    }
    free(w.json.p);
    for (int k = 0; k < parsed; k++) column_free(&cols[k]);
    return result;
}

static PyMethodDef methods[] = {
    {"sqlite_attach", py_sqlite_attach, METH_O,
     "Find SQLite in the loaded _sqlite3 module at this path; True if found."},
    {"watch", py_watch, METH_O,
     "watch(True): connections opened from now on answer SELECT ecocomp_bulk_handle(); "
     "watch(False): no more."},
    {"insert", py_insert, METH_VARARGS,
     "insert(handle, sql, n, columns): run sql, which reads the block from ecocomp_block; "
     "None, or SQLite's (code, message, row)."},
    {"pack", py_pack, METH_VARARGS,
     "pack(columns, n, max_readings, split): the block's readings grouped by (section, "
     "parameter, source, month), in parts of at most max_readings, each part's as JSON "
     "text with its monthly sums; None if a group repeats a sampled_at."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "ecocomp._bulkc",
    "The compiled insert of the readings import's fast path (see ecocomp.bulk_insert).", -1,
    methods,
};

PyMODINIT_FUNC PyInit__bulkc(void) { return PyModule_Create(&module); }

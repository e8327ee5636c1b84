/*
 * ecocomp.ledger._scanc: the compiled fast path of `ledger verify`'s scan.
 *
 * It proves a range of tx/2 transactions sound, or gives up. `scan()` runs the same
 * quick checks as the Python loop `ecocomp.ledger.verify._scan_rows`, builds the same tx/2
 * encodings, hashes them with SHA-256 (OpenSSL's libcrypto, as Python's hashlib) and
 * compares each hash with the stored one (`_check_hashes` in Python). It
 * never explains a problem: the first time a check fails, it asks the Python diagnosis
 * (the same callbacks the Python loop calls); when that names a problem, or anything is
 * unexpected (a type, a size, an exception), `scan()` returns False and the caller runs
 * the Python scan over the range again, which then reports exactly what it always has.
 * So this module can only make a sound ledger verify faster; every verdict of "bad" and
 * every message comes from Python.
 *
 * `scan_file()` is `scan()` over the rows of a database file read here, through the SQLite
 * library Python's own sqlite3 module uses (found by `sqlite_attach()`), so that fetching
 * the rows costs no Python objects for the values that repeat from row to row; it hands
 * the same tuples to the same loop and callbacks. `file_rows()` returns those tuples, for
 * the tests that hold them equal to Python's cursor.
 *
 * Also: `meta_canonical(bytes)` (a sufficient test of canonical JSON: 1 = canonical,
 * 0 = not known, then Python decides), `utf8_valid(bytes)` (Python's strict UTF-8) and
 * `merkle_level(list)` (one level of an RFC 6962 tree).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <openssl/evp.h>
#include <limits.h>
#include <stdint.h>
#include <string.h>

#define N_COLUMNS 22
#define MAX_DEPTH 64
#define MAX_DIGITS 15 /* 15 digits are always within +-(2**53-1) */

/* ---------------------------------------------------------------- SHA-256 */

typedef struct {
    EVP_MD_CTX *ctx;
} Hasher;

/* fetched once: OpenSSL 3 looks an algorithm up on every call that names it implicitly */
static EVP_MD *SHA256_MD = NULL;

static const EVP_MD *sha256_md(void) { return SHA256_MD; }

static int hasher_open(Hasher *h) {
    h->ctx = EVP_MD_CTX_new();
    if (h->ctx == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    return 0;
}

static void hasher_close(Hasher *h) {
    if (h->ctx != NULL) EVP_MD_CTX_free(h->ctx);
    h->ctx = NULL;
}

/* out = SHA-256(a || b || c); b and c may be empty */
static int sha256_3(Hasher *h, const void *a, size_t na, const void *b, size_t nb,
                    const void *c, size_t nc, unsigned char out[32]) {
    unsigned int n = 0;
    if (EVP_DigestInit_ex2(h->ctx, sha256_md(), NULL) != 1 ||
        EVP_DigestUpdate(h->ctx, a, na) != 1 ||
        (nb && EVP_DigestUpdate(h->ctx, b, nb) != 1) ||
        (nc && EVP_DigestUpdate(h->ctx, c, nc) != 1) ||
        EVP_DigestFinal_ex(h->ctx, out, &n) != 1 || n != 32) {
        PyErr_SetString(PyExc_RuntimeError, "OpenSSL SHA-256 failed");
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------------------ UTF-8 */

/* What bytes.decode("utf-8") (strict) accepts: no overlong forms, no surrogates,
 * nothing beyond U+10FFFF. */
static int utf8_ok(const unsigned char *s, Py_ssize_t n) {
    Py_ssize_t i = 0;
    while (i < n) {
        unsigned char c = s[i];
        if (c < 0x80) {
            i++;
            while (i + 8 <= n) { /* eight ASCII bytes at a time */
                unsigned long long w;
                memcpy(&w, s + i, 8);
                if (w & 0x8080808080808080ULL) break;
                i += 8;
            }
            continue;
        }
        if (c >= 0xC2 && c <= 0xDF) {
            if (i + 1 >= n || (s[i + 1] & 0xC0) != 0x80) return 0;
            i += 2;
        } else if (c >= 0xE0 && c <= 0xEF) {
            unsigned char lo = 0x80, hi = 0xBF;
            if (c == 0xE0) lo = 0xA0;
            if (c == 0xED) hi = 0x9F; /* no surrogates */
            if (i + 2 >= n || s[i + 1] < lo || s[i + 1] > hi ||
                (s[i + 2] & 0xC0) != 0x80)
                return 0;
            i += 3;
        } else if (c >= 0xF0 && c <= 0xF4) {
            unsigned char lo = 0x80, hi = 0xBF;
            if (c == 0xF0) lo = 0x90;
            if (c == 0xF4) hi = 0x8F; /* nothing beyond U+10FFFF */
            if (i + 3 >= n || s[i + 1] < lo || s[i + 1] > hi ||
                (s[i + 2] & 0xC0) != 0x80 || (s[i + 3] & 0xC0) != 0x80)
                return 0;
            i += 4;
        } else {
            return 0;
        }
    }
    return 1;
}

/* ------------------------------------------------------- canonical JSON */

typedef struct {
    const unsigned char *s;
    Py_ssize_t n, i;
} Json;

static int json_value(Json *j, int depth);

/* a string without escapes or control characters; its body is s[*start..*end) */
static int json_string(Json *j, Py_ssize_t *start, Py_ssize_t *end) {
    if (j->i >= j->n || j->s[j->i] != '"') return 0;
    Py_ssize_t i = j->i + 1;
    *start = i;
    while (i < j->n) {
        unsigned char c = j->s[i];
        if (c == '"') {
            *end = i;
            j->i = i + 1;
            return 1;
        }
        if (c == '\\' || c < 0x20) return 0; /* an escape: Python decides */
        i++;
    }
    return 0;
}

static int json_literal(Json *j, const char *word, Py_ssize_t len) {
    if (j->n - j->i < len || memcmp(j->s + j->i, word, (size_t)len) != 0) return 0;
    j->i += len;
    return 1;
}

/* an integer as canonical JSON writes it, of at most MAX_DIGITS digits, not -0 */
static int json_integer(Json *j) {
    Py_ssize_t i = j->i, digits = 0;
    if (i < j->n && j->s[i] == '-') i++;
    if (i >= j->n) return 0;
    if (j->s[i] == '0') {
        if (i != j->i) return 0; /* -0 */
        i++;
        digits = 1;
    } else {
        while (i < j->n && j->s[i] >= '0' && j->s[i] <= '9') {
            i++;
            digits++;
        }
    }
    if (digits == 0 || digits > MAX_DIGITS) return 0;
    if (i < j->n) {
        unsigned char c = j->s[i];
        if ((c >= '0' && c <= '9') || c == '.' || c == 'e' || c == 'E') return 0;
    }
    j->i = i;
    return 1;
}

static int key_before(const unsigned char *s, Py_ssize_t a0, Py_ssize_t a1, Py_ssize_t b0,
                      Py_ssize_t b1) {
    /* bytes a < bytes b, strictly (UTF-8 byte order is code point order) */
    Py_ssize_t na = a1 - a0, nb = b1 - b0;
    int c = memcmp(s + a0, s + b0, (size_t)(na < nb ? na : nb));
    return c < 0 || (c == 0 && na < nb);
}

static int json_object(Json *j, int depth) {
    j->i++; /* { */
    if (j->i < j->n && j->s[j->i] == '}') {
        j->i++;
        return 1;
    }
    Py_ssize_t prev0 = -1, prev1 = -1;
    for (;;) {
        Py_ssize_t k0, k1;
        if (!json_string(j, &k0, &k1)) return 0;
        if (prev0 >= 0 && !key_before(j->s, prev0, prev1, k0, k1)) return 0;
        prev0 = k0;
        prev1 = k1;
        if (j->i >= j->n || j->s[j->i] != ':') return 0;
        j->i++;
        if (!json_value(j, depth + 1)) return 0;
        if (j->i >= j->n) return 0;
        if (j->s[j->i] == '}') {
            j->i++;
            return 1;
        }
        if (j->s[j->i] != ',') return 0;
        j->i++;
    }
}

static int json_array(Json *j, int depth) {
    j->i++; /* [ */
    if (j->i < j->n && j->s[j->i] == ']') {
        j->i++;
        return 1;
    }
    for (;;) {
        if (!json_value(j, depth + 1)) return 0;
        if (j->i >= j->n) return 0;
        if (j->s[j->i] == ']') {
            j->i++;
            return 1;
        }
        if (j->s[j->i] != ',') return 0;
        j->i++;
    }
}

static int json_value(Json *j, int depth) {
    if (depth > MAX_DEPTH || j->i >= j->n) return 0;
    switch (j->s[j->i]) {
    case '{':
        return json_object(j, depth);
    case '[':
        return json_array(j, depth);
    case '"': {
        Py_ssize_t a, b;
        return json_string(j, &a, &b);
    }
    case 't':
        return json_literal(j, "true", 4);
    case 'f':
        return json_literal(j, "false", 5);
    case 'n':
        return json_literal(j, "null", 4);
    default:
        return json_integer(j);
    }
}

/* 1: `s` is certainly the canonical JSON of an object (what Python's check accepts);
 * 0: not known here (it may be canonical all the same: escapes, long integers). */
static int meta_fast(const unsigned char *s, Py_ssize_t n) {
    Json j = {s, n, 0};
    if (n < 2 || s[0] != '{') return 0;
    return json_object(&j, 1) && j.i == n;
}

/* ----------------------------------------------------------------- buffer */

typedef struct {
    char *data;
    Py_ssize_t len, cap;
} Buf;

static int buf_reserve(Buf *b, Py_ssize_t extra) {
    if (b->len + extra <= b->cap) return 0;
    Py_ssize_t cap = b->cap ? b->cap : 1024;
    while (cap < b->len + extra) cap *= 2;
    char *data = PyMem_Realloc(b->data, (size_t)cap);
    if (data == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    b->data = data;
    b->cap = cap;
    return 0;
}

static int buf_put(Buf *b, const char *s, Py_ssize_t n) {
    if (buf_reserve(b, n) < 0) return -1;
    memcpy(b->data + b->len, s, (size_t)n);
    b->len += n;
    return 0;
}

/* the decimal digits of v (v >= 0) at the end of out[0..32); returns where they start */
static char *decimal(char out[32], unsigned long long v) {
    char *p = out + 32;
    do {
        *--p = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    return p;
}

/* T<n>: or I<n>: followed by the n bytes */
static int buf_tagged(Buf *b, char tag, const char *s, Py_ssize_t n) {
    char digits[32], head[34];
    char *d = decimal(digits, (unsigned long long)n);
    int nd = (int)(digits + 32 - d), h = nd + 2;
    head[0] = tag;
    memcpy(head + 1, d, (size_t)nd);
    head[nd + 1] = ':';
    if (buf_reserve(b, h + n) < 0) return -1;
    memcpy(b->data + b->len, head, (size_t)h);
    memcpy(b->data + b->len + h, s, (size_t)n);
    b->len += h + n;
    return 0;
}

static int buf_integer(Buf *b, long long v) { /* I<n>:<digits>, as Python's b"%d" */
    char digits[33];
    unsigned long long magnitude = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
    char *d = decimal(digits + 1, magnitude);
    if (v < 0) *--d = '-';
    return buf_tagged(b, 'I', d, (Py_ssize_t)(digits + 33 - d));
}


/* ------------------------------------------------- SQLite, Python's own copy */

#include "../_sqlite_dl.h"

/* ------------------------------------------------------------ row sources */

/* One column of the current row: its type, as Python's sqlite3 gives it with
 * text_factory=bytes (TEXT and BLOB both bytes), and its value. `obj` is the value as a
 * Python object: borrowed from the iterator's tuple, or made here only when asked for
 * (col_obj), so that a value seen before costs no object. */
enum { C_OTHER = 0, C_INT, C_BYTES, C_NULL };

typedef struct {
    int type;
    const char *s; /* C_BYTES */
    Py_ssize_t n;
    long long i; /* C_INT (an int beyond long long is C_OTHER) */
    PyObject *obj;
    int owned; /* obj is a reference of ours */
} Col;

/* Where the scan's rows come from: a Python iterator, or a statement stepped here. */
typedef struct {
    PyObject *iter;          /* a Python iterable's iterator, or NULL */
    sqlite3 *db;             /* else: the file's own read-only connection */
    sqlite3_stmt *stmt;
    PyObject *row;           /* the current row's tuple: the iterator's, or built on demand */
    Col c[N_COLUMNS];
    int failed;              /* SQLite failed: give up */
} Rows;

static void rows_release(Rows *src) { /* let go of the current row */
    for (int k = 0; k < N_COLUMNS; k++) {
        if (src->c[k].owned) Py_CLEAR(src->c[k].obj);
        src->c[k].obj = NULL;
        src->c[k].owned = 0;
    }
    Py_CLEAR(src->row);
}

static void rows_close(Rows *src) {
    rows_release(src);
    if (SQL.ready) {
        if (src->stmt != NULL) SQL.finalize(src->stmt);
        if (src->db != NULL) SQL.close_v2(src->db);
    }
    src->stmt = NULL;
    src->db = NULL;
}

/* The connection is this thread's alone: no mutex on each call. It reads pages with
 * pread, not a map: measured a little faster here (a fresh map faults every page in on
 * each scan), and a map would add the whole file to the process's resident memory. */

/* 0, or -1 with src->failed set (no exception): the file cannot be read here */
static int rows_open_file(Rows *src, const char *uri, const char *sql, long long first,
                          long long last) {
    memset(src, 0, sizeof *src);
    if (!SQL.ready ||
        SQL.open_v2(uri, &src->db, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI | SQLITE_OPEN_NOMUTEX,
                    NULL) != SQLITE_OK ||
        SQL.prepare_v2(src->db, sql, -1, &src->stmt, NULL) != SQLITE_OK ||
        SQL.column_count(src->stmt) != N_COLUMNS ||
        SQL.bind_int64(src->stmt, 1, first) != SQLITE_OK ||
        SQL.bind_int64(src->stmt, 2, last) != SQLITE_OK) {
        src->failed = 1;
        return -1;
    }
    return 0;
}

static void col_from_object(Col *c, PyObject *v) {
    c->obj = v; /* borrowed from the row */
    c->owned = 0;
    if (v == Py_None) {
        c->type = C_NULL;
    } else if (PyBytes_CheckExact(v)) {
        c->type = C_BYTES;
        c->s = PyBytes_AS_STRING(v);
        c->n = PyBytes_GET_SIZE(v);
    } else if (PyLong_CheckExact(v)) {
        int overflow = 0;
        c->i = PyLong_AsLongLongAndOverflow(v, &overflow);
        if (c->i == -1 && PyErr_Occurred()) {
            PyErr_Clear();
            overflow = 1;
        }
        c->type = overflow ? C_OTHER : C_INT;
    } else {
        c->type = C_OTHER;
    }
}

static void col_from_statement(Col *c, sqlite3_stmt *stmt, int k) {
    c->obj = NULL;
    c->owned = 0;
    int type = SQL.column_type(stmt, k);
    switch (type) {
    case SQLITE_INTEGER:
        c->type = C_INT;
        c->i = SQL.column_int64(stmt, k);
        break;
    case SQLITE_TEXT:
    case SQLITE_BLOB:
        /* a text as UTF-8, as Python's cursor reads it (sqlite3_column_text): in a UTF-16
         * file its stored bytes (column_blob) are UTF-16, another value altogether */
        c->type = C_BYTES;
        c->s = type == SQLITE_TEXT ? (const char *)SQL.column_text(stmt, k)
                                   : (const char *)SQL.column_blob(stmt, k);
        c->n = SQL.column_bytes(stmt, k);
        if (c->s == NULL && c->n != 0) c->type = C_OTHER; /* no memory: give up */
        if (c->s == NULL) c->s = ""; /* an empty value */
        break;
    case SQLITE_NULL:
        c->type = C_NULL;
        break;
    default: /* a float: the scan gives up on it, as on any other unexpected type */
        c->type = C_OTHER;
    }
}

/* 1: a row is ready in src->c; 0: the end, or src->failed; -1: an exception */
static int rows_next(Rows *src) {
    rows_release(src);
    if (src->iter != NULL) {
        PyObject *row = PyIter_Next(src->iter);
        if (row == NULL) return PyErr_Occurred() ? -1 : 0;
        src->row = row;
        if (!PyTuple_CheckExact(row) || PyTuple_GET_SIZE(row) != N_COLUMNS) {
            for (int k = 0; k < N_COLUMNS; k++) src->c[k].type = C_OTHER;
            return 1;
        }
        for (int k = 0; k < N_COLUMNS; k++) col_from_object(&src->c[k], PyTuple_GET_ITEM(row, k));
        return 1;
    }
    if (src->failed) return 0;
    int rc = SQL.step(src->stmt);
    if (rc == SQLITE_DONE) return 0;
    if (rc != SQLITE_ROW) {
        src->failed = 1;
        return 0;
    }
    for (int k = 0; k < N_COLUMNS; k++) col_from_statement(&src->c[k], src->stmt, k);
    return 1;
}

/* column k of the current row as Python's sqlite3 gives it (borrowed); NULL: an exception */
static PyObject *col_obj(Rows *src, int k) {
    Col *c = &src->c[k];
    if (c->obj != NULL) return c->obj;
    switch (c->type) {
    case C_INT:
        c->obj = PyLong_FromLongLong(c->i);
        break;
    case C_BYTES:
        c->obj = PyBytes_FromStringAndSize(c->s, c->n);
        break;
    case C_NULL:
        c->obj = Py_NewRef(Py_None);
        break;
    default:
        PyErr_SetString(PyExc_TypeError, "a column of an unexpected type");
        return NULL;
    }
    c->owned = c->obj != NULL;
    return c->obj;
}

/* the current row as a tuple (borrowed), for the Python diagnosis; NULL: an exception */
static PyObject *rows_tuple(Rows *src) {
    if (src->row != NULL) return src->row;
    PyObject *row = PyTuple_New(N_COLUMNS);
    if (row == NULL) return NULL;
    for (int k = 0; k < N_COLUMNS; k++) {
        PyObject *v = col_obj(src, k);
        if (v == NULL) {
            Py_DECREF(row);
            return NULL;
        }
        PyTuple_SET_ITEM(row, k, Py_NewRef(v));
    }
    src->row = row;
    return row;
}

/* file_rows(uri, sql, first, last): the rows scan_file() reads, as a list; None when the
 * file cannot be read here (no library attached, SQLite failed) */
static PyObject *py_file_rows(PyObject *self, PyObject *args) {
    const char *uri, *sql;
    long long first, last;
    if (!PyArg_ParseTuple(args, "ssLL", &uri, &sql, &first, &last)) return NULL;
    Rows src;
    PyObject *out = NULL;
    int more;
    if (rows_open_file(&src, uri, sql, first, last) < 0) goto done;
    out = PyList_New(0);
    if (out == NULL) goto done;
    while ((more = rows_next(&src)) == 1) {
        for (int k = 0; k < N_COLUMNS; k++)
            if (src.c[k].type == C_OTHER) src.failed = 1; /* scan_file() gives up on it */
        PyObject *row = src.failed ? NULL : rows_tuple(&src);
        if (row == NULL || PyList_Append(out, row) < 0) break;
    }
    if (PyErr_Occurred()) Py_CLEAR(out);
    else if (src.failed) Py_SETREF(out, Py_NewRef(Py_None));
done:
    rows_close(&src);
    if (out == NULL && !PyErr_Occurred()) Py_RETURN_NONE;
    return out;
}

/* ------------------------------------------------------- known values, in C */

/* A front for one of the Python scan's dicts of values known valid (value -> its
 * encoding): a hit here needs no Python object. An entry is made only from what the dict
 * holds (the dicts only grow during a scan), so a hit answers what the dict would. */
typedef struct {
    uint64_t hash;
    char *key; /* a copy of the value's bytes */
    Py_ssize_t n;
    PyObject *enc; /* a reference of ours */
    int correction; /* kinds: the kind is a correction's */
} Entry;

typedef struct {
    Entry *slots;
    size_t cap, used; /* cap: a power of two */
} Map;

#define MAP_MAX_PROBE 32   /* beyond: no entry made (the dict still answers) */
/* entries per map: the values that repeat (kinds, dates, stamps, agreement names, parties)
 * are far fewer; values met once (payment references) gain nothing from an entry, and
 * the cap keeps a map under ≈ 6 MB whatever the ledger holds */
#define MAP_MAX_USED (1u << 16)

static uint64_t hash_bytes(const char *s, Py_ssize_t n) {
    uint64_t h = 0x9E3779B97F4A7C15ULL ^ (uint64_t)n;
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, s, 8);
        h = (h ^ w) * 0xff51afd7ed558ccdULL;
        h ^= h >> 32;
        s += 8;
        n -= 8;
    }
    uint64_t w = 0;
    memcpy(&w, s, (size_t)n);
    h = (h ^ w) * 0xc4ceb9fe1a85ec53ULL;
    return h ^ (h >> 29);
}

static void map_free(Map *m) {
    for (size_t i = 0; i < m->cap; i++) {
        if (m->slots[i].key != NULL) {
            PyMem_Free(m->slots[i].key);
            Py_DECREF(m->slots[i].enc);
        }
    }
    PyMem_Free(m->slots);
    m->slots = NULL;
    m->cap = m->used = 0;
}

static Entry *map_find(const Map *m, uint64_t h, const char *s, Py_ssize_t n, size_t *where) {
    if (m->cap == 0) return NULL;
    for (size_t i = 0, at = h & (m->cap - 1); i < MAP_MAX_PROBE; i++, at = (at + 1) & (m->cap - 1)) {
        Entry *e = &m->slots[at];
        if (e->key == NULL) return NULL;
        if (e->hash == h && e->n == n && memcmp(e->key, s, (size_t)n) == 0) {
            *where = at;
            return e;
        }
    }
    return NULL;
}

/* put a copy of s -> enc; 0 (also when it is not kept: full, or a long probe), -1: no memory */
static int map_put(Map *m, uint64_t h, const char *s, Py_ssize_t n, PyObject *enc,
                   int correction) {
    if (m->used >= MAP_MAX_USED) return 0;
    if ((m->used + 1) * 2 > m->cap) { /* grow: at most half full */
        size_t cap = m->cap ? m->cap * 2 : 64;
        Entry *slots = PyMem_Calloc(cap, sizeof(Entry));
        if (slots == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        for (size_t i = 0; i < m->cap; i++) {
            Entry *e = &m->slots[i];
            if (e->key == NULL) continue;
            size_t at = e->hash & (cap - 1);
            while (slots[at].key != NULL) at = (at + 1) & (cap - 1);
            slots[at] = *e;
        }
        PyMem_Free(m->slots);
        m->slots = slots;
        m->cap = cap;
    }
    size_t at = h & (m->cap - 1);
    for (int i = 0; m->slots[at].key != NULL; i++, at = (at + 1) & (m->cap - 1))
        if (i >= MAP_MAX_PROBE) return 0;
    char *key = PyMem_Malloc(n ? (size_t)n : 1);
    if (key == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    memcpy(key, s, (size_t)n);
    Entry *e = &m->slots[at];
    e->hash = h;
    e->key = key;
    e->n = n;
    e->enc = Py_NewRef(enc);
    e->correction = correction;
    m->used++;
    return 0;
}

/* ------------------------------------------------------------------- scan */

/* Everything one scan needs: the Python scan's dicts (borrowed from the arguments) and
 * their fronts here. */
typedef struct {
    PyObject *kinds, *days, *stamps, *texts, *parties, *purposes; /* dicts: value -> encoding */
    PyObject *keys, *corrections, *meta_ok, *diagnose, *diagnose_transfer;
    long long max_fen;
    int resolve_later; /* a worker's range: a corrects outside it is left to the join */
    Map m_kinds, m_days, m_stamps, m_texts, m_parties, m_purposes;
    /* per column: the slot its last value was found in, while its map kept that size
     * (a value repeated from the row before is compared, not hashed) */
    size_t hot_at[N_COLUMNS], hot_cap[N_COLUMNS];
} Rules;

static void rules_free(Rules *r) {
    map_free(&r->m_kinds);
    map_free(&r->m_days);
    map_free(&r->m_stamps);
    map_free(&r->m_texts);
    map_free(&r->m_parties);
    map_free(&r->m_purposes);
}

/* The encoding of column k's value from `known` (borrowed), NULL if it is not there.
 * -1 in *err on an exception. `correction` (kinds only) says if it is a correction's. */
static PyObject *known_col(Rules *r, Map *m, PyObject *known, Rows *src, int k,
                           int *correction, int *err) {
    Col *c = &src->c[k];
    if (c->type == C_NULL) { /* None: only the optional texts know it */
        PyObject *found = PyDict_GetItemWithError(known, Py_None);
        if (found == NULL && PyErr_Occurred()) PyErr_Clear();
        return found != NULL && PyBytes_CheckExact(found) ? found : NULL;
    }
    if (c->type != C_BYTES) return NULL;
    Entry *e;
    if (r->hot_cap[k] == m->cap && m->cap != 0) {
        e = &m->slots[r->hot_at[k]];
        if (e->n == c->n && memcmp(e->key, c->s, (size_t)c->n) == 0) {
            if (correction) *correction = e->correction;
            return e->enc;
        }
    }
    uint64_t h = hash_bytes(c->s, c->n);
    size_t at;
    e = map_find(m, h, c->s, c->n, &at);
    if (e != NULL) {
        r->hot_at[k] = at;
        r->hot_cap[k] = m->cap;
        if (correction) *correction = e->correction;
        return e->enc;
    }
    PyObject *value = col_obj(src, k);
    if (value == NULL) {
        *err = -1;
        return NULL;
    }
    PyObject *found = PyDict_GetItemWithError(known, value);
    if (found == NULL) {
        PyErr_Clear();
        return NULL;
    }
    if (!PyBytes_CheckExact(found)) return NULL;
    int is_correction = 0;
    if (correction) {
        is_correction = PySet_Contains(r->corrections, value);
        if (is_correction < 0) {
            *err = -1;
            return NULL;
        }
        *correction = is_correction;
    }
    if (map_put(m, h, c->s, c->n, found, is_correction) < 0) *err = -1;
    return found;
}

/* a header's encodings, NULL where unknown */
typedef struct {
    PyObject *kind, *booked, *due, *agreement, *period, *component, *reason, *reference,
        *posted;
    int correction;
} Header;

typedef struct {
    PyObject *dparty, *dpurpose, *cparty, *cpurpose;
} Legs;

static int legs_lookup(Rules *r, Rows *src, Legs *e) {
    int err = 0;
    e->dparty = known_col(r, &r->m_parties, r->parties, src, 17, NULL, &err);
    e->dpurpose = known_col(r, &r->m_purposes, r->purposes, src, 18, NULL, &err);
    e->cparty = known_col(r, &r->m_parties, r->parties, src, 19, NULL, &err);
    e->cpurpose = known_col(r, &r->m_purposes, r->purposes, src, 20, NULL, &err);
    return err;
}

static int same_col(const Col *a, const Col *b) { /* two bytes columns, equal */
    return a->n == b->n && memcmp(a->s, b->s, (size_t)a->n) == 0;
}

static int col_is(const Col *c, PyObject *bytes) { /* a bytes column equal to bytes */
    return c->n == PyBytes_GET_SIZE(bytes) &&
           memcmp(c->s, PyBytes_AS_STRING(bytes), (size_t)c->n) == 0;
}

/* the transfer columns' own checks (the Python loop's, for any row); 1 = passed */
static int legs_pass(const Col *c, const Legs *e, long long fen, long long max_fen) {
    return fen > 0 && fen <= max_fen && e->dparty && e->cparty && e->dpurpose &&
           e->cpurpose && !(same_col(&c[17], &c[19]) && same_col(&c[18], &c[20]));
}

static int has_control(const Col *c) {
    const unsigned char *s = (const unsigned char *)c->s;
    for (Py_ssize_t i = 0; i < c->n; i++)
        if (s[i] < 0x20) return 1;
    return 0;
}

static int digest_ok(const Col *c) {
    if (c->type == C_NULL) return 1;
    if (c->n < 16 || c->n > 128) return 0;
    const unsigned char *s = (const unsigned char *)c->s;
    for (Py_ssize_t i = 0; i < c->n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) return 0;
    return 1;
}

/* 1: the header's quick checks pass (with known encodings filled in), 0: they do not,
 * -1: an exception. `last_meta` is the previous transaction's meta (checked then). */
static int header_pass(Rules *r, Rows *src, Header *h, long long seq, long long expected,
                       PyObject *prev, const Buf *last_meta, int corrects_may_be_later) {
    Col *c = src->c;
    int err = 0;
    h->correction = 0;
    h->kind = known_col(r, &r->m_kinds, r->kinds, src, 4, &h->correction, &err);
    h->booked = known_col(r, &r->m_days, r->days, src, 5, NULL, &err);
    h->due = c[6].type == C_NULL ? Py_None
                                 : known_col(r, &r->m_days, r->days, src, 6, NULL, &err);
    h->agreement = known_col(r, &r->m_texts, r->texts, src, 7, NULL, &err);
    h->period = known_col(r, &r->m_texts, r->texts, src, 8, NULL, &err);
    h->component = known_col(r, &r->m_texts, r->texts, src, 9, NULL, &err);
    h->reason = known_col(r, &r->m_texts, r->texts, src, 11, NULL, &err);
    h->reference = known_col(r, &r->m_texts, r->texts, src, 12, NULL, &err);
    h->posted = known_col(r, &r->m_stamps, r->stamps, src, 15, NULL, &err);
    if (err < 0) return -1;
    if (seq != expected || !col_is(&c[2], prev) || !h->kind || !h->booked || !h->due ||
        !h->posted || !h->agreement || !h->period || !h->component || !h->reason ||
        !h->reference || c[3].n == 0 || has_control(&c[3]) || !digest_ok(&c[13]))
        return 0;
    if (c[10].type != C_NULL && !corrects_may_be_later) {
        PyObject *corrects = col_obj(src, 10);
        if (corrects == NULL) return -1;
        int in = PySet_Contains(r->keys, corrects);
        if (in < 0) return -1;
        if (!in) return 0;
    }
    if (h->correction && (c[10].type == C_NULL || c[11].type == C_NULL)) return 0;
    const Col *meta = &c[14];
    if (last_meta == NULL || last_meta->len != meta->n ||
        memcmp(last_meta->data, meta->s, (size_t)meta->n) != 0) {
        if (!meta_fast((const unsigned char *)meta->s, meta->n)) {
            PyObject *value = col_obj(src, 14);
            if (value == NULL) return -1;
            PyObject *ok = PyObject_CallOneArg(r->meta_ok, value);
            if (ok == NULL) return -1;
            int truth = PyObject_IsTrue(ok);
            Py_DECREF(ok);
            if (truth <= 0) return truth;
        }
    }
    return 1;
}

/* 1: the callback found no problem, 0: it found one, -1: an exception */
static int no_problem(PyObject *found) {
    if (found == NULL) return -1;
    int none = found == Py_None;
    Py_DECREF(found);
    return none;
}

static int buf_bytes(Buf *b, PyObject *value) { /* an exact bytes object's raw bytes */
    return buf_put(b, PyBytes_AS_STRING(value), PyBytes_GET_SIZE(value));
}

static int buf_text(Buf *b, const Col *c) { /* N for NULL, else T<n>:<bytes> */
    if (c->type == C_NULL) return buf_put(b, "N", 1);
    return buf_tagged(b, 'T', c->s, c->n);
}

/* finish a transaction: its bytes must be valid UTF-8 and hash to the stored hash (64
 * lowercase hex digits); append digest and leaf */
static int finish(Hasher *hs, Buf *msg, PyObject *stored, PyObject *digests,
                  PyObject *leaves) {
    static const char hex[] = "0123456789abcdef";
    unsigned char d[32], leaf[32];
    if (!utf8_ok((const unsigned char *)msg->data, msg->len)) return 0;
    if (sha256_3(hs, msg->data, (size_t)msg->len, NULL, 0, NULL, 0, d) < 0) return -1;
    if (PyBytes_GET_SIZE(stored) != 64) return 0;
    const char *h = PyBytes_AS_STRING(stored);
    for (int k = 0; k < 32; k++)
        if (h[2 * k] != hex[d[k] >> 4] || h[2 * k + 1] != hex[d[k] & 15]) return 0;
    if (sha256_3(hs, "\x00", 1, d, 32, NULL, 0, leaf) < 0) return -1;
    PyObject *pd = PyBytes_FromStringAndSize((const char *)d, 32);
    if (pd == NULL) return -1;
    int err = PyList_Append(digests, pd);
    Py_DECREF(pd);
    if (err < 0) return -1;
    PyObject *pl = PyBytes_FromStringAndSize((const char *)leaf, 32);
    if (pl == NULL) return -1;
    err = PyList_Append(leaves, pl);
    Py_DECREF(pl);
    if (err < 0) return -1;
    msg->len = 0;
    return 1;
}

static const char TAG2[] = "T19:ecocomp.ledger.tx/2";

/* 1: rows proven sound; 0: give up (the Python scan decides); -1: an exception */
static int scan_rows(Rows *src, Rules *r, long long first, long long last,
                     PyObject *prev_in, PyObject *digests, PyObject *hashes, PyObject *leaves) {
    Hasher hs = {NULL};
    Buf msg = {NULL, 0, 0}, last_meta = {NULL, 0, 0};
    PyObject *prev = prev_in;
    long long expected = first, current = 0, nidx = 0;
    int result = 0, open = 0, more, seen_meta = 0;
    Py_INCREF(prev);
    if (hasher_open(&hs) < 0) {
        result = -1;
        goto done;
    }
    while ((more = rows_next(src)) == 1) {
        Col *c = src->c;
        /* types: integers where the schema says integer, bytes where it says text, None
         * only where optional; anything else: give up */
        if (c[0].type != C_INT || c[16].type != C_INT || c[21].type != C_INT) goto give_up;
        for (int k = 17; k <= 20; k++)
            if (c[k].type != C_BYTES) goto give_up;
        long long seq = c[0].i, idx = c[16].i, fen = c[21].i;
        Legs legs;
        if (legs_lookup(r, src, &legs) < 0) goto error;
        if (seq != current) {
            if (open) {
                int fin = finish(&hs, &msg, prev, digests, leaves);
                if (fin < 0) goto error;
                if (fin == 0) goto give_up;
                open = 0;
            }
            if (seq == LLONG_MAX) goto give_up; /* expected = seq + 1 would overflow */
            if (c[1].type != C_BYTES || c[2].type != C_BYTES || c[3].type != C_BYTES ||
                c[4].type != C_BYTES || c[5].type != C_BYTES || c[14].type != C_BYTES ||
                c[15].type != C_BYTES)
                goto give_up;
            for (int k = 6; k <= 13; k++)
                if (c[k].type != C_BYTES && c[k].type != C_NULL) goto give_up;
            Header h;
            const Buf *meta_before = seen_meta ? &last_meta : NULL; /* NULL: check it */
            int pass = header_pass(r, src, &h, seq, expected, prev, meta_before, 0);
            if (pass < 0) goto error;
            if (!pass || idx != 0 || !legs_pass(c, &legs, fen, r->max_fen)) {
                PyObject *row = rows_tuple(src);
                if (row == NULL) goto error;
                int fine = no_problem(
                    PyObject_CallFunction(r->diagnose, "OLO", row, expected, prev));
                if (fine < 0) goto error;
                if (fine == 0) goto give_up;
                /* every value is known now; check again, all of it */
                if (legs_lookup(r, src, &legs) < 0) goto error;
                pass = header_pass(r, src, &h, seq, expected, prev, meta_before,
                                   r->resolve_later);
                if (pass < 0) goto error;
                if (!pass || idx != 0 || !legs_pass(c, &legs, fen, r->max_fen)) goto give_up;
            }
            last_meta.len = 0;
            if (buf_put(&last_meta, c[14].s, c[14].n) < 0) goto error;
            seen_meta = 1;
            PyObject *key = col_obj(src, 3), *stored = col_obj(src, 1);
            if (key == NULL || stored == NULL || PySet_Add(r->keys, key) < 0 ||
                PyList_Append(hashes, stored) < 0)
                goto error;
            if (buf_put(&msg, TAG2, sizeof TAG2 - 1) < 0 || buf_text(&msg, &c[2]) < 0 ||
                buf_integer(&msg, seq) < 0 || buf_text(&msg, &c[3]) < 0 ||
                buf_bytes(&msg, h.kind) < 0 || buf_bytes(&msg, h.booked) < 0 ||
                (h.due == Py_None ? buf_put(&msg, "N", 1) : buf_bytes(&msg, h.due)) < 0 ||
                buf_bytes(&msg, h.agreement) < 0 || buf_bytes(&msg, h.period) < 0 ||
                buf_bytes(&msg, h.component) < 0 || buf_text(&msg, &c[10]) < 0 ||
                buf_bytes(&msg, h.reason) < 0 || buf_bytes(&msg, h.reference) < 0 ||
                buf_text(&msg, &c[13]) < 0 || buf_text(&msg, &c[14]) < 0 ||
                buf_bytes(&msg, h.posted) < 0)
                goto error;
            open = 1;
            current = seq;
            expected = seq + 1;
            Py_SETREF(prev, Py_NewRef(stored));
            nidx = 0;
        } else if (!open) {
            /* a transfer row before any transaction's first row (seq == 0 first): the
             * Python scan calls it malformed; never let its legs prefix the next message */
            goto give_up;
        } else if (idx != nidx || !legs_pass(c, &legs, fen, r->max_fen)) {
            PyObject *row = rows_tuple(src);
            if (row == NULL) goto error;
            int fine = no_problem(PyObject_CallFunction(r->diagnose_transfer, "OL", row, nidx));
            if (fine < 0) goto error;
            if (fine == 0) goto give_up;
            if (legs_lookup(r, src, &legs) < 0) goto error;
            if (idx != nidx || !legs_pass(c, &legs, fen, r->max_fen)) goto give_up;
        }
        if (buf_bytes(&msg, legs.dparty) < 0 || buf_bytes(&msg, legs.dpurpose) < 0 ||
            buf_bytes(&msg, legs.cparty) < 0 || buf_bytes(&msg, legs.cpurpose) < 0 ||
            buf_integer(&msg, fen) < 0)
            goto error;
        nidx++;
    }
    if (more < 0) goto error;
    if (src->failed) goto give_up;
    if (open) {
        int fin = finish(&hs, &msg, prev, digests, leaves);
        if (fin < 0) goto error;
        if (fin == 0) goto give_up;
    }
    result = expected > last ? 1 : 0; /* a transaction missing at the end: give up */
    goto done;
error:
    result = -1;
    goto done;
give_up:
    result = 0;
done:
    rows_release(src);
    PyMem_Free(last_meta.data);
    Py_DECREF(prev);
    PyMem_Free(msg.data);
    hasher_close(&hs);
    return result;
}

/* scan() and scan_file(): the same arguments after the rows (or the file's URI and SQL) */
static PyObject *scan_from(PyObject *args, PyObject *kwargs, int from_file) {
    static char *row_names[] = {"rows", "first", "last", "prev", "kinds", "days", "stamps",
                                "texts", "parties", "purposes", "keys", "corrections",
                                "meta_ok", "diagnose", "diagnose_transfer", "max_fen",
                                "resolve_later", "digests", "hashes", "leaves", NULL};
    static char *file_names[] = {"uri", "sql", "first", "last", "prev", "kinds", "days",
                                 "stamps", "texts", "parties", "purposes", "keys",
                                 "corrections", "meta_ok", "diagnose", "diagnose_transfer",
                                 "max_fen", "resolve_later", "digests", "hashes", "leaves",
                                 NULL};
    PyObject *rows = NULL, *prev, *digests, *hashes, *leaves;
    const char *uri = NULL, *sql = NULL;
    long long first, last, max_fen;
    int resolve_later, ok;
    Rules r;
    memset(&r, 0, sizeof r);
#define RULE_ARGS                                                                          \
    &first, &last, &PyBytes_Type, &prev, &PyDict_Type, &r.kinds, &PyDict_Type, &r.days,    \
        &PyDict_Type, &r.stamps, &PyDict_Type, &r.texts, &PyDict_Type, &r.parties,         \
        &PyDict_Type, &r.purposes, &PySet_Type, &r.keys, &PyFrozenSet_Type,                \
        &r.corrections, &r.meta_ok, &r.diagnose,                                           \
        &r.diagnose_transfer, &max_fen, &resolve_later, &PyList_Type, &digests,            \
        &PyList_Type, &hashes, &PyList_Type, &leaves
    if (from_file)
        ok = PyArg_ParseTupleAndKeywords(args, kwargs, "ssLLO!O!O!O!O!O!O!O!O!OOOLpO!O!O!",
                                         file_names, &uri, &sql, RULE_ARGS);
    else
        ok = PyArg_ParseTupleAndKeywords(args, kwargs, "OLLO!O!O!O!O!O!O!O!O!OOOLpO!O!O!",
                                         row_names, &rows, RULE_ARGS);
#undef RULE_ARGS
    if (!ok) return NULL;
    r.max_fen = max_fen;
    r.resolve_later = resolve_later;
    Rows src;
    memset(&src, 0, sizeof src);
    int result = 0;
    if (from_file) {
        if (rows_open_file(&src, uri, sql, first, last) == 0)
            result = scan_rows(&src, &r, first, last, prev, digests, hashes, leaves);
    } else {
        src.iter = PyObject_GetIter(rows);
        if (src.iter == NULL) return NULL;
        result = scan_rows(&src, &r, first, last, prev, digests, hashes, leaves);
        Py_CLEAR(src.iter);
    }
    rows_close(&src);
    rules_free(&r);
    if (result < 0) return NULL;
    return PyBool_FromLong(result);
}

static PyObject *py_scan(PyObject *self, PyObject *args, PyObject *kwargs) {
    return scan_from(args, kwargs, 0);
}

static PyObject *py_scan_file(PyObject *self, PyObject *args, PyObject *kwargs) {
    return scan_from(args, kwargs, 1);
}

static PyObject *py_meta_canonical(PyObject *self, PyObject *arg) {
    if (!PyBytes_Check(arg)) {
        PyErr_SetString(PyExc_TypeError, "meta_canonical() takes bytes");
        return NULL;
    }
    return PyBool_FromLong(
        meta_fast((const unsigned char *)PyBytes_AS_STRING(arg), PyBytes_GET_SIZE(arg)));
}

static PyObject *py_utf8_valid(PyObject *self, PyObject *arg) {
    if (!PyBytes_Check(arg)) {
        PyErr_SetString(PyExc_TypeError, "utf8_valid() takes bytes");
        return NULL;
    }
    return PyBool_FromLong(
        utf8_ok((const unsigned char *)PyBytes_AS_STRING(arg), PyBytes_GET_SIZE(arg)));
}

/* one level up an RFC 6962 tree: SHA-256(0x01 || a || b) of each pair, an odd last
 * node carried up as it is */
static PyObject *py_merkle_level(PyObject *self, PyObject *arg) {
    if (!PyList_CheckExact(arg)) {
        PyErr_SetString(PyExc_TypeError, "merkle_level() takes a list of bytes");
        return NULL;
    }
    Py_ssize_t n = PyList_GET_SIZE(arg);
    for (Py_ssize_t i = 0; i < n; i++) {
        if (!PyBytes_CheckExact(PyList_GET_ITEM(arg, i))) {
            PyErr_SetString(PyExc_TypeError, "merkle_level() takes a list of bytes");
            return NULL;
        }
    }
    PyObject *up = PyList_New((n + 1) / 2);
    if (up == NULL) return NULL;
    Hasher hs = {NULL};
    if (hasher_open(&hs) < 0) {
        Py_DECREF(up);
        return NULL;
    }
    for (Py_ssize_t i = 0; i + 1 < n; i += 2) {
        PyObject *a = PyList_GET_ITEM(arg, i), *b = PyList_GET_ITEM(arg, i + 1);
        unsigned char out[32];
        if (sha256_3(&hs, "\x01", 1, PyBytes_AS_STRING(a), (size_t)PyBytes_GET_SIZE(a),
                     PyBytes_AS_STRING(b), (size_t)PyBytes_GET_SIZE(b), out) < 0) {
            hasher_close(&hs);
            Py_DECREF(up);
            return NULL;
        }
        PyObject *node = PyBytes_FromStringAndSize((const char *)out, 32);
        if (node == NULL) {
            hasher_close(&hs);
            Py_DECREF(up);
            return NULL;
        }
        PyList_SET_ITEM(up, i / 2, node);
    }
    if (n % 2) PyList_SET_ITEM(up, n / 2, Py_NewRef(PyList_GET_ITEM(arg, n - 1)));
    hasher_close(&hs);
    return up;
}

static PyMethodDef methods[] = {
    {"scan", (PyCFunction)(void (*)(void))py_scan, METH_VARARGS | METH_KEYWORDS,
     "Prove tx/2 transactions first..last sound (True) or give up (False)."},
    {"scan_file", (PyCFunction)(void (*)(void))py_scan_file, METH_VARARGS | METH_KEYWORDS,
     "scan() over the rows of sql (first, last) read from the database at uri."},
    {"file_rows", py_file_rows, METH_VARARGS,
     "The rows scan_file() reads: a list of tuples, or None if it cannot read them."},
    {"sqlite_attach", py_sqlite_attach, METH_O,
     "Find SQLite in the loaded _sqlite3 module at this path; True if found."},
    {"meta_canonical", py_meta_canonical, METH_O,
     "True if the bytes are certainly canonical JSON of an object; False: not known."},
    {"utf8_valid", py_utf8_valid, METH_O, "bytes.decode('utf-8') would succeed."},
    {"merkle_level", py_merkle_level, METH_O, "One level up an RFC 6962 Merkle tree."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "ecocomp.ledger._scanc",
    "The compiled fast path of ledger verify's scan (see ecocomp.ledger.verify).", -1,
    methods,
};

PyMODINIT_FUNC PyInit__scanc(void) {
    if (SHA256_MD == NULL) SHA256_MD = EVP_MD_fetch(NULL, "SHA256", NULL);
    if (SHA256_MD == NULL) {
        PyErr_SetString(PyExc_ImportError, "OpenSSL has no SHA-256");
        return NULL;
    }
    return PyModule_Create(&module);
}

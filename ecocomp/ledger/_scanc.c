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
 * Also: `meta_canonical(bytes)` (a sufficient test of canonical JSON: 1 = canonical,
 * 0 = not known, then Python decides), `utf8_valid(bytes)` (Python's strict UTF-8) and
 * `merkle_level(list)` (one level of an RFC 6962 tree).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <openssl/evp.h>
#include <limits.h>
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

static int buf_bytes(Buf *b, PyObject *value) { /* an exact bytes object's raw bytes */
    return buf_put(b, PyBytes_AS_STRING(value), PyBytes_GET_SIZE(value));
}

static int buf_text(Buf *b, PyObject *value) { /* N for None, else T<n>:<bytes> */
    if (value == Py_None) return buf_put(b, "N", 1);
    return buf_tagged(b, 'T', PyBytes_AS_STRING(value), PyBytes_GET_SIZE(value));
}

static int buf_integer(Buf *b, long long v) { /* I<n>:<digits>, as Python's b"%d" */
    char digits[33];
    unsigned long long magnitude = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
    char *d = decimal(digits + 1, magnitude);
    if (v < 0) *--d = '-';
    return buf_tagged(b, 'I', d, (Py_ssize_t)(digits + 33 - d));
}

/* ------------------------------------------------------------------- scan */

typedef struct {
    PyObject *kinds, *days, *stamps, *texts, *parties, *purposes; /* dicts: value -> encoding */
} Seen;

/* the encoding of `value` from `known`, or NULL if it is not there (no exception) */
static PyObject *known_get(PyObject *known, PyObject *value) {
    PyObject *found = PyDict_GetItemWithError(known, value);
    if (found == NULL) PyErr_Clear();
    return found != NULL && PyBytes_CheckExact(found) ? found : NULL;
}

static int is_bytes_or_none(PyObject *v) { return v == Py_None || PyBytes_CheckExact(v); }

static int has_control(PyObject *value) {
    const unsigned char *s = (const unsigned char *)PyBytes_AS_STRING(value);
    Py_ssize_t n = PyBytes_GET_SIZE(value);
    for (Py_ssize_t i = 0; i < n; i++)
        if (s[i] < 0x20) return 1;
    return 0;
}

static int digest_ok(PyObject *digest) {
    if (digest == Py_None) return 1;
    Py_ssize_t n = PyBytes_GET_SIZE(digest);
    if (n < 16 || n > 128) return 0;
    const unsigned char *s = (const unsigned char *)PyBytes_AS_STRING(digest);
    for (Py_ssize_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) return 0;
    return 1;
}

static int same_bytes(PyObject *a, PyObject *b) {
    Py_ssize_t n = PyBytes_GET_SIZE(a);
    return n == PyBytes_GET_SIZE(b) && memcmp(PyBytes_AS_STRING(a), PyBytes_AS_STRING(b),
                                              (size_t)n) == 0;
}

/* Everything one scan needs, borrowed from the arguments. */
typedef struct {
    Seen seen;
    PyObject *keys, *corrections, *meta_ok, *diagnose, *diagnose_transfer;
    long long max_fen;
    int resolve_later; /* a worker's range: a corrects outside it is left to the join */
} Rules;

/* a header's encodings, NULL where unknown */
typedef struct {
    PyObject *kind, *booked, *due, *agreement, *period, *component, *reason, *reference,
        *posted;
} Header;

typedef struct {
    PyObject *dparty, *dpurpose, *cparty, *cpurpose;
} Legs;

static void legs_lookup(const Rules *r, PyObject **c, Legs *e) {
    e->dparty = known_get(r->seen.parties, c[17]);
    e->dpurpose = known_get(r->seen.purposes, c[18]);
    e->cparty = known_get(r->seen.parties, c[19]);
    e->cpurpose = known_get(r->seen.purposes, c[20]);
}

/* the transfer columns' own checks (the Python loop's, for any row); 1 = passed */
static int legs_pass(PyObject **c, const Legs *e, long long fen, long long max_fen) {
    return fen > 0 && fen <= max_fen && e->dparty && e->cparty && e->dpurpose &&
           e->cpurpose && !(same_bytes(c[17], c[19]) && same_bytes(c[18], c[20]));
}

/* 1: the header's quick checks pass (with known encodings filled in), 0: they do not,
 * -1: an exception */
static int header_pass(const Rules *r, PyObject **c, Header *h, long long seq,
                       long long expected, PyObject *prev, PyObject *last_meta,
                       int corrects_may_be_later) {
    PyObject *key = c[3], *kind = c[4], *corrects = c[10], *reason = c[11], *digest = c[13],
             *meta = c[14];
    h->kind = known_get(r->seen.kinds, kind);
    h->booked = known_get(r->seen.days, c[5]);
    h->due = c[6] == Py_None ? Py_None : known_get(r->seen.days, c[6]);
    h->agreement = known_get(r->seen.texts, c[7]);
    h->period = known_get(r->seen.texts, c[8]);
    h->component = known_get(r->seen.texts, c[9]);
    h->reason = known_get(r->seen.texts, reason);
    h->reference = known_get(r->seen.texts, c[12]);
    h->posted = known_get(r->seen.stamps, c[15]);
    if (seq != expected || !same_bytes(c[2], prev) || !h->kind || !h->booked || !h->due ||
        !h->posted || !h->agreement || !h->period || !h->component || !h->reason ||
        !h->reference || PyBytes_GET_SIZE(key) == 0 || has_control(key) || !digest_ok(digest))
        return 0;
    if (corrects != Py_None && !corrects_may_be_later) {
        int in = PySet_Contains(r->keys, corrects);
        if (in < 0) return -1;
        if (!in) return 0;
    }
    int correction = PySet_Contains(r->corrections, kind);
    if (correction < 0) return -1;
    if (correction && (corrects == Py_None || reason == Py_None)) return 0;
    if (last_meta == NULL || !same_bytes(meta, last_meta)) {
        if (!meta_fast((const unsigned char *)PyBytes_AS_STRING(meta),
                       PyBytes_GET_SIZE(meta))) {
            PyObject *ok = PyObject_CallOneArg(r->meta_ok, meta);
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

static int as_long_long(PyObject *v, long long *out) {
    if (!PyLong_CheckExact(v)) return 0;
    int overflow = 0;
    *out = PyLong_AsLongLongAndOverflow(v, &overflow);
    if (*out == -1 && PyErr_Occurred()) {
        PyErr_Clear();
        return 0;
    }
    return !overflow;
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
static int scan_rows(PyObject *iter, const Rules *r, long long first, long long last,
                     PyObject *prev_in, PyObject *digests, PyObject *hashes, PyObject *leaves) {
    Hasher hs = {NULL};
    Buf msg = {NULL, 0, 0};
    PyObject *row = NULL, *prev = prev_in, *last_meta = NULL;
    long long expected = first, current = 0, nidx = 0;
    int result = 0, open = 0;
    Py_INCREF(prev);
    if (hasher_open(&hs) < 0) {
        result = -1;
        goto done;
    }
    while ((row = PyIter_Next(iter)) != NULL) {
        if (!PyTuple_CheckExact(row) || PyTuple_GET_SIZE(row) != N_COLUMNS) goto give_up;
        PyObject **c = &PyTuple_GET_ITEM(row, 0);
        long long seq, idx, fen;
        if (!as_long_long(c[0], &seq) || !as_long_long(c[21], &fen) ||
            !as_long_long(c[16], &idx))
            goto give_up;
        for (int k = 17; k <= 20; k++)
            if (!PyBytes_CheckExact(c[k])) goto give_up;
        Legs legs;
        legs_lookup(r, c, &legs);
        if (seq != current) {
            if (open) {
                int fin = finish(&hs, &msg, prev, digests, leaves);
                if (fin <= 0) {
                    result = fin;
                    goto done_row;
                }
                open = 0;
            }
            if (seq == LLONG_MAX) goto give_up; /* expected = seq + 1 would overflow */
            /* header columns: bytes where the schema says text, None only where optional */
            if (!PyBytes_CheckExact(c[1]) || !PyBytes_CheckExact(c[2]) ||
                !PyBytes_CheckExact(c[3]) || !PyBytes_CheckExact(c[4]) ||
                !PyBytes_CheckExact(c[5]) || !PyBytes_CheckExact(c[14]) ||
                !PyBytes_CheckExact(c[15]))
                goto give_up;
            for (int k = 6; k <= 13; k++)
                if (!is_bytes_or_none(c[k])) goto give_up;
            Header h;
            int pass = header_pass(r, c, &h, seq, expected, prev, last_meta, 0);
            if (pass < 0) {
                result = -1;
                goto done_row;
            }
            if (!pass || idx != 0 || !legs_pass(c, &legs, fen, r->max_fen)) {
                PyObject *found = PyObject_CallFunction(r->diagnose, "OLO", row, expected, prev);
                int fine = no_problem(found);
                if (fine <= 0) {
                    result = fine;
                    goto done_row;
                }
                /* every value is known now; check again, all of it */
                legs_lookup(r, c, &legs);
                pass = header_pass(r, c, &h, seq, expected, prev, last_meta, r->resolve_later);
                if (pass < 0) {
                    result = -1;
                    goto done_row;
                }
                if (!pass || idx != 0 || !legs_pass(c, &legs, fen, r->max_fen)) goto give_up;
            }
            Py_XSETREF(last_meta, Py_NewRef(c[14]));
            if (PySet_Add(r->keys, c[3]) < 0 || PyList_Append(hashes, c[1]) < 0) {
                result = -1;
                goto done_row;
            }
            PyObject *corrects = c[10], *digest = c[13];
            if (buf_put(&msg, TAG2, sizeof TAG2 - 1) < 0 || buf_text(&msg, c[2]) < 0 ||
                buf_integer(&msg, seq) < 0 || buf_text(&msg, c[3]) < 0 ||
                buf_bytes(&msg, h.kind) < 0 || buf_bytes(&msg, h.booked) < 0 ||
                (h.due == Py_None ? buf_put(&msg, "N", 1) : buf_bytes(&msg, h.due)) < 0 ||
                buf_bytes(&msg, h.agreement) < 0 || buf_bytes(&msg, h.period) < 0 ||
                buf_bytes(&msg, h.component) < 0 || buf_text(&msg, corrects) < 0 ||
                buf_bytes(&msg, h.reason) < 0 || buf_bytes(&msg, h.reference) < 0 ||
                buf_text(&msg, digest) < 0 || buf_text(&msg, c[14]) < 0 ||
                buf_bytes(&msg, h.posted) < 0) {
                result = -1;
                goto done_row;
            }
            open = 1;
            current = seq;
            expected = seq + 1;
            Py_SETREF(prev, Py_NewRef(c[1]));
            nidx = 0;
        } else if (!open) {
            /* a transfer row before any transaction's first row (seq == 0 first): the
             * Python scan calls it malformed; never let its legs prefix the next message */
            goto give_up;
        } else if (idx != nidx || !legs_pass(c, &legs, fen, r->max_fen)) {
            PyObject *found = PyObject_CallFunction(r->diagnose_transfer, "OL", row, nidx);
            int fine = no_problem(found);
            if (fine <= 0) {
                result = fine;
                goto done_row;
            }
            legs_lookup(r, c, &legs);
            if (idx != nidx || !legs_pass(c, &legs, fen, r->max_fen)) goto give_up;
        }
        if (buf_bytes(&msg, legs.dparty) < 0 || buf_bytes(&msg, legs.dpurpose) < 0 ||
            buf_bytes(&msg, legs.cparty) < 0 || buf_bytes(&msg, legs.cpurpose) < 0 ||
            buf_integer(&msg, fen) < 0) {
            result = -1;
            goto done_row;
        }
        nidx++;
        Py_DECREF(row);
    }
    if (PyErr_Occurred()) {
        result = -1;
        goto done;
    }
    if (open) {
        int fin = finish(&hs, &msg, prev, digests, leaves);
        if (fin <= 0) {
            result = fin;
            goto done;
        }
    }
    result = expected > last ? 1 : 0; /* a transaction missing at the end: give up */
    goto done;
give_up:
    result = 0;
done_row:
    Py_XDECREF(row);
done:
    Py_XDECREF(last_meta);
    Py_DECREF(prev);
    PyMem_Free(msg.data);
    hasher_close(&hs);
    return result;
}

static PyObject *py_scan(PyObject *self, PyObject *args, PyObject *kwargs) {
    static char *names[] = {"rows", "first", "last", "prev", "kinds", "days", "stamps",
                            "texts", "parties", "purposes", "keys", "corrections", "meta_ok",
                            "diagnose", "diagnose_transfer", "max_fen", "resolve_later",
                            "digests", "hashes", "leaves", NULL};
    PyObject *rows, *prev, *digests, *hashes, *leaves;
    long long first, last, max_fen;
    int resolve_later;
    Rules r;
    if (!PyArg_ParseTupleAndKeywords(
            args, kwargs, "OLLO!O!O!O!O!O!O!O!O!OOOLpO!O!O!", names, &rows, &first, &last,
            &PyBytes_Type, &prev, &PyDict_Type, &r.seen.kinds, &PyDict_Type, &r.seen.days,
            &PyDict_Type, &r.seen.stamps, &PyDict_Type, &r.seen.texts, &PyDict_Type,
            &r.seen.parties, &PyDict_Type, &r.seen.purposes, &PySet_Type, &r.keys,
            &PyFrozenSet_Type, &r.corrections, &r.meta_ok, &r.diagnose,
            &r.diagnose_transfer, &max_fen, &resolve_later, &PyList_Type, &digests,
            &PyList_Type, &hashes, &PyList_Type, &leaves))
        return NULL;
    r.max_fen = max_fen;
    r.resolve_later = resolve_later;
    PyObject *iter = PyObject_GetIter(rows);
    if (iter == NULL) return NULL;
    int result = scan_rows(iter, &r, first, last, prev, digests, hashes, leaves);
    Py_DECREF(iter);
    if (result < 0) return NULL;
    return PyBool_FromLong(result);
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

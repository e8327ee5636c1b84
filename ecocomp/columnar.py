"""Readings files read by whole columns with pyarrow: the import's fast path.

A CSV file, long or wide, UTF-8 or GB18030, is read in blocks of about :data:`BLOCK_BYTES`,
cut at line ends (a GB18030 block decoded and encoded as UTF-8: a line feed, a quote and a
comma are never part of a GB18030 character, so each block decodes on its own) and parsed
by ``pyarrow.csv.read_csv`` with every cell as text, and each block is checked and
converted column by column (a wide block unpivoted first: its readings row by row, then
column by column, empty cells left out, in the row parser's order):

- section, sampled_at, parameter with unit, source and flag cells go through the very
  resolvers of the row parser (:mod:`ecocomp.readings`), once per *distinct* text of the
  block, and are mapped back onto the rows with the dictionary indices;
- a value cell that is a plain decimal (``0.15``, ``12``; no sign, no leading zero, at most
  8 digits before the point and 10 after) of a parameter whose unit needs no conversion is
  turned into its exact integer units (value × 10^SCALE) from its digits, with
  ``pyarrow.compute``: integer part × 10^SCALE plus the fraction padded to SCALE digits. The
  stored text is the cell itself, which is what ``str(Decimal(cell))`` gives for such a cell.
  Never a float;
- every other value cell (non-detects, exponents, unit factors, signs, pH checks, spaces) is
  converted one by one with the row parser's own functions;
- the monthly sums of the block are added up with ``pyarrow.compute`` (rows sorted by group,
  cumulative sums), the same integers ``store._MONTHLY_SELECT`` computes in SQL;
- implausible values (warnings, :func:`ecocomp.readings.implausible`) are found by comparing
  the integer units with each parameter's top in units, by whole columns; only the rows
  that compare above it (and the few without integer units) are looked at one by one, and
  decided and worded by the row parser's rule, so both give the same warnings.

Whatever the columns cannot decide exactly like the row parser — a bad cell, a quote
anywhere in the file, a blank line, an Excel file, a header with empty cells, a block of
wide rows without a value — raises :class:`Declined`, and the store reads the file with
the row parser, which is the single source of every file:row:field message. Row numbers
are physical line numbers: the reader checks that the file has exactly one line per row (no
quotes, no blank lines) so that row *i* after the header on line *h* is line *h + 1 + i*.
"""

from __future__ import annotations

import contextlib
import os
import queue
import threading
from collections.abc import Collection, Iterator, Mapping
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv

from ecocomp import bulk_insert
from ecocomp.readings import (
    _FLAG_WORDS,
    _ONE,
    _PREFIX_BYTES,
    _SOURCE_WORDS,
    _checked,
    _comment,
    _converted,
    _detect,
    _Err,
    _FileProblem,
    _Implausible,
    _is_workbook,
    _Layout,
    _Params,
    _Sections,
    _Times,
    _value_cell,
    _value_text,
    _word,
)

__all__ = ["BLOCK_BYTES", "Batch", "Declined", "ReadAhead", "batches", "detection_limit_units",
           "plain_units"]

#: Bytes of CSV text per block: about 20 000 long-format rows. Measured on a 1.2 M-row file:
#: 4 MiB blocks are no faster, 256 KiB blocks take 1.7x the CPU (fixed costs per block).
BLOCK_BYTES = 1 << 20
#: Distinct sampled_at texts remembered across blocks (emptied when full: memory stays flat).
_TIMES_HELD = 4096
#: The value cells taken by whole columns: a plain decimal whose units (value × 10^scale) fit
#: 64 bits: at most 18 - scale digits before the point (so < 10^18 < 2^63), 1 to scale after.
_DECIMAL = r"(?P<i>0|[1-9][0-9]{{0,{whole}}})(?:\.(?P<f>[0-9]{{1,{places}}}))?$"
_PLAIN = "^" + _DECIMAL
#: Non-detects taken by whole columns: ``<`` and a plain decimal with at most scale - 1
#: decimals, so half of it (the effective value) is whole in units too.
_BELOW = "^<" + _DECIMAL
_PH_TOP = 14


class Declined(Exception):
    """The file is not for the columnar reader; read it with the row parser instead.

    ``bad`` is True when a cell failed a check (the row parser will report it), False when
    the file is merely outside what the columns read (encoding, quotes, blank lines, layout).
    An internal signal between this module and the store: it never reaches users.
    """

    def __init__(self, why: str, *, bad: bool = False) -> None:
        super().__init__(why)
        self.bad = bad


class Batch:
    """One block of readings, checked and converted, ready to insert.

    ``columns``: the insert's parameters per reading except ``import_id`` — section,
    sampled_at, parameter, source, value, below_dl, flag, eff_units, eff_exp, row — as
    :mod:`ecocomp.bulk_insert` columns (pyarrow buffers, no Python object per reading);
    ``rows()`` gives them as tuples. ``monthly``: the block's monthly sums, one tuple per
    (section, month, parameter, source) with the columns of ``readings_monthly``;
    ``count``: the readings in the block. (The columns hold pyarrow ``Buffer`` objects,
    which keep their memory alive themselves.) ``parts``: the readings packed by group for
    ``readings_packed`` (:func:`bulk_insert.pack`), when the store packs them, else None.
    """

    __slots__ = ("columns", "count", "monthly", "parts")

    def __init__(self, columns: tuple[Any, ...], count: int,
                 monthly: list[tuple[Any, ...]]) -> None:
        self.columns = columns
        self.count = count
        self.monthly = monthly
        self.parts: list[tuple[Any, ...]] | None = None

    def rows(self) -> Iterator[tuple[Any, ...]]:
        """The block's readings as tuples of Python values, in the order of ``columns``."""
        return bulk_insert.rows(self.columns, self.count)


def batches(
    path: str | os.PathLike[str],
    sections: Collection[str] | Mapping[str, str] | None,
    name: str,
    scale: int,
    exact_parts: Any,
    odd: _Implausible | None = None,
    *,
    sums: bool = True,
) -> Iterator[Batch]:
    """The readings of one file in blocks; raises :class:`Declined` (possibly mid-way).

    ``scale`` and ``exact_parts`` are the store's (``SCALE`` and ``_exact_parts``): the one
    definition of integer units, used for the cells converted one by one. ``odd``, when
    given, collects the file's implausible values, in file order, as the row parser does.
    ``sums=False`` leaves each block's ``monthly`` empty (the caller sums the readings as
    it packs them: :func:`ecocomp.bulk_insert.pack`).
    """
    if _is_workbook(path, name):
        raise Declined("an Excel workbook")
    with open(path, "rb") as binary:
        try:
            encoding, _ = _detect(binary, name)
        except _FileProblem:
            raise Declined("not UTF-8 or GB18030 text", bad=True) from None
        binary.seek(0)
        prefix = binary.read(_PREFIX_BYTES)
    gb18030 = encoding == "gb18030"
    params = _Params()
    header_line, offset, layout = _header(prefix, name, params, gb18030)
    if b'"' in prefix[:offset]:
        raise Declined("a quote before the data")
    reader = _Reader(layout, sections, params, name, scale, exact_parts, odd, sums=sums)
    options = (
        pcsv.ReadOptions(use_threads=False, block_size=2 * BLOCK_BYTES,
                         column_names=[f"c{i}" for i in range(layout.width)]),
        pcsv.ParseOptions(quote_char=False, newlines_in_values=False,
                          ignore_empty_lines=False),
        pcsv.ConvertOptions(
            column_types={f"c{i}": pa.string() for i in range(layout.width)},
            strings_can_be_null=False, quoted_strings_can_be_null=False, check_utf8=True),
    )
    row = header_line + 1
    for data in _blocks(path, offset):
        # One row per line is what makes row numbers line numbers: a quote could let a row
        # span lines, a blank line would be skipped by the row parser.
        if b'"' in data:
            raise Declined("the file holds quotes")
        if gb18030:
            # Blocks end at a line feed, which (as the quote and the comma) is never part
            # of a GB18030 character: each block decodes on its own, as the row parser's
            # stream decodes it.
            try:
                data = data.decode("gb18030").encode("utf-8")
            except UnicodeDecodeError:
                raise Declined("a byte that is not GB18030 text", bad=True) from None
        lines = data.count(b"\n") + (not data.endswith(b"\n"))
        try:
            table = pcsv.read_csv(pa.py_buffer(data), read_options=options[0],
                                  parse_options=options[1], convert_options=options[2])
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
            # a row with more or fewer cells than the header, a blank line, invalid UTF-8
            raise Declined(f"pyarrow: {exc}") from None
        if table.num_rows != lines:
            raise Declined("a line break that is not the end of a row (a lone CR)")
        for block in table.to_batches():
            batch = reader.convert(block, row)
            row += block.num_rows  # a wide row holds several readings
            yield batch
    if row == header_line + 1:
        raise Declined("no data rows")


class ReadAhead:
    """The items of an iterator produced in a thread of their own, up to ``depth`` ahead.

    While the store inserts a block (without the GIL, in the compiled insert) the next one
    is parsed and converted. What the iterator raises is raised by :meth:`__next__` in its
    turn. :meth:`close` stops the thread (and closes the iterator) whatever it is doing:
    call it, or use the object as a context manager.
    """

    def __init__(self, items: Iterator[Any], depth: int = 2) -> None:
        self._queue: queue.Queue[tuple[bool, Any]] = queue.Queue(depth)
        self._stop = threading.Event()
        self._done = False
        self._thread = threading.Thread(target=self._run, args=(items,), daemon=True,
                                        name="ecocomp-read-ahead")
        self._thread.start()

    def _run(self, items: Iterator[Any]) -> None:
        try:
            for item in items:
                if not self._offer((True, item)):
                    return
            self._offer((False, None))
        except BaseException as exc:  # raised again in the reader's thread
            self._offer((False, exc))
        finally:
            close = getattr(items, "close", None)
            if close is not None:
                close()

    def _offer(self, item: tuple[bool, Any]) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def __iter__(self) -> ReadAhead:
        return self

    def __next__(self) -> Any:
        if self._done:
            raise StopIteration
        ok, item = self._queue.get()
        if ok:
            return item
        self._done = True
        if item is None:
            raise StopIteration
        raise item

    def close(self) -> None:
        """Stop the thread and wait for it; a reader waiting in :meth:`__next__` (in another
        thread) gets StopIteration."""
        self._done = True
        self._stop.set()
        self._thread.join()
        # the thread offers nothing once stopped: the last word is ours (the queue may be
        # full, and then no reader waits)
        with contextlib.suppress(queue.Full):
            self._queue.put_nowait((False, None))

    def __enter__(self) -> ReadAhead:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def release_memory() -> None:
    """Return to the system what pyarrow's allocator keeps once a file is read (about 35 MB
    after a national year's file, held through the rest of a run: nothing else uses it)."""
    pa.default_memory_pool().release_unused()


def _blocks(path: str | os.PathLike[str], offset: int) -> Iterator[bytes]:
    """The file's bytes from ``offset`` on, about BLOCK_BYTES at a time, cut after a line."""
    rest = b""
    with open(path, "rb") as f:
        f.seek(offset)
        while chunk := f.read(BLOCK_BYTES):
            data = rest + chunk
            cut = data.rfind(b"\n") + 1
            data, rest = data[:cut], data[cut:]
            if len(rest) > BLOCK_BYTES:
                raise Declined("a line longer than a block")
            if data:
                yield data
    if rest:
        yield rest  # the last line, without a line break


def plain_units(cells: Any, scale: int) -> tuple[Any, Any, Any]:
    """(taken, units, exponent) of a column of value cells, by whole columns.

    ``taken`` is True for a plain decimal — ``0``, ``12``, ``0.150``: digits with no sign, no
    leading zero, at most 18 - scale before the point and 1 to ``scale`` after it — and for those
    ``units`` is the value × 10^scale as an exact int64 (integer part × 10^scale plus the
    fraction's digits padded to ``scale``) and ``exponent`` minus the number of decimals;
    both are null for every other cell, which the row parser's functions convert instead.
    The text of a taken cell is what ``str(Decimal(cell))`` writes, so it is stored as is.
    """
    parts, units, exponent = _decimal_units(cells, _PLAIN, scale, scale)
    return pc.is_valid(parts), units, exponent


def _decimal_units(cells: Any, pattern: str, scale: int, places: int) -> tuple[Any, Any, Any]:
    """(the ``pattern``'s matches, value × 10^scale as int64, minus the decimals) of each
    cell; null where ``pattern`` (``_PLAIN`` or ``_BELOW``) does not match."""
    parts = pc.extract_regex(cells, pattern.format(whole=17 - scale, places=places))
    fraction = pc.struct_field(parts, "f")
    units = pc.add(pc.multiply(pc.struct_field(parts, "i").cast(pa.int64()), 10**scale),
                   pc.utf8_rpad(fraction, scale, "0").cast(pa.int64()))
    return parts, units, pc.negate(pc.utf8_length(fraction).cast(pa.int64()))


def detection_limit_units(cells: Any, scale: int) -> tuple[Any, Any, Any, Any]:
    """(taken, limit, units, exponent) of a column of value cells read as non-detects.

    ``taken`` is True for ``<`` and a plain decimal greater than zero with at most
    ``scale - 1`` decimals (``<0.005``, ``<2``); for those ``limit`` is the detection limit's
    text as stored (the cell without its ``<``), ``units`` the effective value, half the
    limit, × 10^scale as an exact int64, and ``exponent`` that of the half as the row parser
    writes it: one more decimal when the limit's last digit is odd (``<0.5`` → 0.25). Every
    other cell (a limit of zero, more decimals, spaces, a sign) is left to the row parser.
    """
    _parts, limit, exponent = _decimal_units(cells, _BELOW, scale, scale - 1)
    taken = pc.fill_null(pc.greater(limit, 0), False)
    # the limit has at most scale - 1 decimals, so its units end in a zero: halved exactly
    odd = pc.match_substring_regex(cells, "[13579]$").cast(pa.int64())
    return (taken, pc.utf8_slice_codeunits(cells, 1), pc.divide(limit, 2),
            pc.subtract(exponent, odd))


def _header(prefix: bytes, name: str, params: _Params,
            gb18030: bool = False) -> tuple[int, int, _Layout]:
    """(line number of the header, byte offset after it, its layout) from the file's start."""
    offset = 0
    number = 0
    while True:
        end = prefix.find(b"\n", offset)
        if end < 0:
            raise Declined("no complete header line in the first 64 KiB")
        number += 1
        line = prefix[offset:end]
        try:
            text = line.decode("gb18030" if gb18030 else
                               "utf-8-sig" if offset == 0 else "utf-8")
        except UnicodeDecodeError:
            raise Declined("a header that is not text", bad=True) from None
        offset = end + 1
        if "\r" in text.rstrip("\r"):
            raise Declined("a carriage return inside a line")
        cells = text.rstrip("\r").split(",")
        if any(cell.strip() for cell in cells) and not _comment(cells):
            break
    layout = _Layout(cells, name, params)
    if layout.problems or layout.width != len(cells):
        raise Declined("not a clean header", bad=bool(layout.problems))
    return number, offset, layout


class _Reader:
    """Converts blocks of one file; holds the resolvers (and their caches) across blocks."""

    def __init__(self, layout: _Layout, sections: Any, params: _Params, name: str,
                 scale: int, exact_parts: Any, odd: _Implausible | None = None, *,
                 sums: bool = True) -> None:
        fields = layout.fields
        self.i_sec = fields["section"][0]
        self.i_at = fields["sampled_at"][0]
        self.long = layout.long
        if layout.long:
            self.i_par = fields["parameter"][0]
            self.i_val, self.h_val = fields["value"]
            self.i_unit = fields["unit"][0] if "unit" in fields else -1
        else:  # (column index, its parameter resolved: code, factor, kind)
            self.wide = [(index, params(code, unit)) for index, _h, code, unit in layout.columns]
            # each column's header and the unit written in it, for the warnings
            self.wide_fields = [(header, unit) for _i, header, _c, unit in layout.columns]
        self.odd = odd
        # the tops as integer units (value × 10^scale), to compare with whole columns
        self.tops = {code: int(top.scaleb(scale)) for code, top in odd.tops.items()} \
            if odd is not None else {}
        self.i_src = fields["source"][0] if "source" in fields else -1
        self.i_flag = fields["flag"][0] if "flag" in fields else -1
        self.sections = _Sections(sections)
        self.times = _Times()
        self.isos: dict[str, str | _Err] = {}
        self.ids: dict[str, int] = {}  # group key part → small integer (monthly sums)
        self.sums = sums  # whether blocks bring their monthly sums
        self.params = params
        self.name = name
        self.scale = scale
        self.split = 10**scale
        self.exact_parts = exact_parts

    def _iso(self, text: str) -> str | _Err:
        """A sampled_at cell as stored (ISO text in CST), or why not."""
        found = self.isos.get(text)
        if found is None:
            when = self.times(text.strip())
            found = when if isinstance(when, _Err) else when.isoformat()
            if len(self.isos) >= _TIMES_HELD:
                self.isos.clear()
            self.isos[text] = found
        return found

    # --------------------------------------------------------------------- categories

    def _resolve(self, column: Any, resolve: Any) -> tuple[list[Any], Any]:
        """(resolved value per distinct cell, the rows' indices into them: int32 array)."""
        encoded = pc.dictionary_encode(column)
        found = [resolve(text) for text in encoded.dictionary.to_pylist()]
        if any(f is None or isinstance(f, _Err) for f in found):
            raise Declined("a cell the row parser refuses", bad=True)
        return found, encoded.indices

    def _words(self, block: Any, index: int, words: Any, default: str) -> Any:
        if index < 0:
            return [default], None
        return self._resolve(block.column(index), lambda text: _word(words.get, text))

    def convert(self, block: Any, first_row: int) -> Batch:
        sections = self.sections
        sec, sec_idx = self._resolve(block.column(self.i_sec), lambda t: sections(t.strip()))
        isos, at_idx = self._resolve(block.column(self.i_at), self._iso)
        src, src_idx = self._words(block, self.i_src, _SOURCE_WORDS, "manual")
        flags, flag_idx = self._words(block, self.i_flag, _FLAG_WORDS, "")
        if self.long:
            cells, par_idx, resolved, pairs = self._parameters(block)
            cells, units, exponent, below, _kept = self._values(cells, par_idx, resolved)
            rows: Any = None
            row_column: tuple[Any, ...] = (3, first_row)
        else:
            rows, cells, par_idx, resolved, units, exponent, below = self._unpivot(block)
            sec_idx, at_idx, src_idx, flag_idx = (
                None if idx is None else pc.take(idx, rows)
                for idx in (sec_idx, at_idx, src_idx, flag_idx))
            row_numbers = pc.add(rows, first_row)
            row_column = _int64(row_numbers)
        n = len(cells)
        codes = [r[0] for r in resolved]
        if self.odd is not None:
            if self.long:
                fields = [(self.h_val, pair) for pair in pairs]
            else:
                fields = self.wide_fields
            self._implausible(cells, units, below, par_idx, codes, fields, flags, flag_idx,
                              rows, first_row)
        below_arr = pa.repeat(pa.scalar(0, pa.int64()), n) if below is None else below
        monthly = self._monthly(
            n, sec, sec_idx, [iso[:7] for iso in isos], at_idx, codes, par_idx,
            src, src_idx, flags, flag_idx, units, exponent, below_arr,
        ) if self.sums else []
        columns = (
            _indexed(sec, sec_idx),
            _indexed(isos, at_idx),
            _indexed(codes, par_idx),
            _indexed(src, src_idx),
            _strings(cells),
            (0, [0]) if below is None else _int64(below),
            _indexed(flags, flag_idx),
            _int64(units),
            _int64(exponent),
            row_column,
        )
        return Batch(columns, n, monthly)

    def _implausible(self, cells: Any, units: Any, below: Any, par_idx: Any, codes: list[str],
                     fields: list[tuple[str, Any]], flags: list[str], flag_idx: Any,
                     rows: Any, first_row: int) -> None:
        """Add the block's implausible values to ``self.odd``, in the block's order: the
        integer units above their parameter's top by whole columns, then each of those
        rows (and each value without integer units) by the row parser's rule."""
        found = [self.tops.get(code) for code in codes]
        if all(top is None for top in found):
            return
        tops = pc.take(pa.array(found, pa.int64()), par_idx)
        above = pc.greater(units, tops)  # null where no top, or no integer units
        if units.null_count:  # more decimals than the units hold, or too large: by rows
            above = pc.or_(pc.fill_null(above, False),
                           pc.and_(pc.is_null(units), pc.is_valid(tops)))
        if not pc.any(above).as_py():
            return
        odd = self.odd
        assert odd is not None
        for i in pc.indices_nonzero(above).to_pylist():
            if below is not None and below[i].as_py():
                continue  # a non-detect: its units are half the limit
            if (flags[0] if flag_idx is None else flags[flag_idx[i].as_py()]) == "invalid":
                continue
            p = par_idx[i].as_py()
            code = codes[p]
            value = Decimal(cells[i].as_py())
            if value > odd.tops[code]:
                row = first_row + (i if rows is None else rows[i].as_py())
                field, unit = fields[p]
                if not isinstance(unit, str):  # a long file's (parameter, unit) cells
                    unit = self.params.written(*unit)
                odd.add(self.name, row, field, code, value, unit)

    def _parameters(self, block: Any) -> tuple[Any, Any, list[Any], list[tuple[str, str]]]:
        """A long block's value cells, their parameters' int32 indices into the resolved
        (code, factor, kind) of each distinct (parameter, unit) pair, those, and the pairs
        (parameter and unit cells, stripped)."""
        # parameter and unit together: one key per (parameter cell, unit cell)
        par = pc.dictionary_encode(block.column(self.i_par))
        names = par.dictionary.to_pylist()
        if self.i_unit >= 0:
            unit = pc.dictionary_encode(block.column(self.i_unit))
            units_seen = unit.dictionary.to_pylist()
            combined = pc.add(pc.multiply(par.indices.cast(pa.int64()), len(units_seen)),
                              unit.indices.cast(pa.int64()))
        else:
            units_seen = [""]
            combined = par.indices.cast(pa.int64())
        keys = pc.dictionary_encode(combined)
        resolved = []
        pairs = []
        for key in keys.dictionary.to_pylist():
            p, u = divmod(key, len(units_seen))
            pair = (names[p].strip(), units_seen[u].strip())
            found = self.params(*pair)
            if isinstance(found, _Err):
                raise Declined("an unknown parameter or unit", bad=True)
            resolved.append(found)
            pairs.append(pair)
        return block.column(self.i_val), keys.indices, resolved, pairs

    def _unpivot(self, block: Any) -> tuple[Any, ...]:
        """A wide block's readings in the row parser's order (row by row, then column by
        column), its empty cells left out: (row index in the block, value cells, parameter
        indices, the parameters resolved, units, exponents, below_dl or None)."""
        resolved = [found for _index, found in self.wide]
        parts: list[tuple[Any, ...]] = []
        for number, (index, _found) in enumerate(self.wide):
            column = block.column(index)
            present = pc.indices_nonzero(pc.not_equal(column, ""))
            if not len(present):
                continue
            cells = pc.take(column, present)
            par_idx = pa.repeat(pa.scalar(number, pa.int32()), len(cells))
            cells, units, exponent, below, kept = self._values(cells, par_idx, resolved,
                                                              wide=True)
            if kept is not None:  # cells of spaces only: not measured, as empty ones
                present, cells, units, exponent, par_idx = (
                    pc.filter(a, kept) for a in (present, cells, units, exponent, par_idx))
                below = None if below is None else pc.filter(below, kept)
                if not len(cells):
                    continue
            if below is None:
                below = pa.repeat(pa.scalar(0, pa.int64()), len(cells))
            parts.append((present.cast(pa.int64()), cells, par_idx, units, exponent, below))
        if not parts:
            raise Declined("a block of rows without values")  # the row parser decides
        rows, cells, par_idx, units, exponent, below = (
            pa.concat_arrays([part[k] for part in parts]) for k in range(6))
        order = pc.sort_indices(pa.table({"r": rows, "p": par_idx}),
                                sort_keys=[("r", "ascending"), ("p", "ascending")])
        return (pc.take(rows, order), pc.take(cells, order), pc.take(par_idx, order), resolved,
                pc.take(units, order), pc.take(exponent, order), pc.take(below, order))

    def _values(self, cells: Any, par_idx: Any, resolved: list[Any],
                wide: bool = False) -> tuple[Any, Any, Any, Any, Any]:
        """(value texts as stored, units, exponents, below_dl or None when all 0, and for a
        wide file the cells kept or None when all) of value cells whose parameters are
        ``resolved[par_idx]``: plain decimals and non-detects by whole columns, the rest one
        by one."""
        plain, units, exponent = plain_units(cells, self.scale)
        plain_kind = pc.take(
            pa.array([r[1] is _ONE and r[2] != "ph" for r in resolved], pa.bool_()), par_idx)
        ph_kind = pa.array([r[1] is _ONE and r[2] == "ph" for r in resolved], pa.bool_())
        in_range = pc.less_equal(units, _PH_TOP * self.split)
        fast = pc.and_kleene(plain, pc.or_kleene(
            plain_kind, pc.and_kleene(pc.take(ph_kind, par_idx), in_range)))
        fast = pc.fill_null(fast, False)
        below = None
        # a non-detect of an amount without a unit factor (pH and water temperature have no
        # detection limit: their '<' cells go value by value, to be refused as the rows are)
        amount_kind = pc.take(
            pa.array([r[1] is _ONE and r[2] == "amount" for r in resolved], pa.bool_()),
            par_idx)
        marked = pc.and_(pc.starts_with(cells, "<"), amount_kind)
        if pc.any(marked).as_py():
            taken, limit, half, half_exponent = detection_limit_units(
                pc.filter(cells, marked), self.scale)
            below_fast = pc.replace_with_mask(marked, marked, taken)
            if pc.any(taken).as_py():
                cells = pc.replace_with_mask(cells, below_fast, pc.filter(limit, taken))
                units = pc.replace_with_mask(units, below_fast, pc.filter(half, taken))
                exponent = pc.replace_with_mask(exponent, below_fast,
                                                pc.filter(half_exponent, taken))
                below = below_fast.cast(pa.int64())
                fast = pc.or_(fast, below_fast)
        slow = pc.invert(fast)
        others = pc.indices_nonzero(slow)
        if not len(others):
            return cells, units, exponent, below, None
        return self._others(cells, units, exponent, below, slow, others, resolved,
                            pc.take(par_idx, others), wide)

    def _others(self, cells: Any, units: Any, exponent: Any, below_fast: Any, slow: Any,
                others: Any, resolved: list[Any], par_of: Any,
                wide: bool) -> tuple[Any, Any, Any, Any, Any]:
        """The value cells not taken by whole columns, converted one by one with the row
        parser's functions: as :meth:`_values`."""
        texts = []
        unit_list = []
        exp_list = []
        below = []
        keep = []  # per cell of ``others``: False for a wide file's cell of spaces only
        exact_parts = self.exact_parts
        for raw, p in zip(pc.take(cells, others).to_pylist(), par_of.to_pylist(),
                          strict=True):
            cell = raw.strip()
            keep.append(bool(cell))
            if wide and not cell:
                texts.append(raw)
                unit_list.append(None)
                exp_list.append(0)
                below.append(0)
                continue
            code, factor, kind = resolved[p]
            parsed = _value_cell(cell, wide)
            if isinstance(parsed, _Err):
                raise Declined("a bad value", bad=True)
            value, is_below = parsed
            if factor is not _ONE:
                value = _converted(value, factor)
            if _checked(value, is_below, kind, code, cell) is not None:
                raise Declined("an impossible value", bad=True)
            text = _value_text(value)
            texts.append(text)
            units_of, exp_of, _high, _low = exact_parts(text, is_below)
            unit_list.append(units_of)
            exp_list.append(exp_of)
            below.append(int(is_below))
        n = len(cells)
        base = pa.repeat(pa.scalar(0, pa.int64()), n) if below_fast is None else below_fast
        kept = None
        if not all(keep):
            kept = pc.replace_with_mask(pa.repeat(pa.scalar(True), n), slow,
                                        pa.array(keep, pa.bool_()))
        return (
            pc.replace_with_mask(cells, slow, pa.array(texts, pa.string())),
            pc.replace_with_mask(units, slow, pa.array(unit_list, pa.int64())),
            pc.replace_with_mask(exponent, slow, pa.array(exp_list, pa.int64())),
            pc.replace_with_mask(base, slow, pa.array(below, pa.int64())),
            kept,
        )

    def _monthly(self, n: int, sec: list[str], sec_idx: Any, months: list[str], at_idx: Any,
                 codes: list[str], par_idx: Any, src: list[str], src_idx: Any,
                 flags: list[str], flag_idx: Any, units: Any, exponent: Any,
                 below: Any) -> list[tuple[Any, ...]]:
        """The block's monthly sums, as ``store._MONTHLY_SELECT`` groups them."""
        ids = self.ids

        def key(values: list[str], idx: Any, shift: int) -> Any:
            """The rows' group key part as integers (one id per distinct text) << shift."""
            numbers = [ids.setdefault(v, len(ids)) << shift for v in values]
            if idx is None:
                return pa.repeat(pa.scalar(numbers[0], pa.int64()), n)
            return pc.take(pa.array(numbers, pa.int64()), idx)

        flag = pa.repeat(flags[0], n) if flag_idx is None else pc.take(pa.array(flags), flag_idx)
        valid = pc.not_equal(flag, "invalid")
        high = pc.divide(units, self.split)  # truncates toward zero, as SQLite's / does
        low = pc.subtract(units, pc.multiply(high, self.split))
        none = pa.scalar(None, pa.int64())
        group = pc.add(pc.add(key(sec, sec_idx, 48), key(months, at_idx, 32)),
                       pc.add(key(codes, par_idx, 16), key(src, src_idx, 0)))
        if len(ids) >= 1 << 15:
            raise Declined("too many distinct sections, months, parameters and sources")
        masked = pc.if_else(valid, exponent, none)
        # Rows sorted by group, then exponent (nulls last, the default): each group is one
        # run, whose first row holds its smallest exponent. Sums are differences of cumulative
        # sums at the runs' ends. (Not Table.group_by: measured no faster, and it loads a
        # query engine of its own.)
        order = pc.sort_indices(pa.table({"g": group, "e": masked}),
                                sort_keys=[("g", "ascending"), ("e", "ascending")])
        keys = pc.take(group, order)
        ends = [*pc.indices_nonzero(pc.not_equal(keys.slice(1), keys.slice(0, n - 1)))
                .to_pylist(), n - 1]
        starts = [0, *(e + 1 for e in ends[:-1])]
        at_ends = pa.array(ends, pa.int64())

        def sums(values: Any) -> list[int]:
            totals = pc.take(pc.cumulative_sum(pc.take(values, order)), at_ends).to_pylist()
            return [b - a for a, b in zip([0, *totals[:-1]], totals, strict=True)]

        def nullable(values: Any) -> list[int | None]:
            """Sums of a column with nulls: None for a group with none (as SQL's SUM)."""
            counts = sums(pc.is_valid(values).cast(pa.int64()))
            totals = sums(pc.fill_null(values, 0))
            return [t if c else None for c, t in zip(counts, totals, strict=True)]

        text = {number: value for value, number in ids.items()}
        mask = (1 << 16) - 1
        columns = (
            pc.take(keys, pa.array(starts, pa.int64())).to_pylist(),
            sums(valid.cast(pa.int64())),
            nullable(pc.if_else(valid, high, none)), nullable(pc.if_else(valid, low, none)),
            sums(pc.and_(valid, pc.is_null(units)).cast(pa.int64())),
            pc.take(pc.take(masked, order), pa.array(starts, pa.int64())).to_pylist(),
            sums(pc.and_(valid, pc.not_equal(below, 0)).cast(pa.int64())),
            sums(pc.equal(flag, "suspect").cast(pa.int64())),
            sums(pc.equal(flag, "invalid").cast(pa.int64())),
        )
        return [(text[g >> 48], text[(g >> 32) & mask], text[(g >> 16) & mask], text[g & mask],
                 *rest) for g, *rest in zip(*columns, strict=True)]


def _indexed(values: list[Any], indices: Any) -> tuple[Any, ...]:
    """A column of ``values`` picked by a dictionary's int32 ``indices`` (None: values[0])."""
    if indices is None:
        return (0, values)
    if indices.null_count or indices.type != pa.int32():
        raise ValueError("dictionary indices with nulls, or not int32")
    return (0, values, indices.buffers()[1], indices.offset)


def _strings(array: Any) -> tuple[Any, ...]:
    """A column of a pyarrow string array without nulls."""
    if array.null_count or array.type != pa.string():
        raise ValueError("a string column with nulls, or not utf8")
    _validity, offsets, data = array.buffers()
    return (1, offsets, data if data is not None else b"", array.offset)


def _int64(array: Any) -> tuple[Any, ...]:
    """A column of a pyarrow int64 array (nulls bound as NULL)."""
    if array.type != pa.int64():
        raise ValueError("not an int64 column")
    validity, data = array.buffers()
    return (2, data, validity if array.null_count else None, array.offset)

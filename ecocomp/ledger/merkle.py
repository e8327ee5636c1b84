"""RFC 6962 Merkle trees: tree hash, inclusion and consistency proofs, standalone verifiers.

Hashing follows RFC 6962 §2.1 (restated in RFC 9162 §2.1): a leaf is
``SHA-256(0x00 || data)``, an inner node ``SHA-256(0x01 || left || right)``, a tree of ``n``
leaves splits at the largest power of two smaller than ``n``, and the empty tree's hash is
``SHA-256(b"")``. In the ledger a leaf's data is the 32 raw bytes of a transaction hash.

The verifiers (:func:`verify_inclusion`, :func:`verify_consistency`) are pure functions of
hashes and sizes: a county can run them with nothing but a published root and a proof.

>>> tree = MerkleTree.from_data([b"a", b"b", b"c"])
>>> proof = tree.inclusion_proof(1)
>>> verify_inclusion(leaf_hash(b"b"), 1, 3, proof, tree.root())
True
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from ecocomp.ledger import compiled

__all__ = [
    "EMPTY_ROOT",
    "ConsistencyProof",
    "InclusionProof",
    "MerkleTree",
    "leaf_hash",
    "merkle_root",
    "node_hash",
    "verify_consistency",
    "verify_inclusion",
]

_sha256 = hashlib.sha256

#: The hash of the empty tree: SHA-256 of no bytes.
EMPTY_ROOT: bytes = _sha256(b"").digest()

Hash = bytes | str


def leaf_hash(data: bytes) -> bytes:
    """``SHA-256(0x00 || data)``.

    >>> leaf_hash(b"").hex()[:16]
    '6e340b9cffb37a98'
    """
    return _sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """``SHA-256(0x01 || left || right)``."""
    return _sha256(b"\x01" + left + right).digest()


def _level_up_python(level: list[bytes]) -> list[bytes]:
    """One level up: the node hash of each pair, an odd last node carried up as it is."""
    sha = _sha256
    upper = [sha(b"\x01" + a + b).digest()
             for a, b in zip(level[0::2], level[1::2], strict=False)]
    if len(level) % 2:
        upper.append(level[-1])
    return upper


def _level_up(level: list[bytes]) -> list[bytes]:
    """:func:`_level_up_python`, in C when the compiled part is there (it takes exact
    ``bytes`` nodes only; anything else goes the Python way, which says what is wrong)."""
    scanc = compiled.scanc
    if scanc is not None:
        try:
            return scanc.merkle_level(level)  # type: ignore[no-any-return]
        except TypeError:
            pass
    return _level_up_python(level)


def _raw(value: Hash, what: str) -> bytes:
    """A 32-byte hash from bytes or lowercase/uppercase hex text."""
    raw = bytes.fromhex(value) if isinstance(value, str) else bytes(value)
    if len(raw) != 32:
        raise ValueError(f"{what} must be 32 bytes (64 hex digits), got {len(raw)} bytes")
    return raw


def _largest_power_of_two_below(n: int) -> int:
    """The largest power of two strictly smaller than ``n`` (n ≥ 2)."""
    return 1 << ((n - 1).bit_length() - 1)


class MerkleTree:
    """A tree over leaf hashes with every level kept, for roots and proofs of any prefix.

    Levels are built bottom-up, pairing neighbours and carrying an odd last node up
    unchanged; node ``i`` of level ``k`` is then the perfect subtree over leaves
    ``[i·2^k, (i+1)·2^k)`` whenever that range is complete, which is all RFC 6962 needs.

    >>> MerkleTree([]).root() == EMPTY_ROOT
    True
    """

    __slots__ = ("levels",)

    def __init__(self, leaf_hashes: Sequence[bytes]) -> None:
        level = list(leaf_hashes)
        self.levels: list[list[bytes]] = [level]
        while len(level) > 1:
            level = _level_up(level)
            self.levels.append(level)

    @classmethod
    def from_data(cls, entries: Sequence[bytes]) -> MerkleTree:
        """A tree over raw entries (each hashed as a leaf)."""
        return cls([leaf_hash(e) for e in entries])

    @property
    def size(self) -> int:
        return len(self.levels[0])

    def _check_size(self, size: int | None) -> int:
        n = self.size if size is None else size
        if not 0 <= n <= self.size:
            raise ValueError(f"tree size {n} is outside 0..{self.size}")
        return n

    def _hash(self, lo: int, hi: int) -> bytes:
        """MTH(D[lo:hi]) for ``lo < hi``: straight from the levels when perfect and aligned."""
        n = hi - lo
        if n & (n - 1) == 0 and lo % n == 0:
            return self.levels[n.bit_length() - 1][lo // n]
        k = _largest_power_of_two_below(n)
        return node_hash(self._hash(lo, lo + k), self._hash(lo + k, hi))

    def root(self, size: int | None = None) -> bytes:
        """The RFC 6962 tree hash of the first ``size`` leaves (default: all)."""
        n = self._check_size(size)
        return self._hash(0, n) if n else EMPTY_ROOT

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        """PATH(index, D[0:size]) of RFC 6962 §2.1.1, lowest sibling first."""
        n = self._check_size(size)
        if not 0 <= index < n:
            raise ValueError(f"leaf index {index} is outside 0..{n - 1}")
        path: list[bytes] = []
        lo, hi, m = 0, n, index
        stack: list[bytes] = []
        while hi - lo > 1:
            k = _largest_power_of_two_below(hi - lo)
            if m < k:
                stack.append(self._hash(lo + k, hi))
                hi = lo + k
            else:
                stack.append(self._hash(lo, lo + k))
                lo, m = lo + k, m - k
        path.extend(reversed(stack))
        return path

    def consistency_proof(self, old_size: int, new_size: int | None = None) -> list[bytes]:
        """PROOF(old_size, D[0:new_size]) of RFC 6962 §2.1.2."""
        n = self._check_size(new_size)
        if not 0 <= old_size <= n:
            raise ValueError(f"old size {old_size} is outside 0..{n}")
        if old_size in (0, n):
            return []
        stack: list[bytes] = []
        lo, hi, m, complete = 0, n, old_size, True
        while m != hi - lo:
            k = _largest_power_of_two_below(hi - lo)
            if m <= k:
                stack.append(self._hash(lo + k, hi))
                hi = lo + k
            else:
                stack.append(self._hash(lo, lo + k))
                lo, m, complete = lo + k, m - k, False
        if not complete:
            stack.append(self._hash(lo, hi))
        return list(reversed(stack))


def merkle_root(leaf_hashes: Sequence[bytes]) -> bytes:
    """The RFC 6962 tree hash over leaf hashes.

    >>> merkle_root([leaf_hash(b"a")]) == leaf_hash(b"a")
    True
    """
    return MerkleTree(leaf_hashes).root()


def verify_inclusion(
    leaf: Hash, index: int, tree_size: int, proof: Sequence[Hash], root: Hash
) -> bool:
    """Check that ``leaf`` (a leaf hash) sits at ``index`` of the tree with ``root``.

    RFC 9162 §2.1.3.2; hashes as bytes or hex. Needs no database.

    >>> verify_inclusion(leaf_hash(b"a"), 0, 1, [], leaf_hash(b"a"))
    True
    """
    try:
        r = _raw(leaf, "leaf hash")
        expected = _raw(root, "root")
        path = [_raw(p, "proof element") for p in proof]
    except ValueError:
        return False
    if not 0 <= index < tree_size:
        return False
    fn, sn = index, tree_size - 1
    for p in path:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == expected


def verify_consistency(
    old_size: int, new_size: int, old_root: Hash, new_root: Hash, proof: Sequence[Hash]
) -> bool:
    """Check that the tree with ``new_root`` extends the tree with ``old_root`` (append-only).

    RFC 9162 §2.1.4.2; hashes as bytes or hex. Needs no database.

    >>> t = MerkleTree.from_data([b"a", b"b", b"c"])
    >>> verify_consistency(2, 3, t.root(2), t.root(3), t.consistency_proof(2, 3))
    True
    """
    try:
        first = _raw(old_root, "old root")
        second = _raw(new_root, "new root")
        path = [_raw(p, "proof element") for p in proof]
    except ValueError:
        return False
    if not 0 <= old_size <= new_size:
        return False
    if old_size == new_size:
        return not path and first == second
    if old_size == 0:
        return not path and first == EMPTY_ROOT
    if not path:
        return False
    if old_size & (old_size - 1) == 0:
        path = [first, *path]
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return fr == first and sr == second and sn == 0


@attrs.frozen
class InclusionProof:
    """Proof that transaction ``seq`` (hash ``tx_hash``) is in the checkpoint with ``root``.

    Hashes are lowercase hex. The leaf is ``SHA-256(0x00 || bytes.fromhex(tx_hash))`` at
    ``index = seq - 1`` of a tree of ``tree_size`` leaves.
    """

    seq: int
    key: str
    tx_hash: str
    tree_size: int
    root: str
    path: tuple[str, ...]

    @property
    def index(self) -> int:
        return self.seq - 1

    @property
    def leaf_hash(self) -> str:
        return leaf_hash(bytes.fromhex(self.tx_hash)).hex()

    def verify(self, root: Hash) -> bool:
        """Check the proof against ``root``: the root the party holds from a head it kept.

        The root is required: the proof's own ``root`` field comes from the same database
        as the proof, so checking against it would only show the proof is well-formed.
        """
        return verify_inclusion(self.leaf_hash, self.index, self.tree_size, self.path, root)

    def to_json(self) -> dict[str, Any]:
        return {**attrs.asdict(self), "path": list(self.path), "index": self.index,
                "leaf_hash": self.leaf_hash}

    @classmethod
    def from_json(cls, record: Mapping[str, Any]) -> InclusionProof:
        return cls(seq=int(record["seq"]), key=record["key"], tx_hash=record["tx_hash"],
                   tree_size=int(record["tree_size"]), root=record["root"],
                   path=tuple(record["path"]))


@attrs.frozen
class ConsistencyProof:
    """Proof that the checkpoint at ``new_size`` only appended to the one at ``old_size``."""

    old_size: int
    new_size: int
    old_root: str
    new_root: str
    path: tuple[str, ...]

    def verify(self, old_root: Hash, new_root: Hash) -> bool:
        """Check the proof against roots the caller holds (never the proof's own fields).

        ``old_root`` is the root of a head the party kept; ``new_root`` one it received or
        recomputed itself (:meth:`ecocomp.ledger.Ledger.verify_against` does both).
        """
        return verify_consistency(self.old_size, self.new_size, old_root, new_root, self.path)

    def to_json(self) -> dict[str, Any]:
        return {**attrs.asdict(self), "path": list(self.path)}

    @classmethod
    def from_json(cls, record: Mapping[str, Any]) -> ConsistencyProof:
        return cls(old_size=int(record["old_size"]), new_size=int(record["new_size"]),
                   old_root=record["old_root"], new_root=record["new_root"],
                   path=tuple(record["path"]))

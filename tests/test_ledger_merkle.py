"""RFC 6962 Merkle trees: oracle values, reference vectors, and proofs for any size."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ecocomp.ledger.merkle import (
    EMPTY_ROOT,
    ConsistencyProof,
    InclusionProof,
    MerkleTree,
    leaf_hash,
    merkle_root,
    node_hash,
    verify_consistency,
    verify_inclusion,
)


def sha(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


# A naive transcription of RFC 6962 §2.1 (MTH, PATH, PROOF): the oracle for the fast code.
def mth(entries: list[bytes]) -> bytes:
    n = len(entries)
    if n == 0:
        return sha(b"")
    if n == 1:
        return sha(b"\x00" + entries[0])
    k = 1
    while k * 2 < n:
        k *= 2
    return sha(b"\x01" + mth(entries[:k]) + mth(entries[k:]))


def path(m: int, entries: list[bytes]) -> list[bytes]:
    n = len(entries)
    if n == 1:
        return []
    k = 1
    while k * 2 < n:
        k *= 2
    if m < k:
        return [*path(m, entries[:k]), mth(entries[k:])]
    return [*path(m - k, entries[k:]), mth(entries[:k])]


def subproof(m: int, entries: list[bytes], complete: bool) -> list[bytes]:
    n = len(entries)
    if m == n:
        return [] if complete else [mth(entries)]
    k = 1
    while k * 2 < n:
        k *= 2
    if m <= k:
        return [*subproof(m, entries[:k], complete), mth(entries[k:])]
    return [*subproof(m - k, entries[k:], False), mth(entries[:k])]


def proof(m: int, entries: list[bytes]) -> list[bytes]:
    return subproof(m, entries, True) if 0 < m < len(entries) else []


# Certificate Transparency's reference inputs and tree heads (sizes 0..8).
CT_ENTRIES = [bytes.fromhex(h) for h in (
    "", "00", "10", "2021", "3031", "40414243", "5051525354555657",
    "606162636465666768696a6b6c6d6e6f",
)]
CT_ROOTS = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
CT_INCLUSION = [  # (leaf number, 1-based; tree size; path)
    (1, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
    (6, 8, ["bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
    (3, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (2, 5, ["6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]),
]
CT_CONSISTENCY = [
    (1, 1, []),
    (1, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
    (6, 8, ["0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
    (2, 5, ["5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]),
]


def test_tiny_trees_by_hand():
    a, b, c = leaf_hash(b"a"), leaf_hash(b"b"), leaf_hash(b"c")
    assert EMPTY_ROOT == sha(b"") and merkle_root([]) == sha(b"")
    assert a == sha(b"\x00a")
    assert merkle_root([a]) == a
    assert merkle_root([a, b]) == sha(b"\x01" + a + b) == node_hash(a, b)
    assert merkle_root([a, b, c]) == sha(b"\x01" + sha(b"\x01" + a + b) + c)


def test_certificate_transparency_reference_roots():
    tree = MerkleTree.from_data(CT_ENTRIES)
    for size, root in enumerate(CT_ROOTS):
        assert tree.root(size).hex() == root
        assert MerkleTree.from_data(CT_ENTRIES[:size]).root().hex() == root


@pytest.mark.parametrize(("leaf", "size", "expected"), CT_INCLUSION)
def test_certificate_transparency_inclusion_vectors(leaf: int, size: int, expected: list[str]):
    tree = MerkleTree.from_data(CT_ENTRIES)
    assert [p.hex() for p in tree.inclusion_proof(leaf - 1, size)] == expected
    assert verify_inclusion(leaf_hash(CT_ENTRIES[leaf - 1]), leaf - 1, size, expected,
                            CT_ROOTS[size])


@pytest.mark.parametrize(("old", "new", "expected"), CT_CONSISTENCY)
def test_certificate_transparency_consistency_vectors(old: int, new: int, expected: list[str]):
    tree = MerkleTree.from_data(CT_ENTRIES)
    assert [p.hex() for p in tree.consistency_proof(old, new)] == expected
    assert verify_consistency(old, new, CT_ROOTS[old], CT_ROOTS[new], expected)


entries = st.lists(st.binary(max_size=8), min_size=1, max_size=70, unique=True)


@settings(max_examples=60, deadline=None)
@given(entries, st.data())
def test_inclusion_proofs_verify_for_any_size_and_fail_when_wrong(
    data: list[bytes], draw: st.DataObject
):
    tree = MerkleTree.from_data(data)
    n = len(data)
    size = draw.draw(st.integers(1, n), label="size")
    index = draw.draw(st.integers(0, size - 1), label="index")
    root = tree.root(size)
    assert root == mth(data[:size])
    got = tree.inclusion_proof(index, size)
    assert got == path(index, data[:size])
    leaf = leaf_hash(data[index])
    assert verify_inclusion(leaf, index, size, got, root)
    assert verify_inclusion(leaf.hex(), index, size, [p.hex() for p in got], root.hex())
    wrong_leaf = leaf_hash(data[index] + b"!")
    assert not verify_inclusion(wrong_leaf, index, size, got, root)
    assert not verify_inclusion(leaf, index, size, got, sha(root))
    assert not verify_inclusion(leaf, size, size, got, root)
    if got:
        assert not verify_inclusion(leaf, index, size, got[:-1], root)
        assert not verify_inclusion(leaf, index, size, [*got, got[0]], root)
        assert not verify_inclusion(leaf, index, size, [sha(got[0]), *got[1:]], root)
    if size > 1:
        other = (index + 1) % size
        assert not verify_inclusion(leaf, other, size, got, root)


@settings(max_examples=60, deadline=None)
@given(entries, st.data())
def test_consistency_proofs_verify_for_any_sizes_and_fail_when_wrong(
    data: list[bytes], draw: st.DataObject
):
    tree = MerkleTree.from_data(data)
    n = len(data)
    new = draw.draw(st.integers(1, n), label="new")
    old = draw.draw(st.integers(0, new), label="old")
    got = tree.consistency_proof(old, new)
    assert got == proof(old, data[:new])
    old_root, new_root = tree.root(old), tree.root(new)
    assert verify_consistency(old, new, old_root, new_root, got)
    assert not verify_consistency(old, new, sha(old_root), new_root, got)
    if old:  # every tree extends the empty one
        assert not verify_consistency(old, new, old_root, sha(new_root), got)
    if 0 < old < new:
        assert not verify_consistency(old, new, old_root, new_root, got[:-1])
        assert not verify_consistency(old, new, old_root, new_root, [sha(got[0]), *got[1:]])
        # a history rewrite: change an old leaf, and no proof reconciles the roots
        rewritten = MerkleTree.from_data([data[0] + b"x", *data[1:]])
        forged = rewritten.consistency_proof(old, new)
        assert not verify_consistency(old, new, old_root, rewritten.root(new), forged)


def test_verifiers_reject_malformed_input():
    a = leaf_hash(b"a")
    assert not verify_inclusion(b"short", 0, 1, [], a)
    assert not verify_inclusion(a, 0, 1, ["zz"], a)
    assert not verify_inclusion(a, -1, 1, [], a)
    assert not verify_inclusion(a, 0, 0, [], a)
    assert not verify_consistency(2, 1, a, a, [])
    assert verify_consistency(0, 0, EMPTY_ROOT, EMPTY_ROOT, [])
    assert verify_consistency(0, 5, EMPTY_ROOT, a, [])
    assert not verify_consistency(0, 5, a, a, [])
    assert not verify_consistency(3, 3, a, leaf_hash(b"b"), [])
    assert not verify_consistency(2, 3, a, a, [])
    with pytest.raises(ValueError):
        MerkleTree([a]).root(2)
    with pytest.raises(ValueError):
        MerkleTree([a]).inclusion_proof(1)
    with pytest.raises(ValueError):
        MerkleTree([a]).consistency_proof(2)


def test_proof_objects_round_trip_through_json():
    tree = MerkleTree.from_data([b"a", b"b", b"c"])
    tx_hash = sha(b"b").hex()
    real = MerkleTree([leaf_hash(sha(x)) for x in (b"a", b"b", b"c")])
    inc = InclusionProof(seq=2, key="k", tx_hash=tx_hash, tree_size=3, root=real.root().hex(),
                         path=tuple(p.hex() for p in real.inclusion_proof(1)))
    assert inc.verify(real.root()) and InclusionProof.from_json(inc.to_json()) == inc
    assert inc.to_json()["index"] == 1
    con = ConsistencyProof(old_size=2, new_size=3, old_root=tree.root(2).hex(),
                           new_root=tree.root(3).hex(),
                           path=tuple(p.hex() for p in tree.consistency_proof(2)))
    assert con.verify(tree.root(2), tree.root(3))
    assert ConsistencyProof.from_json(con.to_json()) == con


def test_proofs_verify_only_against_roots_the_caller_holds():
    """A proof carries the root of the database it came from; verify() must not trust it.

    A rewritten ledger issues self-consistent proofs with its own root: checked against that
    root they pass, so the caller's held root is required.
    """
    tree = MerkleTree([leaf_hash(sha(x)) for x in (b"a", b"b", b"c")])
    forged = MerkleTree([leaf_hash(sha(x)) for x in (b"a", b"B", b"c")])
    inc = InclusionProof(seq=2, key="k", tx_hash=sha(b"B").hex(), tree_size=3,
                         root=forged.root().hex(),
                         path=tuple(p.hex() for p in forged.inclusion_proof(1)))
    con = ConsistencyProof(old_size=2, new_size=3, old_root=forged.root(2).hex(),
                           new_root=forged.root(3).hex(),
                           path=tuple(p.hex() for p in forged.consistency_proof(2)))
    with pytest.raises(TypeError):
        inc.verify()  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        con.verify()  # type: ignore[call-arg]
    assert inc.verify(inc.root) and con.verify(con.old_root, con.new_root)  # self-consistent
    assert not inc.verify(tree.root())
    assert not con.verify(tree.root(2), forged.root(3))  # the forged tree does not extend it

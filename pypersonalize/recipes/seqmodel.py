"""The numbers behind User-Personalization: a sequential item-item model plus factors.

Pure numpy/scipy, no database: ``user_personalization.py`` feeds it integer-coded events
and writes what it returns into model tables. Scoring a user needs only their current
history, so new events count at once (fold-in) and serving can run in SQL.

For a user whose history (oldest first, integer items) is ``h``, with per-event weights:

* sequence part ``s = w @ B``: ``w`` holds the last ``bptt`` events, the k-th most recent
  weighted ``decay**k``; ``B`` solves the ridge regression "next item from the decayed
  window of the events before it", ``(G + lam I) B = C``, with ``G`` the Gram matrix of
  the windows and ``C`` their cross products with the next item. Both are sums of
  lag-``d`` pair counts, so no window matrix is ever built. Only the ``max_items`` most
  frequent items take part (the solve is cubic in them); ``B`` is cut to the ``top_k``
  largest weights (by magnitude) per item;
* history part ``l = (x @ P_in) @ P_out.T``: ``x`` is the whole history; ``P`` holds the
  ``rank`` leading right singular vectors of the user-item matrix with item columns scaled by
  ``n_i^-a`` (a randomized SVD), ``P_in = P * n^-a`` and ``P_out = P * n^a`` (``a`` =
  ``popularity_exponent``: without it the leading vectors are mostly popularity);
* score = ``s / max|s| + history_weight * l / max|l|``; probabilities are
  ``softmax(score / temperature)`` over the whole catalogue, ``temperature`` fitted to
  each user's last event when training.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.linalg
import scipy.sparse as sp

TEMPERATURES = np.array([0.02, 0.03, 0.05, 0.07, 0.1, 0.15, 0.2, 0.3, 0.5, 1.0])


@dataclass
class Events:
    """One row per training event, sorted by user then time."""

    user: np.ndarray      # int64 user codes, grouped, ascending
    item: np.ndarray      # int64 item codes
    weight: np.ndarray    # float64 event weights
    n_users: int
    n_items: int

    def starts(self) -> np.ndarray:
        """Index of each user's first event, plus the end."""
        cut = np.flatnonzero(np.diff(self.user)) + 1
        return np.concatenate(([0], cut, [len(self.user)]))


@dataclass
class Model:
    transitions: sp.csr_matrix   # n_items x n_items, B cut to top_k per row
    factors: np.ndarray          # n_items x rank, P_in (reads the history)
    decay: float
    bptt: int
    history_weight: float
    temperature: float = 1.0
    factors_out: np.ndarray | None = None   # P_out (scores items); None = P_in

    @property
    def out(self) -> np.ndarray:
        return self.factors if self.factors_out is None else self.factors_out


def fit_transitions(ev: Events, bptt: int, decay: float, reg: float, top_k: int,
                    max_items: int) -> sp.csr_matrix:
    """B of the sequence part (see the module docstring), cut to ``top_k`` per row."""
    counts = np.bincount(ev.item, minlength=ev.n_items)
    keep = np.argsort(-counts, kind="stable")[:max_items]
    keep = np.sort(keep[counts[keep] > 0])
    sub = np.full(ev.n_items, -1)
    sub[keep] = np.arange(len(keep))
    inside = sub[ev.item] >= 0
    small = Events(ev.user[inside], sub[ev.item[inside]], ev.weight[inside], ev.n_users, len(keep))
    m = small.n_items
    if m == 0 or len(small.user) < 2:
        return sp.csr_matrix((ev.n_items, ev.n_items))
    # Window of row t: sum_k decay^(k-1) e(t-k), k = 1..bptt. Pairs of window entries at
    # lags k < l are items d = l - k apart: sum over k of decay^(2k-2+d).
    sq = np.array([decay ** (2 * (k - 1)) for k in range(1, bptt + 1)])
    diag_w = small.weight ** 2 * sq.sum()
    # Dense accumulation, a block of lags at a time (scipy's COO-to-dense adds duplicates
    # in one C pass; the solve needs the matrices dense anyway).
    gram = np.zeros((m, m))
    cross = np.zeros((m, m))
    for block in range(1, bptt + 1, 8):
        rows, cols, wc, wo = [], [], [], []
        for d in range(block, min(block + 8, bptt + 1)):
            same = small.user[d:] == small.user[:-d]
            rows.append(small.item[:-d][same].astype(np.int32))
            cols.append(small.item[d:][same].astype(np.int32))
            pair = small.weight[:-d][same] * small.weight[d:][same]
            wc.append(pair * decay ** (d - 1))
            wo.append(pair * (decay ** d * sq[: bptt - d].sum()) if d < bptt else np.zeros(len(pair)))
        rows, cols = np.concatenate(rows), np.concatenate(cols)
        cross += sp.coo_matrix((np.concatenate(wc), (rows, cols)), shape=(m, m)).toarray()
        gram += sp.coo_matrix((np.concatenate(wo), (rows, cols)), shape=(m, m)).toarray()
    # float32 halves the cubic solve; the ridge term keeps it well conditioned
    gram = (gram + gram.T).astype(np.float32)
    gram[np.diag_indices(m)] += np.bincount(small.item, weights=diag_w, minlength=m).astype(np.float32)
    lam = reg * max(float(np.mean(np.diag(gram))), 1e-12)
    gram[np.diag_indices(m)] += np.float32(lam)
    factor = scipy.linalg.cho_factor(gram, overwrite_a=True, check_finite=False)
    dense_b = scipy.linalg.cho_solve(factor, cross.astype(np.float32), overwrite_b=True,
                                     check_finite=False)
    return _top_k(dense_b.astype(np.float64, copy=False), top_k, keep, ev.n_items)


def _top_k(dense: np.ndarray, k: int, index: np.ndarray, n: int) -> sp.csr_matrix:
    m = dense.shape[0]
    k = min(k, m)
    cols = np.argpartition(-np.abs(dense), k - 1, axis=1)[:, :k]
    rows = np.repeat(np.arange(m), k)
    vals = dense[rows, cols.ravel()]
    nz = vals != 0
    return sp.csr_matrix((vals[nz], (index[rows[nz]], index[cols.ravel()[nz]])), shape=(n, n))


def history_matrix(ev: Events) -> sp.csr_matrix:
    """x for every user: the largest weight of each item in their history (a film
    watched twice is not twice the evidence of taste)."""
    key = ev.user * ev.n_items + ev.item
    order = np.lexsort((-ev.weight, key))
    first = np.ones(len(order), dtype=bool)
    first[1:] = key[order][1:] != key[order][:-1]
    pick = order[first]
    return sp.csr_matrix((ev.weight[pick], (ev.user[pick], ev.item[pick])),
                         shape=(ev.n_users, ev.n_items))


def fit_factors(x: sp.csr_matrix, rank: int, seed: int = 0, power: int = 2) -> np.ndarray:
    """The ``rank`` leading right singular vectors of ``x`` (randomized range finder)."""
    n = x.shape[1]
    rank = max(1, min(rank, n - 1 if n > 1 else 1, x.shape[0]))
    rng = np.random.default_rng(seed)
    q = rng.standard_normal((n, rank + 10)).astype(np.float32)
    x = x.astype(np.float32)
    xt = x.T.tocsr()
    for _ in range(power):
        q, _r = np.linalg.qr(xt @ (x @ q))
    y = x @ q                                     # users x (rank+10)
    # right singular vectors of y from its small Gram matrix (y is tall)
    _w, v = np.linalg.eigh((y.T @ y).astype(np.float64))
    vt = v[:, ::-1].T
    return np.ascontiguousarray((q @ vt.T)[:, :rank], dtype=np.float64)


def fit_two_sided_factors(x: sp.csr_matrix, rank: int, exponent: float) -> tuple[np.ndarray, np.ndarray]:
    """(P_in, P_out) of the history part: SVD of ``x`` with columns scaled by n_i^-exponent."""
    n = np.maximum(np.asarray((x != 0).sum(axis=0)).ravel(), 1).astype(np.float64)
    scale = n ** -exponent
    p = fit_factors((x @ sp.diags(scale)).tocsr(), rank)
    return p * scale[:, None], p / scale[:, None]


def windows(ev: Events, bptt: int, decay: float, upto: np.ndarray | None = None) -> sp.csr_matrix:
    """w for every user: their last ``bptt`` events (before ``upto``), decayed by recency."""
    starts = ev.starts()
    ends = starts[1:] if upto is None else upto
    lengths = ends - starts[:-1]
    rows, cols, vals = [], [], []
    users = ev.user[starts[:-1]]
    for k in range(1, bptt + 1):
        has = lengths >= k
        idx = ends[has] - k
        rows.append(users[has])
        cols.append(ev.item[idx])
        vals.append(ev.weight[idx] * decay ** (k - 1))
    w = sp.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                      shape=(ev.n_users, ev.n_items))
    w.sum_duplicates()
    return w


def raw_scores(model: Model, w: sp.csr_matrix, x: sp.csr_matrix) -> np.ndarray:
    """Blended scores (before the softmax) for the rows of ``w`` and ``x``."""
    seq = np.asarray((w @ model.transitions).todense())
    hist = np.asarray((x @ model.factors) @ model.out.T)
    return _scaled(seq) + model.history_weight * _scaled(hist)


def _scaled(s: np.ndarray) -> np.ndarray:
    top = np.abs(s).max(axis=1, keepdims=True)
    return np.divide(s, top, out=np.zeros_like(s), where=top > 0)


def softmax(s: np.ndarray, temperature: float) -> np.ndarray:
    z = (s - s.max(axis=1, keepdims=True)) / temperature
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def fit_temperature(model: Model, ev: Events, sample: int = 300, seed: int = 0) -> float:
    """The temperature that makes each user's last event most likely given the rest."""
    starts = ev.starts()
    lengths = np.diff(starts)
    users = np.flatnonzero(lengths >= 2)
    if len(users) == 0:
        return 1.0
    rng = np.random.default_rng(seed)
    if len(users) > sample:
        users = np.sort(rng.choice(users, sample, replace=False))
    upto = starts[1:] - 1                           # leave out each user's last event
    w = windows(ev, model.bptt, model.decay, upto)[ev.user[starts[:-1]][users]]
    keep = np.ones(len(ev.user), dtype=bool)
    keep[upto] = False
    hist = history_matrix(Events(ev.user[keep], ev.item[keep], ev.weight[keep],
                                  ev.n_users, ev.n_items))[ev.user[starts[:-1]][users]]
    s = raw_scores(model, w, hist)
    target = ev.item[upto[users]]
    best, best_ll = 1.0, -np.inf
    for t in TEMPERATURES:
        z = s / t
        z -= z.max(axis=1, keepdims=True)
        ll = float(np.mean(z[np.arange(len(users)), target] - np.log(np.exp(z).sum(axis=1))))
        if ll > best_ll:
            best, best_ll = float(t), ll
    return best

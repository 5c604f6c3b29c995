"""The User-Personalization family in memory: one loader and one scorer for many requests.

``read_model`` turns a version's model rows into arrays (serving and UPDATE training both
use it); :class:`PersonalScorer` binds them to a dataset group's item vocabulary and
scores requests from the users' current histories. The numbers are those of
``sql/recipes/user_personalization/candidates.sql`` (``pp_personal_scores``): per user,

    raw = s/max|s| + history_weight * l/max|l| + metadata_weight * m/max|m|
          + context_weight * context lift + user_weight * attribute lift
          - impression_weight * ln(1 + times shown and not chosen)
          + temperature * objective_weight * objective (optimizationObjective)

with ``s`` the sequence part over the last ``bptt`` events, ``l`` the whole-history factor
part and ``m`` the metadata-token part (see ``seqmodel.py``); a user with no event of a
model item but with attributes that say something is scored naive-Bayes style,
``temperature * (ln P(item) + attribute lift + context_weight * context lift)`` (plus the
objective term). Scores are ``softmax(raw / temperature)`` over the model's items; ties rank
by item id. An event's weight is its type's ``event_weights`` row, else
``other_event_weight`` (0 under an eventsConfig: such events are left out of the history).
The objective term multiplies each item's probability by ``exp(objective_weight * rank)``,
``rank`` the item's attribute as a percent rank over the catalogue (``item_objective``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import threading

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ..errors import InvalidInput
from .base import Ranked, Request
from .seqmodel import Model

NONE = np.iinfo(np.int64).min      # a missing time in the int64 arrays


@dataclass
class PersonalModel:
    """One version's model rows as arrays (items in ``items`` order)."""

    items: np.ndarray                 # item ids (object), model index order
    model: Model                      # transitions B, factors P_in / P_out, decay, bptt, ...
    event_weights: dict               # event type -> weight
    context_weight: float
    impression_weight: float
    metadata_weight: float
    user_weight: float
    other_event_weight: float         # weight of an event whose type has no event_weights entry
    objective_weight: float           # optimizationObjective's w (0 = none)
    objective: np.ndarray             # per model item: the attribute's percent rank (zeros = none)
    lifts: dict                       # (field, value) -> (model indices, lifts), context fields
    user_lifts: dict                  # ("Users.<F>", value) -> (model indices, lifts)
    token_items: np.ndarray           # item ids with metadata (object), rows of ``tokens``
    tokens: sp.csr_matrix             # token items x tokens
    model_tokens: sp.csr_matrix       # model items x tokens
    popularity: np.ndarray            # training interactions per model item
    catalogue: np.ndarray             # every item of the version's catalogue (model_items), by id
    catalogue_counts: np.ndarray      # its training interactions
    created: np.ndarray               # CREATION_TIMESTAMP (else first interaction), NONE if unknown
    last_seen: np.ndarray
    # filled by bind(): the serving vocabulary's view of the model
    vocab_ids: np.ndarray | None = None        # vocab code of each model item
    name_rank: np.ndarray | None = None        # rank of each model item's id in sorted order
    _maps: dict = field(default_factory=dict)


def _lift_table(frame: pd.DataFrame, index: dict) -> dict:
    out = {}
    if not len(frame):
        return out
    frame = frame.assign(m=frame["item"].map(index))
    for (fld, value), part in frame.groupby(["field", "value"], sort=False):
        out[(fld, value)] = (part["m"].to_numpy(dtype=np.int64), part["lift"].to_numpy(dtype=np.float64))
    return out


def read_model(con, version_arn: str) -> PersonalModel:
    """A User-Personalization version's rows, as arrays keyed by item id (no vocabulary)."""
    params = con.execute("SELECT bptt, decay, history_weight, temperature, context_weight, impression_weight, "
                         "metadata_weight, user_weight, other_event_weight, objective_weight "
                         "FROM pypersonalize.personal_params WHERE version_arn = $v",
                         {"v": version_arn}).fetchall()
    if not params:
        raise InvalidInput(f"{version_arn} is not a User-Personalization model")
    bptt, decay, hw, temperature, cw, iw, mw, uw, other_weight, objective_weight = params[0]
    f = con.execute("SELECT item, dim, value, value_out FROM pypersonalize.item_factors WHERE version_arn = $v "
                    "ORDER BY item, dim", {"v": version_arn}).fetchnumpy()
    item_col = np.asarray(f["item"], dtype=object)
    dims = np.asarray(f["dim"], dtype=np.int64)
    items = item_col[dims == 0] if len(dims) else np.zeros(0, dtype=object)
    rank = int(dims.max()) + 1 if len(dims) else 0
    factors = np.asarray(f["value"], dtype=np.float64).reshape(len(items), rank)
    factors_out = np.asarray(f["value_out"], dtype=np.float64).reshape(len(items), rank)
    index = {item: i for i, item in enumerate(items)}
    t = con.execute("SELECT item, next_item, weight FROM pypersonalize.item_transitions WHERE version_arn = $v",
                    {"v": version_arn}).df()
    # get_indexer over an Index: a dict .map over Arrow strings costs several times more
    positions = pd.Index(items)
    rows = positions.get_indexer(t["item"].to_numpy(dtype=object))
    cols = positions.get_indexer(t["next_item"].to_numpy(dtype=object))
    ok = (rows >= 0) & (cols >= 0)
    transitions = sp.csr_matrix((t["weight"].to_numpy(dtype=np.float64)[ok], (rows[ok], cols[ok])),
                                shape=(len(items), len(items)))
    weights = dict(con.execute("SELECT event_type, weight FROM pypersonalize.event_weights WHERE version_arn = $v",
                               {"v": version_arn}).fetchall())
    lifts = con.execute("SELECT field, value, item, lift FROM pypersonalize.context_lift WHERE version_arn = $v",
                        {"v": version_arn}).df()
    # lifts of items the model left out (e.g. only heavy users had them) score nothing
    lifts = lifts[lifts["item"].isin(index)]
    users = lifts["field"].str.startswith("Users.")
    tok = con.execute("SELECT item, token, weight FROM pypersonalize.item_tokens WHERE version_arn = $v",
                      {"v": version_arn}).df()
    codes, names = pd.factorize(tok["token"])
    token_rows, token_items = pd.factorize(tok["item"])
    tokens = sp.csr_matrix((tok["weight"].to_numpy(dtype=np.float64), (token_rows, codes)),
                           shape=(len(token_items), max(len(names), 1)))
    token_index = {item: i for i, item in enumerate(token_items)}
    pick = np.array([token_index.get(i, -1) for i in items], dtype=np.int64)
    select = sp.csr_matrix((np.ones(int((pick >= 0).sum())), (np.flatnonzero(pick >= 0), pick[pick >= 0])),
                           shape=(len(items), len(token_items)))
    cat = con.execute("SELECT item, interactions, coalesce(created, 0) AS made, created IS NULL AS no_made, "
                      "coalesce(last_seen, 0) AS seen, last_seen IS NULL AS no_seen "
                      "FROM pypersonalize.model_items WHERE version_arn = $v ORDER BY item",
                      {"v": version_arn}).fetchnumpy()
    catalogue = np.asarray(cat["item"], dtype=object)
    counts = np.asarray(cat["interactions"], dtype=np.float64)
    created = np.where(np.asarray(cat["no_made"], dtype=bool), NONE, np.asarray(cat["made"], dtype=np.int64))
    last_seen = np.where(np.asarray(cat["no_seen"], dtype=bool), NONE, np.asarray(cat["seen"], dtype=np.int64))
    popularity = np.zeros(len(items))
    where = np.array([index.get(i, -1) for i in catalogue], dtype=np.int64)
    popularity[where[where >= 0]] = counts[where >= 0]
    objective = np.zeros(len(items))
    if objective_weight:
        o = con.execute("SELECT item, value FROM pypersonalize.item_objective WHERE version_arn = $v",
                        {"v": version_arn}).fetchall()
        for item, value in o:
            k = index.get(item)
            if k is not None:
                objective[k] = value
    model = Model(transitions, factors, decay, bptt, hw, temperature, factors_out)
    return PersonalModel(items, model, weights, cw, iw, mw, uw, float(other_weight), float(objective_weight),
                         objective, _lift_table(lifts[~users], index),
                         _lift_table(lifts[users], index), np.asarray(token_items, dtype=object), tokens,
                         (select @ tokens).tocsr(), popularity, catalogue, counts, created, last_seen)


def _gather(csr: sp.csr_matrix, rows: np.ndarray, weights: np.ndarray, out_rows: np.ndarray,
            n_out: int) -> np.ndarray:
    """Dense ``n_out x csr.shape[1]``: out[out_rows[e]] += weights[e] * csr[rows[e]]."""
    width = csr.shape[1]
    if n_out > 4:       # many requests: scipy's sparse product beats the gather below,
        # and (csr.T @ picks.T).T beats picks @ csr by ~40% (measured: 512 users, 200 per row)
        picks = sp.csr_matrix((weights, (out_rows, rows)), shape=(n_out, csr.shape[0]))
        return (csr.T @ picks.T).T.toarray()
    starts = csr.indptr[rows]
    lengths = csr.indptr[rows + 1] - starts
    total = int(lengths.sum())
    if total == 0:
        return np.zeros((n_out, width))
    offsets = np.repeat(starts - np.concatenate(([0], np.cumsum(lengths)[:-1])), lengths) + np.arange(total)
    keys = np.repeat(out_rows, lengths) * width + csr.indices[offsets]
    vals = csr.data[offsets] * np.repeat(weights, lengths)
    return np.bincount(keys, weights=vals, minlength=n_out * width).reshape(n_out, width)


_SCRATCH = threading.local()


def _scratch(rows: int, cols: int) -> np.ndarray:
    """This thread's reusable ``rows x cols`` buffer, for a product used up inside one call:
    a fresh array of a batch block's size (128 x 60k doubles: 61 MB) costs a page fault per
    4 KiB every time (at 512 x 60k, ~0.1 s a product, measured). Kept while the thread lives."""
    buf = getattr(_SCRATCH, "buf", None)
    if buf is None or buf.size < rows * cols:
        buf = _SCRATCH.buf = np.empty(rows * cols)
    return buf[:rows * cols].reshape(rows, cols)


def _times_t(a: np.ndarray, b: np.ndarray, scratch: bool = False) -> np.ndarray:
    """``a @ b.T``; for a few rows (real-time requests) without BLAS: OpenBLAS's threads,
    called from many request threads at once, slow every call down by two orders of
    magnitude, while numpy's own loop scales with the threads. ``scratch``: into this
    thread's buffer (the caller uses the result up before the next product)."""
    if a.shape[0] <= 4:      # vecdot: a dot per row, 20% faster than einsum (measured, 60k x 149)
        return np.vecdot(a[:, None, :], b[None, :, :])
    if scratch:
        return np.matmul(a, b.T, out=_scratch(a.shape[0], b.shape[0]))
    return a @ b.T


def _times_transposed(profile: np.ndarray, pm: PersonalModel, scratch: bool = False) -> np.ndarray:
    """``profile @ model_tokens.T`` as a C-ordered array: through a dense copy of the
    (usually small) token matrix for many rows, else sparse."""
    tokens = pm.model_tokens
    cells = tokens.shape[0] * tokens.shape[1]
    # a request or two: the sparse product reads only the tokens items have
    if cells <= 8_000_000 and not (profile.shape[0] <= 4 and tokens.nnz * 4 < cells):
        dense = pm._maps.get("tokens_dense_t")
        if dense is None:
            dense = pm._maps["tokens_dense_t"] = np.ascontiguousarray(tokens.T.toarray())
        return _times_t(profile, dense.T, scratch)
    return np.ascontiguousarray((tokens @ profile.T).T)


def _scaled(s: np.ndarray, weight: float = 1.0) -> np.ndarray:
    """Each row times ``weight`` over its largest magnitude (rows of zeros stay zero), in
    place: one pass over the rows for the weight and the scale together."""
    if not s.shape[1]:
        return s
    top = np.maximum(s.max(axis=1), -s.min(axis=1))      # max |s| without an |s| copy
    top[top == 0] = 1.0
    s *= (weight / top)[:, None]
    return s


class PersonalScorer:
    """The scorer of the User-Personalization family (see the module docstring)."""

    masks_items = True          # recommend(..., allowed=mask): batch jobs' Items filters

    def load(self, con, version_arn: str, vocab) -> PersonalModel:
        pm = read_model(con, version_arn)
        pm.vocab_ids = vocab.codes(list(pm.items))
        pm.name_rank = np.argsort(np.argsort(pm.items.astype(str), kind="stable"), kind="stable")
        pm._maps["vocab"] = vocab
        pm._maps["token_items"] = vocab.codes(list(pm.token_items))
        pm._maps["catalogue"] = vocab.codes(list(pm.catalogue))
        return pm

    # -- vocabulary views (extended when the vocabulary grew) -------------------------

    @staticmethod
    def _view(pm: PersonalModel, key: str, targets: np.ndarray) -> np.ndarray:
        """vocab code -> index into ``targets`` (vocab codes), -1 when absent."""
        vocab = pm._maps["vocab"]
        view = pm._maps.get(key)
        if view is None or len(view) < len(vocab):
            view = np.full(len(vocab), -1, dtype=np.int64)
            view[targets] = np.arange(len(targets))
            pm._maps[key] = view
        return view

    def _model_of(self, pm: PersonalModel, codes: np.ndarray) -> np.ndarray:
        view = self._view(pm, "model_of", pm.vocab_ids)
        out = np.full(len(codes), -1, dtype=np.int64)
        inside = (codes >= 0) & (codes < len(view))
        out[inside] = view[codes[inside]]
        return out

    def _token_of(self, pm: PersonalModel, codes: np.ndarray) -> np.ndarray:
        view = self._view(pm, "token_of", pm._maps["token_items"])
        out = np.full(len(codes), -1, dtype=np.int64)
        inside = (codes >= 0) & (codes < len(view))
        out[inside] = view[codes[inside]]
        return out

    @staticmethod
    def _type_weights(pm: PersonalModel, type_names: list[str]) -> np.ndarray:
        """Weight per event-type code (last entry: no type)."""
        cached = pm._maps.get("type_weights")
        if cached is None or cached[0] != type_names:     # names, not their count: a reload reorders them
            other = pm.other_event_weight
            cached = (list(type_names), np.array([pm.event_weights.get(t, other) for t in type_names] + [other]))
            pm._maps["type_weights"] = cached
        return cached[1]

    # -- scoring ----------------------------------------------------------------------

    def raw_scores(self, pm: PersonalModel, requests: list[Request]) -> tuple[np.ndarray, np.ndarray]:
        """(raw scores: requests x model items, scored: which requests get personal rows)."""
        m = pm.model
        n, r_count = len(pm.items), len(requests)
        names = next((r.history.type_names for r in requests if r.history is not None), [])
        tw = self._type_weights(pm, names)
        # every request's events in one set of arrays: req (request), pos (0 = most recent)
        hists = [r.history if r.history is not None and r.history.has_events else None for r in requests]
        lengths = np.array([0 if h is None else len(h.items) for h in hists], dtype=np.int64)
        out = np.zeros((r_count, n))
        has = np.zeros(r_count, dtype=bool)
        cat = np.concatenate
        if lengths.sum():
            items = cat([h.items for h in hists if h is not None])
            types = cat([h.types for h in hists if h is not None])
            req = np.repeat(np.arange(r_count), lengths)
            all_req, all_items = req, items            # every event: the items the user chose
            ew = tw[types]
            if not (ew > 0).all():      # weight 0 (types an eventsConfig leaves out): not in the history
                keep = ew > 0
                items, types, req, ew = items[keep], types[keep], req[keep], ew[keep]
                lengths = np.bincount(req, minlength=r_count)
            ends = np.cumsum(lengths)
            pos = np.repeat(ends, lengths) - 1 - np.arange(len(items))
            mi = self._model_of(pm, items)
            inside = mi >= 0
            has = np.bincount(req[inside], minlength=r_count) > 0
        if has.any():
            win = inside & (pos < m.bptt)
            seq = _gather(m.transitions, mi[win], ew[win] * m.decay ** pos[win], req[win], r_count)
            # x: the largest weight of each item (a film watched twice is not twice the evidence)
            xr, xe, xw = _max_per_key(req[inside], mi[inside], ew[inside])
            if r_count > 4:
                user_vec = sp.csr_matrix((xw, (xr, xe)), shape=(r_count, n)) @ m.factors
            else:       # rows come grouped by request
                user_vec = np.zeros((r_count, m.factors.shape[1]))
                first = np.flatnonzero(np.concatenate(([True], xr[1:] != xr[:-1])))
                user_vec[xr[first]] = np.add.reduceat(m.factors[xe] * xw[:, None], first, axis=0)
            out = _scaled(seq)
            out += _scaled(_times_t(user_vec, m.out, scratch=True), m.history_weight)
            ti = self._token_of(pm, items)
            tin = (ti >= 0) & has[req]
            if pm.metadata_weight and pm.tokens.nnz and tin.any():
                tr, te, tw_ = _max_per_key(req[tin], ti[tin], ew[tin])
                profile = _gather(pm.tokens, te, tw_, tr, r_count)
                out += _scaled(_times_transposed(profile, pm, scratch=True), pm.metadata_weight)
            shown = [(k, h.impressions) for k, h in enumerate(hists) if h is not None and h.impressions and has[k]]
            if shown and pm.impression_weight:
                s_items = cat([cat(imp) for _k, imp in shown])
                s_req = cat([np.full(sum(len(a) for a in imp), k) for k, imp in shown])
                # shown and never chosen: not among the user's own items
                width = max(int(all_items.max()), int(s_items.max())) + 1
                chosen = np.isin(s_req * width + s_items, all_req * width + all_items)
                sm = self._model_of(pm, s_items)
                ok = (sm >= 0) & ~chosen
                times = np.zeros((r_count, n))
                np.add.at(times, (s_req[ok], sm[ok]), 1.0)
                out = out - pm.impression_weight * np.log1p(times)
        out[~has] = 0.0
        described = np.zeros(r_count, dtype=bool)
        prior = None
        for k, req in enumerate(requests):
            pairs = (req.context or {}).items()
            user_pairs = [("Users." + f, v) for f, v in (req.history.attributes if req.history else ())]
            if has[k]:          # straight into the row: a (field, value)'s items are distinct
                _add_lifts(out[k], pm.lifts, pairs, pm.context_weight, pm._maps.setdefault("dense_lifts", {}))
                _add_lifts(out[k], pm.user_lifts, user_pairs, pm.user_weight,
                           pm._maps.setdefault("dense_user_lifts", {}))
                continue
            ctx = _lift_sum(pm.lifts, pairs, n)
            attrs = _lift_sum(pm.user_lifts, user_pairs, n)
            if attrs is not None:
                described[k] = True
                if prior is None:
                    prior = np.log((pm.popularity + 1.0) / (pm.popularity + 1.0).sum())
                out[k] = m.temperature * (prior + attrs + (pm.context_weight * ctx if ctx is not None else 0.0))
        scored = has | described
        if pm.objective_weight and scored.any():
            out[scored] += (m.temperature * pm.objective_weight) * pm.objective
        return out, scored

    def explain(self, pm: PersonalModel, request: Request, codes: np.ndarray, scores: np.ndarray,
                top: int = 3) -> list[dict]:
        """Why each of ``codes`` scored as it did: the user's history items that added most to its
        pre-softmax score. Item j's contribution to item i is its part of the sequence term,
        ``sum over j's events in the window of weight * decay**pos * B[j, i] / max|s|``, plus its
        part of the history term, ``history_weight * x_j * (P_in[j] . P_out[i]) / max|l|``;
        ``rest`` is everything else (other history items, metadata, context, attributes,
        impressions), so that ``sum(contributions) + rest == preSoftmax``."""
        raw, scored = self.raw_scores(pm, [request])
        mi = self._model_of(pm, codes)
        h = request.history
        out = []
        if not scored[0] or h is None or not h.has_events:
            for k in range(len(codes)):
                if mi[k] >= 0 and scored[0]:
                    out.append({"text": "your attributes", "kind": "attributes", "contributions": [],
                                "rest": float(raw[0, mi[k]]), "preSoftmax": float(raw[0, mi[k]])})
                else:
                    out.append(_popular_fill())
            return out
        m = pm.model
        tw = self._type_weights(pm, h.type_names)
        ew = tw[h.types]
        h_items = h.items[ew > 0]            # weight 0: left out of the history (eventsConfig)
        ew = ew[ew > 0]
        hm = self._model_of(pm, h_items)
        pos = len(h_items) - 1 - np.arange(len(h_items))
        inside = hm >= 0
        win = inside & (pos < m.bptt)
        zeros = np.zeros(int(win.sum()), dtype=np.int64)
        w = ew[win] * m.decay ** pos[win]
        seq_row = _gather(m.transitions, hm[win], w, zeros, 1)[0]
        s_top = max(float(np.abs(seq_row).max()), 0.0) if len(seq_row) else 0.0
        s_top = s_top or 1.0
        xr, xe, xw = _max_per_key(np.zeros(int(inside.sum()), dtype=np.int64), hm[inside], ew[inside])
        user_vec = (m.factors[xe] * xw[:, None]).sum(axis=0)
        hist_row = m.out @ user_vec
        l_top = float(np.abs(hist_row).max()) if len(hist_row) else 0.0
        l_top = l_top or 1.0
        sources = np.unique(hm[inside])                          # the history's model items
        targets = np.maximum(mi, 0)
        seq_part = np.zeros((len(sources), len(codes)))
        if win.any():
            block = m.transitions[hm[win]][:, targets].toarray() * w[:, None] / s_top
            np.add.at(seq_part, np.searchsorted(sources, hm[win]), block)
        hist_part = np.zeros((len(sources), len(codes)))
        hist_part[np.searchsorted(sources, xe)] = (m.history_weight * xw[:, None]
                                                   * (m.factors[xe] @ m.out[targets].T) / l_top)
        parts = seq_part + hist_part
        names = pm.items[sources]
        for k in range(len(codes)):
            if mi[k] < 0:
                out.append(_popular_fill())
                continue
            col = parts[:, k]
            order = np.lexsort((names.astype(str), -col))
            picked = [j for j in order[:top] if col[j] > 0]
            value = float(raw[0, mi[k]])
            listed = [{"itemId": str(names[j]), "value": float(col[j])} for j in picked]
            out.append({"text": ("because of your events on " + ", ".join(c["itemId"] for c in listed))
                        if listed else "your history as a whole", "kind": "history",
                        "contributions": listed, "rest": value - sum(c["value"] for c in listed),
                        "preSoftmax": value})
        return out

    def probabilities(self, pm: PersonalModel, raw: np.ndarray) -> np.ndarray:
        z = (raw - raw.max(axis=1, keepdims=True)) / pm.model.temperature
        e = np.exp(z)
        return e / e.sum(axis=1, keepdims=True)

    def recommend(self, pm: PersonalModel, requests: list[Request], limit: int | None,
                  allowed: np.ndarray | None = None) -> list[Ranked]:
        """``allowed`` (ours, for batch jobs with an Items filter): a mask over vocabulary codes;
        the best ``limit`` are then chosen among those items first (scores unchanged)."""
        raw, scored = self.raw_scores(pm, requests)
        n = len(pm.items)
        rows = np.flatnonzero(scored)
        empty = Ranked(np.zeros(0, dtype=np.int64), np.zeros(0))
        out = [empty] * len(requests)
        if not len(rows):
            return out
        if len(rows) < len(requests):
            raw = raw[rows]
        if allowed is not None:     # rank the allowed columns only (their scores stay the softmax's)
            inside = pm.vocab_ids < len(allowed)
            keep = np.zeros(n, dtype=bool)
            keep[inside] = allowed[pm.vocab_ids[inside]]
            columns = np.flatnonzero(keep)
            picks = [columns[p] for p in _top_rows(raw[:, columns], pm.name_rank[columns], limit)]
        else:
            picks = _top_rows(raw, pm.name_rank, limit)
        z = raw          # the softmax in place: raw is ours and the picks are made
        z -= raw.max(axis=1, keepdims=True)
        z /= pm.model.temperature
        np.exp(z, out=z)
        totals = z.sum(axis=1)
        floors = z.min(axis=1) / totals
        for k, row, pick in zip(rows, range(len(rows)), picks):
            out[k] = Ranked(pm.vocab_ids[pick], z[row, pick] / totals[row],
                            universe=pm.vocab_ids if len(pick) < n else None, floor=float(floors[row]))
        return out

    def rank(self, pm: PersonalModel, request: Request, items: list[str], codes: np.ndarray,
             popularity: dict) -> list[tuple[str, float]]:
        """Personalize's GetPersonalizedRanking of ``items`` (``codes`` their vocabulary codes).

        Items the model scores get a softmax of raw / temperature over the list; items it
        cannot score but that are popular get ln(popularity) in its place (a user without
        history is ranked by popularity); the rest go last in input order with score 0.
        """
        raw, scored = self.raw_scores(pm, [request])
        mi = self._model_of(pm, codes)
        has_raw = (mi >= 0) & bool(scored[0])
        pop = np.array([popularity.get(int(c), np.nan) for c in codes])
        known = has_raw | ~np.isnan(pop)
        z = np.full(len(codes), np.nan)
        if has_raw.any():
            values = raw[0, mi[has_raw]]
            z[has_raw] = (values - values.max()) / pm.model.temperature
        use_pop = known & ~has_raw
        z[use_pop] = np.log(pop[use_pop])
        weights = np.exp(z[known])
        score = np.zeros(len(codes))
        score[known] = weights / weights.sum() if len(weights) else weights
        pos = np.arange(len(codes))
        order = np.lexsort((pos, -np.where(known, z, 0.0), ~known))
        return [(items[i], float(score[i])) for i in order]

    def cold_items(self, pm: PersonalModel, age_days: float, cold_max: int, reference: int | None) -> np.ndarray:
        """Vocabulary codes of the catalogue's cold items: at most ``cold_max`` training
        interactions, created within ``age_days`` before ``reference`` (epoch seconds; None:
        the newest interaction); an item without a creation time counts as new."""
        newest = reference
        if newest is None:
            seen = pm.last_seen[pm.last_seen != NONE]
            newest = int(seen.max()) if len(seen) else None
        cold = pm.catalogue_counts <= cold_max
        made = pm.created != NONE
        if newest is None:
            cold &= ~made
        else:
            cold &= ~made | (pm.created >= newest - age_days * 86400.0)
        return pm._maps["catalogue"][cold]

    def exploration_relevance(self, pm: PersonalModel, seen: np.ndarray, cold: np.ndarray,
                              shown: np.ndarray) -> np.ndarray:
        """How well each cold item's metadata matches the user's history, divided by
        1 + ln(1 + times it was shown in anybody's impressions) (items shown often are
        explored less)."""
        rows = self._token_of(pm, seen)
        rows = rows[rows >= 0]
        profile = np.asarray(pm.tokens[rows].sum(axis=0)).ravel() if len(rows) else np.zeros(pm.tokens.shape[1])
        kept = pm._maps.get("cold_tokens")
        if kept is None or kept[0] is not cold:     # the engine passes one cold list per model
            cold_rows = self._token_of(pm, cold)
            has = cold_rows >= 0
            kept = pm._maps["cold_tokens"] = (cold, has, pm.tokens[cold_rows[has]])
        _cold, has, cold_tokens = kept
        rel = np.zeros(len(cold))
        if has.any():
            rel[has] = cold_tokens @ profile
        times = np.zeros(len(cold))
        inside = cold < len(shown)
        times[inside] = shown[cold[inside]]
        return rel / (1 + np.log1p(times))


    def exploration_relevance_many(self, pm: PersonalModel, seens: list[np.ndarray], cold: np.ndarray,
                                   shown: np.ndarray) -> np.ndarray:
        """``exploration_relevance`` of every cold item for many users at once (users x cold):
        the users' token profiles as one sparse product."""
        rows = [self._token_of(pm, seen) for seen in seens]
        user = np.repeat(np.arange(len(seens)), [len(r) for r in rows])
        flat = np.concatenate(rows) if rows else np.zeros(0, dtype=np.int64)
        ok = flat >= 0
        picks = sp.csr_matrix((np.ones(int(ok.sum())), (user[ok], flat[ok])), shape=(len(seens), pm.tokens.shape[0]))
        profiles = picks @ pm.tokens
        cold_rows = self._token_of(pm, cold)
        rel = np.zeros((len(seens), len(cold)))
        has = cold_rows >= 0
        if has.any():
            rel[:, has] = (profiles @ pm.tokens[cold_rows[has]].T).toarray()
        times = np.zeros(len(cold))
        inside = cold < len(shown)
        times[inside] = shown[cold[inside]]
        return rel / (1 + np.log1p(times))


def _popular_fill() -> dict:
    return {"text": "a popular item (fills the list where the model has no score)", "kind": "popular"}


def _max_per_key(req: np.ndarray, items: np.ndarray, weights: np.ndarray):
    """(request, item, largest weight) once per distinct (request, item), by request then item."""
    key = req * (int(items.max()) + 1) + items
    order = np.argsort(key, kind="stable")
    key = key[order]
    first = np.flatnonzero(np.concatenate(([True], key[1:] != key[:-1])))
    pick = order[first]
    return req[pick], items[pick], np.maximum.reduceat(weights[order], first)


def _lift_sum(table: dict, keys, n: int) -> np.ndarray | None:
    """Sum of the lifts of the matching (field, value) keys, None when nothing matches."""
    out = None
    for key in keys:
        hit = table.get(key)
        if hit is not None:
            if out is None:
                out = np.zeros(n)
            out[hit[0]] += hit[1]           # a (field, value)'s items are distinct
    return out


def _add_lifts(row: np.ndarray, table: dict, keys, weight: float, dense: dict) -> None:
    """``row += weight * lift`` for the matching (field, value) keys, in place. A key that
    lifts a quarter of the items or more is added as a kept dense row (``dense``: key ->
    weight * lifts over every item; at most twice the memory of its sparse arrays), which
    is ten times faster than the scatter at 60k items."""
    for key in keys:
        hit = table.get(key)
        if hit is None:
            continue
        if 4 * len(hit[0]) < len(row):
            row[hit[0]] += weight * hit[1]
            continue
        full = dense.get(key)
        if full is None:
            full = np.zeros(len(row))
            full[hit[0]] = weight * hit[1]
            dense[key] = full
        row += full


def _top_rows(raw: np.ndarray, name_rank: np.ndarray, limit: int | None) -> list[np.ndarray]:
    """``_top`` of every row; rows without a tie at the cut share one vectorised sort."""
    n = raw.shape[1]
    if limit is None or limit >= n or raw.shape[0] < 8:
        return [_top(row, name_rank, limit) for row in raw]
    part = np.argpartition(raw, n - limit, axis=1)[:, n - limit:]     # no negated copy of raw
    vals = np.take_along_axis(raw, part, axis=1)
    cut = vals.min(axis=1)
    tied = (raw >= cut[:, None]).sum(axis=1) > limit
    # order by item id, then (stably) by score: ties end up in id order
    by_name = np.argsort(name_rank[part], axis=1, kind="stable")
    part = np.take_along_axis(part, by_name, axis=1)
    vals = np.take_along_axis(vals, by_name, axis=1)
    part = np.take_along_axis(part, np.argsort(-vals, axis=1, kind="stable"), axis=1)
    return [_top(raw[k], name_rank, limit) if tied[k] else part[k] for k in range(raw.shape[0])]


def _top(row: np.ndarray, name_rank: np.ndarray, limit: int | None) -> np.ndarray:
    """Indices of the ``limit`` best of ``row`` (all when None), best first, ties by item id."""
    n = len(row)
    if limit is not None and limit < n:
        part = np.argpartition(row, n - limit)[n - limit:]
        cut = row[part].min()
        pick = np.flatnonzero(row >= cut)        # every item tied with the last one kept
    else:
        pick = np.arange(n)
    return pick[np.lexsort((name_rank[pick], -row[pick]))]


__all__ = ["PersonalModel", "PersonalScorer", "read_model"]

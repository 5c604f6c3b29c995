"""Item-Affinity and Item-Attribute-Affinity: for an item (or the items with some attributes),
the users most likely to interact with it. USER_SEGMENTATION recipes: batch segment jobs
only, no campaign (as in Personalize).

Definition (numpy over one SQL step, ``sql/recipes/item_affinity/10_events.sql``), on the
solution's training events; like Personalize, a segment reads the data of the last training:

1. ``x``: users x items, 1 where the user has the item, columns scaled by ``n_j ** -0.5``
   (``n_j`` users have item j); ``V`` = its ``hidden_dimension`` leading right singular
   vectors, ``F = x V``: the user's preference for j is ``r_uj = F_u . V_j * n_j ** 0.5``
   (x projected on the item space, back on the 0/1 scale: PureSVD); values below ``NOISE``
   times the user's largest are rounding and count as 0;
2. a user's chance of a *new* item j is ``p_uj = (1 - l) max(r_uj, 0) / Z_u + l q_j / Q_u``:
   the preference, ``Z_u`` summing it over the items the user does not have, mixed with
   share ``l = PRIOR`` of the items' popularity ``q_j = n_j / sum n`` (``Q_u`` its sum over
   the same items), so no item is impossible for anyone (a user with no preference for it
   still ranks by activity);
3. activity ``a_u``: the user's events decayed by age, half-life a tenth of the data's time
   span (recently active users act sooner), so ``a_u`` is an expected number of events;
4. repeats: ``rho`` = the share of training events on an item the user already had; of the
   ``a_u`` events expected, ``rho`` go to the user's items in proportion to their counts
   (``c_uj / e_u``), the rest to new items by ``p_uj``.

The affinity is the expected number of interactions: ``a_u (1 - rho) p_uj`` for an item
the user does not have, ``a_u rho c_uj / e_u`` for one they have. Users who already
interacted are kept in segments (Personalize documents no exclusion) and rank as likely as
the data says repeats are: low where nobody repeats (films), high where people re-buy. A
query of item attributes sums the affinities over the items matching it: the expected
interactions with any such item.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ..errors import InvalidInput
from ..segment_query import usable_columns
from ..sqlkit import quote_ident, render
from .base import Hyperparameter, Recipe, RecipeType, TrainContext
from .seqmodel import fit_factors

CELLS = 4_000_000          # user x item scores held at once (32 MB of float64)
PRIOR = 0.3                # share of popularity in a user's chance of a new item
NOISE = 1e-4               # preferences below this share of the user's largest are rounding, not taste
HALF_LIFE_SHARE = 0.1      # activity half-life: this share of the training data's time span

HYPERPARAMETERS = (
    Hyperparameter("hidden_dimension", int, 149, 32, 256,
                   doc="rank of the user and item factors"),
)


def train(ctx: TrainContext) -> dict:
    con, v = ctx.con, ctx.version_arn
    con.execute(render("recipes/item_affinity/10_events.sql", schema_name=ctx.schema_name,
                       has_event_type=ctx.has_event_type, has_event_value=ctx.has_event_value),
                ctx.event_params())
    ev = con.execute("SELECT u, item, ts FROM pp_affinity_events").fetchnumpy()
    users = con.execute("SELECT first(user_id) FROM pp_affinity_events GROUP BY u ORDER BY u").fetchnumpy()
    con.execute("DROP TABLE IF EXISTS pp_affinity_events")
    ids = con.execute(f"SELECT idx, id FROM {quote_ident(ctx.schema_name)}.item_ids").fetchnumpy()
    size = int(ids["idx"].max()) + 1 if len(ids["idx"]) else 0
    names = np.empty(size, dtype=object)
    names[np.asarray(ids["idx"], dtype=np.int64)] = np.asarray(ids["id"], dtype=object)
    user_names = np.asarray(list(users.values())[0], dtype=object)
    model = fit(np.asarray(ev["u"], dtype=np.int64), np.asarray(ev["item"], dtype=np.int64),
                np.asarray(ev["ts"], dtype=np.int64), len(user_names), size, ctx.hyperparameters["hidden_dimension"])
    _write(con, v, model, user_names, names)
    return {"users": len(user_names), "items": int(len(model.item_rows)), "rank": int(model.item_factors.shape[1]),
            "repeatRate": round(model.repeat_rate, 6), "activityHalfLifeDays": round(model.half_life / 86400, 3)}


@dataclass
class Fitted:
    user_factors: np.ndarray        # users x k
    weight: np.ndarray              # a_u (1 - rho) (1 - l) / Z_u
    prior_weight: np.ndarray        # a_u (1 - rho) l / Q_u
    floor: np.ndarray               # preferences below it count as 0 (NOISE x the user's largest)
    prior: np.ndarray               # q_j
    item_rows: np.ndarray           # the item ids (idx) with factors
    item_factors: np.ndarray        # len(item_rows) x k
    scale: np.ndarray               # n_j ** 0.5
    seen: tuple                     # (user, column, a_u rho c_uj / e_u): every pair a user has (share 0 too)
    repeat_rate: float
    half_life: float


def fit(u: np.ndarray, item: np.ndarray, ts: np.ndarray, n_users: int, n_items: int, rank: int) -> Fitted:
    """Steps 1-4 of the module docstring on events (user index, item idx, timestamp)."""
    present = np.unique(item)
    col = np.searchsorted(present, item)
    width = len(present)
    key = u * width + col
    pairs, counts = np.unique(key, return_counts=True)
    pu, pj = pairs // width, pairs % width
    n_j = np.bincount(pj, minlength=width).astype(np.float64)
    events = np.bincount(u, minlength=n_users).astype(np.float64)
    rho = float(1.0 - len(pairs) / len(u)) if len(u) else 0.0
    span = float(ts.max() - ts.min()) if len(ts) else 0.0
    half_life = max(span * HALF_LIFE_SHARE, 1.0)
    age = (ts.max() - ts).astype(np.float64) if len(ts) else np.zeros(0)
    activity = np.bincount(u, weights=0.5 ** (age / half_life), minlength=n_users)

    x = sp.csr_matrix((n_j[pj] ** -0.5, (pu, pj)), shape=(n_users, width))
    k = max(1, min(rank, width - 1, n_users - 1)) if width > 1 and n_users > 1 else 0
    if k:
        vecs = fit_factors(x, k)
    else:
        vecs = np.zeros((width, 1))
    # the factors as stored (FLOAT[]): Z and the floor from the very numbers a segment job uses
    vecs = vecs.astype(np.float32).astype(np.float64)
    f = np.asarray(x @ vecs).astype(np.float32).astype(np.float64)
    scale = np.sqrt(n_j)
    mask = sp.csr_matrix((np.ones(len(pairs)), (pu, pj)), shape=(n_users, width))
    z = np.zeros(n_users)
    prior = n_j / n_j.sum() if len(n_j) else n_j
    q = 1.0 - np.bincount(pu, weights=prior[pj], minlength=n_users)      # popularity of unseen items
    block = max(1, CELLS // max(width, 1))
    floor = np.zeros(n_users)
    for start in range(0, n_users, block):
        stop = min(start + block, n_users)
        r = (f[start:stop] @ vecs.T) * scale
        floor[start:stop] = NOISE * np.abs(r).max(axis=1, initial=0.0)
        r[r < floor[start:stop, None]] = 0.0
        rows, cols = mask[start:stop].nonzero()
        r[rows, cols] = 0.0
        z[start:stop] = r.sum(axis=1)
    # without any preference (z = 0) the chance is all popularity
    share_pref = np.where(z > 0, 1.0 - PRIOR, 0.0)
    weight = np.divide(activity * (1.0 - rho) * share_pref, z, out=np.zeros(n_users), where=z > 0)
    prior_weight = np.divide(activity * (1.0 - rho) * (1.0 - share_pref), q, out=np.zeros(n_users),
                             where=q > 1e-12)
    share = activity[pu] * rho * counts / events[pu]
    return Fitted(f, weight, prior_weight, floor, prior, present, vecs, scale, (pu, pj, share), rho, half_life)


def _write(con, version: str, m: Fitted, user_names: np.ndarray, item_names: np.ndarray) -> None:
    pu, pj, share = m.seen
    frames = {
        "affinity_users": pd.DataFrame({"version_arn": version, "user": user_names, "weight": m.weight,
                                        "prior_weight": m.prior_weight, "floor": m.floor,
                                        "factors": list(m.user_factors.astype(np.float32))}),
        "affinity_items": pd.DataFrame({"version_arn": version, "item": item_names[m.item_rows],
                                        "scale": m.scale, "prior": m.prior, "factors": list(m.item_factors.astype(np.float32))}),
        "affinity_seen": pd.DataFrame({"version_arn": version, "user": user_names[pu],
                                       "item": item_names[m.item_rows][pj], "share": share}),
    }
    for table, frame in frames.items():
        con.register("pp_affinity_rows", frame)
        try:
            con.execute(f"INSERT INTO pypersonalize.{table} SELECT * FROM pp_affinity_rows")
        finally:
            con.unregister("pp_affinity_rows")


def train_attributes(ctx: TrainContext) -> dict:
    items = ctx.schemas.get("Items")
    if items is None or not usable_columns(items):
        raise InvalidInput("aws-item-attribute-affinity needs an Items dataset with at least one metadata "
                           "field that is not textual or reserved (an attribute to query)")
    return train(ctx)


@dataclass
class AffinityModel:
    """One version in memory: users in id order, items by id."""

    users: np.ndarray               # user ids (object), in id order
    user_factors: np.ndarray        # users x k (float64 of the stored float32)
    weight: np.ndarray
    prior_weight: np.ndarray
    floor: np.ndarray
    items: dict                     # item id -> row of item_factors
    item_factors: np.ndarray        # items x k (float64 of the stored float32)
    scale: np.ndarray
    prior: np.ndarray
    seen: sp.csc_matrix             # users x items: 1 + the share where the user has the item (never 0)

    def item_rows(self, item_ids) -> np.ndarray:
        """Rows of the given item ids; unknown ones are left out."""
        return np.array([self.items[i] for i in item_ids if i in self.items], dtype=np.int64)


class AffinityScorer:
    """Segments: for each query (a set of item rows), the users with the highest affinity."""

    def load(self, con, version_arn: str, vocab=None) -> AffinityModel:
        q = {"v": version_arn}
        users = con.execute('SELECT "user", weight, prior_weight, floor, factors FROM pypersonalize.affinity_users '
                            'WHERE version_arn = $v ORDER BY "user"', q).fetchnumpy()
        items = con.execute("SELECT item, scale, prior, factors FROM pypersonalize.affinity_items "
                            "WHERE version_arn = $v", q).fetchnumpy()
        seen = con.execute('SELECT "user", item, share FROM pypersonalize.affinity_seen WHERE version_arn = $v',
                           q).fetchnumpy()
        names = np.asarray(users["user"], dtype=object)
        item_names = list(np.asarray(items["item"], dtype=object))
        index = {name: k for k, name in enumerate(item_names)}
        k = len(items["factors"][0]) if len(item_names) else 1
        # float64 products of the stored float32 factors, as training computed Z from them
        uf = np.vstack(users["factors"]).astype(np.float64) if len(names) else np.zeros((0, k))
        vf = np.vstack(items["factors"]).astype(np.float64) if item_names else np.zeros((0, k))
        rows = np.searchsorted(names, np.asarray(seen["user"], dtype=object)) if len(names) else np.zeros(0, int)
        cols = np.array([index[i] for i in seen["item"]], dtype=np.int64)
        # stored as 1 + share, so a pair whose share is 0 (nobody repeats) is still a stored entry
        matrix = sp.csc_matrix((np.asarray(seen["share"], dtype=np.float64) + 1.0, (rows, cols)),
                               shape=(len(names), len(item_names)))
        return AffinityModel(names, uf, np.asarray(users["weight"], dtype=np.float64),
                             np.asarray(users["prior_weight"], dtype=np.float64),
                             np.asarray(users["floor"], dtype=np.float64), index, vf,
                             np.asarray(items["scale"], dtype=np.float64), np.asarray(items["prior"], dtype=np.float64),
                             matrix)

    def affinity(self, model: AffinityModel, rows: np.ndarray) -> np.ndarray:
        """Every user's affinity summed over the items ``rows`` (the module docstring)."""
        total = np.zeros(len(model.users))
        if not len(rows) or not len(model.users):
            return total
        block = max(1, CELLS // len(model.users))
        for start in range(0, len(rows), block):
            part = rows[start:start + block]
            r = (model.user_factors @ model.item_factors[part].T) * model.scale[part]
            r[r < model.floor[:, None]] = 0.0
            r *= model.weight[:, None]
            r += model.prior_weight[:, None] * model.prior[part]
            # a pair the user has counts as a repeat (its share), not as a new item
            seen = model.seen[:, part].tocoo()
            r[seen.row, seen.col] = seen.data - 1.0
            total += r.sum(axis=1)
        return total

    def segment(self, model: AffinityModel, rows: np.ndarray, n: int,
                allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(user indices, affinities) of the ``n`` best users, best first, ties by user id;
        ``allowed``: a mask of the users a filter lets through."""
        scores = self.affinity(model, rows)
        candidates = np.arange(len(scores)) if allowed is None else np.flatnonzero(allowed)
        if not len(candidates):
            return candidates, scores[:0]
        sc = scores[candidates]
        if n < len(candidates):
            cut = np.partition(-sc, n - 1)[n - 1]
            keep = -sc <= cut           # everything tied with the n-th too, then cut by id below
            candidates, sc = candidates[keep], sc[keep]
        order = np.lexsort((candidates, -sc))[:n]
        return candidates[order], sc[order]


SCORER = AffinityScorer()

RECIPES = (
    Recipe(
        name="aws-item-affinity",
        recipe_type=RecipeType.USER_SEGMENTATION,
        description="For each item, the users most likely to interact with it (batch segment jobs).",
        folder="item_affinity",
        train=train,
        scorer=SCORER,
        hyperparameters=HYPERPARAMETERS,
    ),
    Recipe(
        name="aws-item-attribute-affinity",
        recipe_type=RecipeType.USER_SEGMENTATION,
        description="For each query of item attributes, the users most likely to interact with items that "
                    "have them (batch segment jobs).",
        folder="item_affinity",
        train=train_attributes,
        scorer=SCORER,
        hyperparameters=HYPERPARAMETERS,
    ),
)

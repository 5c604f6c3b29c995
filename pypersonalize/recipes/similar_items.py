"""Similar-Items: related items from co-occurrence and item metadata, cold items included.

Definition (numpy/scipy over two SQL steps; the ranked lists go to SIMS's
``pypersonalize.related_items`` and are served exactly like SIMS's):

1. baskets: each user's distinct training items (``sql/recipes/sims/10_baskets.sql``);
   ``n_j`` = the number of users with item j;
2. behaviour: the truncated SVD, rank ``item_id_hidden_dim``, of the user x item matrix
   with columns scaled by ``n_j ** -0.5``; an item's vector ``b_j`` = its row of V·S, so
   ``b_i · b_j`` approximates the cosine of the two items' user sets (SIMS's similarity);
3. metadata: the item's tokens (``sql/recipes/_item_tokens.sql``: categorical values,
   words of textual fields, deciles of numerical fields, TF-IDF weighted, unit length),
   reduced by a truncated SVD to ``item_metadata_hidden_dim``: ``m_j``;
4. cold items (fewer than five interactions, Personalize's definition) get behaviour from
   their metadata: a ridge map W fitted on the warm items (``m W ≈ b``), and
   ``b_j = λ b_j + (1 - λ) m_j W`` with ``λ = n_j / 5`` (0 for items never seen);
5. ``sim(i, j) = (1 - w) b_i · b_j + w m_i · m_j`` with w = ``metadata_weight``, and
   ``score(i, j) = sim(i, j) · (1 + n_j) ** (0.5 - a)``, a = ``popularity_discount_factor``:
   for a query item this orders candidates as SIMS's ``cooc / (n_i^a n_j^a)`` orders its
   cosine (0 leans toward popular items, 0.5 is plain similarity, 1 leans away);
6. per item, the ``max_related_items`` best candidates scoring above 1e-9, best first,
   ties by item id. Without an Items dataset this is a smoothed SIMS.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.sparse.linalg import svds

from ..domains import RESERVED
from ..sqlkit import quote_ident, render
from .base import Hyperparameter, Recipe, RecipeType, TrainContext
from .popularity import write_popular_items
from .sims import HYPERPARAMETERS as SIMS_HYPERPARAMETERS
from .sims import RelatedLists, RelatedScorer

COLD_INTERACTIONS = 5       # Personalize: cold items have fewer than five interactions
RIDGE = 1.0                 # the metadata -> behaviour map's regularisation
CELLS = 4_000_000           # query x candidate scores held at once (32 MB of float64)
NUMERIC = ("int", "long", "float", "double")
NOISE = 1e-9                # scores below it are zero up to the SVD's rounding (no shared users)

_CAP = next(h for h in SIMS_HYPERPARAMETERS if h.name == "max_related_items")
HYPERPARAMETERS = (
    Hyperparameter("item_id_hidden_dim", int, 100, 30, 200, True,
                   doc="rank of the behaviour (co-occurrence) item vectors"),
    Hyperparameter("item_metadata_hidden_dim", int, 100, 30, 200, True,
                   doc="rank of the item-metadata vectors"),
    Hyperparameter("popularity_discount_factor", float, 0.5, 0.0, 1.0, True,
                   doc="0 leans toward popular items, 0.5 ranks by similarity alone, 1 leans away "
                       "from popular items"),
    Hyperparameter("metadata_weight", float, 0.25, 0.0, 1.0,
                   doc="pypersonalize: share of metadata similarity in an item pair's similarity "
                       "(the rest is behaviour)"),
    _CAP,
)


def train(ctx: TrainContext) -> dict:
    hp, con, v = ctx.hyperparameters, ctx.con, ctx.version_arn
    schema = ctx.schema_name
    con.execute(render("recipes/sims/10_baskets.sql", schema_name=schema, has_event_type=ctx.has_event_type,
                       has_event_value=ctx.has_event_value, session_gap=False), ctx.event_params())
    pairs = con.execute("SELECT basket, item FROM pp_sims_events").fetchnumpy()
    con.execute("DROP TABLE IF EXISTS pp_sims_events")
    ids = con.execute(f"SELECT idx, id, row_number() OVER (ORDER BY id) - 1 FROM {quote_ident(schema)}.item_ids "
                      "ORDER BY idx").fetchnumpy()
    idx = np.asarray(ids["idx"], dtype=np.int64)
    size = int(idx.max()) + 1 if len(idx) else 0
    names = np.empty(size, dtype=object)
    names[idx] = np.asarray(ids["id"], dtype=object)
    order = np.zeros(size, dtype=np.int64)
    order[idx] = np.asarray(list(ids.values())[2], dtype=np.int64)

    counts, behaviour = _behaviour(np.asarray(pairs["basket"]), np.asarray(pairs["item"]), size,
                                   hp["item_id_hidden_dim"])
    metadata, tokens = _metadata(ctx, names, size, hp["item_metadata_hidden_dim"])
    predicted = _cold_behaviour(behaviour, metadata, counts)
    w = hp["metadata_weight"] if metadata is not None else 0.0
    parts = [np.sqrt(1.0 - w) * predicted]
    if metadata is not None:
        parts.append(np.sqrt(w) * metadata)
    vectors = np.hstack(parts)
    boost = (1.0 + counts) ** (0.5 - hp["popularity_discount_factor"])
    rows = _top_related(vectors, boost, order, hp["max_related_items"])
    frame = pd.DataFrame({"version_arn": v, "item": names[rows[0]], "related": names[rows[1]],
                          "score": rows[2], "rank": rows[3].astype(np.int32)})
    con.register("pp_similar_rows", frame)
    try:
        con.execute("INSERT INTO pypersonalize.related_items SELECT version_arn, item, related, score, rank "
                    "FROM pp_similar_rows")
    finally:
        con.unregister("pp_similar_rows")
    known = np.abs(vectors).sum(axis=1) > 0
    return {"items": int(known.sum()), "warmItems": int((counts >= COLD_INTERACTIONS).sum()),
            "coldItems": int((known & (counts < COLD_INTERACTIONS)).sum()),
            "behaviourDim": int(behaviour.shape[1]), "metadataDim": 0 if metadata is None else int(metadata.shape[1]),
            "metadataTokens": tokens, "relatedItems": len(frame), "popularItems": write_popular_items(ctx)}


def _behaviour(baskets: np.ndarray, items: np.ndarray, size: int, dim: int) -> tuple[np.ndarray, np.ndarray]:
    """(users per item, item vectors whose dot products approximate the user-set cosine)."""
    counts = np.bincount(items, minlength=size).astype(np.float64) if len(items) else np.zeros(size)
    if not len(items):
        return counts, np.zeros((size, 0))
    _, rows = np.unique(baskets, return_inverse=True)
    scale = np.zeros(size)
    scale[counts > 0] = counts[counts > 0] ** -0.5
    x = sp.csr_matrix((scale[items], (rows, items)), shape=(int(rows.max()) + 1, size))
    k = min(dim, min(x.shape) - 1)
    if k < 1:
        return counts, np.zeros((size, 0))
    _u, s, vt = svds(x, k=k, random_state=0)
    return counts, (vt.T * s)


def _metadata(ctx: TrainContext, names: np.ndarray, size: int, dim: int) -> tuple[np.ndarray | None, int]:
    """Reduced TF-IDF vectors of the items' metadata tokens (None without Items metadata)."""
    items_schema = ctx.schemas.get("Items")
    if items_schema is None:
        return None, 0
    reserved = set(RESERVED["Items"])
    fields = {"categorical": [f.name for f in items_schema.fields if f.categorical],
              "textual": [f.name for f in items_schema.fields if f.textual],
              "numerical": [f.name for f in items_schema.fields
                            if f.type in NUMERIC and f.name not in reserved and not f.categorical]}
    if not any(fields.values()):
        return None, 0
    ctx.con.execute(render("recipes/_item_tokens.sql", schema_name=ctx.schema_name, **fields),
                    {"version": ctx.version_arn})
    rows = ctx.con.execute(f"SELECT m.idx, t.token, t.weight FROM pypersonalize.item_tokens t "
                           f"JOIN {quote_ident(ctx.schema_name)}.item_ids m ON m.id = t.item "
                           "WHERE t.version_arn = $v", {"v": ctx.version_arn}).fetchnumpy()
    if not len(rows["idx"]):
        return None, 0
    _, cols = np.unique(np.asarray(rows["token"], dtype=object), return_inverse=True)
    m = sp.csr_matrix((np.asarray(rows["weight"], dtype=np.float64), (np.asarray(rows["idx"]), cols)),
                      shape=(size, int(cols.max()) + 1))
    k = min(dim, min(m.shape) - 1)
    if k < 1:
        return m.toarray(), int(m.shape[1])
    u, s, _vt = svds(m, k=k, random_state=0)
    return u * s, int(m.shape[1])


def _cold_behaviour(behaviour: np.ndarray, metadata: np.ndarray | None, counts: np.ndarray) -> np.ndarray:
    """Behaviour vectors with cold items' filled in from their metadata (step 4)."""
    if metadata is None or behaviour.shape[1] == 0:
        return behaviour
    warm = counts >= COLD_INTERACTIONS
    if warm.sum() < 2:
        return behaviour
    mw = metadata[warm]
    gram = mw.T @ mw + RIDGE * np.eye(mw.shape[1])
    mapping = np.linalg.solve(gram, mw.T @ behaviour[warm])
    share = np.minimum(counts / COLD_INTERACTIONS, 1.0)[:, None]
    return share * behaviour + (1.0 - share) * (metadata @ mapping)


def _top_related(vectors: np.ndarray, boost: np.ndarray, order: np.ndarray, cap: int):
    """(item, related, score, rank) arrays: each item's best ``cap`` positive scores."""
    known = np.flatnonzero(np.abs(vectors).sum(axis=1) > 0)
    out_i, out_j, out_s, out_r = [], [], [], []
    if len(known) < 2:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, np.zeros(0), empty
    cand = vectors[known]
    cand_boost = boost[known]
    keep = min(cap, len(known) - 1)
    block = max(16, CELLS // len(known))
    for start in range(0, len(known), block):
        queries = known[start:start + block]
        scores = (vectors[queries] @ cand.T) * cand_boost
        scores[np.arange(len(queries)), np.arange(start, start + len(queries))] = -np.inf
        top = np.argpartition(-scores, keep - 1, axis=1)[:, :keep] if keep < len(known) else \
            np.tile(np.arange(len(known)), (len(queries), 1))
        for row, item in enumerate(queries):
            picked = top[row]
            sc = scores[row, picked]
            good = sc > NOISE
            picked, sc = picked[good], sc[good]
            rank = np.lexsort((order[known[picked]], -sc))
            n = min(len(rank), keep)
            out_i.append(np.full(n, item))
            out_j.append(known[picked[rank[:n]]])
            out_s.append(sc[rank[:n]])
            out_r.append(np.arange(1, n + 1))
    return (np.concatenate(out_i), np.concatenate(out_j), np.concatenate(out_s), np.concatenate(out_r))


SHOWN_TOKENS = 5             # metadata tokens an explanation lists


@dataclass
class SimilarLists(RelatedLists):
    """SIMS's related lists plus each item's metadata tokens (code -> {token: weight})."""

    tokens: dict = field(default_factory=dict)


class SimilarScorer(RelatedScorer):
    """Serves the stored lists as SIMS does; explains them by co-occurrence and shared tokens."""

    def load(self, con, version_arn: str, vocab) -> SimilarLists:
        lists = super().load(con, version_arn, vocab)
        rows = con.execute("SELECT item, token, weight FROM pypersonalize.item_tokens WHERE version_arn = $v",
                           {"v": version_arn}).fetchnumpy()
        tokens: dict = {}
        codes = vocab.codes(list(np.asarray(rows["item"], dtype=object))) if len(rows["item"]) else []
        for code, token, weight in zip(codes, rows["token"], rows["weight"]):
            tokens.setdefault(int(code), {})[str(token)] = float(weight)
        return SimilarLists(lists.offsets, lists.related, lists.scores, tokens)

    def explain(self, model: SimilarLists, request, codes: np.ndarray, scores: np.ndarray) -> list[dict]:
        """Per related item: the users who have both items (SIMS's count) and the metadata
        tokens the two share, by their contribution to the items' token cosine."""
        out = super().explain(model, request, codes, scores)
        mine = model.tokens.get(request.item, {}) if request.item is not None else {}
        for reason, code in zip(out, codes.tolist()):
            if reason.get("kind") != "co-occurrence":
                continue
            theirs = model.tokens.get(int(code), {})
            shared = sorted(((mine[t] * theirs[t], t) for t in mine.keys() & theirs.keys()), key=lambda x: (-x[0], x[1]))
            shown = [{"token": t, "value": v} for v, t in shared[:SHOWN_TOKENS]]
            words = ", ".join(s["token"] for s in shown)
            users = reason["coOccurrence"]
            reason.update(
                kind="similar-items", matchingTokens=shown, metadataCosine=float(sum(v for v, _t in shared)),
                text=(f"shares {words} with {reason['itemId']}" if shown else f"no metadata in common with "
                      f"{reason['itemId']}") + f"; {users} users interacted with both",
                formula="((1 - w) behaviour + w metadata similarity) * (1 + n_j)^(0.5 - a), vectors from "
                        "truncated SVDs (w = metadata_weight, a = popularity_discount_factor)")
        return out


RECIPE = Recipe(
    name="aws-similar-items",
    recipe_type=RecipeType.RELATED_ITEMS,
    description="Items related by co-occurrence and by item metadata (categorical, numerical and textual "
                "fields as TF-IDF tokens); cold items get related items from their metadata.",
    folder="sims",
    train=train,
    scorer=SimilarScorer(),
    inputs=("item",),
    hyperparameters=HYPERPARAMETERS,
)

"""Semantic-Similarity: related items from the text of the items, not from co-occurrence.

Personalize embeds each item's title (the Items field marked ``"itemName": true``) and
description (its ``textual`` field) with a language model. Nothing may be downloaded here,
so the representation is TF-IDF over words, the one that retrieved same-genre MovieLens
items best from titles among those numpy/scipy give (``benchmarks/text_retrieval.py``:
adding character n-grams of the title or reducing with a truncated SVD measured worse):

1. text (``sql/recipes/semantic_similarity/10_documents.sql``, ``20_tokens.sql``): the
   words of the title and of the description, lower-cased; a word is a run of letters and
   digits with at least one letter (so release years like "1995" are not words); a title
   word counts ``TITLE_WEIGHT`` (2) times, a description word once;
2. vector: ``tf = 1 + ln(weighted count)``, ``idf = ln((1 + N) / (1 + df)) + 1`` (N items,
   df = items holding the word), tf·idf scaled to unit length per item;
3. related items: ``similarity(i, j)`` = the cosine of the two vectors; per item, the
   ``max_related_items`` most similar other items with a similarity above 0, ties by item
   id (computed in blocks of query items; never an items x items matrix in memory);
4. ranking factors, computed at training (Personalize: "freshness and popularity scores
   are computed at training"): ``freshness`` = the share of the other items with a
   CREATION_TIMESTAMP that are older (ties count half), 1 = the newest, 0 = the oldest or
   no timestamp; ``popularity`` = ``ln(1 + u) / ln(1 + u_max)``, u = distinct users with
   training events on the item (0 without any, or without Interactions events);
5. serving with the campaign's ``rankingInfluence`` {FRESHNESS: f, POPULARITY: p} (0..1,
   default 0): each stored related item is rescored
   ``(similarity + f * freshness + p * popularity) / (1 + f + p)`` and the list reordered
   (ties by item id). With f = p = 0 this is the similarity itself. Raising f moves every
   fresher item up past every less fresh one whose score gap it closes, and nothing else
   (likewise p and popularity). Only the stored list (at most ``max_related_items`` items)
   is rescored: an item outside it does not enter however fresh it is; the popular items
   the pipeline adds after it are not rescored.

Unknown items, items whose text shares no word with another item, and requests without an
item get the popular items (the shared pipeline does that when the scorer gives no
candidates). Python (``SemanticScorer``) and plain SQL (``candidates.sql``) give the same
lists.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ..errors import InvalidInput
from ..sqlkit import render
from .base import Hyperparameter, Ranked, Recipe, RecipeType, Request, TrainContext
from .popularity import write_popular_items
from .sims import RelatedLists, item_offsets

TITLE_WEIGHT = 2.0          # a title word counts as much as two description words
BLOCK_CELLS = 4_000_000     # similarity cells computed at once (a block of query items x all items)

HYPERPARAMETERS = (
    Hyperparameter("max_related_items", int, 500, 1, 10000, kind="featurization",
                   doc="pypersonalize: related items stored per item (rankingInfluence reorders "
                       "these; requests past it are filled with popular items)"),
)


def text_fields(schemas: dict) -> tuple[str, list[str], bool]:
    """(the itemName field, the textual fields, whether CREATION_TIMESTAMP exists), or the
    InvalidInput that says what the dataset group lacks."""
    items = schemas.get("Items")
    if items is None:
        raise InvalidInput("aws-semantic-similarity needs an Items dataset with an itemName field "
                           "(the title) and a textual field (the description); the dataset group has none")
    named = [f.name for f in items.fields if f.item_name]
    textual = [f.name for f in items.fields if f.textual]
    if not named:
        raise InvalidInput('aws-semantic-similarity needs a string field marked "itemName": true (the '
                           "item title) in the Items schema, not left out by trainingDataConfig; it has none")
    if not textual:
        raise InvalidInput('aws-semantic-similarity needs a field marked "textual": true (the item '
                           "description) in the Items schema, not left out by trainingDataConfig; "
                           "it has none")
    return named[0], textual, items.field("CREATION_TIMESTAMP") is not None


def tfidf(rows: np.ndarray, tokens: np.ndarray, weights: np.ndarray, n_items: int) -> sp.csr_matrix:
    """Unit-length TF-IDF rows (step 2) from (item row, token, weighted count) triples."""
    if not len(rows):
        return sp.csr_matrix((n_items, 0))
    _, cols = np.unique(tokens, return_inverse=True)
    x = sp.csr_matrix((1.0 + np.log(weights), (rows, cols)), shape=(n_items, int(cols.max()) + 1))
    df = np.bincount(x.indices, minlength=x.shape[1])
    x = x @ sp.diags(np.log((1.0 + n_items) / (1.0 + df)) + 1.0)
    norms = np.sqrt(np.asarray(x.multiply(x).sum(axis=1)).ravel())
    norms[norms == 0] = 1.0
    return sp.csr_matrix(sp.diags(1.0 / norms) @ x)


def top_related(x, cap: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(item row, related row, similarity, rank) of each row's ``cap`` best others with a
    similarity above 0, best first, ties by row (= item id order). ``x`` has unit rows
    (sparse or dense); queries go in blocks of ``BLOCK_CELLS`` // items rows."""
    n = x.shape[0]
    keep = min(cap, n - 1)
    parts: list[tuple] = []
    if keep < 1:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, np.zeros(0), empty
    xt = x.T.tocsc() if sp.issparse(x) else x.T
    step = max(1, BLOCK_CELLS // max(n, 1))
    for start in range(0, n, step):
        stop = min(n, start + step)
        block = x[start:stop] @ xt
        sims = block.toarray() if sp.issparse(block) else np.asarray(block)
        local = np.arange(stop - start)
        sims[local, start + local] = 0.0                       # not related to itself
        # at or above each row's keep-th best value (the ties there are cut by id below)
        cut = -np.partition(-sims, keep - 1, axis=1)[:, keep - 1:keep]
        mask = (sims >= cut) & (sims > 0)
        r, c = np.nonzero(mask)
        s = sims[r, c]
        order = np.lexsort((c, -s, r))
        r, c, s = r[order], c[order], s[order]
        first = np.searchsorted(r, r)                          # rank within the row
        rank = np.arange(len(r)) - first + 1
        ok = rank <= keep
        parts.append((r[ok] + start, c[ok], s[ok], rank[ok]))
    return tuple(np.concatenate([p[k] for p in parts]) for k in range(4))


def freshness(created: np.ndarray) -> np.ndarray:
    """Step 4: the share of the other timestamped items that are older (ties count half);
    NaN (no CREATION_TIMESTAMP) gives 0."""
    out = np.zeros(len(created))
    has = ~np.isnan(created)
    m = int(has.sum())
    if m == 1:
        out[has] = 1.0
    elif m > 1:
        values = created[has]
        below = np.searchsorted(np.sort(values), values, side="left")
        upto = np.searchsorted(np.sort(values), values, side="right")
        out[has] = (below + (upto - below - 1) / 2.0) / (m - 1)
    return out


def popularity(users: np.ndarray) -> np.ndarray:
    """Step 4: ln(1 + users) / ln(1 + the most users), 0..1."""
    top = float(users.max()) if len(users) else 0.0
    return np.log1p(users) / np.log1p(top) if top > 0 else np.zeros(len(users))


def train(ctx: TrainContext) -> dict:
    title, textual, has_created = text_fields(ctx.schemas)
    con, v = ctx.con, ctx.version_arn
    con.execute(render("recipes/semantic_similarity/10_documents.sql", schema_name=ctx.schema_name,
                       title=title, textual=textual, has_created=has_created))
    con.execute(render("recipes/semantic_similarity/20_tokens.sql"), {"title_weight": TITLE_WEIGHT})
    docs = con.execute("SELECT item, created FROM pp_semantic_docs ORDER BY ord").fetchnumpy()
    tok = con.execute("SELECT ord, token, weight FROM pp_semantic_tokens").fetchnumpy()
    for table in ("pp_semantic_docs", "pp_semantic_tokens"):
        con.execute(f"DROP TABLE IF EXISTS {table}")
    names = np.asarray(docs["item"], dtype=object)
    n = len(names)
    x = tfidf(np.asarray(tok["ord"], dtype=np.int64), np.asarray(tok["token"], dtype=object),
              np.asarray(tok["weight"], dtype=np.float64), n)
    rows, cols, sims, ranks = top_related(x, ctx.hyperparameters["max_related_items"])

    counts = dict(con.execute(render("recipes/semantic_similarity/30_users_per_item.sql",
                                     schema_name=ctx.schema_name, has_event_type=ctx.has_event_type,
                                     has_event_value=ctx.has_event_value), ctx.event_params()).fetchall())
    users = np.array([counts.get(i, 0) for i in names], dtype=np.float64)
    created = np.ma.filled(np.ma.asarray(docs["created"]).astype(np.float64), np.nan)
    related = pd.DataFrame({"version_arn": v, "item": names[rows], "related": names[cols],
                            "score": sims, "rank": ranks.astype(np.int32)})
    factors = pd.DataFrame({"version_arn": v, "item": names, "freshness": freshness(created),
                            "popularity": popularity(users)})
    for view, table, frame in (("pp_semantic_rows", "semantic_related", related),
                               ("pp_semantic_factor_rows", "semantic_item_factors", factors)):
        con.register(view, frame)
        try:
            con.execute(f"INSERT INTO pypersonalize.{table} SELECT * FROM {view}")
        finally:
            con.unregister(view)
    return {"items": n, "vocabulary": int(x.shape[1]), "itemsWithRelated": int(len(np.unique(rows))),
            "relatedItems": len(related), "titleField": title, "textFields": textual,
            "freshness": has_created, "popularItems": write_popular_items(ctx)}


@dataclass
class SemanticLists(RelatedLists):
    """SIMS-like lists plus, per stored row, what rankingInfluence rescoring needs."""

    fresh: np.ndarray = None          # the related item's freshness
    pop: np.ndarray = None            # the related item's popularity
    id_rank: np.ndarray = None        # the related item's position in item-id order (ties)


def influence_weights(influence: dict | None) -> tuple[float, float]:
    """(FRESHNESS, POPULARITY) of a campaign's rankingInfluence (serving.py checked them)."""
    if not influence:
        return 0.0, 0.0
    return float(influence.get("FRESHNESS") or 0.0), float(influence.get("POPULARITY") or 0.0)


class SemanticScorer:
    """The current item's stored related items, rescored by the campaign's rankingInfluence."""

    def load(self, con, version_arn: str, vocab) -> SemanticLists:
        rows = con.execute(
            "SELECT r.item, r.related, r.score, x.freshness, x.popularity "
            "FROM pypersonalize.semantic_related r JOIN pypersonalize.semantic_item_factors x "
            "ON x.version_arn = r.version_arn AND x.item = r.related "
            "WHERE r.version_arn = $v ORDER BY r.item, r.rank", {"v": version_arn}).fetchnumpy()
        items = np.asarray(rows["item"], dtype=object)
        names = np.asarray(rows["related"], dtype=object)
        offsets = item_offsets(items, vocab)
        _, id_rank = np.unique(names, return_inverse=True) if len(names) else (None, np.zeros(0, dtype=np.int64))
        return SemanticLists(offsets, vocab.codes(list(names)), np.asarray(rows["score"], dtype=np.float64),
                             fresh=np.asarray(rows["freshness"], dtype=np.float64),
                             pop=np.asarray(rows["popularity"], dtype=np.float64),
                             id_rank=np.asarray(id_rank, dtype=np.int64))

    def recommend(self, model: SemanticLists, requests: list[Request], limit: int | None) -> list[Ranked]:
        out = []
        for req in requests:
            lo, hi = model.offsets.get(req.item, (0, 0)) if req.item is not None else (0, 0)
            f, p = influence_weights(req.influence)
            if not (f or p) or hi == lo:
                out.append(Ranked(model.related[lo:hi], model.scores[lo:hi]))
                continue
            score = (model.scores[lo:hi] + f * model.fresh[lo:hi] + p * model.pop[lo:hi]) / (1 + f + p)
            order = np.lexsort((model.id_rank[lo:hi], -score))
            out.append(Ranked(model.related[lo:hi][order], score[order]))
        return out


RECIPE = Recipe(
    name="aws-semantic-similarity",
    recipe_type=RecipeType.RELATED_ITEMS,
    description="Items whose text is most similar: cosine of TF-IDF word vectors of the title (itemName "
                "field, words weighted x2) and description (textual field); no language model, nothing "
                "downloaded. Campaign rankingInfluence FRESHNESS/POPULARITY rescores each stored list.",
    folder="semantic_similarity",
    train=train,
    scorer=SemanticScorer(),
    inputs=("item",),
    hyperparameters=HYPERPARAMETERS,
    ranking_factors=("FRESHNESS", "POPULARITY"),
)

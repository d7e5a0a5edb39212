"""PNAS-style progressive search (Liu et al., "Progressive Neural Architecture Search", ECCV 2018) on NB201-style
cells (NB201, TransNAS-Bench-101 micro); on other spaces its ranking loop only (see :class:`PNAS`).

PNAS grows cells one *block* at a time: it trains every 1-block cell, then repeatedly expands the current beam
by one block, ranks all children with an LSTM accuracy predictor (an ensemble of 5), trains only the top K,
refits the predictor on everything trained so far, and expands again; the predictor must rank cells one block
larger than any it was trained on, which a sequence model over the cell's tokens can do.

Mapping to NB201. A PNAS block is a node that combines earlier nodes; NB201's computed nodes are 1, 2 and the
output 3, so a stage adds one node with all its edges, and edges of nodes not yet added are ``none`` (absent).
Every partial cell is therefore a real NB201 cell that the benchmark can answer, like PNAS's smaller cells:

* stage 1 ("1 block"): the output reads the input only, edge 0->3 takes each of the 5 ops, the other edges are
  ``none``. All 5 are evaluated, as PNAS trains every 1-block cell.
* stage 2: add node 1, i.e. choose edges 0->1 and 1->3 (25 combinations) for every beam cell; rank the
  children by predicted mean, evaluate the top ``beam_size``; they become the beam.
* stage 3: add node 2, i.e. choose edges 0->2, 1->2 and 2->3 (125 combinations) for every beam cell: full
  NB201 cells; rank, evaluate the top ``beam_size``.
* then PNAS has nothing left to grow while budget remains: we keep its rule (rank by the refitted
  predictor, evaluate the top ``batch_size``, refit) on a pool of 100 mutants (edit distance 1-2) of the best
  observed cells plus 100 random cells, as ``bo-gp`` does. Ranking all 15,625 cells instead costs the LSTM
  ensemble ~3 s of CPU per refit (0.17 ms per cell, measured under a load average of ~12).

Growing one *edge* at a time would waste stages: a new edge into node 1 or 2 does nothing until that node also
feeds the output, so such children are isomorphic to their parents. Node-wise growth makes every child new.

Adaptations, all documented options: ``n_init=10`` uniform random full cells come first (the loop every
model-based strategy here shares) so the predictor has seen full cells before it ranks them; PNAS's K=256 is
far beyond a 200-query budget, so ``beam_size`` defaults to 20 (stage 3 then starts after 35 queries and the
full-space phase after 55; ``batch_size=20`` keeps that K per refit afterwards); children are ranked by the
ensemble's predicted mean (``acquisition="mean"``), as PNAS does. The LSTM ensemble keeps the paper's sizes
(embedding 100, LSTM 100, 5 members) but is refitted warm (each refit continues the previous members for 5
epochs and refits their closed-form ridge base on all cells observed) and its first fit stops after 200 steps
instead of the predictor's 500. Measured: a 100-query run on NB201 CIFAR-10 costs ~5 s of CPU (159 s for 30
seeds, ``nasscout run --strategy pnas --seeds 30 --budget-queries 100 --jobs 1``, under a load average of ~12
on 2 cores, which inflates CPU time). Evaluated, pending and isomorphic cells are never proposed again (see
``strategies.bayesopt``).
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np

from strategies.acquisition import check_int
from strategies.base import SearchContext
from strategies.bayesopt import ModelBasedStrategy
from surrogate.space import SearchSpace

# NB201's stages, as growth_stages derives them: edges (arch-string positions) that each stage chooses
STAGE_EDGES: tuple[tuple[int, ...], ...] = ((3,), (0, 4), (1, 2, 5))


def growth_stages(space: SearchSpace) -> tuple[tuple[int, ...], ...] | None:
    """Positions each growth stage chooses, or None when the space has no cells to grow.

    Growth needs an NB201-style cell: every position an edge named ``"src->dst"`` between numbered nodes (0 the
    input, the largest the output) whose choices include ``"none"`` (absent), so a partial cell is a real cell.
    Stage 1 chooses the input->output edge; stage k+1 adds node k, i.e. its input edges and its edge to the
    output. NB201 and TransNAS-Bench-101 micro give ``((3,), (0, 4), (1, 2, 5))``.
    """
    edges = []
    for p, name in enumerate(space.positions):
        src, sep, dst = str(name).partition("->")
        if not (sep and src.isdigit() and dst.isdigit()) or "none" not in space.choices[p]:
            return None
        edges.append((int(src), int(dst)))
    if not edges:
        return None
    out = max(d for _, d in edges)
    first = tuple(p for p, e in enumerate(edges) if e == (0, out))
    if len(first) != 1:
        return None
    stages = [first]
    for node in range(1, out):
        stage = tuple(p for p, (s, d) in enumerate(edges) if d == node or (s, d) == (node, out))
        if stage:
            stages.append(stage)
    if sorted(p for st in stages for p in st) != list(range(len(edges))):
        return None  # some edge belongs to no stage: not a cell this growth rule understands
    return tuple(stages)


def expand(space: SearchSpace, beam: np.ndarray, edges: tuple[int, ...]) -> np.ndarray:
    """Every child of every beam cell with ``edges`` set to each choice combination (beam-major order);
    vectors that are no cell of the space are dropped."""
    card = space.cardinalities
    combos = np.array(
        list(itertools.product(*(range(int(card[e])) for e in edges))), dtype=np.int64
    )
    ops = np.repeat(space.ops(beam).astype(np.int64), len(combos), axis=0)
    ops[:, list(edges)] = np.tile(combos, (len(beam), 1))
    out = space.indices_from_ops(ops, strict=False)
    return out[out >= 0]


class PNAS(ModelBasedStrategy):
    """Progressive node-by-node growth of cells with an LSTM ensemble ranking children (beam search).

    On spaces without NB201-style cells to grow (:func:`growth_stages` is None, e.g. NAS-Bench-Graph) there
    are no smaller cells: the growth stages are skipped and PNAS is its ranking loop from the start (the LSTM
    ensemble ranks mutants and random cells, the top ``batch_size`` are evaluated, refit, repeat)."""

    name = "pnas"
    summary = (
        "PNAS: grow cells node by node, LSTM predictor ranks children, evaluate the top-K beam"
    )
    predictor = "lstm"
    torch_model = True
    defaults = {
        **ModelBasedStrategy.defaults,
        "acquisition": "mean",
        "batch_size": 20,
        "optimizer": "mutation+random",
        "n_candidates": 100,
        "predictor_options": {"warm_start": True, "min_steps": 200},
    }

    def __init__(
        self,
        space: SearchSpace,
        *,
        seed: int,
        context: SearchContext | None = None,
        beam_size: int = 20,
        **options: Any,
    ):
        super().__init__(space, seed=seed, context=context, **options)
        self.beam_size = check_int("beam_size", beam_size, 1, space.n_cells)
        self.stages = growth_stages(space) or ()
        self._stage1: list[int] = []
        if self.stages:
            edge = self.stages[0][0]
            none = [c.index("none") for c in space.choices]
            stage1 = np.tile(np.asarray(none, dtype=np.int64), (int(space.cardinalities[edge]), 1))
            stage1[:, edge] = np.arange(len(stage1))  # all edges none but the input->output edge
            cells = space.indices_from_ops(stage1, strict=False)
            self._stage1 = [int(i) for i in cells[cells >= 0][::-1]]
        self._beam = np.asarray(self._stage1, dtype=np.int64)
        self.stage_ = 1  # without stages, growing is False from the start

    @property
    def growing(self) -> bool:
        """True while cells still grow (stages 2 and 3); False once ranking the full space."""
        return self.stage_ <= len(self.stages)

    def _stage1_left(self) -> bool:
        while self._stage1 and self._seen.is_seen(self._stage1[-1]):
            self._stage1.pop()
        return bool(self._stage1)

    def _warming_up(self) -> bool:
        return super()._warming_up() or self._stage1_left()

    def _init_cell(self) -> int:
        if self._proposed < self.n_init or not self._stage1_left():
            return super()._init_cell()
        return self._stage1.pop()

    def _candidates(self) -> np.ndarray:
        if self.growing:
            self.stage_ += 1
            if self.growing:
                edges = self.stages[self.stage_ - 1]
                cand = self._seen.unseen(expand(self.space, self._beam, edges))
                if len(cand):
                    return cand
                self.stage_ = len(self.stages) + 1  # the beam has no unseen child left
        return super()._candidates()

    def _proposals_per_plan(self) -> int:
        return self.beam_size if self.growing else self.batch_size

    def _fit_and_rank(self) -> None:
        super()._fit_and_rank()
        if self.growing:
            self._beam = np.asarray(self._queue, dtype=np.int64)  # the top-K just chosen grow next

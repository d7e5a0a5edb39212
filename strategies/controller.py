"""An LSTM controller that emits a cell choice by choice (Zoph & Le 2017's NAS controller, ENAS's sampler).

One token per position of the space (on NB201: one op per edge, 6 tokens of 5 choices). At step ``p`` the
LSTM reads the embedding of the previous token (a learnt start embedding at step 0), a linear head turns its
top hidden state into position ``p``'s logits, and the token is drawn from their softmax. ENAS sharpens or
flattens those logits as ``tanh_constant * tanh(logits / temperature)`` (NB201's ENAS: 2.5 and 5.0); Zoph & Le
use the plain softmax (both ``None``). Positions may have different cardinalities: each has its own head and
embedding rows, so a draw never names a choice its position lacks.

Everything random (initialisation and sampling) comes from one ``torch.Generator`` seeded by ``seed``, so a
controller is a pure function of its seed and the rewards it is told. It is trained with REINFORCE
(:meth:`LSTMController.reinforce`): loss ``-(reward - baseline) * log p(cell) - entropy_weight * H``, averaged
over the batch, one Adam step. Callers keep their own baseline (ENAS and NAS both use a moving average).
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Iterator, Sequence
from typing import Any

import torch
from torch import nn


@contextlib.contextmanager
def one_thread() -> Iterator[None]:
    """Run tiny tensor ops on one thread: on a busy machine a multi-threaded pool spin-waits for cores and a
    6-step LSTM on a handful of cells becomes seconds instead of milliseconds."""
    n = torch.get_num_threads()
    if n != 1:
        torch.set_num_threads(1)
    try:
        yield
    finally:
        if n != 1:
            torch.set_num_threads(n)


class LSTMController(nn.Module):
    """Autoregressive policy over ``len(cardinalities)`` positions; ``sample`` draws a batch of cells."""

    def __init__(
        self,
        cardinalities: Sequence[int],
        *,
        seed: int,
        hidden: int = 32,
        layers: int = 2,
        tanh_constant: float | None = 2.5,
        temperature: float | None = 5.0,
        init_range: float = 0.1,
        lr: float = 0.001,
        betas: tuple[float, float] = (0.0, 0.999),
        eps: float = 1e-3,
    ) -> None:
        super().__init__()
        self.card = [int(c) for c in cardinalities]
        self.hidden, self.layers = int(hidden), int(layers)
        self.tanh_constant, self.temperature = tanh_constant, temperature
        self.lstm = nn.LSTM(self.hidden, self.hidden, num_layers=self.layers)
        self.start = nn.Parameter(torch.zeros(1, 1, self.hidden))
        offsets = [0]
        for c in self.card:
            offsets.append(offsets[-1] + c)
        self.offsets = offsets
        self.embed = nn.Embedding(
            offsets[-1], self.hidden
        )  # rows of position p: offsets[p]..offsets[p+1]
        self.heads = nn.ModuleList(nn.Linear(self.hidden, c) for c in self.card)
        self.gen = torch.Generator().manual_seed(int(seed))
        with torch.no_grad():  # uniform initialisation, as Zoph & Le (0.08) and ENAS (0.1)
            for p in self.parameters():
                p.uniform_(-init_range, init_range, generator=self.gen)
        self.opt = torch.optim.Adam(self.parameters(), lr=lr, betas=betas, eps=eps)

    def _logits(self, h: torch.Tensor, p: int) -> torch.Tensor:
        z = self.heads[p](h)
        if self.temperature is not None:
            z = z / self.temperature
        if self.tanh_constant is not None:
            z = self.tanh_constant * torch.tanh(z)
        return z

    def _run(
        self, n: int, actions: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Draw ``n`` cells (or score the given ``actions``, teacher-forced): (actions, log p, entropy)."""
        x = self.start.expand(1, n, self.hidden)
        state = None
        chosen, logp, ent = [], torch.zeros(n), torch.zeros(n)
        for p in range(len(self.card)):
            out, state = self.lstm(x, state)
            logits = self._logits(out[0], p)
            log_probs = torch.log_softmax(logits, dim=1)
            if actions is None:
                a = torch.multinomial(log_probs.exp().detach(), 1, generator=self.gen)[:, 0]
            else:
                a = actions[:, p]
            chosen.append(a)
            logp = logp + log_probs.gather(1, a[:, None])[:, 0]
            ent = ent - (log_probs.exp() * log_probs).sum(1)
            x = self.embed(a + self.offsets[p])[None]
        return torch.stack(chosen, 1), logp, ent

    @torch.no_grad()
    def sample(self, n: int = 1) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``n`` cells as choice vectors (n, positions), with their log-probabilities and entropies."""
        with one_thread():
            return self._run(int(n), None)

    def log_prob(self, actions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(log p, entropy) of given choice vectors under the current policy."""
        with one_thread():
            _, logp, ent = self._run(len(actions), actions.long())
        return logp, ent

    @torch.no_grad()
    def argmax(self) -> list[int]:
        """The greedy cell: the most likely choice at each step (feeding it back)."""
        x, state, out_ops = self.start, None, []
        with one_thread():
            for p in range(len(self.card)):
                out, state = self.lstm(x, state)
                a = int(self._logits(out[0], p).argmax(1))
                out_ops.append(a)
                x = self.embed(torch.tensor([a + self.offsets[p]]))[None]
        return out_ops

    def reinforce(
        self, actions: torch.Tensor, advantages: torch.Tensor, entropy_weight: float = 0.0
    ) -> dict[str, float]:
        """One Adam step on ``-(advantage * log p) - entropy_weight * entropy`` averaged over the batch."""
        with one_thread():
            logp, ent = self.log_prob(actions)
            loss = -(advantages.detach() * logp).mean() - entropy_weight * ent.mean()
            self.opt.zero_grad(set_to_none=True)
            loss.backward()
            self.opt.step()
        return {"loss": float(loss.detach()), "entropy": float(ent.detach().mean())}

    # -- checkpointing: tensors and plain data only ---------------------------------------------------------
    def full_state(self) -> dict[str, Any]:
        """A copy (not live views) of the weights, Adam's moments and the sampling generator."""
        return copy.deepcopy(
            {
                "model": self.state_dict(),
                "optimizer": self.opt.state_dict(),
                "gen": self.gen.get_state(),
            }
        )

    def load_full_state(self, state: dict[str, Any]) -> None:
        self.load_state_dict(state["model"])
        self.opt.load_state_dict(state["optimizer"])
        self.gen.set_state(state["gen"])

#!/usr/bin/python3
"""PyTorch reference for `npm run bench:engine` (issue 3, Benchmark section).

Model (identical to the resflow engine benchmark):
  * 16 categorical fields, each an nn.Embedding(100_000, 16, sparse=True)
    (``--emb fused``: one table of 16*100_000 rows with per-field offsets: same
    maths, one gather instead of 16);
  * 63 dense inputs;
  * shared input x = BatchNorm1d(concat(emb_1..emb_16, dense))   (319 features);
  * two ResFlow task towers; hidden layer = Linear -> PReLU(one slope per unit)
    -> BatchNorm1d, widths 128 then 64, then Linear(64, 1) = logit;
  * residuals (task 2 <- task 1): input of task-2 layer l+1 = h_l(2) + h_l(1),
    z_2 = f_2(...) + z_1 (no stop-gradient);
  * loss = BCEWithLogits(z_1, y_1) + BCEWithLogits(z_2, y_2), each the batch mean.
Optimisers: SparseAdam over the embedding tables, Adam over all dense
parameters, both lr 1e-3 (default betas/eps).

Data: random, seeded, pre-generated in memory (a pool of ``--pool`` batches,
cycled), so data loading is not timed: ids uniform over [0, 100_000) (or
``--ids zipf``: Zipf(1.1) ranks folded into [0, 100_000)), dense ~ U[0, 1),
labels ~ Bernoulli(0.1) independently per task.

Timing covers only the ``--steps`` steps after ``--warmup`` untimed ones; a step
is zero_grad + forward + loss + backward + both optimiser steps.

Run with the Debian interpreter (python3-torch 1.13) and passive OpenMP waiting:
  OMP_WAIT_POLICY=PASSIVE /usr/bin/python3 bench/pytorch/engine_bench.py \
      --batch 2048 --steps 200 --warmup 20 --threads 1 --json
The last line of stdout is JSON:
  {"samples_per_s": N, "batch": B, "threads": T, "torch": "1.13.0a0", ...}
"""
import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _blas  # noqa: E402  (sets OPENBLAS_CORETYPE before numpy/torch load libblas)
import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

N_FIELDS = 16
EMB_DIM = 16
VOCAB = 100_000
N_DENSE = 63
TOWERS = (128, 64)


class Tower(nn.Module):
    def __init__(self, d_in, widths):
        super().__init__()
        self.linears = nn.ModuleList()
        self.prelus = nn.ModuleList()
        self.bns = nn.ModuleList()
        d = d_in
        for w in widths:
            self.linears.append(nn.Linear(d, w))
            self.prelus.append(nn.PReLU(num_parameters=w, init=0.25))
            self.bns.append(nn.BatchNorm1d(w))
            d = w
        self.out = nn.Linear(d, 1)

    def layer(self, l, x):
        return self.bns[l](self.prelus[l](self.linears[l](x)))


class ResFlowBench(nn.Module):
    def __init__(self, emb_layout="separate"):
        super().__init__()
        self.emb_layout = emb_layout
        if emb_layout == "separate":
            self.embs = nn.ModuleList(
                [nn.Embedding(VOCAB, EMB_DIM, sparse=True) for _ in range(N_FIELDS)])
            for e in self.embs:
                nn.init.normal_(e.weight, std=0.01)
        else:
            self.emb = nn.Embedding(VOCAB * N_FIELDS, EMB_DIM, sparse=True)
            nn.init.normal_(self.emb.weight, std=0.01)
            self.register_buffer("offsets", torch.arange(N_FIELDS, dtype=torch.long) * VOCAB)
        d_in = N_FIELDS * EMB_DIM + N_DENSE
        self.bn_in = nn.BatchNorm1d(d_in)
        self.t1 = Tower(d_in, TOWERS)
        self.t2 = Tower(d_in, TOWERS)

    def sparse_parameters(self):
        return list(self.embs.parameters()) if self.emb_layout == "separate" else [self.emb.weight]

    def dense_parameters(self):
        sp = {id(p) for p in self.sparse_parameters()}
        return [p for p in self.parameters() if id(p) not in sp]

    def forward(self, ids, dense):
        if self.emb_layout == "separate":
            e = torch.cat([self.embs[f](ids[:, f]) for f in range(N_FIELDS)], dim=1)
        else:
            e = self.emb(ids + self.offsets).reshape(ids.shape[0], N_FIELDS * EMB_DIM)
        x = self.bn_in(torch.cat([e, dense], dim=1))
        h1 = x
        h2 = x
        for l in range(len(TOWERS)):
            a1 = self.t1.layer(l, h1)
            a2 = self.t2.layer(l, h2)
            h1 = a1
            h2 = a2 + a1  # input of task-2 layer l+1 = h_l(2) + h_l(1)
        z1 = self.t1.out(h1).squeeze(1)
        z2 = self.t2.out(h2).squeeze(1) + z1  # logit residual
        return z1, z2


def make_data(batch, pool, ids_dist, seed):
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(pool):
        if ids_dist == "zipf":
            ids = (rng.zipf(1.1, size=(batch, N_FIELDS)) - 1) % VOCAB
        else:
            ids = rng.integers(0, VOCAB, size=(batch, N_FIELDS))
        dense = rng.random((batch, N_DENSE), dtype=np.float32)
        y = (rng.random((batch, 2)) < 0.1).astype(np.float32)
        out.append((torch.from_numpy(ids.astype(np.int64)),
                    torch.from_numpy(dense),
                    torch.from_numpy(y[:, 0].copy()),
                    torch.from_numpy(y[:, 1].copy())))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--batch", type=int, default=2048)
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--warmup", type=int, default=20)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--pool", type=int, default=16, help="pre-generated batches, cycled")
    ap.add_argument("--ids", choices=["uniform", "zipf"], default="uniform")
    ap.add_argument("--emb", choices=["separate", "fused"], default="separate")
    ap.add_argument("--json", action="store_true", help="only the JSON line on stdout")
    a = ap.parse_args()

    torch.set_num_threads(a.threads)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass
    torch.manual_seed(a.seed)
    if os.environ.get("OMP_WAIT_POLICY", "").upper() != "PASSIVE":
        print("warning: OMP_WAIT_POLICY=PASSIVE is not set", file=sys.stderr)

    model = ResFlowBench(a.emb)
    model.train()
    opt_sparse = torch.optim.SparseAdam(model.sparse_parameters(), lr=1e-3)
    opt_dense = torch.optim.Adam(model.dense_parameters(), lr=1e-3)
    data = make_data(a.batch, a.pool, a.ids, a.seed)

    def step(i):
        ids, dense, y1, y2 = data[i % len(data)]
        opt_sparse.zero_grad(set_to_none=True)
        opt_dense.zero_grad(set_to_none=True)
        z1, z2 = model(ids, dense)
        loss = (F.binary_cross_entropy_with_logits(z1, y1)
                + F.binary_cross_entropy_with_logits(z2, y2))
        loss.backward()
        opt_sparse.step()
        opt_dense.step()
        return loss

    for i in range(a.warmup):
        step(i)
    t0 = time.perf_counter()
    for i in range(a.warmup, a.warmup + a.steps):
        loss = step(i)
    dt = time.perf_counter() - t0
    sps = a.batch * a.steps / dt
    if not a.json:
        print(f"torch {torch.__version__}  batch {a.batch}  threads {a.threads}  emb {a.emb}  "
              f"ids {a.ids}  blas {_blas.blas_info()}: {sps:,.0f} samples/s ({1000 * dt / a.steps:.2f} ms/step, "
              f"final loss {float(loss):.4f})")
    print(json.dumps({"samples_per_s": round(sps, 1), "batch": a.batch, "threads": a.threads,
                      "torch": torch.__version__, "steps": a.steps, "warmup": a.warmup,
                      "emb": a.emb, "ids": a.ids, "blas": _blas.blas_info(), "ms_per_step": round(1000 * dt / a.steps, 3)}))


if __name__ == "__main__":
    main()

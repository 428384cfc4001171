#!/usr/bin/python3
"""PyTorch reference for `npm run bench:census` (issue 6, Real-data benchmark).

Everything below is the contract that resflow's `configs/census.yaml` mirrors
(bench/pytorch/README.md restates it with the TS option names).

DATA  ../shared/data/census-income/census-income.{train,val}.gz (raw UCI census-income KDD)
  * One row per line, no header. Each line (trailing "\\n" removed) is split on "," and every
    field is stripped of surrounding spaces (ASCII " "); exactly 42 fields. "?" means missing
    (it only occurs in categorical fields: mig_* about half the rows, country_*, hisp_origin,
    state_prev_res).
  * Labels: income  = 1 if field 41 (income_50k) == "50000+."        (train: 6.2 % positive)
            marital = 1 if field 7 (marital_stat) == "Never married"  (train: 43.1 % positive)
  * Dropped: instance_weight (field 24), and the label sources marital_stat (7) and
    income_50k (41) are never features.
  * Numeric (7, in this order): age(0), wage_per_hour(5), capital_gains(16), capital_losses(17),
    stock_dividends(18), num_emp(30), weeks_worked(39). Transform (--numeric):
      adapter (default; = resflow's built-in `census` dataset, src/data/adapters.ts, transform
        log1p-standardize): u = sign(v) * log1p(|v|), then (u - mean) / std with the TRAIN mean and
        population std (ddof = 0) of u in float64 (std 0 -> u - mean);
      standardize: all 7 standardised as above without the log1p.
    Stored as float32.
  * Categorical (the other 32 fields, in file order): 1 class_worker, 2 det_ind_code,
    3 det_occ_code, 4 education, 6 hs_college, 8 major_ind_code, 9 major_occ_code, 10 race,
    11 hisp_origin, 12 sex, 13 union_member, 14 unemp_reason, 15 full_or_part_emp,
    19 tax_filer_stat, 20 region_prev_res, 21 state_prev_res, 22 det_hh_fam_stat, 23 det_hh_summ,
    25 mig_chg_msa, 26 mig_chg_reg, 27 mig_move_reg, 28 mig_same, 29 mig_prev_sunbelt,
    31 fam_under_18, 32 country_father, 33 country_mother, 34 country_self, 35 citizenship,
    36 own_or_self, 37 vet_question, 38 vet_benefits, 40 year (codes are categories too).
    Vocabulary per field = every distinct stripped string of the TRAIN file except "?"
    (min count 1), ids 1..V ordered by descending train count, ties by ascending string
    (code-point order); id 0 = missing ("?") or unseen in train. Table rows = V + 1
    (517 rows over the 32 fields). Embedding dim 8.
  * Splits: train = the whole train file (69,833 rows). The val file (9,976 rows) is split by
    mulberry32(seed = 2024): for row i (0-based, file order) draw u_i = next() (the i-th draw,
    one per row); u_i < 0.5 -> "val" (early stopping), else "test" (the reported figures).
    mulberry32 = resflow's src/engine/rng.ts Rng(2024).next() (state += 0x6D2B79F5, ...).
    -> val 5,041 rows, test 4,935 rows.

MODEL INPUT (every model)
  x = BatchNorm1d(concat(emb_1..emb_32, numeric_7))  -> 32*8 + 7 = 263 features.
  Embeddings N(0, 0.01^2), no L2. Linear weights Xavier-uniform, biases 0, PReLU slopes 0.25,
  BatchNorm gamma 1 / beta 0, eps 1e-5, momentum 0.1 (running stats used at evaluation).
  Block(n) = Linear(n) -> PReLU (one slope per unit) -> BatchNorm1d. No dropout anywhere.
  Tasks in chain (funnel) order: [marital, income] (densest first = ResFlow's `auto`).

MODELS (--model)
  single         per task: own embeddings + own input BN, Block(128) -> Block(64) -> Linear(1)
  nse            shared input, per task Block(128) -> Block(64) -> Linear(1)        (ResFlow, no residual)
  resflow-logit  nse + z_income = f_income + z_marital
  resflow        full: input of income layer l+1 = h_l(income) + h_l(marital), and
                 z_income = f_income + z_marital; towers 128, 64
  shared-bottom  Block(128) shared, per task Block(64) -> Linear(1)
  omoe           8 experts Block(128) on x; one gate softmax(Linear(263 -> 8)(x)) shared by the
                 tasks; per task Block(64) -> Linear(1)
  mmoe           as omoe with one gate per task
  ple            2 extraction levels (PLE; each level is a CGC), per level 2 shared experts and
                 2 experts per task, expert = one Block(128) at both levels;
                 task gate softmax over [own experts, shared experts] from the task's previous
                 level output (level 1: x); shared gate (level 1 only) softmax over
                 [marital experts, income experts, shared experts] from the shared previous output;
                 towers per task Block(64) -> Linear(1)
  aitm           per task tower Block(128) -> Block(64) = q_k; for income:
                 p = PReLU(Linear(64,64)(r_marital)) (transfer: no BatchNorm),
                 r_income = AIT(q_income, p): tokens u in {q_income, p}, Q/K/V = Linear(64,64,
                 bias=False), w = softmax_u(<Q u, K u> / sqrt(64)), r = sum_u w_u V u;
                 r_marital = q_marital; z_k = Linear(64,1)(r_k). Calibrator (behavioural
                 expectation) alpha * mean(relu(p_income - p_marital)), alpha = 0.6 (paper).
  esmm           towers as nse; p_marital = s(f_marital), p_income = s(f_marital) * s(f_income)
                 (the CTR x CVR product); loss on p_income in log space:
                 log p = -softplus(-f_m) - softplus(-f_i), log(1-p) = log(1 - p + 1e-7).
  Census is not a funnel (income is not a sub-event of "never married": most high earners are
  married), so the product (esmm) and the calibrator (aitm) are mis-specified here; they are
  kept as defined so that both sides compare the same models.

TRAINING
  loss = sum over tasks of the mean BCE-with-logits (weights 1, positive weights 1) [+ aitm's].
  Adam lr 1e-3 (betas 0.9/0.999, eps 1e-8, no weight decay) on dense parameters; SparseAdam
  (lazy row-wise Adam, same hyper-parameters, bias correction with the global step) on the
  embedding tables. Batch 1024; each epoch a fresh random permutation of all train rows
  (torch.Generator seeded with `seed * 1000 + epoch`), last partial batch (201 rows) kept.
  After each epoch: validation AUC per task with the running BN statistics; monitor = mean of
  the two AUCs; early stopping with patience 2 (stop when 2 epochs in a row do not improve
  strictly on the best), up to --epochs (default 30); the best epoch's weights are restored
  and scored on test. AUC = exact rank AUC, ties averaged.
  samples/s = training rows / time of the training steps only (forward, backward, both
  optimiser steps; no evaluation, no per-epoch permutation).

Run with the Debian interpreter:
  OMP_WAIT_POLICY=PASSIVE /usr/bin/python3 bench/pytorch/census.py --model resflow --seed 1 --threads 1
Last stdout line: {"model":..., "seed":..., "auc": {"income": x, "marital": y},
  "samples_per_s": z, "epochs": e, "best_epoch": b, ...}
"""
import argparse
import copy
import gzip
import json
import math
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _blas  # noqa: E402  (sets OPENBLAS_CORETYPE before numpy/torch load libblas)
import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

FIELDS = ("age class_worker det_ind_code det_occ_code education wage_per_hour hs_college "
          "marital_stat major_ind_code major_occ_code race hisp_origin sex union_member "
          "unemp_reason full_or_part_emp capital_gains capital_losses stock_dividends "
          "tax_filer_stat region_prev_res state_prev_res det_hh_fam_stat det_hh_summ "
          "instance_weight mig_chg_msa mig_chg_reg mig_move_reg mig_same mig_prev_sunbelt "
          "num_emp fam_under_18 country_father country_mother country_self citizenship "
          "own_or_self vet_question vet_benefits weeks_worked year income_50k").split()
assert len(FIELDS) == 42
NUMERIC = ["age", "wage_per_hour", "capital_gains", "capital_losses", "stock_dividends",
           "num_emp", "weeks_worked"]
MISSING = "?"
DROPPED = ["instance_weight", "marital_stat", "income_50k"]
CATEGORICAL = [f for f in FIELDS if f not in NUMERIC and f not in DROPPED]
assert len(CATEGORICAL) == 32
TASKS = ["marital", "income"]  # chain / funnel order (densest first)
EMB_DIM = 8
SPLIT_SEED = 2024
MODELS = ["single", "shared-bottom", "esmm", "omoe", "mmoe", "ple", "aitm", "nse",
          "resflow-logit", "resflow"]

DEFAULT_DATA = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                             "..", "..", "..", "shared", "data", "census-income"))


# ----------------------------------------------------------------------------- data
def mulberry32(seed):
    """The standard mulberry32 generator (== resflow's Rng): yields floats in [0, 1)."""
    M = 0xFFFFFFFF
    state = seed & M
    while True:
        state = (state + 0x6D2B79F5) & M
        t = state
        t = ((t ^ (t >> 15)) * (t | 1)) & M
        t = (t ^ ((t + (((t ^ (t >> 7)) * (t | 61)) & M)) & M)) & M
        yield ((t ^ (t >> 14)) & M) / 4294967296.0


def read_rows(path):
    rows = []
    with gzip.open(path, "rt", encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if not line.strip():
                continue
            parts = [p.strip(" ") for p in line.split(",")]
            if len(parts) != 42:
                raise ValueError(f"{path}: expected 42 fields, got {len(parts)}: {line[:80]!r}")
            rows.append(parts)
    return rows


class Census:
    """Preprocessed splits: ids int64 [N, 32], num float32 [N, 7], y float32 [N, 2] (TASKS order)."""

    def __init__(self, data_dir, numeric="adapter"):
        train = read_rows(os.path.join(data_dir, "census-income.train.gz"))
        valfile = read_rows(os.path.join(data_dir, "census-income.val.gz"))
        idx = {f: i for i, f in enumerate(FIELDS)}
        # numeric: signed log1p first (adapter), then standardised (train, float64, ddof 0)
        self.log1p = numeric == "adapter"
        raw = self._signed_log1p(np.array([[float(r[idx[f]]) for f in NUMERIC] for r in train], dtype=np.float64))
        self.num_mean = raw.mean(axis=0)
        self.num_std = raw.std(axis=0)
        # vocabularies from train, min count 1, by descending count then ascending string
        self.vocab = []
        for f in CATEGORICAL:
            counts = {}
            for r in train:
                v = r[idx[f]]
                if v != MISSING:
                    counts[v] = counts.get(v, 0) + 1
            order = sorted(counts, key=lambda v: (-counts[v], v))
            self.vocab.append({v: i + 1 for i, v in enumerate(order)})
        self.vocab_sizes = [len(v) + 1 for v in self.vocab]  # + OOV row 0
        rng = mulberry32(SPLIT_SEED)
        is_val = np.array([next(rng) < 0.5 for _ in valfile])
        self.splits = {
            "train": self._encode(train),
            "val": self._encode([r for r, v in zip(valfile, is_val) if v]),
            "test": self._encode([r for r, v in zip(valfile, is_val) if not v]),
        }

    def _signed_log1p(self, num):
        return np.sign(num) * np.log1p(np.abs(num)) if self.log1p else num

    def _encode(self, rows):
        idx = {f: i for i, f in enumerate(FIELDS)}
        ids = np.array([[voc.get(r[idx[f]], 0) for f, voc in zip(CATEGORICAL, self.vocab)]
                        for r in rows], dtype=np.int64)
        num = self._signed_log1p(np.array([[float(r[idx[f]]) for f in NUMERIC] for r in rows], dtype=np.float64))
        num = np.where(self.num_std > 0, (num - self.num_mean) / np.where(self.num_std > 0, self.num_std, 1.0),
                       num - self.num_mean).astype(np.float32)
        y = np.array([[r[idx["marital_stat"]] == "Never married", r[idx["income_50k"]] == "50000+."]
                      for r in rows], dtype=np.float32)
        return torch.from_numpy(ids), torch.from_numpy(num), torch.from_numpy(y)


def auc(y, p):
    """Exact ROC AUC from ranks, ties averaged (Mann-Whitney U)."""
    y = np.asarray(y, dtype=np.float64)
    p = np.asarray(p, dtype=np.float64)
    n_pos = y.sum()
    n_neg = len(y) - n_pos
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    order = np.argsort(p, kind="mergesort")
    ps = p[order]
    ranks = np.empty(len(p), dtype=np.float64)
    n = len(p)
    # average ranks over runs of equal scores
    bounds = np.flatnonzero(np.diff(ps) != 0) + 1
    starts = np.concatenate([[0], bounds])
    ends = np.concatenate([bounds, [n]])
    for s, e in zip(starts, ends):
        ranks[order[s:e]] = (s + e + 1) / 2.0  # mean of 1-based ranks s+1..e
    return float((ranks[y == 1].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


# ----------------------------------------------------------------------------- layers
def init_linear(lin):
    nn.init.xavier_uniform_(lin.weight)
    if lin.bias is not None:
        nn.init.zeros_(lin.bias)
    return lin


class Block(nn.Module):
    """Linear -> PReLU (one slope per unit, 0.25) -> BatchNorm1d."""

    def __init__(self, d_in, units):
        super().__init__()
        self.lin = init_linear(nn.Linear(d_in, units))
        self.act = nn.PReLU(units, init=0.25)
        self.bn = nn.BatchNorm1d(units)

    def forward(self, x):
        return self.bn(self.act(self.lin(x)))


class MLP(nn.Module):
    def __init__(self, d_in, units):
        super().__init__()
        self.blocks = nn.ModuleList()
        for u in units:
            self.blocks.append(Block(d_in, u))
            d_in = u
        self.d_out = d_in

    def forward(self, x):
        for b in self.blocks:
            x = b(x)
        return x


class Head(nn.Module):
    def __init__(self, d_in):
        super().__init__()
        self.lin = init_linear(nn.Linear(d_in, 1))

    def forward(self, x):
        return self.lin(x).squeeze(1)


class Input(nn.Module):
    """x = BN(concat(emb_1..emb_F, numeric)); the F tables live in one sparse table with offsets."""

    def __init__(self, vocab_sizes, n_num, dim=EMB_DIM):
        super().__init__()
        self.emb = nn.Embedding(sum(vocab_sizes), dim, sparse=True)
        nn.init.normal_(self.emb.weight, std=0.01)
        self.register_buffer("offsets", torch.tensor(np.cumsum([0] + vocab_sizes[:-1]), dtype=torch.long))
        self.d_out = len(vocab_sizes) * dim + n_num
        self.bn = nn.BatchNorm1d(self.d_out)

    def forward(self, ids, num):
        e = self.emb(ids + self.offsets).reshape(ids.shape[0], -1)
        return self.bn(torch.cat([e, num], dim=1))


# ----------------------------------------------------------------------------- models
class Model(nn.Module):
    """forward(ids, num) -> dict task -> logit [B]; probs() -> dict task -> probability."""

    def probs(self, out):
        return {t: torch.sigmoid(out[t]) for t in TASKS}

    def loss(self, out, y):
        return sum(F.binary_cross_entropy_with_logits(out[t], y[:, k]) for k, t in enumerate(TASKS))


class Single(Model):
    def __init__(self, vs, n_num, towers=(128, 64)):
        super().__init__()
        self.inputs = nn.ModuleDict({t: Input(vs, n_num) for t in TASKS})
        self.towers = nn.ModuleDict({t: MLP(self.inputs[t].d_out, towers) for t in TASKS})
        self.heads = nn.ModuleDict({t: Head(towers[-1]) for t in TASKS})

    def forward(self, ids, num):
        return {t: self.heads[t](self.towers[t](self.inputs[t](ids, num))) for t in TASKS}


class ResFlow(Model):
    """residual: 'none' (NSE) | 'logit' | 'full'. Chain TASKS[0] -> TASKS[1]."""

    def __init__(self, vs, n_num, residual, towers=(128, 64)):
        super().__init__()
        self.residual = residual
        self.input = Input(vs, n_num)
        self.towers = nn.ModuleDict({t: MLP(self.input.d_out, towers) for t in TASKS})
        self.heads = nn.ModuleDict({t: Head(towers[-1]) for t in TASKS})

    def forward(self, ids, num):
        x = self.input(ids, num)
        out = {}
        prev_hidden = None
        prev_logit = None
        for t in TASKS:
            h = x
            hidden = []
            for l, blk in enumerate(self.towers[t].blocks):
                hl = blk(h)
                hidden.append(hl)
                h = hl + prev_hidden[l] if (self.residual == "full" and prev_hidden is not None) else hl
            z = self.heads[t](h)
            if self.residual in ("logit", "full") and prev_logit is not None:
                z = z + prev_logit
            out[t] = z
            prev_hidden, prev_logit = hidden, z
        return out


class SharedBottom(Model):
    def __init__(self, vs, n_num, bottom=(128,), towers=(64,)):
        super().__init__()
        self.input = Input(vs, n_num)
        self.bottom = MLP(self.input.d_out, bottom)
        self.towers = nn.ModuleDict({t: MLP(self.bottom.d_out, towers) for t in TASKS})
        self.heads = nn.ModuleDict({t: Head(towers[-1]) for t in TASKS})

    def forward(self, ids, num):
        s = self.bottom(self.input(ids, num))
        return {t: self.heads[t](self.towers[t](s)) for t in TASKS}


def mix(experts, gate):
    """experts: list of [B, H]; gate [B, E] -> [B, H]"""
    return (torch.stack(experts, dim=1) * gate.unsqueeze(2)).sum(dim=1)


class MoE(Model):
    def __init__(self, vs, n_num, one_gate, n_experts=8, expert_units=(128,), towers=(64,)):
        super().__init__()
        self.one_gate = one_gate
        self.input = Input(vs, n_num)
        d = self.input.d_out
        self.experts = nn.ModuleList([MLP(d, expert_units) for _ in range(n_experts)])
        names = ["shared"] if one_gate else TASKS
        self.gates = nn.ModuleDict({g: init_linear(nn.Linear(d, n_experts)) for g in names})
        self.towers = nn.ModuleDict({t: MLP(expert_units[-1], towers) for t in TASKS})
        self.heads = nn.ModuleDict({t: Head(towers[-1]) for t in TASKS})

    def forward(self, ids, num):
        x = self.input(ids, num)
        es = [e(x) for e in self.experts]
        out = {}
        shared = mix(es, torch.softmax(self.gates["shared"](x), dim=1)) if self.one_gate else None
        for t in TASKS:
            m = shared if self.one_gate else mix(es, torch.softmax(self.gates[t](x), dim=1))
            out[t] = self.heads[t](self.towers[t](m))
        return out


class PLE(Model):
    def __init__(self, vs, n_num, level_units=(128, 128), n_shared=2, n_specific=2, towers=(64,)):
        super().__init__()
        self.input = Input(vs, n_num)
        self.levels = nn.ModuleList()
        d = self.input.d_out
        L = len(level_units)
        for j, u in enumerate(level_units):
            lvl = nn.Module()
            lvl.specific = nn.ModuleDict({t: nn.ModuleList([Block(d, u) for _ in range(n_specific)]) for t in TASKS})
            lvl.shared = nn.ModuleList([Block(d, u) for _ in range(n_shared)])
            lvl.task_gates = nn.ModuleDict({t: init_linear(nn.Linear(d, n_specific + n_shared)) for t in TASKS})
            lvl.shared_gate = (init_linear(nn.Linear(d, len(TASKS) * n_specific + n_shared))
                               if j < L - 1 else None)
            self.levels.append(lvl)
            d = u
        self.towers = nn.ModuleDict({t: MLP(d, towers) for t in TASKS})
        self.heads = nn.ModuleDict({t: Head(towers[-1]) for t in TASKS})

    def forward(self, ids, num):
        x = self.input(ids, num)
        ins = {t: x for t in TASKS}
        shared_in = x
        for lvl in self.levels:
            spec = {t: [e(ins[t]) for e in lvl.specific[t]] for t in TASKS}
            sh = [e(shared_in) for e in lvl.shared]
            new = {t: mix(spec[t] + sh, torch.softmax(lvl.task_gates[t](ins[t]), dim=1)) for t in TASKS}
            if lvl.shared_gate is not None:
                allx = [e for t in TASKS for e in spec[t]] + sh
                shared_in = mix(allx, torch.softmax(lvl.shared_gate(shared_in), dim=1))
            ins = new
        return {t: self.heads[t](self.towers[t](ins[t])) for t in TASKS}


class AIT(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.q = init_linear(nn.Linear(d, d, bias=False))
        self.k = init_linear(nn.Linear(d, d, bias=False))
        self.v = init_linear(nn.Linear(d, d, bias=False))
        self.scale = 1.0 / math.sqrt(d)

    def forward(self, own, transferred):
        u = torch.stack([own, transferred], dim=1)  # [B, 2, d]
        w = torch.softmax((self.q(u) * self.k(u)).sum(dim=2) * self.scale, dim=1)  # [B, 2]
        return (w.unsqueeze(2) * self.v(u)).sum(dim=1)


class AITM(Model):
    def __init__(self, vs, n_num, towers=(128, 64), alpha=0.6):
        super().__init__()
        self.alpha = alpha
        self.input = Input(vs, n_num)
        d = towers[-1]
        self.towers = nn.ModuleDict({t: MLP(self.input.d_out, towers) for t in TASKS})
        self.transfer = nn.ModuleDict({t: nn.Sequential(init_linear(nn.Linear(d, d)), nn.PReLU(d, init=0.25))
                                       for t in TASKS[1:]})
        self.ait = nn.ModuleDict({t: AIT(d) for t in TASKS[1:]})
        self.heads = nn.ModuleDict({t: Head(d) for t in TASKS})

    def forward(self, ids, num):
        x = self.input(ids, num)
        out = {}
        r_prev = None
        for t in TASKS:
            q = self.towers[t](x)
            r = q if r_prev is None else self.ait[t](q, self.transfer[t](r_prev))
            out[t] = self.heads[t](r)
            r_prev = r
        return out

    def loss(self, out, y):
        l = super().loss(out, y)
        if self.alpha:
            for a, b in zip(TASKS[:-1], TASKS[1:]):
                l = l + self.alpha * F.relu(torch.sigmoid(out[b]) - torch.sigmoid(out[a])).mean()
        return l


class ESMM(ResFlow):
    """Independent towers on the shared input; p_k = prod_{j<=k} s(f_j). Logits in `out` are f_k."""

    def __init__(self, vs, n_num):
        super().__init__(vs, n_num, residual="none")

    def probs(self, out):
        p = {}
        acc = None
        for t in TASKS:
            q = torch.sigmoid(out[t])
            acc = q if acc is None else acc * q
            p[t] = acc
        return p

    def loss(self, out, y):
        total = F.binary_cross_entropy_with_logits(out[TASKS[0]], y[:, 0])
        logp = -F.softplus(-out[TASKS[0]])
        for k, t in enumerate(TASKS[1:], start=1):
            logp = logp - F.softplus(-out[t])
            yk = y[:, k]
            log1mp = torch.log(1.0 - torch.exp(logp) + 1e-7)
            total = total - (yk * logp + (1.0 - yk) * log1mp).mean()
        return total


def build(name, vocab_sizes, n_num, aitm_alpha=0.6):
    if name == "single":
        return Single(vocab_sizes, n_num)
    if name == "nse":
        return ResFlow(vocab_sizes, n_num, "none")
    if name == "resflow-logit":
        return ResFlow(vocab_sizes, n_num, "logit")
    if name == "resflow":
        return ResFlow(vocab_sizes, n_num, "full")
    if name == "shared-bottom":
        return SharedBottom(vocab_sizes, n_num)
    if name == "omoe":
        return MoE(vocab_sizes, n_num, one_gate=True)
    if name == "mmoe":
        return MoE(vocab_sizes, n_num, one_gate=False)
    if name == "ple":
        return PLE(vocab_sizes, n_num)
    if name == "aitm":
        return AITM(vocab_sizes, n_num, alpha=aitm_alpha)
    if name == "esmm":
        return ESMM(vocab_sizes, n_num)
    raise SystemExit(f"unknown model {name!r}; valid: {', '.join(MODELS)}")


# ----------------------------------------------------------------------------- training
@torch.no_grad()
def predict(model, split, chunk=8192):
    ids, num, y = split
    model.eval()
    ps = {t: [] for t in TASKS}
    for i in range(0, len(ids), chunk):
        p = model.probs(model(ids[i:i + chunk], num[i:i + chunk]))
        for t in TASKS:
            ps[t].append(p[t])
    model.train()
    return {t: torch.cat(ps[t]).numpy() for t in TASKS}


def evaluate(model, split):
    p = predict(model, split)
    y = split[2].numpy()
    return {t: auc(y[:, k], p[t]) for k, t in enumerate(TASKS)}


def run(data, model_name, seed, epochs=30, batch=1024, lr=1e-3, patience=2, aitm_alpha=0.6,
        log=None):
    torch.manual_seed(seed)
    model = build(model_name, data.vocab_sizes, len(NUMERIC), aitm_alpha)
    model.train()
    sparse = [p for n, p in model.named_parameters() if n.endswith("emb.weight")]
    dense = [p for n, p in model.named_parameters() if not n.endswith("emb.weight")]
    opt_s = torch.optim.SparseAdam(sparse, lr=lr)
    opt_d = torch.optim.Adam(dense, lr=lr)
    n_params = sum(p.numel() for p in model.parameters())

    ids, num, y = data.splits["train"]
    n = len(ids)
    best, best_epoch, best_state, bad = -1.0, 0, None, 0
    train_time, train_rows, epoch = 0.0, 0, 0
    for epoch in range(1, epochs + 1):
        g = torch.Generator().manual_seed(seed * 1000 + epoch)
        perm = torch.randperm(n, generator=g)
        ids_e, num_e, y_e = ids[perm], num[perm], y[perm]
        loss_sum = 0.0
        t_epoch = 0.0
        for i in range(0, n, batch):
            t0 = time.perf_counter()
            out = model(ids_e[i:i + batch], num_e[i:i + batch])
            loss = model.loss(out, y_e[i:i + batch])
            opt_s.zero_grad(set_to_none=True)
            opt_d.zero_grad(set_to_none=True)
            loss.backward()
            opt_s.step()
            opt_d.step()
            t_epoch += time.perf_counter() - t0
            loss_sum += float(loss) * min(batch, n - i)
        train_time += t_epoch
        train_rows += n
        va = evaluate(model, data.splits["val"])
        monitor = sum(va.values()) / len(va)
        improved = monitor > best
        if improved:
            best, best_epoch, bad = monitor, epoch, 0
            best_state = copy.deepcopy(model.state_dict())
        else:
            bad += 1
        if log:
            log(f"  {model_name} seed {seed} epoch {epoch}: loss {loss_sum / n:.4f}  val auc "
                f"income {va['income']:.4f} marital {va['marital']:.4f} mean {monitor:.4f}"
                f"{' *' if improved else ''}  {n / t_epoch:,.0f} samples/s")
        if bad >= patience:
            break
    model.load_state_dict(best_state)
    te = evaluate(model, data.splits["test"])
    va = evaluate(model, data.splits["val"])
    return {"model": model_name, "seed": seed,
            "auc": {"income": round(te["income"], 6), "marital": round(te["marital"], 6)},
            "samples_per_s": round(train_rows / train_time, 1), "epochs": epoch,
            "best_epoch": best_epoch,
            "val_auc": {"income": round(va["income"], 6), "marital": round(va["marital"], 6)},
            "params": n_params, "train_seconds": round(train_time, 3),
            "threads": torch.get_num_threads(), "torch": torch.__version__}


def setup_threads(threads):
    torch.set_num_threads(threads)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass
    if os.environ.get("OMP_WAIT_POLICY", "").upper() != "PASSIVE":
        print("warning: OMP_WAIT_POLICY=PASSIVE is not set", file=sys.stderr)


def main():
    ap = argparse.ArgumentParser(description="PyTorch census-income reference (see the module docstring)")
    ap.add_argument("--model", default="resflow", help=f"one or a comma list of: {', '.join(MODELS)} (or 'all')")
    ap.add_argument("--seed", default="1", help="one seed or a comma list")
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--batch", type=int, default=1024)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--patience", type=int, default=2)
    ap.add_argument("--aitm-alpha", type=float, default=0.6)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--numeric", choices=["adapter", "standardize"], default="adapter")
    ap.add_argument("--data", default=DEFAULT_DATA)
    ap.add_argument("--json", action="store_true", help="only the JSON lines on stdout (logs on stderr)")
    a = ap.parse_args()
    setup_threads(a.threads)
    models = MODELS if a.model == "all" else a.model.split(",")
    for m in models:
        if m not in MODELS:
            raise SystemExit(f"unknown model {m!r}; valid: {', '.join(MODELS)}")
    seeds = [int(s) for s in a.seed.split(",")]
    log = (lambda s: print(s, file=sys.stderr)) if a.json else print
    t0 = time.perf_counter()
    data = Census(a.data, a.numeric)
    log(f"census: train {len(data.splits['train'][0])}, val {len(data.splits['val'][0])}, "
        f"test {len(data.splits['test'][0])} rows; {len(CATEGORICAL)} categorical "
        f"(vocab {sum(data.vocab_sizes)} rows), {len(NUMERIC)} numeric; loaded in "
        f"{time.perf_counter() - t0:.1f}s; torch {torch.__version__}, {_blas.blas_info()}, "
        f"threads {a.threads}")
    for s in seeds:  # seed-major, so machine noise spreads over the models
        for m in models:
            r = run(data, m, s, a.epochs, a.batch, a.lr, a.patience, a.aitm_alpha, log)
            r["numeric"] = a.numeric
            print(json.dumps(r), flush=True)


if __name__ == "__main__":
    main()

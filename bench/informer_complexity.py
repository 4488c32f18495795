"""Informer's complexity claim, measured: encoder forward time against input length, ProbSparse vs full attention.

Informer (arXiv 2012.07436) claims O(L ln L) time for ProbSparse self-attention against O(L^2) for canonical
attention. This script times, on the CPU without gradients and with a fixed batch, the median of several forward
passes of

- the whole Informer encoder (embedding, ``e_layers`` layers with distilling) built with ``attention="prob"`` and
  with ``attention="full"`` at the same size (the attention kernels have no weights, so the two are identical
  networks apart from the kernel), and
- one multi-head self-attention layer (with its projections), ProbSparse and full, and the attention kernels
  alone: ProbSparse, full attention through PyTorch's fused ``scaled_dot_product_attention`` (what
  ``attention="full"`` uses), and full attention written as matmul-softmax-matmul (as in the authors' code),
  the runs of all variants interleaved so that each meets the same machine load,

for input lengths 96 .. 1536, and fits the growth exponent of each (slope of log time against log L, over all
lengths and over the last doubling). It prints the tables and appends them to ``docs/benchmarks.md`` under
"Informer encoder complexity".

    python bench/informer_complexity.py                # the authors' default size: d_model 512, 8 heads, d_ff 2048
    python bench/informer_complexity.py --no-append --lengths 96 192 --repeats 3
"""
from __future__ import annotations

import argparse
import math
import statistics
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import torch
from torch import nn

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.common import report  # noqa: E402
from ml.networks.informer import InformerEncoder  # noqa: E402
from ml.networks.layers import AttentionLayer, FullAttention, ProbAttention  # noqa: E402

HEADING = "Informer encoder complexity"


class MatmulAttention(nn.Module):
    """Canonical attention spelled out (scores, softmax, weighted sum), materialising the L x L matrix."""

    def forward(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, causal: bool = False) -> torch.Tensor:
        scores = torch.matmul(q, k.transpose(-2, -1)) / math.sqrt(q.shape[-1])  # [B, N, L, L]
        return torch.matmul(torch.softmax(scores, dim=-1), v)  # [B, N, L, E]


def median_seconds(fns: dict[str, Callable[[], object]], repeats: int) -> dict[str, float]:
    """Median time of each callable; the runs are interleaved so that every variant meets the same load."""
    for fn in fns.values():
        fn()  # warm-up: allocator and kernel selection
    times: dict[str, list[float]] = {key: [] for key in fns}
    for _ in range(repeats):
        for key, fn in fns.items():
            start = time.perf_counter()
            fn()
            times[key].append(time.perf_counter() - start)
    return {key: statistics.median(t) for key, t in times.items()}


def slope(lengths: list[int], seconds: list[float]) -> float:
    """Least-squares slope of log(seconds) against log(L): the empirical growth exponent."""
    xs, ys = [math.log(n) for n in lengths], [math.log(s) for s in seconds]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum((x - mx) ** 2 for x in xs)


COLUMNS = {  # key: (table, header)
    "enc_prob": ("encoder", "ProbSparse encoder (ms)"),
    "enc_full": ("encoder", "full-attention encoder (ms)"),
    "layer_prob": ("attention", "layer, ProbSparse (ms)"),
    "layer_sdpa": ("attention", "layer, full (ms)"),
    "kern_prob": ("attention", "kernel, ProbSparse (ms)"),
    "kern_sdpa": ("attention", "kernel, full fused SDPA (ms)"),
    "kern_matmul": ("attention", "kernel, full matmul (ms)"),
}


def measure(args: argparse.Namespace) -> dict[str, list[float]]:
    torch.set_num_threads(args.threads)
    rows: dict[str, list[float]] = {key: [] for key in COLUMNS}
    d, n = args.d_model, args.n_heads
    kernels = {"prob": ProbAttention(args.factor), "sdpa": FullAttention(), "matmul": MatmulAttention()}
    for length in args.lengths:
        torch.manual_seed(0)
        x = torch.randn(args.batch, length, args.n_features)
        h = torch.randn(args.batch, length, d)
        q, k, v = (torch.randn(args.batch, n, length, d // n) for _ in range(3))
        fns: dict[str, Callable[[], object]] = {}
        for kind in ("prob", "full"):
            torch.manual_seed(0)
            enc = InformerEncoder(
                args.n_features, length, d, n, args.e_layers, args.d_ff, args.factor, 0.0, kind, True, "gelu"
            ).eval()
            fns[f"enc_{kind}"] = partial(enc, x)
        for kind in ("prob", "sdpa"):
            torch.manual_seed(0)
            fns[f"layer_{kind}"] = partial(AttentionLayer(kernels[kind], d, n).eval(), h, h, h)
        for kind, kernel in kernels.items():
            fns[f"kern_{kind}"] = partial(kernel.eval(), q, k, v)
        for key, seconds in median_seconds(fns, args.repeats).items():
            rows[key].append(seconds)
        print(f"L={length}: " + ", ".join(f"{key} {v[-1] * 1e3:.1f} ms" for key, v in rows.items()), file=sys.stderr)
    return rows


def table(args: argparse.Namespace, rows: dict[str, list[float]], which: str) -> list[str]:
    keys = [key for key, (t, _) in COLUMNS.items() if t == which]
    lines = ["| L | " + " | ".join(COLUMNS[key][1] for key in keys) + " |", "|---:" * (len(keys) + 1) + "|"]
    for i, length in enumerate(args.lengths):
        lines.append(f"| {length} | " + " | ".join(f"{rows[key][i] * 1e3:.1f}" for key in keys) + " |")
    span = f"{args.lengths[0]}..{args.lengths[-1]}"
    lines.append(f"| exponent, fit {span} | " + " | ".join(f"{slope(args.lengths, rows[k]):.2f}" for k in keys) + " |")
    if len(args.lengths) > 2:
        tail = f"{args.lengths[-2]}->{args.lengths[-1]}"
        lines.append(
            f"| exponent, {tail} | "
            + " | ".join(f"{slope(args.lengths[-2:], rows[k][-2:]):.2f}" for k in keys) + " |"
        )
    return lines


def body(args: argparse.Namespace, rows: dict[str, list[float]]) -> str:
    ratio = [f"{f / p:.2f}" for p, f in zip(rows["enc_prob"], rows["enc_full"])]
    kern = [f"{f / p:.2f}" for p, f in zip(rows["kern_prob"], rows["kern_sdpa"])]
    return "\n".join([
        f"Size: d_model {args.d_model}, {args.n_heads} heads, {args.e_layers} encoder layers with distilling, d_ff "
        f"{args.d_ff}, factor c={args.factor}, {args.n_features} input features, batch {args.batch}. Forward only, "
        f"no grad, median of {args.repeats} runs after one warm-up, the variants interleaved run by run. "
        "\"Layer\": one multi-head self-attention layer with its four projections on `[batch, L, d_model]`; "
        "\"kernel\": the attention alone on `[batch, heads, L, d_model / heads]`.",
        "",
        *table(args, rows, "encoder"),
        "",
        f"Full / ProbSparse time, encoder: {', '.join(ratio)}; kernel (vs fused SDPA): {', '.join(kern)}.",
        "",
        *table(args, rows, "attention"),
        "",
        "Exponent: least-squares slope of log(time) against log(L) (1 linear, 2 quadratic; L ln L gives about 1.2 "
        "over 96..1536 and 1.1 from 768 to 1536).",
    ])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--lengths", type=int, nargs="+", default=[96, 192, 384, 768, 1536])
    p.add_argument("--batch", type=int, default=2)
    p.add_argument("--d-model", type=int, default=512)
    p.add_argument("--n-heads", type=int, default=8)
    p.add_argument("--e-layers", type=int, default=2)
    p.add_argument("--d-ff", type=int, default=2048)
    p.add_argument("--factor", type=int, default=5)
    p.add_argument("--n-features", type=int, default=7, help="7 as in ETT")
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--threads", type=int, default=1, help="torch intra-op threads (1: steadier on a shared machine)")
    p.add_argument("--no-append", action="store_true", help="print only")
    args = p.parse_args()
    report(HEADING, body(args, measure(args)), append=not args.no_append)


if __name__ == "__main__":
    main()

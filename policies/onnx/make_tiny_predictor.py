"""Make the tiny ONNX route predictor shipped for tests and as the worked example of
`predictor=onnx:FILE` (docs/onnx-predictor.md has the contract).

A synthetic task where token ids carry routing, as EF-H's route-path predictor assumes: 4 MoE
layers, 8 experts, top-2, 32 token ids; each id prefers two experts per layer, which the router
picks with probability 0.8 each (else a uniformly drawn other expert). The model reads the
contract's inputs (`token_ids`: this token's id and the previous one; `past_routes`: this token's
experts at the layers already run, -1 elsewhere) and writes `scores` [N, L, E]. It trains on one
synthetic trace (seed 1) and is checked on another (seed 2), whose routes are written as a
vLLM-style JSONL trace next to the model, with the PyTorch model's top-2 decisions for every
(token, current layer) query as the round-trip fixture.

Run from the repository root (Debian's python3-torch is enough; no onnx package needed):
    /usr/bin/python3 policies/onnx/make_tiny_predictor.py
Same seeds, same files.
"""
import json
import os

import numpy as np
import torch

L, E, K, V = 4, 8, 2, 32
HERE = os.path.dirname(os.path.abspath(__file__))


def synth(seed, requests, tokens_per_request, prefer):
    rng = np.random.default_rng(seed)
    rows = []
    for r in range(requests):
        for t in range(tokens_per_request):
            tid = int(rng.integers(V))
            route = np.zeros((L, K), dtype=np.int64)
            for layer in range(L):
                picks = []
                for k in range(K):
                    e = int(prefer[tid, layer, k]) if rng.random() < 0.8 else int(rng.integers(E))
                    while e in picks:
                        e = int(rng.integers(E))
                    picks.append(e)
                route[layer] = picks
            rows.append((r, t, tid, route))
    return rows


def inputs(rows):
    """Every (token, current layer) query: current layer c = -1..L-2 (-1: before the first MoE layer)."""
    ids, past, meta = [], [], []
    for i, (r, t, tid, route) in enumerate(rows):
        prev = rows[i - 1][2] if t > 0 else -1
        for c in range(-1, L - 1):
            p = np.full((L, K), -1, dtype=np.int64)
            p[: c + 1] = route[: c + 1]
            ids.append([prev, tid])
            past.append(p)
            meta.append((i, c))
    return torch.tensor(ids), torch.tensor(np.stack(past)), meta


class TinyRoutePredictor(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = torch.nn.Embedding(V + 1, 16)  # index V = padding (-1)
        self.hidden = torch.nn.Linear(2 * 16 + L * E, 64)
        self.out = torch.nn.Linear(64, L * E)

    def forward(self, token_ids, past_routes):
        ids = torch.where(token_ids < 0, torch.full_like(token_ids, V), token_ids)
        x = self.embed(ids).reshape(ids.shape[0], -1)
        valid = (past_routes >= 0).float()
        onehot = torch.nn.functional.one_hot(past_routes.clamp(min=0), E).float() * valid.unsqueeze(-1)
        seen = onehot.sum(dim=2).reshape(past_routes.shape[0], L * E)
        h = torch.relu(self.hidden(torch.cat([x, seen], dim=1)))
        return self.out(h).reshape(-1, L, E)


def targets(rows, meta):
    y = torch.zeros(len(meta), L, E)
    for q, (i, _) in enumerate(meta):
        for layer in range(L):
            for e in rows[i][3][layer]:
                y[q, layer, int(e)] = 1
    return y


def write_jsonl(path, rows):
    with open(path, "w") as f:
        for r, t, tid, route in rows:
            for layer in range(L):
                line = {"request_id": r, "token_idx": t, "layer": layer, "experts": [int(e) for e in route[layer]],
                        "gating_probs": [0.6, 0.4], "token_id": tid}
                f.write(json.dumps(line, separators=(",", ":")) + "\n")


def main():
    torch.manual_seed(0)
    prefer = np.stack([np.stack([np.random.default_rng(v * L + l).permutation(E)[:K] for l in range(L)])
                       for v in range(V)])
    train = synth(1, 24, 32, prefer)
    test = synth(2, 4, 16, prefer)
    ids, past, meta = inputs(train)
    y = targets(train, meta)
    model = TinyRoutePredictor()
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    for _ in range(400):
        opt.zero_grad()
        loss = torch.nn.functional.binary_cross_entropy_with_logits(model(ids, past), y)
        loss.backward()
        opt.step()
    model.eval()
    onnx_path = os.path.join(HERE, "tiny-route-predictor.onnx")
    torch.onnx.export(model, (ids[:2], past[:2]), onnx_path, input_names=["token_ids", "past_routes"],
                      output_names=["scores"], opset_version=13,
                      dynamic_axes={"token_ids": {0: "n"}, "past_routes": {0: "n"}, "scores": {0: "n"}})
    write_jsonl(os.path.join(HERE, "tiny-trace.jsonl"), test)
    tids, tpast, tmeta = inputs(test)
    with torch.no_grad():
        scores = model(tids, tpast)
    top = torch.topk(scores, K, dim=2)
    decisions, margins = [], []
    for q, (i, c) in enumerate(tmeta):
        decisions.append({"token": i, "layer": c, "experts": top.indices[q].tolist()})
        ordered = torch.sort(scores[q], dim=1, descending=True).values
        margins.append(float((ordered[:, K - 1] - ordered[:, K]).min()))
    hits = sum(int(e in test[i][3][layer]) for d in decisions for i in [d["token"]]
               for layer, picks in enumerate(d["experts"]) for e in picks)
    fixture = {"model": "tiny-route-predictor.onnx", "trace": "tiny-trace.jsonl", "layers": L, "experts": E, "topK": K,
               "train_loss": round(float(loss), 4), "test_recall": round(hits / (len(decisions) * L * K), 4),
               "min_decision_margin": round(min(margins), 6), "decisions": decisions}
    with open(os.path.join(HERE, "tiny-route-predictor.fixture.json"), "w") as f:
        json.dump(fixture, f, indent=1)
        f.write("\n")
    print(f"wrote {onnx_path}: train loss {fixture['train_loss']}, held-out recall {fixture['test_recall']}, "
          f"smallest top-{K} margin {fixture['min_decision_margin']}")


if __name__ == "__main__":
    main()

"""Record MoE routing from a PyTorch model into an ExpertFlow trace.

Two ways to point it at the routers:
  * Hugging Face transformers MoE models (Mixtral, Qwen-MoE, DeepSeek, OLMoE, GPT-OSS style):
    `RoutingRecorder.from_hf(model)` finds each MoE block's router (`gate` / `router`) in layer order.
  * Any module: `RoutingRecorder(gates=[...], top_k=k)` with the router modules (they take the
    hidden state and return logits over the experts, as nn.Linear does), one per MoE layer.

Per (token, MoE layer) it records the top-k experts and their renormalized weights, the full
router probabilities, and for d = 1..D the pre-gate lookahead: the top-k of gate_{l+d} applied to
layer l's router input (the hidden state there). Token ids, request ids and prefill/decode come
from how you call it:

    rec = RoutingRecorder.from_hf(model, lookahead=4)
    with rec.request(0, input_ids):            # prefill: every token of input_ids
        model(input_ids)
    with rec.request(0, next_id, decode=True): # then one decode token at a time
        model(next_id, past_key_values=...)
    rec.save("trace.eft", model_name="Mixtral-8x7B")   # canonical format (numpy), or .jsonl

The JSONL it writes when numpy is missing is what `expertflow trace import` reads.
"""
import contextlib
import json

import torch


class RoutingRecorder:
    def __init__(self, gates, top_k, lookahead=0, renormalize=True):
        self.gates = list(gates)
        self.top_k = int(top_k)
        self.depth = min(int(lookahead), max(0, len(self.gates) - 1))
        self.renormalize = renormalize
        self.rows = []  # one dict per token
        self._current = None
        self._inputs = {}
        self._hooks = [g.register_forward_hook(self._hook(i)) for i, g in enumerate(self.gates)]

    @staticmethod
    def from_hf(model, lookahead=0):
        """Routers of a transformers MoE model, in layer order, and top-k from its config."""
        cfg = getattr(model, "config", None)
        k = getattr(cfg, "num_experts_per_tok", None) or getattr(cfg, "moe_topk", None) or getattr(cfg, "top_k", None)
        renorm = bool(getattr(cfg, "norm_topk_prob", True))
        gates = []
        for name, module in model.named_modules():
            cls = type(module).__name__.lower()
            if "moe" in cls or "sparse" in cls or "mixture" in cls:
                for attr in ("gate", "router"):
                    g = getattr(module, attr, None)
                    if isinstance(g, torch.nn.Module) and g not in gates:
                        gates.append(g)
                        break
        if not gates or k is None:
            raise ValueError(
                "no MoE routers found (or no num_experts_per_tok in the config); pass gates= and top_k= yourself")
        return RoutingRecorder(gates, k, lookahead=lookahead, renormalize=renorm)

    def _hook(self, layer):
        def fn(module, inputs, output):
            if self._current is None:
                return
            self._inputs[layer] = inputs[0].detach().reshape(-1, inputs[0].shape[-1])
            logits = output[0] if isinstance(output, tuple) else output
            self._current["logits"][layer] = logits.detach().reshape(-1, logits.shape[-1]).float()
        return fn

    @contextlib.contextmanager
    def request(self, request_id, input_ids, decode=False):
        """Record one forward pass: the tokens of `input_ids` (batch 1) for request `request_id`."""
        ids = input_ids.reshape(-1).tolist()
        self._current = {"logits": {}, "ids": ids}
        self._inputs = {}
        try:
            yield
        finally:
            self._finish(int(request_id), ids, decode)
            self._current = None

    def _topk(self, logits):
        probs = torch.softmax(logits, dim=-1)
        w, e = torch.topk(probs, self.top_k, dim=-1)
        if self.renormalize:
            w = w / w.sum(dim=-1, keepdim=True)
        return probs, e, w

    @torch.no_grad()
    def _finish(self, request_id, ids, decode):
        L = len(self.gates)
        layers = {}
        for l in range(L):
            if l in self._current["logits"]:
                layers[l] = self._topk(self._current["logits"][l])
        look = {}
        for l in range(L):
            if l not in self._inputs:
                continue
            for d in range(1, self.depth + 1):
                if l + d < L:
                    out = self.gates[l + d](self._inputs[l])
                    out = out[0] if isinstance(out, tuple) else out
                    look[(l, d)] = torch.topk(out.float(), self.top_k, dim=-1).indices
        start = sum(1 for r in self.rows if r["request"] == request_id)
        for t, token_id in enumerate(ids):
            row = {"request": request_id, "position": start + t, "token_id": int(token_id),
                   "phase": "decode" if decode else "prefill", "layers": {}}
            for l, (probs, e, w) in layers.items():
                row["layers"][l] = {
                    "experts": e[t].tolist(), "weights": w[t].tolist(), "probs": probs[t].tolist(),
                    "lookahead": [look[(l, d)][t].tolist() for d in range(1, self.depth + 1) if (l, d) in look],
                }
            self.rows.append(row)

    def close(self):
        for h in self._hooks:
            h.remove()

    def save(self, path, model_name="model", description="recorded with expertflow_recorder.py"):
        num_experts = len(next(iter(next(iter(self.rows))["layers"].values()))["probs"])
        model = {"name": model_name, "layers": len(self.gates), "experts": num_experts, "topK": self.top_k}
        if path.endswith(".jsonl"):
            return self._save_jsonl(path)
        try:
            import numpy as np
            from eft_writer import write_eft
        except ImportError:
            return self._save_jsonl(path.rsplit(".", 1)[0] + ".jsonl")
        rows = sorted(self.rows, key=lambda r: (r["request"], r["position"]))
        T, L, K, E, D = len(rows), model["layers"], self.top_k, num_experts, self.depth
        present = np.zeros((T, L), np.uint8)
        experts = np.full((T, L, K), 0xFFFF, np.uint16)
        weights = np.zeros((T, L, K), np.float32)
        probs = np.zeros((T, L, E), np.float32)
        look = np.full((T, L, max(D, 1), K), 0xFFFF, np.uint16)
        for i, r in enumerate(rows):
            for l, c in r["layers"].items():
                present[i, l] = 1
                experts[i, l] = c["experts"]
                weights[i, l] = c["weights"]
                probs[i, l] = c["probs"]
                for d, ids in enumerate(c["lookahead"]):
                    look[i, l, d] = ids
        cols = {"request": [r["request"] for r in rows], "position": [r["position"] for r in rows],
                "phase": [1 if r["phase"] == "prefill" else 0 for r in rows], "tokenId": [r["token_id"] for r in rows],
                "present": present, "experts": experts, "weights": weights, "routerProbs": probs,
                "lookahead": look if D > 0 else None}
        source = {"kind": "pytorch-recorder", "description": description,
                  "recording": "forward hooks on the router modules (traces/recorder/expertflow_recorder.py)"}
        write_eft(path, model, source, cols, lookahead_depth=D)
        return path

    def _save_jsonl(self, path):
        with open(path, "w") as f:
            for r in sorted(self.rows, key=lambda r: (r["request"], r["position"])):
                for l, c in sorted(r["layers"].items()):
                    rec = {"request_id": r["request"], "token_idx": r["position"], "layer": l, "experts": c["experts"],
                           "gating_probs": c["weights"], "token_id": r["token_id"], "phase": r["phase"],
                           "router_probs": c["probs"]}
                    if c["lookahead"]:
                        rec["lookahead"] = c["lookahead"]
                    f.write(json.dumps(rec) + "\n")
        return path

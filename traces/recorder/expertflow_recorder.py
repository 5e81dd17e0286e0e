"""Record MoE routing from a PyTorch model into an ExpertFlow trace: the experts the model routes to.

It records what each MoE block hands to its experts, not a re-derivation: the integer top-k index
tensor (and its weights) that the block passes to a submodule (the experts) or that its router
returns. DeepSeek-V2/V3 (group-limited, sigmoid scores, correction bias), GPT-OSS (top-k then
softmax) and the softmax top-k of Mixtral/Qwen/OLMoE are all recorded exactly as routed.

Three ways to point it at the routing:
  * Hugging Face transformers: `RoutingRecorder.from_hf(model)` finds the MoE blocks by structure
    (a child router whose weight is [num_experts, hidden] beside an experts child), in layer order;
    `routers="REGEX"` names the blocks instead (module names, e.g. r"model\\.layers\\.\\d+\\.mlp$").
  * Any MoE blocks: `RoutingRecorder(blocks=[...], top_k=k)`.
  * Router modules only (legacy): `RoutingRecorder(gates=[...], top_k=k)`; the routing is then
    derived as softmax top-k of the gate's logits, which is right only for routers that route so.

Per (token, MoE layer): the routed experts and their weights, the router probabilities (softmax of
the router's logits, an optional extra), and for d = 1..D the pre-gate lookahead: the experts block
l+d's own routing function (scoring, groups, bias, top-k) picks from layer l's block input.

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
import re

import torch

_EXPERT_COUNT = ("num_local_experts", "num_experts", "n_routed_experts", "moe_num_experts")
_TOP_K = ("num_experts_per_tok", "moe_topk", "top_k", "experts_per_token", "num_experts_per_token")


def _config_int(cfg, names):
    for n in names:
        v = getattr(cfg, n, None)
        if isinstance(v, int) and v > 0:
            return v
    return None


def _tensors(obj):
    """The tensors in a call's arguments or a module's output, in order (tuples, lists, dicts, outputs)."""
    if torch.is_tensor(obj):
        yield obj
    elif isinstance(obj, (tuple, list)):
        for x in obj:
            yield from _tensors(x)
    elif isinstance(obj, dict):
        for x in obj.values():
            yield from _tensors(x)
    elif hasattr(obj, "__dict__") and not isinstance(obj, torch.nn.Module):
        for x in vars(obj).values():
            if torch.is_tensor(x):
                yield x


def _routing_in(tensors, n, k, num_experts):
    """(indices [n, k], weights [n, k] or None) among a call's tensors, or None."""
    tensors = list(tensors)
    idx = next((t for t in tensors if not t.is_floating_point() and t.dtype != torch.bool and t.dim() >= 1
                and t.shape[-1] == k and t.numel() == n * k), None)
    if idx is None:
        return None
    idx = idx.reshape(n, k).long()
    w = None
    for t in tensors:
        if not t.is_floating_point():
            continue
        if t.shape[-1] == k and t.numel() == n * k:
            w = t.reshape(n, k).float()
            break
        if num_experts and t.shape[-1] == num_experts and t.numel() == n * num_experts:
            w = t.reshape(n, num_experts).float().gather(1, idx)  # dense scores: the routed ones
            break
    return idx, w


def _pre_hook(module, fn):
    """A forward pre-hook that sees positional and keyword arguments (torch ≥ 2; positional before)."""
    try:
        return module.register_forward_pre_hook(fn, with_kwargs=True)
    except TypeError:
        return module.register_forward_pre_hook(lambda m, args: fn(m, args, {}))


class _Layer:
    """One MoE layer: its block (None for a bare router), its router, and its experts module."""

    def __init__(self, block, router, experts):
        self.block, self.router, self.experts = block, router, experts
        self.router_returns_indices = False


def _is_router(m, num_experts):
    w = getattr(m, "weight", None)
    return isinstance(w, torch.Tensor) and w.dim() == 2 and (num_experts is None or w.shape[0] == num_experts)


def _is_experts(m, num_experts):
    if isinstance(m, torch.nn.ModuleList):
        return num_experts is None or len(m) == num_experts
    fused = (p.dim() == 3 and p.shape[0] == num_experts for p in m.parameters(recurse=False))
    return num_experts is not None and any(fused)


def _split_block(block, num_experts):
    """(router, experts) children of an MoE block, found by structure."""
    children = list(block.named_children())
    experts = next((m for _, m in children if _is_experts(m, num_experts)), None)
    if num_experts is None and isinstance(experts, torch.nn.ModuleList):
        num_experts = len(experts)
    router = next((m for _, m in children if m is not experts and _is_router(m, num_experts)), None)
    return router, experts


class RoutingRecorder:
    def __init__(self, gates=None, top_k=None, lookahead=0, renormalize=True, blocks=None, num_experts=None):
        if (gates is None) == (blocks is None):
            raise ValueError("give exactly one of gates= (router modules) or blocks= (MoE blocks)")
        if top_k is None:
            raise ValueError("top_k is needed")
        self.top_k = int(top_k)
        self.renormalize = renormalize
        if blocks is not None:
            self.layers = []
            for b in blocks:
                router, experts = _split_block(b, num_experts)
                self.layers.append(_Layer(b, router, experts))
        else:
            self.layers = [_Layer(None, g, None) for g in gates]
        self.num_experts = num_experts
        self.depth = min(int(lookahead), max(0, len(self.layers) - 1))
        self.derived = set()  # layers whose routing had to be derived from logits
        self.rows = []  # one dict per token
        self._current = None
        self._mode = None  # None: recording the model's own pass; (l, d): a lookahead dry run
        self._hooks = []
        for i, layer in enumerate(self.layers):
            if layer.router is not None:
                self._hooks.append(layer.router.register_forward_hook(self._router_hook(i)))
            if layer.block is not None:
                self._hooks.append(_pre_hook(layer.block, self._block_hook(i)))
                for sub in layer.block.modules():
                    if sub is not layer.block and sub is not layer.router:
                        self._hooks.append(_pre_hook(sub, self._dispatch_hook(i)))
        self.gates = [layer.router for layer in self.layers]  # layer count, as before

    @staticmethod
    def from_hf(model, lookahead=0, routers=None):
        """MoE blocks of a transformers model in layer order (or those whose name matches `routers`)."""
        cfg = getattr(model, "config", None)
        k = _config_int(cfg, _TOP_K)
        E = _config_int(cfg, _EXPERT_COUNT)
        renorm = bool(getattr(cfg, "norm_topk_prob", True))
        blocks = []
        for name, module in model.named_modules():
            if routers is not None:
                if re.search(routers, name):
                    blocks.append(module)
                continue
            router, experts = _split_block(module, E)
            if router is not None and experts is not None:
                blocks.append(module)
        if not blocks or k is None:
            what = f"no module name matches '{routers}'" if routers is not None else (
                "no MoE blocks found (a child router whose weight is [num_experts, hidden] beside an experts child)")
            raise ValueError(
                f"{type(model).__name__}: {what}" + ("" if k is not None else "; no top-k in the config") +
                "; pass routers='REGEX' naming the MoE blocks, or build RoutingRecorder(blocks=..., top_k=...)")
        return RoutingRecorder(blocks=blocks, top_k=k, lookahead=lookahead, renormalize=renorm, num_experts=E)

    # -- hooks ---------------------------------------------------------------------------------

    def _slot(self, layer):
        """Where a capture for `layer` goes: the pass's record, or the lookahead dry run's."""
        if self._current is None:
            return None
        if self._mode is None:
            return self._current["routed"], layer
        l, d = self._mode
        return (self._current["look"], (l, d)) if layer == l + d else None

    def _block_hook(self, layer):
        def fn(module, args, kwargs):
            if self._current is None or self._mode is not None:
                return
            h = next(_tensors((args, kwargs)), None)
            if h is not None:
                self._current["inputs"].setdefault(layer, (args, kwargs, h.shape[-1], h.numel() // h.shape[-1]))
        return fn

    def _tokens(self, layer):
        entry = self._current["inputs"].get(self._mode[0] if self._mode is not None else layer)
        return entry[3] if entry else len(self._current["ids"])

    def _dispatch_hook(self, layer):
        def fn(module, args, kwargs):
            slot = self._slot(layer)
            if slot is None or slot[1] in slot[0]:
                return
            got = _routing_in(_tensors((args, kwargs)), self._tokens(layer), self.top_k, self._experts(layer))
            if got is not None:
                slot[0][slot[1]] = got
        return fn

    def _router_hook(self, layer):
        def fn(module, inputs, output):
            if self._current is None:
                return
            tensors = list(_tensors(output))
            if self._mode is None:
                logits = next((t for t in tensors if t.is_floating_point() and t.shape[-1] == self._experts(layer)),
                              None)
                if logits is None and tensors and tensors[0].is_floating_point():
                    logits = tensors[0]
                if logits is not None:
                    self._current["logits"].setdefault(layer, logits.detach().reshape(-1, logits.shape[-1]).float())
                    if self._current["inputs"].get(layer) is None:
                        self._current["router_inputs"][layer] = inputs
            got = _routing_in(tensors, self._tokens(layer), self.top_k, self._experts(layer))
            if got is not None:
                self.layers[layer].router_returns_indices = True
                slot = self._slot(layer)
                if slot is not None and slot[1] not in slot[0]:
                    slot[0][slot[1]] = got
        return fn

    def _experts(self, layer):
        if self.num_experts is not None:
            return self.num_experts
        w = getattr(self.layers[layer].router, "weight", None)
        return w.shape[0] if isinstance(w, torch.Tensor) else None

    # -- a forward pass --------------------------------------------------------------------------

    @contextlib.contextmanager
    def request(self, request_id, input_ids, decode=False):
        """Record one forward pass: the tokens of `input_ids` (batch 1) for request `request_id`."""
        ids = input_ids.reshape(-1).tolist()
        self._current = {"logits": {}, "ids": ids, "routed": {}, "look": {}, "inputs": {}, "router_inputs": {}}
        try:
            yield
            self._lookahead()
        finally:
            self._finish(int(request_id), ids, decode)
            self._current = None

    @torch.no_grad()
    def _lookahead(self):
        """For each l and d: block l+d's own routing of layer l's block input (or router input)."""
        L = len(self.layers)
        for l in range(L):
            for d in range(1, self.depth + 1):
                if l + d >= L:
                    continue
                self._mode = (l, d)
                try:
                    self._route_ahead(l, l + d)
                finally:
                    self._mode = None

    def _route_ahead(self, l, target):
        cur, tgt = self._current, self.layers[target]
        if tgt.block is None or l not in cur["inputs"]:
            # A bare router (legacy gates=): apply it to layer l's router input; derived below.
            x = cur["router_inputs"].get(l)
            if x is not None:
                out = tgt.router(*x)
                logits = next(t for t in _tensors(out) if t.is_floating_point())
                cur["look"].setdefault((l, target - l), ("logits", logits.reshape(-1, logits.shape[-1]).float()))
            return
        args, kwargs, _, _ = cur["inputs"][l]
        if tgt.router_returns_indices:
            # The router itself selects: its own function on layer l's hidden state is the routing.
            tgt.router(next(_tensors((args, kwargs))))
            return
        stub = tgt.experts is not None and not isinstance(tgt.experts, torch.nn.ModuleList)
        if stub:
            # Skip the experts' compute: only the routing that reaches them is wanted.
            tgt.experts.forward = lambda *a, **k: torch.zeros_like(next(_tensors((a, k))))
        try:
            tgt.block(*args, **kwargs)
        finally:
            if stub:
                del tgt.experts.forward

    def _derive(self, logits):
        """Softmax top-k of router logits (only for routers that route exactly so)."""
        probs = torch.softmax(logits, dim=-1)
        w, e = torch.topk(probs, self.top_k, dim=-1)
        if self.renormalize:
            w = w / w.sum(dim=-1, keepdim=True)
        return e, w

    @torch.no_grad()
    def _finish(self, request_id, ids, decode):
        cur = self._current
        layers = {}
        for l in range(len(self.layers)):
            logits = cur["logits"].get(l)
            probs = torch.softmax(logits, dim=-1) if logits is not None else None
            routed = cur["routed"].get(l)
            if routed is None:
                if logits is None:
                    continue
                self.derived.add(l)
                routed = self._derive(logits)
            e, w = routed
            if w is None:  # indices without weights: the router's probabilities at them
                w = probs.gather(1, e) if probs is not None else torch.full(e.shape, 1.0 / self.top_k)
            layers[l] = (probs, e, w)
        look = {}
        for key, got in cur["look"].items():
            if isinstance(got, tuple) and len(got) == 2 and isinstance(got[0], str):
                look[key] = self._derive(got[1])[0]
            else:
                look[key] = got[0]
        start = sum(1 for r in self.rows if r["request"] == request_id)
        for t, token_id in enumerate(ids):
            row = {"request": request_id, "position": start + t, "token_id": int(token_id),
                   "phase": "decode" if decode else "prefill", "layers": {}}
            for l, (probs, e, w) in layers.items():
                row["layers"][l] = {
                    "experts": e[t].tolist(), "weights": w[t].tolist(),
                    "probs": probs[t].tolist() if probs is not None else None,
                    "lookahead": [look[(l, d)][t].tolist() for d in range(1, self.depth + 1) if (l, d) in look],
                }
            self.rows.append(row)

    def close(self):
        for h in self._hooks:
            h.remove()

    # -- writing ---------------------------------------------------------------------------------

    def _description(self, description):
        if not self.derived:
            return description + "; experts as routed (captured where each block dispatches them)"
        return (description + f"; layers {sorted(self.derived)}: routing derived as softmax top-k of the router "
                "logits (no index tensor reached a submodule)")

    def save(self, path, model_name="model", description="recorded with expertflow_recorder.py"):
        first = next(iter(next(iter(self.rows))["layers"].values()))
        num_experts = len(first["probs"]) if first["probs"] is not None else self._experts(0)
        model = {"name": model_name, "layers": len(self.layers), "experts": num_experts, "topK": self.top_k}
        if path.endswith(".jsonl"):
            return self._save_jsonl(path)
        try:
            import numpy as np
            from eft_writer import write_eft
        except ImportError:
            return self._save_jsonl(path.rsplit(".", 1)[0] + ".jsonl")
        rows = sorted(self.rows, key=lambda r: (r["request"], r["position"]))
        T, L, K, E, D = len(rows), model["layers"], self.top_k, num_experts, self.depth
        has_probs = first["probs"] is not None
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
                if has_probs and c["probs"] is not None:
                    probs[i, l] = c["probs"]
                for d, ids in enumerate(c["lookahead"]):
                    look[i, l, d] = ids
        cols = {"request": [r["request"] for r in rows], "position": [r["position"] for r in rows],
                "phase": [1 if r["phase"] == "prefill" else 0 for r in rows], "tokenId": [r["token_id"] for r in rows],
                "present": present, "experts": experts, "weights": weights,
                "routerProbs": probs if has_probs else None, "lookahead": look if D > 0 else None}
        source = {"kind": "pytorch-recorder", "description": self._description(description),
                  "recording": "forward hooks on the MoE blocks (traces/recorder/expertflow_recorder.py)"}
        write_eft(path, model, source, cols, lookahead_depth=D)
        return path

    def _save_jsonl(self, path):
        with open(path, "w") as f:
            for r in sorted(self.rows, key=lambda r: (r["request"], r["position"])):
                for l, c in sorted(r["layers"].items()):
                    rec = {"request_id": r["request"], "token_idx": r["position"], "layer": l, "experts": c["experts"],
                           "gating_probs": c["weights"], "token_id": r["token_id"], "phase": r["phase"]}
                    if c["probs"] is not None:
                        rec["router_probs"] = c["probs"]
                    if c["lookahead"]:
                        rec["lookahead"] = c["lookahead"]
                    f.write(json.dumps(rec) + "\n")
        return path

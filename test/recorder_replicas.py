"""Plain-PyTorch replicas of the MoE routers that differ from softmax top-k, built the way transformers
builds them, for test/recorder.test.ts (no transformers needed). Each block remembers the experts it
routed (`routed`) and its input, so the truth does not come from the recorder's hooks; the lookahead
truth is block l+d's own routing function applied to block l's input.

Usage: recorder_replicas.py RECORDER_DIR OUT.json  ->  per architecture, agreement counts.
"""
import json
import sys

sys.path.insert(0, sys.argv[1])
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from expertflow_recorder import RoutingRecorder  # noqa: E402

H, I, E, K, L = 32, 16, 16, 4, 4
G, TOPK_GROUP = 4, 2


class FusedExperts(torch.nn.Module):
    """transformers 5 style: one 3-D weight per projection, called with the routed indices."""

    def __init__(self):
        super().__init__()
        self.gate_up_proj = torch.nn.Parameter(torch.randn(E, 2 * I, H) * 0.1)
        self.down_proj = torch.nn.Parameter(torch.randn(E, H, I) * 0.1)

    def forward(self, hidden, top_k_index, top_k_weights):
        out = torch.zeros_like(hidden)
        for t in range(hidden.shape[0]):
            for j in range(top_k_index.shape[1]):
                e = int(top_k_index[t, j])
                g, u = (self.gate_up_proj[e] @ hidden[t]).chunk(2)
                out[t] += top_k_weights[t, j] * (self.down_proj[e] @ (F.silu(g) * u))
        return out


class Mlp(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.up = torch.nn.Linear(H, I)
        self.down = torch.nn.Linear(I, H)

    def forward(self, x):
        return self.down(F.silu(self.up(x)))


class Remember(torch.nn.Module):
    """Keeps the block's input and routed experts (the test's ground truth)."""

    def remember(self, h, idx):
        self.input, self.routed = h.detach().clone(), idx.detach().clone()


class DeepseekV3Router(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.randn(E, H))
        self.register_buffer("e_score_correction_bias", torch.randn(E))

    def forward(self, h):
        return F.linear(h.reshape(-1, H).float(), self.weight.float())


def deepseek_v3_route(logits, bias):
    """Sigmoid scores, correction bias for the choice only, group-limited top-k (groups by top-2 sum)."""
    scores = logits.sigmoid()
    choice = scores + bias.unsqueeze(0)
    group_scores = choice.view(-1, G, E // G).topk(2, dim=-1)[0].sum(dim=-1)
    group_idx = torch.topk(group_scores, k=TOPK_GROUP, dim=-1, sorted=False)[1]
    mask = torch.zeros_like(group_scores).scatter_(1, group_idx, 1)
    mask = mask.unsqueeze(-1).expand(-1, G, E // G).reshape(-1, E)
    idx = torch.topk(choice.masked_fill(~mask.bool(), 0.0), k=K, dim=-1, sorted=False)[1]
    w = scores.gather(1, idx)
    return idx, w / (w.sum(dim=-1, keepdim=True) + 1e-20) * 2.5


class DeepseekV3Moe(Remember):
    """transformers 5 layout: the block routes (route_tokens_to_experts), the fused experts get the indices."""

    def __init__(self):
        super().__init__()
        self.gate = DeepseekV3Router()
        self.experts = FusedExperts()
        self.shared_experts = Mlp()

    def route(self, h):
        return deepseek_v3_route(self.gate(h), self.gate.e_score_correction_bias)

    def forward(self, h):
        idx, w = self.route(h)
        self.remember(h, idx)
        return self.experts(h.reshape(-1, H), idx, w).view(h.shape) + self.shared_experts(h)


class DeepseekV3TopkRouter(DeepseekV3Router):
    """transformers 4.5x layout: the router itself returns (indices, weights)."""

    def forward(self, h):
        return deepseek_v3_route(super().forward(h), self.e_score_correction_bias)


class DeepseekV3MoeOld(Remember):
    def __init__(self):
        super().__init__()
        self.gate = DeepseekV3TopkRouter()
        self.experts = torch.nn.ModuleList(Mlp() for _ in range(E))
        self.shared_experts = Mlp()

    def route(self, h):
        return self.gate(h)

    def forward(self, h):
        idx, w = self.gate(h)
        self.remember(h, idx)
        flat = h.reshape(-1, H)
        out = torch.zeros_like(flat)
        mask = F.one_hot(idx, num_classes=E).permute(2, 0, 1)  # experts loop over a mask, as 4.5x does
        for e in range(E):
            tok, slot = torch.where(mask[e])
            if tok.numel():
                out[tok] += self.experts[e](flat[tok]) * w[tok, slot, None]
        return out.view(h.shape) + self.shared_experts(h)


class DeepseekV2Moe(Remember):
    """Group-limited greedy: softmax scores, the best TOPK_GROUP groups by their max, top-k inside."""

    def __init__(self):
        super().__init__()
        self.gate = torch.nn.Linear(H, E, bias=False)
        self.experts = FusedExperts()

    def route(self, h):
        scores = self.gate(h.reshape(-1, H)).softmax(dim=-1)
        group_scores = scores.view(-1, G, E // G).max(dim=-1).values
        group_idx = torch.topk(group_scores, k=TOPK_GROUP, dim=-1, sorted=False)[1]
        mask = torch.zeros_like(group_scores).scatter_(1, group_idx, 1)
        mask = mask.unsqueeze(-1).expand(-1, G, E // G).reshape(-1, E)
        w, idx = torch.topk(scores.masked_fill(~mask.bool(), 0.0), k=K, dim=-1, sorted=False)
        return idx, w

    def forward(self, h):
        idx, w = self.route(h)
        self.remember(h, idx)
        return self.experts(h.reshape(-1, H), idx, w).view(h.shape)


class GptOssRouter(torch.nn.Module):
    """Top-k of the logits first, softmax over those k only; returns dense scores and the indices."""

    def __init__(self):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.randn(E, H))
        self.bias = torch.nn.Parameter(torch.randn(E))

    def forward(self, h):
        logits = F.linear(h.reshape(-1, H), self.weight, self.bias)
        top_vals, top_idx = torch.topk(logits, K, dim=-1)
        top_vals = F.softmax(top_vals, dim=1)
        return torch.zeros_like(logits).scatter_(1, top_idx, top_vals), top_idx


class GptOssMlp(Remember):
    def __init__(self):
        super().__init__()
        self.router = GptOssRouter()
        self.experts = FusedExperts()

    def route(self, h):
        scores, idx = self.router(h)
        return idx, scores.gather(1, idx)

    def forward(self, h):
        scores, idx = self.router(h)
        self.remember(h, idx)
        return self.experts(h.reshape(-1, H), idx, scores.gather(1, idx)).view(h.shape)


class Model(torch.nn.Module):
    def __init__(self, block):
        super().__init__()
        self.emb = torch.nn.Embedding(100, H)
        self.mix = torch.nn.ModuleList(torch.nn.Linear(H, H) for _ in range(L))
        self.blocks = torch.nn.ModuleList(block() for _ in range(L))

    def forward(self, ids):
        x = self.emb(ids.reshape(1, -1))
        for mix, block in zip(self.mix, self.blocks):
            x = x + torch.tanh(mix(x))
            x = x + block(F.layer_norm(x, (H,)))
        return x


class Cfg:
    num_experts_per_tok, n_routed_experts, norm_topk_prob = K, E, True


def check(block_cls, depth=2):
    torch.manual_seed(0)
    model = Model(block_cls).eval()
    model.config = Cfg()
    rec = RoutingRecorder.from_hf(model, lookahead=depth)
    agree = total = look_agree = look_total = 0
    with torch.no_grad():
        for rid, ids in enumerate([[5, 17, 42, 7, 9, 61], [3, 3, 88]]):
            with rec.request(rid, torch.tensor(ids)):
                model(torch.tensor(ids))
                # The truth of this pass, before the recorder's lookahead dry runs call the blocks again.
                truth = [(b.input, b.routed) for b in model.blocks]
            rows = rec.rows[-len(ids):]
            for l, (h, routed) in enumerate(truth):
                for t, row in enumerate(rows):
                    total += 1
                    agree += set(row["layers"][l]["experts"]) == set(routed[t].tolist())
                for d in range(1, depth + 1):
                    if l + d >= L:
                        continue
                    want = model.blocks[l + d].route(h)[0]
                    for t, row in enumerate(rows):
                        look_total += 1
                        look_agree += set(row["layers"][l]["lookahead"][d - 1]) == set(want[t].tolist())
    return {"blocks": len(rec.gates), "token_layer_agreement": f"{agree}/{total}",
            "lookahead_agreement": f"{look_agree}/{look_total}", "derived_layers": sorted(getattr(rec, "derived", []))}


def guarded(cls):
    try:
        return check(cls)
    except Exception as e:  # an older recorder may not find the routers at all
        return {"error": f"{type(e).__name__}: {e}"}


out = {name: guarded(cls) for name, cls in [
    ("deepseek-v3 (router in the block, fused experts)", DeepseekV3Moe),
    ("deepseek-v3 (router returns indices, expert list)", DeepseekV3MoeOld),
    ("deepseek-v2 (group-limited greedy)", DeepseekV2Moe),
    ("gpt-oss (top-k then softmax)", GptOssMlp),
]}
json.dump(out, open(sys.argv[2], "w"), indent=1)
print(json.dumps(out, indent=1))

/** Every shipped preset, imported statically so bundles (the GPU pack) carry them. */
import models_deepseek_v2_lite from "./models/deepseek-v2-lite.json" with { type: "json" }
import models_deepseek_v3 from "./models/deepseek-v3.json" with { type: "json" }
import models_mixtral_8x7b from "./models/mixtral-8x7b.json" with { type: "json" }
import models_olmoe_1b_7b from "./models/olmoe-1b-7b.json" with { type: "json" }
import models_qwen1_5_moe_a2_7b from "./models/qwen1.5-moe-a2.7b.json" with { type: "json" }
import models_qwen3_30b_a3b from "./models/qwen3-30b-a3b.json" with { type: "json" }
import models_switch_base_128 from "./models/switch-base-128.json" with { type: "json" }
import hardware_a100_pcie from "./hardware/a100-pcie.json" with { type: "json" }
import hardware_a40 from "./hardware/a40.json" with { type: "json" }
import hardware_a6000 from "./hardware/a6000.json" with { type: "json" }
import hardware_h100_pcie from "./hardware/h100-pcie.json" with { type: "json" }
import hardware_h100_sxm from "./hardware/h100-sxm.json" with { type: "json" }
import hardware_h20 from "./hardware/h20.json" with { type: "json" }
import hardware_h200 from "./hardware/h200.json" with { type: "json" }
import hardware_rtx4090 from "./hardware/rtx4090.json" with { type: "json" }

export const modelsPresets: Record<string, unknown> = {
  "deepseek-v2-lite": models_deepseek_v2_lite,
  "deepseek-v3": models_deepseek_v3,
  "mixtral-8x7b": models_mixtral_8x7b,
  "olmoe-1b-7b": models_olmoe_1b_7b,
  "qwen1.5-moe-a2.7b": models_qwen1_5_moe_a2_7b,
  "qwen3-30b-a3b": models_qwen3_30b_a3b,
  "switch-base-128": models_switch_base_128
}

export const hardwarePresets: Record<string, unknown> = {
  "a100-pcie": hardware_a100_pcie,
  a40: hardware_a40,
  a6000: hardware_a6000,
  "h100-pcie": hardware_h100_pcie,
  "h100-sxm": hardware_h100_sxm,
  h20: hardware_h20,
  h200: hardware_h200,
  rtx4090: hardware_rtx4090
}

/** Optional: PCIe link generation and width from NVML (libnvidia-ml ships with the driver). */
import { findLibrary } from "./libraries.ts"

export function pcieLink(
  index = 0
): { gen: number; width: number; maxGen: number; maxWidth: number } | { error: string } {
  try {
    const { lib } = findLibrary(["libnvidia-ml.so.1", "libnvidia-ml.so"], "nvml")
    const init = lib.func("int nvmlInit_v2()")
    const byIndex = lib.func("int nvmlDeviceGetHandleByIndex_v2(unsigned int i, _Out_ void **h)")
    const cur = (n: string) => lib.func(`int ${n}(void *h, _Out_ unsigned int *v)`)
    if (init() !== 0) return { error: "nvmlInit failed" }
    const h: [unknown] = [null]
    if (byIndex(index, h) !== 0) return { error: "nvmlDeviceGetHandleByIndex failed" }
    const read = (name: string) => {
      const v: [number] = [0]
      return cur(name)(h[0], v) === 0 ? v[0] : -1
    }
    return {
      gen: read("nvmlDeviceGetCurrPcieLinkGeneration"),
      width: read("nvmlDeviceGetCurrPcieLinkWidth"),
      maxGen: read("nvmlDeviceGetMaxPcieLinkGeneration"),
      maxWidth: read("nvmlDeviceGetMaxPcieLinkWidth")
    }
  } catch (e) {
    return { error: (e as Error).message.split("\n")[0]! }
  }
}

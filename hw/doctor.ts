/**
 * `expertflow hw doctor`: what the GPU path can see — libraries found (and where it looked),
 * runtime and driver versions, devices with name, memory, compute capability, copy engines, PCIe
 * link — or the precise reason it cannot run. `ok` is true only when a device is usable.
 */
import { ATTR, CudaError, loadCudart } from "./cudart.ts"
import { loadCublas } from "./cublas.ts"
import { LibraryNotFound } from "./libraries.ts"
import { pcieLink } from "./nvml.ts"

export interface DoctorReport {
  ok: boolean
  reason: string | null
  cudart: { path: string; runtime_version: number; driver_version: number } | { error: string }
  cublas: { path: string } | { error: string }
  devices: Array<{
    index: number
    name: string
    memory_bytes: number
    compute_capability: string
    multiprocessors: number
    async_engines: number
    pci_bus: string
    pcie: unknown
  }>
}

const version = (v: number) => `${Math.floor(v / 1000)}.${(v % 1000) / 10}`

export function doctor(): DoctorReport {
  const report: DoctorReport = { ok: false, reason: null, cudart: { error: "" }, cublas: { error: "" }, devices: [] }
  let rt: ReturnType<typeof loadCudart>
  try {
    rt = loadCudart()
  } catch (e) {
    report.cudart = { error: (e as Error).message }
    report.reason =
      e instanceof LibraryNotFound
        ? "the CUDA runtime (libcudart) is not installed where it was looked for"
        : `libcudart failed to load: ${(e as Error).message}`
    return report
  }
  report.cudart = { path: rt.path, runtime_version: rt.runtimeVersion(), driver_version: rt.driverVersion() }
  try {
    report.cublas = { path: loadCublas().path }
  } catch (e) {
    report.cublas = { error: (e as Error).message }
  }
  let count = 0
  try {
    count = rt.deviceCount()
  } catch (e) {
    const driver = (report.cudart as { driver_version: number }).driver_version
    report.reason =
      e instanceof CudaError
        ? `${e.errorName}: ${e.errorString}` +
          (driver === 0
            ? " (no NVIDIA driver is loaded on this machine: libcuda.so.1 is absent)"
            : ` (driver supports CUDA ${version(driver)}, runtime is ${version(rt.runtimeVersion())})`)
        : (e as Error).message
    return report
  }
  if (count === 0) {
    report.reason = "the driver reports no CUDA device"
    return report
  }
  for (let d = 0; d < count; d++) {
    rt.setDevice(d)
    const hex = (attr: number, width: number) => rt.attribute(attr, d).toString(16).padStart(width, "0")
    const bus = `${hex(ATTR.pciDomainId, 4)}:${hex(ATTR.pciBusId, 2)}:${hex(ATTR.pciDeviceId, 2)}`
    report.devices.push({
      index: d,
      name: rt.deviceName(d),
      memory_bytes: rt.memInfo().total,
      compute_capability: `${rt.attribute(ATTR.ccMajor, d)}.${rt.attribute(ATTR.ccMinor, d)}`,
      multiprocessors: rt.attribute(ATTR.multiProcessorCount, d),
      async_engines: rt.attribute(ATTR.asyncEngineCount, d),
      pci_bus: bus,
      pcie: pcieLink(d)
    })
  }
  if ("error" in report.cublas) {
    report.reason = "no usable device path: cuBLAS is missing (expert GEMMs need it)"
    return report
  }
  report.ok = true
  return report
}

export function formatDoctor(r: DoctorReport): string {
  const lines: string[] = []
  lines.push(
    "cudart: " +
      ("error" in r.cudart
        ? r.cudart.error
        : `${r.cudart.path} (runtime ${version(r.cudart.runtime_version)}, driver ` +
          `${r.cudart.driver_version ? version(r.cudart.driver_version) : "none"})`)
  )
  lines.push(`cublas: ${"error" in r.cublas ? r.cublas.error : r.cublas.path}`)
  for (const d of r.devices) {
    const p = d.pcie as { gen?: number; width?: number; maxGen?: number; maxWidth?: number; error?: string }
    lines.push(
      `device ${d.index}: ${d.name}, ${(d.memory_bytes / 2 ** 30).toFixed(1)} GiB, ` +
        `sm_${d.compute_capability.replace(".", "")}, ${d.multiprocessors} SMs, ${d.async_engines} copy engines, ` +
        `PCI ${d.pci_bus}, ` +
        (p.error
          ? `PCIe link unknown (${p.error})`
          : `PCIe Gen${p.gen} x${p.width} (max Gen${p.maxGen} x${p.maxWidth})`)
    )
  }
  lines.push(r.ok ? "ok: the GPU path can run" : `not usable: ${r.reason}`)
  return `${lines.join("\n")}\n`
}

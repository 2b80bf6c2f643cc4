// A device DMA engine bound to an mm by PASID (iommu_sva_bind_device), as a simulated thread of kind Device.
// Each DMA access is translated by the secondary MMU; what it reaches is checked by the oracle like a CPU
// access (O1/O3/O4, cached when the SMMU TLB or ATC served it). A fault stalls the device: the fault goes to
// the IOPF queue, and after the page response the device retries. A fault on an address the CPU page table
// already permits is counted (O5: more than K of them on one page is a livelock: the Z2 symptom).
// A hardware walker such as the SMMU legitimately fills its TLB while an invalidation is between start and
// end (it shares the page table, and the kernel invalidates it after the clear: invalidate_range before v6.6,
// arch_invalidate_secondary_tlbs since); so a device fill is not an O7 case: stale use is O1. O7 on fills
// applies to drivers that install mappings themselves (MirrorDriver).
using Pv.Abstractions.Host;
using Pv.Abstractions.Memory;
using Pv.Abstractions.Mm;
using Pv.Abstractions.Notifiers;
using Pv.Engine.Mm;
using Pv.Engine.Sched;

namespace Pv.Engine.Devices;

/// <summary>How a DMA access ended.</summary>
internal enum DmaStatus : byte
{
    /// <summary>Not run yet.</summary>
    None,
    /// <summary>The access reached memory.</summary>
    Ok,
    /// <summary>The page response was INVALID: the access failed (the device reports an error).</summary>
    Failed,
    /// <summary>The oracle stopped the run on this access.</summary>
    Violation,
}

/// <summary>What a DMA access did.</summary>
internal sealed class DmaResult
{
    /// <summary>How it ended.</summary>
    public DmaStatus Status { get; internal set; }
    /// <summary>The frame reached.</summary>
    public Pfn Pfn { get; internal set; } = Pfn.None;
    /// <summary>Served from a secondary TLB or ATC.</summary>
    public bool FromCache { get; internal set; }
    /// <summary>Faults taken before it completed.</summary>
    public int Faults { get; internal set; }
}

/// <summary>A DMA engine translating through <see cref="ISecondaryMmu"/> in one mm.</summary>
internal sealed class SvaDevice
{
    private readonly Machine _machine;
    private readonly ISecondaryMmu _mmu;
    private readonly IopfQueue _iopf;

    private SvaDevice(Machine machine, ISecondaryMmu mmu, IopfQueue iopf, DeviceInfo info, MmStruct mm, SimThread thread)
    {
        _machine = machine;
        _mmu = mmu;
        _iopf = iopf;
        Info = info;
        Mm = mm;
        Thread = thread;
    }

    /// <summary>The device.</summary>
    public DeviceInfo Info { get; }

    /// <summary>The mm its PASID is bound to.</summary>
    public MmStruct Mm { get; }

    /// <summary>Its DMA engine.</summary>
    public SimThread Thread { get; }

    /// <summary>Its name in reports: <c>devN</c>.</summary>
    public string Agent => $"dev{Info.Id}";

    /// <summary>
    /// Attach a device (with an ATC if <paramref name="ats"/>), bind it to <paramref name="mm"/> and add its DMA thread.
    /// Call before the machine runs.
    /// </summary>
    public static SvaDevice Attach(Machine machine, ISecondaryMmu mmu, IopfQueue iopf, MmStruct mm, bool ats = false)
    {
        var info = machine.Devices.AddDevice($"dev{machine.Devices.Devices.Count}", ats);
        mmu.Bind(info.Id, mm.Id);
        var thread = machine.AddThread(info.Name, ThreadKind.Device, null, mm);
        return new SvaDevice(machine, mmu, iopf, info, mm, thread);
    }

    /// <summary>Queue an operation on the DMA engine.</summary>
    public void Enqueue(IEnumerable<Step> operation) => Thread.Enqueue(operation);

    /// <summary>One DMA access: translate; on a fault, report it, stall until the page response, retry.</summary>
    public IEnumerable<Step> Access(ulong address, AccessKind access, DmaResult? result = null)
    {
        result ??= new DmaResult();
        var m = _machine;
        while (true)
        {
            var tr = _mmu.Translate(Info.Id, Mm.Id, address, access);
            m.Trace(tr.Faulted ? TraceEvents.DmaFault : tr.FromCache ? TraceEvents.DmaCached : TraceEvents.DmaWalk, address, (ulong)access);
            if (!tr.Faulted)
            {
                // A walk refills the SMMU's (or ATC's) entry: a later cached hit is no older than its last refill.
                if (!tr.FromCache) m.Oracle.SecondaryFilled(Mm.Id, address);
                bool ok = m.Oracle.CheckAccess(Agent, Mm.Id, address, access, tr.Pfn, tr.Generation, tr.FromCache, m.Oracle.SecondaryFillStep(Mm.Id, address));
                (result.Status, result.Pfn, result.FromCache) = (ok ? DmaStatus.Ok : DmaStatus.Violation, tr.Pfn, tr.FromCache);
                yield return Step.Yield;
                yield break;
            }
            result.Faults++;
            if (!m.Oracle.DeviceFault(Agent, Info.Id, Mm.Id, address, access))
            {
                result.Status = DmaStatus.Violation;
                yield return Step.Yield;
                yield break;
            }
            var fault = _iopf.Report(Agent, Mm, address, access);
            yield return Step.Yield;
            yield return Step.Wait(fault);
            if (fault.Response != PageResponse.Success)
            {
                result.Status = DmaStatus.Failed;
                yield break;
            }
        }
    }

    /// <summary><c>iommu_sva_unbind_device</c>.</summary>
    public IEnumerable<Step> Unbind()
    {
        _mmu.Unbind(Info.Id);
        _machine.Trace(TraceEvents.IommuSvaUnbindDevice, (ulong)Info.Id, 0);
        yield return Step.Yield;
    }
}

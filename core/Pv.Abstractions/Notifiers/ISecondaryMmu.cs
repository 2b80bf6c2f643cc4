// A device MMU that translates through the CPU page table (SVA: SMMUv3, IOMMU with PASID). The engine's
// device threads call Translate for each DMA access; the oracle checks what the result reached (O1, O4)
// and how often a permitted access faulted (O5).
using Pv.Abstractions.Host;
using Pv.Abstractions.Memory;
using Pv.Abstractions.Mm;

namespace Pv.Abstractions.Notifiers;

/// <summary>The result of one device translation.</summary>
/// <param name="Faulted">The access faulted (no translation or not permitted); the engine raises an IOPF.</param>
/// <param name="Pfn">The frame reached, when not faulted.</param>
/// <param name="Generation">The frame's generation when this translation was filled from the page table.</param>
/// <param name="FromCache">Served by a secondary TLB or ATC rather than a walk.</param>
public readonly record struct SecondaryTranslation(bool Faulted, Pfn Pfn, uint Generation, bool FromCache)
{
    /// <summary>A translation fault.</summary>
    public static SecondaryTranslation Fault => new(true, Pfn.None, 0, false);
}

/// <summary>
/// A secondary MMU. It subscribes to the mms it is bound to through <see cref="IMmuNotifierRegistry"/> and
/// keeps its own TLBs coherent from the callbacks.
/// </summary>
public interface ISecondaryMmu
{
    /// <summary><c>iommu_sva_bind_device</c>: <paramref name="device"/> now issues DMA in <paramref name="mm"/>.</summary>
    void Bind(int device, MmId mm);

    /// <summary><c>iommu_sva_unbind_device</c>.</summary>
    void Unbind(int device);

    /// <summary>
    /// Translate one DMA access by <paramref name="device"/>: from its TLB/ATC, else by walking the CPU page
    /// table (<see cref="IPageTables.TryWalk"/>) and caching the result.
    /// </summary>
    SecondaryTranslation Translate(int device, MmId mm, ulong address, AccessKind access);
}

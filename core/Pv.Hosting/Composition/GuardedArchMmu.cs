// The plugin boundary around a backend's IArchMmu (asm/tlbflush.h and the asm/pgtable.h hooks) and its
// ISecondaryMmu (the SMMU's iommu_sva_* and translation): every member forwarded through the interface (a
// default the plugin keeps still runs) inside the machine's PluginBoundary, named as the kernel names it.
using Pv.Abstractions.Gather;
using Pv.Abstractions.Host;
using Pv.Abstractions.Memory;
using Pv.Abstractions.Mm;
using Pv.Abstractions.Notifiers;

namespace Pv.Hosting.Composition;

/// <summary>Forwards each <see cref="IArchMmu"/> call to the plugin through the plugin boundary.</summary>
/// <param name="inner">The plugin's arch MMU.</param>
/// <param name="boundary">The machine's plugin boundary.</param>
public sealed class GuardedArchMmu(IArchMmu inner, PluginBoundary boundary) : IArchMmu
{
    /// <summary>The decorated arch MMU.</summary>
    public IArchMmu Inner => inner;

    /// <inheritdoc/>
    public MmuGatherConfig GatherConfig
    {
        get
        {
            var call = boundary.Enter("mmu_gather config");
            try { return inner.GatherConfig; }
            catch (Exception e) when (PluginBoundary.IsPluginFault(e)) { throw boundary.Fault("mmu_gather config", e); }
            finally { boundary.Exit(call); }
        }
    }

    /// <inheritdoc/>
    public void FlushTlbMmRange(MmId mm, ulong start, ulong end, int strideShift, bool freedTables)
    {
        var call = boundary.Enter("flush_tlb_mm_range");
        try { inner.FlushTlbMmRange(mm, start, end, strideShift, freedTables); }
        catch (Exception e) when (PluginBoundary.IsPluginFault(e)) { throw boundary.Fault("flush_tlb_mm_range", e); }
        finally { boundary.Exit(call); }
    }

    /// <inheritdoc/>
    public void FlushTlbRange(MmId mm, ulong start, ulong end, int strideShift)
    {
        var call = boundary.Enter("flush_tlb_range");
        try { inner.FlushTlbRange(mm, start, end, strideShift); }
        catch (Exception e) when (PluginBoundary.IsPluginFault(e)) { throw boundary.Fault("flush_tlb_range", e); }
        finally { boundary.Exit(call); }
    }

    /// <inheritdoc/>
    public void FlushTlbKernelRange(ulong start, ulong end)
    {
        var call = boundary.Enter("flush_tlb_kernel_range");
        try { inner.FlushTlbKernelRange(start, end); }
        catch (Exception e) when (PluginBoundary.IsPluginFault(e)) { throw boundary.Fault("flush_tlb_kernel_range", e); }
        finally { boundary.Exit(call); }
    }

    /// <inheritdoc/>
    public void FlushCacheRange(MmId mm, ulong start, ulong end)
    {
        var call = boundary.Enter("flush_cache_range");
        try { inner.FlushCacheRange(mm, start, end); }
        catch (Exception e) when (PluginBoundary.IsPluginFault(e)) { throw boundary.Fault("flush_cache_range", e); }
        finally { boundary.Exit(call); }
    }

    /// <inheritdoc/>
    public void UpdateMmuCache(MmId mm, ulong address, PteSlot slot)
    {
        var call = boundary.Enter("update_mmu_cache");
        try { inner.UpdateMmuCache(mm, address, slot); }
        catch (Exception e) when (PluginBoundary.IsPluginFault(e)) { throw boundary.Fault("update_mmu_cache", e); }
        finally { boundary.Exit(call); }
    }

    /// <inheritdoc/>
    public void SetPtes(MmId mm, ulong address, PteSlot slot, PageTableEntry entry, int count)
    {
        var call = boundary.Enter("set_ptes");
        try { inner.SetPtes(mm, address, slot, entry, count); }
        catch (Exception e) when (PluginBoundary.IsPluginFault(e)) { throw boundary.Fault("set_ptes", e); }
        finally { boundary.Exit(call); }
    }

    /// <inheritdoc/>
    public void PtepSetAccessFlags(MmId mm, ulong address, PageTableEntry oldEntry, PageTableEntry newEntry, bool dirty)
    {
        var call = boundary.Enter("ptep_set_access_flags");
        try { inner.PtepSetAccessFlags(mm, address, oldEntry, newEntry, dirty); }
        catch (Exception e) when (PluginBoundary.IsPluginFault(e)) { throw boundary.Fault("ptep_set_access_flags", e); }
        finally { boundary.Exit(call); }
    }

    /// <inheritdoc/>
    public void ReturnToUser(MmId mm)
    {
        var call = boundary.Enter("return to user mode");
        try { inner.ReturnToUser(mm); }
        catch (Exception e) when (PluginBoundary.IsPluginFault(e)) { throw boundary.Fault("return to user mode", e); }
        finally { boundary.Exit(call); }
    }

    /// <inheritdoc/>
    public bool KernelFault(ulong address)
    {
        var call = boundary.Enter("kernel-mode fault fixup");
        try { return inner.KernelFault(address); }
        catch (Exception e) when (PluginBoundary.IsPluginFault(e)) { throw boundary.Fault("kernel-mode fault fixup", e); }
        finally { boundary.Exit(call); }
    }
}

/// <summary>Forwards each <see cref="ISecondaryMmu"/> call to the plugin through the plugin boundary.</summary>
/// <param name="inner">The plugin's secondary MMU.</param>
/// <param name="boundary">The machine's plugin boundary (of the secondary-MMU backend).</param>
public sealed class GuardedSecondaryMmu(ISecondaryMmu inner, PluginBoundary boundary) : ISecondaryMmu
{
    /// <inheritdoc/>
    public void Bind(int device, MmId mm) => boundary.Call("iommu_sva_bind_device", () => inner.Bind(device, mm));

    /// <inheritdoc/>
    public void Unbind(int device) => boundary.Call("iommu_sva_unbind_device", () => inner.Unbind(device));

    /// <inheritdoc/>
    public SecondaryTranslation Translate(int device, MmId mm, ulong address, AccessKind access)
    {
        var call = boundary.Enter("secondary MMU translation");
        try { return inner.Translate(device, mm, address, access); }
        catch (Exception e) when (PluginBoundary.IsPluginFault(e)) { throw boundary.Fault("secondary MMU translation", e); }
        finally { boundary.Exit(call); }
    }
}

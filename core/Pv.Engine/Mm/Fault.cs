// The page-fault path (handle_mm_fault and friends) and a user access that takes it: a missing PTE is filled
// (anonymous zero-fill, page cache, COW on write to a private file page), a write to a read-only PTE in a
// writable VMA breaks COW (copy, ptep_clear_flush, put the old page) or reuses the page, and a fault on an
// entry that already permits the access is the access-flag path: ptep_set_access_flags with the arch's flush
// policy, then (seed era option) a PROTECTION_UPGRADE notifier after the PTL is dropped. Device (VM_PFNMAP)
// VMAs are populated by remap_pfn_range; a fault on a missing PFN there is SIGBUS.
using Pv.Abstractions.Memory;
using Pv.Abstractions.Mm;
using Pv.Abstractions.Notifiers;
using Pv.Engine.Cpu;
using Pv.Engine.Memory;
using Pv.Engine.Sched;

namespace Pv.Engine.Mm;

/// <summary>The outcome of a fault.</summary>
internal enum FaultResult : byte
{
    /// <summary>The PTE now allows the access; retry it.</summary>
    Handled,
    /// <summary>No VMA, or the VMA forbids the access: SIGSEGV.</summary>
    Sigsegv,
    /// <summary>A mapping with nothing behind it (a device VMA without the PFN): SIGBUS.</summary>
    Sigbus,
    /// <summary>No memory for a page or a table.</summary>
    Oom,
}

/// <summary>Result holder for a fault or a user access.</summary>
internal sealed class FaultOutcome
{
    /// <summary>How the fault ended.</summary>
    public FaultResult Result { get; internal set; }
    /// <summary>For a user access: how the final attempt ended.</summary>
    public AccessStatus Access { get; internal set; }
    /// <summary>For a user access: a write's value to store (set before); after a completed read, the value it saw.</summary>
    public ulong Value { get; internal set; }
    /// <summary>For a user access: page faults it took (the handler ran), whatever their end.</summary>
    public int Faults { get; internal set; }
}

/// <summary>handle_mm_fault and user accesses.</summary>
internal static class Fault
{
    /// <summary>Anonymous memory's VA flags for a PTE of <paramref name="vma"/>.</summary>
    private static PteFlags BaseFlags(Vma vma) =>
        PteFlags.Present | PteFlags.User | PteFlags.Accessed | ((vma.Flags & VmaFlags.Exec) != 0 ? PteFlags.Exec : 0);

    /// <summary>
    /// A user access by <paramref name="t"/> at <paramref name="address"/>: try it, and on a fault run the fault handler
    /// and retry, at most <paramref name="maxFaults"/> times (a fault that never makes progress stops there).
    /// </summary>
    public static IEnumerable<Step> UserAccess(Machine m, SimThread t, ulong address, AccessKind access, FaultOutcome? outcome = null, int maxFaults = 4)
    {
        var result = new AccessResult();
        outcome ??= new FaultOutcome();
        for (int i = 0; ; i++)
        {
            result.TlbHit = false;
            result.Value = outcome.Value;
            if (Mmu.TryAccessTlbHit(m, t.Cpu!, address, access, result)) yield return Step.Yield;
            else yield return Step.Call(Mmu.Access(m, t.Cpu!, address, access, result));
            outcome.Access = result.Status;
            outcome.Value = result.Value;
            if (result.Status is AccessStatus.Ok or AccessStatus.Violation || i >= maxFaults) yield break;
            outcome.Faults++;
            if (address >= Mmu.KernelStart)
            {
                // A kernel-mode fault: only the arch can repair it (UML syncs init_mm's deferred mappings).
                outcome.Result = m.Arch.KernelFault(address) ? FaultResult.Handled : FaultResult.Sigsegv;
                m.Trace(TraceEvents.KernelFault, address, (ulong)outcome.Result);
                yield return Step.Yield;
                if (outcome.Result != FaultResult.Handled) yield break;
                continue;
            }
            var mm = m.Mm(t.Cpu!.LoadedMm);
            yield return Step.Call(HandleMmFault(m, t, mm, address, access, outcome));
            if (outcome.Result != FaultResult.Handled) yield break;
        }
    }

    /// <summary><c>do_user_addr_fault</c>: take mmap_lock for read, find the VMA, <c>handle_mm_fault</c>.</summary>
    public static IEnumerable<Step> HandleMmFault(Machine m, SimThread t, MmStruct mm, ulong address, AccessKind access, FaultOutcome outcome)
    {
        m.Metrics.Faults.Increment();
        var cpu = t.Cpu ?? m.Cpus[0];
        m.Cost.Charge(cpu.Id, m.Cost.Model.PageFault);
        // The faulting CPU drops its own entry for the address (the hardware does on x86; flush_tlb_fix_spurious_fault).
        cpu.ApplyRemote(Abstractions.Host.TlbInvalidation.Page(mm.Id, address));
        yield return Step.Call(mm.MmapLock.DownRead(t));
        yield return Step.Call(HandleMmFaultLocked(m, t, mm, address, access, outcome));
        mm.MmapLock.UpRead();
        yield return Step.Yield;
    }

    /// <summary><c>handle_mm_fault</c> with mmap_lock already held (GUP calls it so).</summary>
    public static IEnumerable<Step> HandleMmFaultLocked(Machine m, SimThread t, MmStruct mm, ulong address, AccessKind access, FaultOutcome outcome)
    {
        ulong page = address & ~(PageGeometry.PageSize - 1);
        var vma = mm.FindVma(address);
        if (vma is null || !VmaAllows(vma, access))
        {
            outcome.Result = FaultResult.Sigsegv;
            m.Trace(TraceEvents.Sigsegv, address, (ulong)access);
            yield break;
        }
        // __handle_mm_fault: allocate missing tables down to the PTE table, one level per step.
        var table = mm.Pgd;
        for (var level = m.PageTables.TopLevel; level > PageTableLevel.Pte; level--)
        {
            var slot = PageTables.SlotOf(table, address, level);
            var e = PteOps.Read(m, slot);
            if (!e.IsPresent)
            {
                yield return Step.Call(mm.Ptl.Lock(t));
                e = PteOps.Read(m, slot);
                if (!e.IsPresent)
                {
                    if (!PteOps.AllocTable(m, mm, slot, out _))
                    {
                        mm.Ptl.Unlock(t);
                        outcome.Result = FaultResult.Oom;
                        yield break;
                    }
                    e = PteOps.Read(m, slot);
                }
                mm.Ptl.Unlock(t);
            }
            else if (e.IsHuge)
            {
                // A huge leaf already maps the address: nothing to split in this model; the access retries.
                outcome.Result = e.IsWritable || access != AccessKind.Write ? FaultResult.Handled : FaultResult.Sigsegv;
                yield break;
            }
            table = e.Pfn;
            yield return Step.Yield;
        }
        var pteSlot = PageTables.SlotOf(table, address, PageTableLevel.Pte);
        yield return Step.Call(mm.Ptl.Lock(t));
        var pte = PteOps.Read(m, pteSlot);
        bool upgraded = false;
        PageTableEntry upgradedTo = default;
        if (!pte.IsPresent && pte.Has(PteFlags.GuardMarker))
        {
            // handle_pte_marker: a guard region (MADV_GUARD_INSTALL) is never populated.
            outcome.Result = FaultResult.Sigsegv;
            m.Trace(TraceEvents.SigsegvGuardMarker, address, (ulong)access);
        }
        else if (!pte.IsPresent)
        {
            outcome.Result = DoFaultNone(m, vma, mm, page, pteSlot, access);
        }
        else if (access == AccessKind.Write && !pte.IsWritable)
        {
            // do_wp_page: reuse an exclusively owned anonymous page, else copy.
            if (pte.Has(PteFlags.Special) || m.Memory.KindOf(pte.Pfn) != FrameKind.DataPage)
            {
                outcome.Result = FaultResult.Sigsegv;
            }
            else if (vma.File is null && m.Memory.RefCount(pte.Pfn) == 1)
            {
                var entry = pte.With(PteFlags.Write | PteFlags.Dirty | PteFlags.Accessed);
                PtepSetAccessFlags(m, mm, page, pteSlot, pte, entry, dirty: true);
                (upgraded, upgradedTo) = (true, entry);
                outcome.Result = FaultResult.Handled;
            }
            else
            {
                mm.Ptl.Unlock(t);
                yield return Step.Call(WpCopy(m, t, mm, vma, page, pteSlot, pte, outcome));
                yield break;
            }
        }
        else
        {
            // The PTE already permits the access: the access-flag path (young/dirty), or a spurious fault.
            var entry = pte.With(PteFlags.Accessed | (access == AccessKind.Write ? PteFlags.Dirty : 0));
            if (entry.Raw != pte.Raw)
            {
                PtepSetAccessFlags(m, mm, page, pteSlot, pte, entry, dirty: access == AccessKind.Write);
                (upgraded, upgradedTo) = (true, entry);
            }
            outcome.Result = FaultResult.Handled;
        }
        mm.Ptl.Unlock(t);
        yield return Step.Yield;
        if (upgraded && m.Options.ProtectionUpgradeNotifier)
        {
            // The 2023 seed: tell secondary MMUs about the upgrade after the PTL is dropped.
            var range = new MmuNotifierRange(mm.Id, page, page + PageGeometry.PageSize, MmuNotifierEvent.ProtectionUpgrade);
            m.Notifiers.InvalidateRangeStart(range);
            m.Notifiers.InvalidateRangeEnd(range);
            m.Trace(TraceEvents.ProtectionUpgradeNotified, page, upgradedTo.Raw);
            yield return Step.Yield;
        }
    }

    /// <summary><c>ptep_set_access_flags</c>: write the more permissive entry, then the arch's flush policy and <c>update_mmu_cache</c>.</summary>
    private static void PtepSetAccessFlags(Machine m, MmStruct mm, ulong page, PteSlot slot, PageTableEntry old, PageTableEntry entry, bool dirty)
    {
        PteOps.SetPteAt(m, mm, page, slot, entry);
        m.Arch.PtepSetAccessFlags(mm.Id, page, old, entry, dirty);
        m.Arch.UpdateMmuCache(mm.Id, page, slot);
    }

    /// <summary>do_anonymous_page / do_read_fault / do_cow_fault / do_shared_fault for a missing PTE.</summary>
    private static FaultResult DoFaultNone(Machine m, Vma vma, MmStruct mm, ulong page, PteSlot slot, AccessKind access)
    {
        if ((vma.Flags & (VmaFlags.PfnMap | VmaFlags.MixedMap)) != 0) return FaultResult.Sigbus;
        var flags = BaseFlags(vma);
        Pfn pfn;
        bool write = access == AccessKind.Write;
        if (vma.File is { } file)
        {
            ulong index = vma.PgOff + ((page - vma.Start) >> PageGeometry.PageShift);
            if (!file.Pages.TryGetValue(index, out var cached))
            {
                cached = m.Memory.Alloc(AllocSite.DataPage, FrameKind.DataPage);
                if (!cached.IsValid) return FaultResult.Oom;
                file.Pages[index] = cached; // the page cache's own reference
            }
            if ((vma.Flags & VmaFlags.Shared) != 0)
            {
                pfn = cached;
                m.Memory.Get(pfn);
                if (write) flags |= PteFlags.Write | PteFlags.Dirty;
                else if ((vma.Flags & VmaFlags.Write) != 0) flags |= PteFlags.Write; // shared writable: no COW
            }
            else if (write)
            {
                pfn = m.Memory.Alloc(AllocSite.DataPage, FrameKind.DataPage); // do_cow_fault: a private copy
                if (!pfn.IsValid) return FaultResult.Oom;
                m.Memory.CopyContent(cached, pfn);
                flags |= PteFlags.Write | PteFlags.Dirty;
            }
            else
            {
                pfn = cached;
                m.Memory.Get(pfn); // mapped read-only; a later write copies
            }
        }
        else
        {
            pfn = m.Memory.Alloc(AllocSite.DataPage, FrameKind.DataPage);
            if (!pfn.IsValid) return FaultResult.Oom;
            if ((vma.Flags & VmaFlags.Write) != 0) flags |= PteFlags.Write | (write ? PteFlags.Dirty : 0);
        }
        PteOps.SetPteAt(m, mm, page, slot, PageTableEntry.Make(pfn, flags));
        m.Arch.UpdateMmuCache(mm.Id, page, slot);
        return FaultResult.Handled;
    }

    /// <summary>
    /// wp_page_copy: allocate the copy, then under the PTL and a CLEAR notifier range: if the PTE is unchanged,
    /// <c>ptep_clear_flush</c> (clear and flush the page on every CPU, the PTL held until the flush completed), set the
    /// new PTE, put the old page.
    /// </summary>
    private static IEnumerable<Step> WpCopy(Machine m, SimThread t, MmStruct mm, Vma vma, ulong page, PteSlot slot, PageTableEntry old, FaultOutcome outcome)
    {
        var copy = m.Memory.Alloc(AllocSite.DataPage, FrameKind.DataPage);
        if (!copy.IsValid)
        {
            outcome.Result = FaultResult.Oom;
            yield break;
        }
        m.Memory.CopyContent(old.Pfn, copy); // __wp_page_copy_user, before the PTL: a copy the PTE check discards is harmless
        var range = new MmuNotifierRange(mm.Id, page, page + PageGeometry.PageSize, MmuNotifierEvent.Clear);
        m.Notifiers.InvalidateRangeStart(range);
        yield return Step.Yield;
        yield return Step.Call(mm.Ptl.Lock(t));
        if (PteOps.Read(m, slot).Raw == old.Raw)
        {
            PteOps.GetAndClear(m, slot);
            m.Arch.FlushTlbMmRange(mm.Id, page, page + PageGeometry.PageSize, PageGeometry.PageShift, false);
            yield return Step.Yield; // the flush may wait for other CPUs; the PTL stays held, as in ptep_clear_flush
            PteOps.SetPteAt(m, mm, page, slot, PageTableEntry.Make(copy, BaseFlags(vma) | PteFlags.Write | PteFlags.Dirty));
            m.Arch.UpdateMmuCache(mm.Id, page, slot);
            m.Memory.Put(old.Pfn);
        }
        else m.Memory.Put(copy);
        mm.Ptl.Unlock(t);
        m.Notifiers.InvalidateRangeEnd(range);
        outcome.Result = FaultResult.Handled;
        yield return Step.Yield;
    }

    private static bool VmaAllows(Vma vma, AccessKind access) => access switch
    {
        AccessKind.Write => (vma.Flags & VmaFlags.Write) != 0,
        AccessKind.Exec => (vma.Flags & VmaFlags.Exec) != 0,
        _ => (vma.Flags & (VmaFlags.Read | VmaFlags.Write | VmaFlags.Exec)) != 0,
    };
}

// MADV_GUARD_INSTALL (mm/madvise.c, 6.13): guard-page markers installed through the page walker's mm-internal
// walk_page_range_mm with an install_pte callback. The walk stops at a huge leaf or at a PTE that is already
// populated (returns 1); the range is then zapped and the walk retried, so markers only ever replace empty
// entries and no TLB flush is needed for the install itself. MADV_GUARD_REMOVE (6.13) walks each VMA's part
// with walk_page_range_vma and clears guard markers only: present PTEs and huge leaves are never touched, and
// since a marker is not present no TLB can hold it, so nothing is flushed. VM_PFNMAP/VM_MIXEDMAP and hugetlb
// VMAs refuse both with -EINVAL. An access to a guard marker faults with SIGSEGV (the PTE is not present).
using Pv.Abstractions.Memory;
using Pv.Abstractions.Mm;
using Pv.Abstractions.Notifiers;
using Pv.Engine.Sched;
using Pv.Engine.Walk;

namespace Pv.Engine.Mm;

/// <summary>madvise(MADV_GUARD_INSTALL) and madvise(MADV_GUARD_REMOVE).</summary>
internal static class Madvise
{
    /// <summary>How often a populated range is zapped and the install retried before giving up (-EINTR in the kernel).</summary>
    public const int MaxRetries = 3;

    private static readonly MmWalkOps GuardInstallOps = new()
    {
        PudEntry = (slot, _, _, w) => w.Read(slot).IsHuge ? 1 : 0,
        PmdEntry = (slot, _, _, w) => w.Read(slot).IsHuge ? 1 : 0,
        // pte_entry sees only non-empty PTEs: an existing guard marker is fine, a populated PTE needs a zap first.
        PteEntry = (slot, _, _, w) => w.Read(slot) is { IsPresent: false } e && e.Has(PteFlags.GuardMarker) ? 0 : 1,
        InstallPte = (ulong _, ulong _, out PageTableEntry pte, MmWalk _) =>
        {
            pte = new PageTableEntry((ulong)PteFlags.GuardMarker);
            return 0;
        },
        WalkLock = PageWalkLock.RdLock,
    };

    private static readonly MmWalkOps GuardRemoveOps = new()
    {
        // A huge leaf cannot hold a guard marker: skip its subtree.
        PudEntry = (slot, _, _, w) => { if (w.Read(slot).IsHuge) w.Action = PageWalkAction.Continue; return 0; },
        PmdEntry = (slot, _, _, w) => { if (w.Read(slot).IsHuge) w.Action = PageWalkAction.Continue; return 0; },
        PteEntry = (slot, addr, _, w) =>
        {
            if (w.Read(slot) is { IsPresent: false } e && e.Has(PteFlags.GuardMarker))
            {
                // pte_clear, then update_mmu_cache: the entry was never present, so there is nothing to flush.
                w.Machine.PvOps.SetPte(w.Machine.PageTables, slot, PageTableEntry.Empty);
                w.Machine.Arch.UpdateMmuCache(w.Mm.Id, addr, slot);
                w.Machine.Trace(TraceEvents.GuardRemove, addr, 0);
            }
            return 0;
        },
        WalkLock = PageWalkLock.RdLock,
    };

    /// <summary><c>is_valid_guard_vma</c>: special (PFN/mixed map) and hugetlb VMAs cannot hold guard markers.</summary>
    private static bool IsValidGuardVma(Vma vma) => (vma.Flags & (VmaFlags.PfnMap | VmaFlags.MixedMap | VmaFlags.HugeTlb)) == 0;

    /// <summary><c>madvise(start, length, MADV_GUARD_INSTALL)</c>; the result is 0 or a negative errno in <paramref name="result"/>.</summary>
    public static IEnumerable<Step> GuardInstall(Machine m, SimThread t, MmStruct mm, ulong start, ulong length, WalkResult result)
    {
        ulong end = start + length;
        var op = m.Oracle.BeginOperation(mm.Id, "madvise(MADV_GUARD_INSTALL)");
        yield return Step.Call(mm.MmapLock.DownRead(t));
        var vmas = mm.Vmas.Where(v => v.Start < end && start < v.End).ToList();
        if (!vmas.All(IsValidGuardVma))
        {
            mm.MmapLock.UpRead();
            result.Value = -PageWalk.EINVAL;
            yield return Step.Yield;
            yield break;
        }
        for (int attempt = 0; ; attempt++)
        {
            yield return Step.Call(PageWalk.WalkPageRangeMm(m, t, mm, start, end, GuardInstallOps, null, result));
            if (result.Value <= 0 || attempt == MaxRetries) break;
            // Something is mapped there: zap it (MADV_DONTNEED semantics) and try again.
            foreach (var vma in vmas)
                yield return Step.Call(Munmap.ZapPageRangeSingle(m, t, vma, Math.Max(start, vma.Start), Math.Min(end, vma.End), MmuNotifierEvent.Clear, op));
        }
        mm.MmapLock.UpRead();
        m.Oracle.OperationReturned(op, start, end);
        yield return Step.Yield;
    }

    /// <summary>
    /// <c>madvise(start, length, MADV_GUARD_REMOVE)</c>: under mmap_lock (read), each VMA's part of the range is walked
    /// and its guard markers cleared; everything else stays as it is. The result is 0 or a negative errno.
    /// </summary>
    public static IEnumerable<Step> GuardRemove(Machine m, SimThread t, MmStruct mm, ulong start, ulong length, WalkResult result)
    {
        ulong end = start + length;
        yield return Step.Call(mm.MmapLock.DownRead(t));
        var vmas = mm.Vmas.Where(v => v.Start < end && start < v.End).ToList();
        result.Value = vmas.All(IsValidGuardVma) ? 0 : -PageWalk.EINVAL;
        foreach (var vma in vmas)
        {
            if (result.Value != 0) break;
            yield return Step.Call(PageWalk.WalkPageRangeVma(m, t, vma, Math.Max(start, vma.Start), Math.Min(end, vma.End), GuardRemoveOps, null, result));
        }
        // Nothing a TLB could hold was taken away, so the oracle has no revocation to watch.
        mm.MmapLock.UpRead();
        yield return Step.Yield;
    }
}

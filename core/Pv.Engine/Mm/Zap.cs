// Tearing down mappings: unmap_vmas / zap_pte_range (clear each entry in its own step under the PTL, tell
// the gather, queue the page) and free_pgtables (unlink the VMA from its file's i_mmap, then unhook and free
// the page-table pages whose whole span is unused between floor and ceiling). Both feed one mmu_gather; the
// caller finishes it. Notifier start/end bracket the zap as unmap_vmas does. Guard markers survive a zap
// unless the caller drops markers (ZAP_FLAG_DROP_MARKER: munmap and exit, whose tables go anyway).
using Pv.Abstractions.Memory;
using Pv.Abstractions.Mm;
using Pv.Abstractions.Notifiers;
using Pv.Engine.Gather;
using Pv.Engine.Memory;
using Pv.Engine.Sched;

namespace Pv.Engine.Mm;

/// <summary>Zap and page-table freeing, shared by munmap, exit, madvise and unmap_mapping_range.</summary>
internal static class Zap
{
    /// <summary>
    /// <c>unmap_vmas</c>: for each VMA overlapping [start, end): tlb_start_vma, zap its PTEs, tlb_end_vma; bracketed
    /// by <c>mmu_notifier_invalidate_range_start/end</c> with <paramref name="notifyEvent"/>. <paramref name="dropMarkers"/>
    /// is zap_details' ZAP_FLAG_DROP_MARKER: the kernel's unmap_vmas sets it, zap_page_range_single from madvise does not.
    /// </summary>
    public static IEnumerable<Step> UnmapVmas(Machine m, SimThread t, MmuGather tlb, IReadOnlyList<Vma> vmas, ulong start, ulong end, MmuNotifierEvent notifyEvent, bool dropMarkers)
    {
        var range = new MmuNotifierRange(tlb.Mm, start, end, notifyEvent);
        m.Notifiers.InvalidateRangeStart(range);
        yield return Step.Yield;
        foreach (var vma in vmas)
        {
            ulong s = Math.Max(start, vma.Start), e = Math.Min(end, vma.End);
            if (s >= e) continue;
            tlb.TlbStartVma(vma);
            yield return Step.Call(ZapRange(m, t, tlb, vma, s, e, dropMarkers));
            tlb.TlbEndVma();
            yield return Step.Yield;
        }
        m.Notifiers.InvalidateRangeEnd(range);
        yield return Step.Yield;
    }

    /// <summary>
    /// <c>zap_pmd_range</c>/<c>zap_pte_range</c> over [start, end) of one VMA: under the PTL, each present entry is
    /// cleared (one step), recorded in the gather and its page queued (device PFNs have no page to put). With
    /// MMU_GATHER_NO_GATHER the arch flushes inside the clear (s390's IPTE) and the page is put at once. A guard
    /// marker is left in place unless <paramref name="dropMarkers"/> (zap_nonpresent_ptes); clearing one needs no flush.
    /// </summary>
    public static IEnumerable<Step> ZapRange(Machine m, SimThread t, MmuGather tlb, Vma vma, ulong start, ulong end, bool dropMarkers)
    {
        var mm = vma.Mm;
        ulong addr = start;
        while (addr < end)
        {
            ulong pmdEnd = Math.Min(end, (addr + PageGeometry.Span(PageTableLevel.Pmd)) & ~(PageGeometry.Span(PageTableLevel.Pmd) - 1));
            if (!FindEntry(m, mm, addr, PageTableLevel.Pte, out var slot, out var leafLevel))
            {
                addr = NextAfterHole(addr, leafLevel, end);
                continue;
            }
            if (leafLevel != PageTableLevel.Pte)
            {
                // A huge leaf (zap_huge_pmd / zap_huge_pud): cleared whole; there is no refcounted page behind it here.
                yield return Step.Call(mm.Ptl.Lock(t));
                PteOps.GetAndClear(m, slot);
                tlb.TlbRemoveTlbEntry(addr & ~(PageGeometry.Span(leafLevel) - 1), leafLevel);
                mm.Ptl.Unlock(t);
                yield return Step.Yield;
                addr = (addr & ~(PageGeometry.Span(leafLevel) - 1)) + PageGeometry.Span(leafLevel);
                continue;
            }
            yield return Step.Call(mm.Ptl.Lock(t));
            // zap_pte_range batches its PTE updates in lazy MMU mode (one multicall on Xen PV).
            m.PvOps.EnterLazyMmu();
            bool forceFlush = false;
            for (; addr < pmdEnd; addr += PageGeometry.PageSize)
            {
                var pteSlot = PageTables.SlotOf(slot.Table, addr, PageTableLevel.Pte);
                var old = PteOps.Read(m, pteSlot);
                if (PteOps.IsNone(old)) continue;
                // Ordinary zapping (MADV_DONTNEED, guard install's own zap) keeps guard markers: only teardown drops them.
                if (!old.IsPresent && old.Has(PteFlags.GuardMarker) && !dropMarkers) continue;
                PteOps.GetAndClear(m, pteSlot);
                m.Trace(TraceEvents.ZapPte, addr, old.Raw);
                if (old.IsPresent)
                {
                    tlb.TlbRemoveTlbEntry(addr, PageTableLevel.Pte);
                    if (tlb.Config.NoGather) m.Arch.FlushTlbMmRange(mm.Id, addr, addr + PageGeometry.PageSize, PageGeometry.PageShift, false);
                    if (!old.Has(PteFlags.Special) && m.Memory.KindOf(old.Pfn) == FrameKind.DataPage)
                        forceFlush |= tlb.TlbRemovePage(old.Pfn);
                }
                yield return Step.Yield;
                if (forceFlush)
                {
                    // The page batch is full: leave lazy mode so the updates are issued, then flush and free.
                    m.PvOps.LeaveLazyMmu();
                    yield return Step.Call(tlb.TlbFlushMmu());
                    m.PvOps.EnterLazyMmu();
                    forceFlush = false;
                }
            }
            m.PvOps.LeaveLazyMmu();
            mm.Ptl.Unlock(t);
            yield return Step.Yield;
        }
    }

    /// <summary>
    /// <c>free_pgtables</c>: unlink each VMA from its file's i_mmap (<c>unlink_file_vma</c>, under i_mmap_rwsem), then
    /// free the page-table pages of [start, end) whose whole span lies in [floor, ceiling), leaf tables first.
    /// </summary>
    public static IEnumerable<Step> FreePgtables(Machine m, SimThread t, MmuGather tlb, IReadOnlyList<Vma> vmas, ulong floor, ulong ceiling)
    {
        foreach (var vma in vmas)
        {
            if (vma.File is { } file)
            {
                yield return Step.Call(file.IMmapRwsem.DownWrite(t));
                file.IMmap.Remove(vma);
                m.Trace(TraceEvents.UnlinkFileVma, vma.Start, vma.End);
                file.IMmapRwsem.UpWrite(t);
                yield return Step.Yield;
            }
        }
        if (vmas.Count == 0) yield break;
        ulong start = ulong.MaxValue, end = 0;
        foreach (var v in vmas) (start, end) = (Math.Min(start, v.Start), Math.Max(end, v.End));
        yield return Step.Call(FreePgdRange(m, tlb, start, end, floor, ceiling));
    }

    /// <summary>
    /// <c>free_pgd_range</c>: walk [start, end) from the top table down (free_p4d_range ... free_pte_range), children
    /// first, and unhook and free every table whose whole span lies in [floor, ceiling) (a ceiling of 0 means the
    /// top of the address space). One step per unhooked table.
    /// </summary>
    public static IEnumerable<Step> FreePgdRange(Machine m, MmuGather tlb, ulong start, ulong end, ulong floor, ulong ceiling) =>
        FreeLevel(m, tlb, tlb.MmStruct.Pgd, m.PageTables.TopLevel, start, end, floor, ceiling);

    private static IEnumerable<Step> FreeLevel(Machine m, MmuGather tlb, Pfn table, PageTableLevel level, ulong start, ulong end, ulong floor, ulong ceiling)
    {
        ulong span = PageGeometry.Span(level);
        for (ulong a = start & ~(span - 1); a < end; a += span)
        {
            var slot = PageTables.SlotOf(table, a, level);
            var e = PteOps.Read(m, slot);
            if (!e.IsPresent || e.IsHuge) continue;
            var childLevel = level - 1;
            if (childLevel > PageTableLevel.Pte)
                yield return Step.Call(FreeLevel(m, tlb, e.Pfn, childLevel, Math.Max(start, a), Math.Min(end, a + span), floor, ceiling));
            if (a < floor || (ceiling != 0 && a + span > ceiling)) continue;
            m.PvOps.SetPte(m.PageTables, slot, PageTableEntry.Empty);
            tlb.FreeTableTlb(e.Pfn, childLevel, a);
            yield return Step.Yield;
            if (a + span < a) yield break; // the last entry of the address space
        }
    }

    /// <summary>
    /// Walk the current tables of <paramref name="mm"/> down to <paramref name="level"/>. True with the slot at that
    /// level, or at a huge leaf above it (<paramref name="stoppedAt"/> says which). False where a table is missing
    /// (<paramref name="stoppedAt"/> is the level of the empty entry).
    /// </summary>
    public static bool FindEntry(Machine m, MmStruct mm, ulong address, PageTableLevel level, out PteSlot slot, out PageTableLevel stoppedAt)
    {
        var table = mm.Pgd;
        for (var l = m.PageTables.TopLevel; ; l--)
        {
            slot = PageTables.SlotOf(table, address, l);
            stoppedAt = l;
            if (l == level) return true;
            var e = PteOps.Read(m, slot);
            if (!e.IsPresent) return false;
            if (e.IsHuge) return true;
            table = e.Pfn;
        }
    }

    private static ulong NextAfterHole(ulong addr, PageTableLevel emptyLevel, ulong end)
    {
        ulong span = PageGeometry.Span(emptyLevel);
        ulong next = (addr & ~(span - 1)) + span;
        return next > addr ? Math.Min(next, end) : end;
    }
}

// khugepaged retiring the page table under a range that a huge page now backs: collapse_pte_mapped_thp ->
// collapse_and_free_pmd (5.x-6.5; MADV_COLLAPSE reaches it too). Under mmap_lock (write) and the file's
// i_mmap_rwsem (write, as since 8d3c106e19e8, so no rmap walker is inside the table), every present PTE must
// map the page-cache page of its index (else the collapse is abandoned, as for a COWed page); their rmap and
// references go (the page cache keeps its own); then pmdp_collapse_flush clears the PMD that points to the
// PTE table and flushes the PMD-sized range with the arch's flush_tlb_range, and pte_free frees the table at
// once, outside any mmu_gather, after tlb_remove_table_sync_one where page tables are RCU-freed (the flush
// alone may not have interrupted GUP-fast; era toggle collapse-sync-one). Whether lazy CPUs drop their
// paging-structure caches before that free is the arch's flush_tlb_range's business (x86 before v6.14 did
// not: CVE-2025-22045).
//
// Anonymous ranges: collapse_huge_page copies into a new huge page and deposits the old PTE table with the
// huge PMD instead of freeing it; Pv has no huge pages, so `collapse` on an anonymous range is skipped, as
// khugepaged skips a range it may not collapse. After a collapse the PMD is empty: the next fault maps the
// range again (the kernel with one huge PMD, Pv through a new PTE table).
using Pv.Abstractions.Memory;
using Pv.Abstractions.Notifiers;
using Pv.Engine.Gather;
using Pv.Engine.Memory;
using Pv.Engine.Sched;

namespace Pv.Engine.Mm;

/// <summary>khugepaged's page-table retraction.</summary>
internal static class Khugepaged
{
    /// <summary><c>collapse_pte_mapped_thp</c> on the PMD range of <paramref name="mm"/> covering <paramref name="address"/>.</summary>
    public static IEnumerable<Step> CollapsePteMappedThp(Machine m, SimThread t, MmStruct mm, ulong address)
    {
        ulong span = PageGeometry.Span(PageTableLevel.Pmd);
        ulong haddr = address & ~(span - 1);
        yield return Step.Call(mm.MmapLock.DownWrite(t));
        var vma = mm.FindVma(haddr);
        // The VMA must be a file mapping covering the whole PMD range, and the PMD must point to a PTE table.
        if (vma?.File is not { } file || vma.Start > haddr || vma.End < haddr + span
            || !Zap.FindEntry(m, mm, haddr, PageTableLevel.Pmd, out var pmd, out var level) || level != PageTableLevel.Pmd
            || PteOps.Read(m, pmd) is not { IsPresent: true, IsHuge: false } pmdEntry)
        {
            m.Trace(TraceEvents.CollapseNotCollapsible, haddr, 0);
            mm.MmapLock.UpWrite(t);
            yield return Step.Yield;
            yield break;
        }
        yield return Step.Call(file.IMmapRwsem.DownWrite(t));
        yield return Step.Call(mm.Ptl.Lock(t));
        var table = pmdEntry.Pfn;
        var mapped = new List<Pfn>();
        for (int i = 0; i < PageGeometry.EntriesPerTable; i++)
        {
            var pte = new PageTableEntry(m.Memory.Entries(table)[i]);
            if (PteOps.IsNone(pte)) continue;
            ulong index = vma.PgOff + ((haddr - vma.Start) >> PageGeometry.PageShift) + (ulong)i;
            if (!pte.IsPresent || !file.Pages.TryGetValue(index, out var cached) || cached != pte.Pfn)
            {
                m.Trace(TraceEvents.CollapsePteMapsAnotherPage, haddr + ((ulong)i << PageGeometry.PageShift), pte.Raw);
                mm.Ptl.Unlock(t);
                file.IMmapRwsem.UpWrite(t);
                mm.MmapLock.UpWrite(t);
                yield return Step.Yield;
                yield break;
            }
            mapped.Add(pte.Pfn);
        }
        // page_remove_rmap and page_ref_sub for each mapping: the page cache still holds every page.
        foreach (var page in mapped) m.Memory.Put(page);
        mm.Ptl.Unlock(t);
        yield return Step.Yield;
        var range = new MmuNotifierRange(mm.Id, haddr, haddr + span, MmuNotifierEvent.Clear);
        m.Notifiers.InvalidateRangeStart(range);
        yield return Step.Call(mm.Ptl.Lock(t));
        // pmdp_collapse_flush: the PMD goes, then flush_tlb_range over the PMD range at the VMA's page stride.
        PteOps.GetAndClear(m, pmd);
        m.Trace(TraceEvents.PmdpCollapseFlush, haddr, table.Value);
        m.Arch.FlushTlbRange(mm.Id, haddr, haddr + span, PageGeometry.PageShift);
        mm.Ptl.Unlock(t);
        yield return Step.Yield; // the flush's waits are over before the table is freed
        if (m.Options.CollapseSyncOne && m.Arch.GatherConfig.RcuTableFree)
        {
            // 2ba99c5e0881: a flush that did not interrupt GUP-fast (a hypercall, a broadcast TLBI) leaves it free to
            // walk the table; the waited IPI of tlb_remove_table_sync_one waits it out.
            MmuGather.TlbRemoveTableSyncOne(m);
            yield return Step.Yield;
        }
        m.Notifiers.InvalidateRangeEnd(range);
        // pte_free: straight back to the allocator, no gather and no grace period.
        m.Memory.Free(table);
        m.Trace(TraceEvents.PteFree, haddr, table.Value);
        file.IMmapRwsem.UpWrite(t);
        mm.MmapLock.UpWrite(t);
        yield return Step.Yield;
    }
}

// The operations that take mappings away, as the kernel orders them: munmap (detach VMAs under mmap_lock,
// unmap_vmas, free_pgtables with unlink_file_vma, tlb_finish_mmu), exit_mmap (fullmm), madvise(MADV_DONTNEED),
// truncate_pagecache_range (unmap every mapping, then drop the pages from the page cache) and
// unmap_mapping_range (the file's i_mmap walked under i_mmap_rwsem, each VMA zapped with its own gather so a
// gather already in flight on the mm forces a full flush at tlb_finish_mmu). When each returns, the oracle is told (O3 watches for later use of what it took away). munmap and exit drop guard markers with
// everything else; MADV_DONTNEED and unmap_mapping_range leave them.
using Pv.Abstractions.Memory;
using Pv.Abstractions.Mm;
using Pv.Abstractions.Notifiers;
using Pv.Engine.Gather;
using Pv.Engine.Oracle;
using Pv.Engine.Sched;

namespace Pv.Engine.Mm;

/// <summary>munmap, exit, MADV_DONTNEED and unmap_mapping_range.</summary>
internal static class Munmap
{
    /// <summary><c>munmap(start, length)</c> by thread <paramref name="t"/> on its mm.</summary>
    public static IEnumerable<Step> Run(Machine m, SimThread t, MmStruct mm, ulong start, ulong length)
    {
        ulong end = start + length;
        var op = m.Oracle.BeginOperation(mm.Id, "munmap");
        yield return Step.Call(mm.MmapLock.DownWrite(t));
        yield return Step.Call(Vmas.SplitRange(m, t, mm, start, end));
        var vmas = Vmas.Detach(mm, start, end);
        // The neighbours bound which page tables may go (free_pgtables' floor and ceiling).
        var (floor, ceiling) = Vmas.Neighbours(mm, start, end);
        if (vmas.Count > 0)
        {
            var tlb = MmuGather.TlbGatherMmu(m, mm, op);
            yield return Step.Call(Zap.UnmapVmas(m, t, tlb, vmas, start, end, MmuNotifierEvent.Unmap, dropMarkers: true));
            yield return Step.Call(Zap.FreePgtables(m, t, tlb, vmas, floor, ceiling));
            yield return Step.Call(tlb.TlbFinishMmu());
        }
        mm.MmapLock.UpWrite(t);
        m.Oracle.OperationReturned(op, start, end);
        yield return Step.Yield;
    }

    /// <summary>
    /// <c>exit_mmap</c>: the last user is gone. Notifier release, the backend's exit_mmap, a fullmm gather over every
    /// VMA, every page table freed, then the VMAs dropped. The PGD is freed when no CPU still has the mm loaded.
    /// </summary>
    public static IEnumerable<Step> ExitMmap(Machine m, SimThread t, MmStruct mm)
    {
        var op = m.Oracle.BeginOperation(mm.Id, "exit_mmap");
        m.Notifiers.Release(mm.Id);
        m.PvOps.ExitMmap(mm.Id);
        yield return Step.Yield;
        yield return Step.Call(mm.MmapLock.DownWrite(t));
        var vmas = mm.Vmas.ToList();
        var tlb = MmuGather.TlbGatherMmuFullmm(m, mm, op);
        if (vmas.Count > 0)
        {
            ulong start = vmas[0].Start, end = vmas[^1].End;
            yield return Step.Call(Zap.UnmapVmas(m, t, tlb, vmas, start, end, MmuNotifierEvent.Release, dropMarkers: true));
            mm.Vmas.Clear();
            yield return Step.Call(Zap.FreePgtables(m, t, tlb, vmas, 0, 0));
        }
        yield return Step.Call(tlb.TlbFinishMmu());
        mm.Dead = true;
        mm.MmapLock.UpWrite(t);
        if (!m.Cpus.All.Any(c => c.LoadedMm == mm.Id))
        {
            m.PvOps.PgdFree(mm.Id, mm.Pgd);
            m.Memory.Free(mm.Pgd);
        }
        m.Oracle.OperationReturned(op, 0, ulong.MaxValue);
        yield return Step.Yield;
    }

    /// <summary><c>madvise(MADV_DONTNEED)</c>: zap the range under mmap_lock (read), VMAs stay.</summary>
    public static IEnumerable<Step> MadviseDontneed(Machine m, SimThread t, MmStruct mm, ulong start, ulong length)
    {
        ulong end = start + length;
        var op = m.Oracle.BeginOperation(mm.Id, "madvise(MADV_DONTNEED)");
        yield return Step.Call(mm.MmapLock.DownRead(t));
        foreach (var vma in mm.Vmas.Where(v => v.Start < end && start < v.End).ToList())
            yield return Step.Call(ZapPageRangeSingle(m, t, vma, Math.Max(start, vma.Start), Math.Min(end, vma.End), MmuNotifierEvent.Clear, op));
        mm.MmapLock.UpRead();
        m.Oracle.OperationReturned(op, start, end);
        yield return Step.Yield;
    }

    /// <summary>
    /// <c>zap_page_range_single</c> with no zap_details: one VMA's range with a gather of its own (serving
    /// <paramref name="op"/>, if any); guard markers stay.
    /// </summary>
    public static IEnumerable<Step> ZapPageRangeSingle(Machine m, SimThread t, Vma vma, ulong start, ulong end, MmuNotifierEvent ev, MmOperation? op = null)
    {
        var tlb = MmuGather.TlbGatherMmu(m, vma.Mm, op);
        yield return Step.Call(Zap.UnmapVmas(m, t, tlb, [vma], start, end, ev, dropMarkers: false));
        yield return Step.Call(tlb.TlbFinishMmu());
    }

    /// <summary>
    /// <c>unmap_mapping_range</c>: zap every mapping of file pages [pgoff, pgoff + pages) in every VMA on the
    /// file's i_mmap (under i_mmap_rwsem for read). VMAs already unlinked by a concurrent munmap are not seen.
    /// </summary>
    public static IEnumerable<Step> UnmapMappingRange(Machine m, SimThread t, AddressSpace file, ulong pgoff, ulong pages)
    {
        yield return Step.Call(file.IMmapRwsem.DownRead(t));
        foreach (var vma in file.IMmap.ToList())
        {
            ulong vPages = (vma.End - vma.Start) >> PageGeometry.PageShift;
            ulong lo = Math.Max(pgoff, vma.PgOff), hi = Math.Min(pgoff + pages, vma.PgOff + vPages);
            if (lo >= hi) continue;
            ulong s = vma.Start + ((lo - vma.PgOff) << PageGeometry.PageShift);
            ulong e = vma.Start + ((hi - vma.PgOff) << PageGeometry.PageShift);
            yield return Step.Call(ZapPageRangeSingle(m, t, vma, s, e, MmuNotifierEvent.Clear));
        }
        file.IMmapRwsem.UpRead();
        for (ulong p = pgoff; p < pgoff + pages; p++)
            if (file.Pages.ContainsKey(p)) file.UnmappedBy[p] = t.Name;
        m.Trace(TraceEvents.UnmapMappingRangeReturns, pgoff, pages);
        yield return Step.Yield;
    }

    /// <summary>
    /// <c>truncate_pagecache_range</c> (a hole punched in a file): <c>unmap_mapping_range</c> over the pages (private COW
    /// copies included), then <c>truncate_inode_pages_range</c> drops each page from the page cache, one step per
    /// page, putting the cache's reference; a page is freed once no mapping holds it either. A later fault reads in a
    /// fresh page.
    /// </summary>
    public static IEnumerable<Step> TruncatePagecacheRange(Machine m, SimThread t, AddressSpace file, ulong pgoff, ulong pages)
    {
        yield return Step.Call(UnmapMappingRange(m, t, file, pgoff, pages));
        for (ulong p = pgoff; p < pgoff + pages; p++)
        {
            if (!file.Pages.Remove(p, out var page)) continue;
            bool freed = m.Memory.Put(page);
            m.Trace(freed ? TraceEvents.TruncateFreesPage : TraceEvents.TruncateDropsPage, p, page.Value);
            yield return Step.Yield;
        }
    }

    /// <summary>
    /// A driver revokes its device PFNs (after <c>unmap_mapping_range</c> returned): O4 watches them from now, blaming the
    /// unmap_mapping_range that promised no mapping was left, or the driver itself if it never unmapped them.
    /// </summary>
    public static IEnumerable<Step> RevokePfns(Machine m, SimThread t, AddressSpace file, ulong pgoff, ulong pages)
    {
        for (ulong p = pgoff; p < pgoff + pages; p++)
            if (file.Pages.TryGetValue(p, out var pfn) && m.Memory.KindOf(pfn) == FrameKind.DevicePfn)
            {
                m.Memory.Revoke(pfn);
                m.Oracle.Revoked(pfn, file.UnmappedBy.TryGetValue(p, out var unmapper)
                    ? $"unmap_mapping_range by {unmapper}" : $"revoke by {t.Name} without unmap_mapping_range");
            }
        m.Trace(TraceEvents.DriverRevokesPfns, pgoff, pages);
        yield return Step.Yield;
    }
}

// Guard regions (MADV_GUARD_INSTALL / MADV_GUARD_REMOVE, 6.13) at mechanism level, after the kernel selftest
// guard-regions.c: an access to a marker is SIGSEGV; MADV_DONTNEED and MADV_FREE keep markers; fork copies
// them; mremap moves them (and flushes only for present entries); munmap and exit drop them; guard-remove
// clears markers only, leaves present PTEs bit for bit and flushes nothing. Each test reads the PTEs and the
// access outcomes the engine produced.
using Pv.Abstractions.Memory;
using Pv.Abstractions.Mm;
using Pv.Engine.Cpu;
using Pv.Engine.Mm;
using Pv.Engine.Sched;
using Pv.Engine.Walk;

namespace Pv.Engine.Tests.Mm;

public class GuardRegionTests
{
    private const ulong A = 0x4000_0000; // PMD-aligned: a fresh PTE table
    private const ulong B = 0x4020_0000; // the next PMD: an mremap destination
    private const ulong P = 4096;
    private static readonly PageTableEntry Marker = new((ulong)PteFlags.GuardMarker);

    /// <summary>An anonymous rw VMA of <paramref name="pages"/> pages at <paramref name="start"/>, with <paramref name="mapped"/> pages faulted in.</summary>
    private static TestMachine WithVma(ulong pages, ulong start = A, params ulong[] mapped)
    {
        var t = new TestMachine();
        t.Mm.InsertVma(new Vma(t.Mm, start, start + pages * P, VmaFlags.Read | VmaFlags.Write));
        foreach (var p in mapped) t.Map(start + p * P);
        return t;
    }

    /// <summary>Install markers directly (the install walk has its own tests) on pages that have none.</summary>
    private static void Guard(TestMachine t, params ulong[] pages)
    {
        foreach (var p in pages) t.M.PageTables.Populate(t.Mm.Id, A + p * P, Marker);
    }

    private static PageTableEntry PteAt(TestMachine t, MmStruct mm, ulong va) =>
        Zap.FindEntry(t.M, mm, va, PageTableLevel.Pte, out var slot, out var level) && level == PageTableLevel.Pte ? PteOps.Read(t.M, slot) : PageTableEntry.Empty;

    private static SimThread Run(TestMachine t, params Func<SimThread, IEnumerable<Step>>[] ops)
    {
        var th = t.Thread("op", 0, ops);
        var r = t.RunSequential();
        Assert.True(r.Outcome == RunOutcome.Completed, r.Report?.Format() ?? r.Deadlock);
        return th;
    }

    private static Func<SimThread, IEnumerable<Step>> Read(TestMachine t, ulong va, FaultOutcome o) => th => Fault.UserAccess(t.M, th, va, AccessKind.Read, o);

    private static IEnumerable<string> Flushes(TestMachine t) => t.Backend.Calls.Where(c => c.StartsWith("flush_tlb", StringComparison.Ordinal));

    [Fact]
    public void A_guard_page_faults_with_sigsegv_its_neighbours_fault_in_and_after_guard_remove_it_faults_in_a_fresh_page()
    {
        var t = WithVma(3);
        var install = new WalkResult();
        var remove = new WalkResult();
        FaultOutcome guarded = new(), neighbour = new(), removed = new();
        Run(t,
            th => Madvise.GuardInstall(t.M, th, t.Mm, A, P, install),
            Read(t, A, guarded),
            Read(t, A + P, neighbour),
            th => Madvise.GuardRemove(t.M, th, t.Mm, A, P, remove),
            Read(t, A, removed));
        Assert.Equal((0, 0), (install.Value, remove.Value));
        Assert.Equal(FaultResult.Sigsegv, guarded.Result);
        Assert.NotEqual(AccessStatus.Ok, guarded.Access);
        Assert.Equal(AccessStatus.Ok, neighbour.Access);
        Assert.Equal(AccessStatus.Ok, removed.Access);
        var pte = PteAt(t, t.Mm, A);
        Assert.True(pte.IsPresent);
        Assert.False(pte.Has(PteFlags.GuardMarker));
        Assert.Equal(FrameKind.DataPage, t.M.Memory.KindOf(pte.Pfn));
    }

    [Fact]
    public void Madvise_dontneed_zaps_the_pages_around_a_guard_marker_and_keeps_the_marker()
    {
        var t = WithVma(3, A, 0, 2);
        Guard(t, 1);
        var o = new FaultOutcome();
        Run(t, th => Munmap.MadviseDontneed(t.M, th, t.Mm, A, 3 * P), Read(t, A + P, o));
        Assert.True(PteOps.IsNone(PteAt(t, t.Mm, A)));
        Assert.True(PteOps.IsNone(PteAt(t, t.Mm, A + 2 * P)));
        Assert.Equal(Marker, PteAt(t, t.Mm, A + P));
        Assert.Equal(FaultResult.Sigsegv, o.Result);
    }

    [Fact]
    public void Madvise_free_keeps_guard_markers()
    {
        var t = WithVma(2, A, 0);
        Guard(t, 1);
        var o = new FaultOutcome();
        Run(t, th => KernelMm.MadviseFree(t.M, th, t.Mm, A, 2 * P), Read(t, A + P, o));
        Assert.Equal(Marker, PteAt(t, t.Mm, A + P));
        Assert.Equal(FaultResult.Sigsegv, o.Result);
        // The page beside it was lazily freed as usual: clean and still mapped.
        Assert.False(PteAt(t, t.Mm, A).Has(PteFlags.Dirty));
    }

    [Fact]
    public void Fork_copies_guard_markers_and_the_child_faults_on_them_while_its_other_pages_stay_readable()
    {
        var t = WithVma(3, A, 0);
        Guard(t, 1);
        var child = new MmStruct[1];
        FaultOutcome onMarker = new(), onPage = new(), onEmpty = new();
        IEnumerable<Step> InChild(SimThread th)
        {
            yield return Step.Call(KernelMm.SwitchMm(t.M, th, child[0]));
            yield return Step.Call(Fault.UserAccess(t.M, th, A + P, AccessKind.Write, onMarker));
            yield return Step.Call(Fault.UserAccess(t.M, th, A, AccessKind.Read, onPage));
            yield return Step.Call(Fault.UserAccess(t.M, th, A + 2 * P, AccessKind.Read, onEmpty));
        }
        Run(t, th => Mmap.Fork(t.M, th, t.Mm, child), InChild);
        Assert.Equal(Marker, PteAt(t, child[0], A + P));
        Assert.Equal(Marker, PteAt(t, t.Mm, A + P));
        Assert.Equal(FaultResult.Sigsegv, onMarker.Result);
        Assert.Equal(AccessStatus.Ok, onPage.Access);
        Assert.Equal(AccessStatus.Ok, onEmpty.Access);
    }

    [Fact]
    public void Mremap_moves_guard_markers_with_the_ptes_and_flushes_only_the_present_one()
    {
        var t = WithVma(2, A, 0);
        Guard(t, 1);
        FaultOutcome onMarker = new(), onPage = new();
        Run(t,
            th => Mmap.Mremap(t.M, th, t.Mm, A, 2 * P, B),
            th => Fault.UserAccess(t.M, th, B + P, AccessKind.Read, onMarker),
            th => Fault.UserAccess(t.M, th, B, AccessKind.Read, onPage));
        Assert.True(PteOps.IsNone(PteAt(t, t.Mm, A)));
        Assert.True(PteOps.IsNone(PteAt(t, t.Mm, A + P)));
        Assert.Equal(Marker, PteAt(t, t.Mm, B + P));
        Assert.True(PteAt(t, t.Mm, B).IsPresent);
        Assert.Equal(FaultResult.Sigsegv, onMarker.Result);
        Assert.Equal(AccessStatus.Ok, onPage.Access);
        // The present PTE's move flushes its old address; then unmapping the old VMA frees its now empty PTE table.
        Assert.Equal([$"flush_tlb_range {A:x}-{A + P:x}", $"flush_tlb_range {A:x}-{A + P:x} freed_tables"], Flushes(t));
    }

    [Fact]
    public void Mremap_of_a_whole_pte_table_carries_its_guard_markers_along()
    {
        ulong pmdSpan = PageGeometry.Span(PageTableLevel.Pmd);
        var t = WithVma(pmdSpan / P, A, 0);
        Guard(t, 7);
        var o = new FaultOutcome();
        Run(t, th => Mmap.Mremap(t.M, th, t.Mm, A, pmdSpan, B), th => Fault.UserAccess(t.M, th, B + 7 * P, AccessKind.Read, o));
        Assert.Equal(Marker, PteAt(t, t.Mm, B + 7 * P));
        Assert.False(Zap.FindEntry(t.M, t.Mm, A, PageTableLevel.Pte, out _, out _)); // move_normal_pmd took the table
        Assert.Equal(FaultResult.Sigsegv, o.Result);
    }

    [Fact]
    public void Munmap_drops_guard_markers_so_a_new_mapping_there_faults_in_normally()
    {
        var t = WithVma(2, A);
        Guard(t, 0);
        // A neighbour in the same PTE table keeps the table alive: the marker itself must be cleared.
        t.Mm.InsertVma(new Vma(t.Mm, A + 2 * P, A + 3 * P, VmaFlags.Read | VmaFlags.Write));
        t.Map(A + 2 * P);
        var o = new FaultOutcome();
        PageTableEntry afterMunmap = default;
        Run(t,
            th => Munmap.Run(t.M, th, t.Mm, A, 2 * P),
            _ => TestMachine.Do(() => afterMunmap = PteAt(t, t.Mm, A)),
            th => Mmap.Run(t.M, th, t.Mm, A, 2 * P, VmaFlags.Read | VmaFlags.Write),
            th => Fault.UserAccess(t.M, th, A, AccessKind.Write, o));
        Assert.True(Zap.FindEntry(t.M, t.Mm, A, PageTableLevel.Pte, out _, out var level) && level == PageTableLevel.Pte);
        Assert.True(PteOps.IsNone(afterMunmap));
        Assert.Equal(AccessStatus.Ok, o.Access);
        Assert.True(PteAt(t, t.Mm, A).IsPresent);
    }

    [Fact]
    public void Exit_mmap_zaps_guard_markers_with_everything_else_and_madvise_dontneed_does_not()
    {
        var dontneed = WithVma(2, A, 0);
        Guard(dontneed, 1);
        var kept = Run(dontneed, th => Munmap.MadviseDontneed(dontneed.M, th, dontneed.Mm, A, 2 * P));
        Assert.DoesNotContain(kept.RecentSteps, s => s.What == "zap pte" && s.B == Marker.Raw);

        var exit = WithVma(2, A, 0);
        Guard(exit, 1);
        var dropped = Run(exit, th => Munmap.ExitMmap(exit.M, th, exit.Mm));
        Assert.Contains(dropped.RecentSteps, s => s.What == "zap pte" && s.A == A + P && s.B == Marker.Raw);
    }

    [Fact]
    public void Guard_remove_clears_markers_only_leaves_present_ptes_bit_for_bit_and_flushes_nothing()
    {
        var t = WithVma(4, A, 0, 2);
        Guard(t, 1, 3);
        var before0 = PteAt(t, t.Mm, A);
        var before2 = PteAt(t, t.Mm, A + 2 * P);
        var r = new WalkResult();
        Run(t, th => Madvise.GuardRemove(t.M, th, t.Mm, A, 4 * P, r));
        Assert.Equal(0, r.Value);
        Assert.Equal(before0, PteAt(t, t.Mm, A));
        Assert.Equal(before2, PteAt(t, t.Mm, A + 2 * P));
        Assert.True(PteOps.IsNone(PteAt(t, t.Mm, A + P)));
        Assert.True(PteOps.IsNone(PteAt(t, t.Mm, A + 3 * P)));
        Assert.Empty(Flushes(t));
        // update_mmu_cache for each cleared marker, and for nothing else.
        Assert.Equal([$"update_mmu_cache {A + P:x}", $"update_mmu_cache {A + 3 * P:x}"], t.Backend.Calls.Where(c => c.StartsWith("update_mmu_cache", StringComparison.Ordinal)));
    }

    [Fact]
    public void Guard_remove_on_a_pfnmap_vma_is_einval_and_changes_nothing()
    {
        var t = new TestMachine();
        t.Mm.InsertVma(new Vma(t.Mm, A, A + P, VmaFlags.Read | VmaFlags.PfnMap));
        Guard(t, 0);
        var r = new WalkResult();
        Run(t, th => Madvise.GuardRemove(t.M, th, t.Mm, A, P, r));
        Assert.Equal(-PageWalk.EINVAL, r.Value);
        Assert.Equal(Marker, PteAt(t, t.Mm, A));
    }

    [Fact]
    public void Walk_page_range_vma_walks_the_part_asked_for_and_refuses_a_range_that_leaves_its_vma()
    {
        var t = WithVma(2, A, 0);
        var vma = t.Mm.FindVma(A)!;
        WalkResult inside = new(), outside = new();
        var seen = new List<ulong>();
        var ops = new MmWalkOps { PteEntry = (_, addr, _, _) => { seen.Add(addr); return 0; } };
        IEnumerable<Step> Walks(SimThread th)
        {
            yield return Step.Call(t.Mm.MmapLock.DownRead(th));
            yield return Step.Call(PageWalk.WalkPageRangeVma(t.M, th, vma, A + P, A + 2 * P, ops, null, inside));
            yield return Step.Call(PageWalk.WalkPageRangeVma(t.M, th, vma, A, A + 3 * P, ops, null, outside));
            t.Mm.MmapLock.UpRead();
        }
        Run(t, Walks);
        Assert.Equal((0, -PageWalk.EINVAL), (inside.Value, outside.Value));
        Assert.Equal([A + P], seen);
    }
}

// The page walker, one rule per test: callback arguments and order, return conventions, walk actions, holes
// and their depths, VMA selection, install_pte (tables allocated, only empty PTEs filled, no TLB flush, no
// huge split, hugetlb refused, ENOMEM keeps what was done), check_ops_valid, and the mmap_lock checks.
using Pv.Abstractions.Memory;
using Pv.Abstractions.Mm;
using Pv.Engine.Memory;
using Pv.Engine.Mm;
using Pv.Engine.Sched;
using Pv.Engine.Walk;

namespace Pv.Engine.Tests.Walk;

public class PageWalkTests
{
    private const ulong Va = TestMachine.Va;
    private const ulong P = PageGeometry.PageSize;
    private static readonly ulong PmdSize = PageGeometry.Span(PageTableLevel.Pmd);
    private static readonly ulong PudSize = PageGeometry.Span(PageTableLevel.Pud);
    private static readonly ulong P4dSize = PageGeometry.Span(PageTableLevel.P4d);
    private static readonly PageTableEntry Guard = new((ulong)PteFlags.GuardMarker);

    /// <summary>A thread of the test mm holding its mmap_lock (taken through SimRwSem, outside the scheduler).</summary>
    private static SimThread Locked(TestMachine t, bool write = false)
    {
        var th = t.M.AddThread("caller", ThreadKind.User, 0, t.Mm);
        PageWalk.RunToCompletion(write ? t.Mm.MmapLock.DownWrite(th) : t.Mm.MmapLock.DownRead(th));
        return th;
    }

    private static Vma AddVma(TestMachine t, ulong start, ulong end, VmaFlags flags = VmaFlags.Read | VmaFlags.Write)
    {
        var vma = new Vma(t.Mm, start, end, flags);
        t.Mm.InsertVma(vma);
        return vma;
    }

    /// <summary>Run a walk to completion and return its result.</summary>
    private static int Run(Func<WalkResult, IEnumerable<Step>> walk)
    {
        var r = new WalkResult();
        PageWalk.RunToCompletion(walk(r));
        return r.Value;
    }

    private static int WalkRange(TestMachine t, SimThread th, ulong start, ulong end, MmWalkOps ops, object? priv = null) =>
        Run(r => PageWalk.WalkPageRange(t.M, th, t.Mm, start, end, ops, priv, r));

    private static int WalkRangeMm(TestMachine t, SimThread th, ulong start, ulong end, MmWalkOps ops) =>
        Run(r => PageWalk.WalkPageRangeMm(t.M, th, t.Mm, start, end, ops, null, r));

    private static MmWalkEntryFn Log(List<string> log, string name) =>
        (slot, addr, next, _) =>
        {
            log.Add($"{name} {slot.Level} {addr:x}-{next:x}");
            return 0;
        };

    /// <summary>Install ops writing a guard marker, recording install_pte and pte_entry addresses.</summary>
    private static MmWalkOps GuardOps(List<ulong> installed, List<ulong>? seen = null, MmWalkEntryFn? pmdEntry = null) => new()
    {
        InstallPte = (ulong addr, ulong next, out PageTableEntry pte, MmWalk walk) =>
        {
            installed.Add(addr);
            pte = Guard;
            return 0;
        },
        PteEntry = seen is null ? null : (slot, addr, next, walk) =>
        {
            seen.Add(addr);
            return 0;
        },
        PmdEntry = pmdEntry,
    };

    private static PageTableEntry PteAt(TestMachine t, ulong va)
    {
        var slot = t.M.PageTables.EnsureTable(t.Mm.Id, va, PageTableLevel.Pte);
        return PteOps.Read(t.M, slot);
    }

    [Fact]
    public void Every_callback_gets_its_entry_range_vma_and_private_data_in_kernel_order()
    {
        var t = new TestMachine();
        var (_, pteSlot) = t.Map(Va);
        var vma = AddVma(t, Va, Va + 2 * P);
        var th = Locked(t);
        var log = new List<string>();
        var slots = new List<PteSlot>();
        var priv = new object();
        var ops = new MmWalkOps
        {
            TestWalk = (s, e, w) => { log.Add($"test_walk {s:x}-{e:x}"); return 0; },
            PreVma = (s, e, w) => { log.Add($"pre_vma {s:x}-{e:x}"); return 0; },
            PgdEntry = (slot, a, n, w) => { slots.Add(slot); return Log(log, "pgd")(slot, a, n, w); },
            P4dEntry = (slot, a, n, w) => { slots.Add(slot); return Log(log, "p4d")(slot, a, n, w); },
            PudEntry = Log(log, "pud"),
            PmdEntry = Log(log, "pmd"),
            PteEntry = (slot, a, n, w) =>
            {
                Assert.Same(vma, w.Vma);
                Assert.Same(priv, w.Private);
                if (a == Va) Assert.Equal(pteSlot, slot);
                return Log(log, "pte")(slot, a, n, w);
            },
            PteHole = (a, n, d, w) => { log.Add($"hole {a:x}-{n:x} {d}"); return 0; },
            PostVma = w => log.Add("post_vma"),
        };

        Assert.Equal(0, WalkRange(t, th, Va, Va + 2 * P, ops, priv));

        string r = $"{Va:x}-{Va + 2 * P:x}";
        Assert.Equal(
            [$"test_walk {r}", $"pre_vma {r}", $"pgd P4d {r}", $"p4d P4d {r}", $"pud Pud {r}", $"pmd Pmd {r}",
             $"pte Pte {Va:x}-{Va + P:x}", $"pte Pte {Va + P:x}-{Va + 2 * P:x}", "post_vma"], log);
        Assert.Equal(slots[0], slots[1]); // 4-level paging: the PGD folds onto the P4D slot
    }

    [Fact]
    public void Five_level_paging_walks_pgd_and_p4d_tables_and_reports_their_holes_at_depth_0_and_1()
    {
        var t = new TestMachine(levels: 5);
        t.Map(Va);
        AddVma(t, Va, Va + P);
        AddVma(t, Va + P4dSize, Va + P4dSize + P);         // same PGD entry, empty P4D entry
        ulong far = 1UL << 48;
        AddVma(t, far, far + P);                           // empty PGD entry
        var th = Locked(t);
        var log = new List<string>();
        var ops = new MmWalkOps
        {
            PgdEntry = Log(log, "pgd"),
            P4dEntry = Log(log, "p4d"),
            PteEntry = Log(log, "pte"),
            PteHole = (a, n, d, w) => { if (w.Vma is not null) log.Add($"hole {a:x} {d}"); return 0; },
        };

        Assert.Equal(0, WalkRange(t, th, Va, far + P, ops));

        Assert.Equal(
            [$"pgd Pgd {Va:x}-{Va + P:x}", $"p4d P4d {Va:x}-{Va + P:x}", $"pte Pte {Va:x}-{Va + P:x}",
             $"pgd Pgd {Va + P4dSize:x}-{Va + P4dSize + P:x}", $"hole {Va + P4dSize:x} 1",
             $"hole {far:x} 0"], log);
    }

    [Fact]
    public void A_positive_return_stops_the_walk_and_is_returned()
    {
        var t = new TestMachine();
        for (ulong a = Va; a < Va + 4 * P; a += P) t.Map(a);
        AddVma(t, Va, Va + 4 * P);
        var th = Locked(t);
        var seen = new List<ulong>();
        var ops = new MmWalkOps { PteEntry = (s, a, n, w) => { seen.Add(a); return a == Va + P ? 7 : 0; } };

        Assert.Equal(7, WalkRange(t, th, Va, Va + 4 * P, ops));
        Assert.Equal([Va, Va + P], seen);
    }

    [Fact]
    public void A_negative_return_aborts_the_walk_and_later_vmas_are_not_visited()
    {
        var t = new TestMachine();
        t.Map(Va);
        t.Map(Va + PmdSize);
        AddVma(t, Va, Va + P);
        AddVma(t, Va + PmdSize, Va + PmdSize + P);
        var th = Locked(t);
        var pre = new List<ulong>();
        var ops = new MmWalkOps
        {
            PreVma = (s, e, w) => { pre.Add(s); return 0; },
            PteEntry = (s, a, n, w) => -5,
        };

        Assert.Equal(-5, WalkRange(t, th, Va, Va + PmdSize + P, ops));
        Assert.Equal([Va], pre);
    }

    [Fact]
    public void Action_continue_from_pmd_entry_skips_the_pte_table()
    {
        var t = new TestMachine();
        t.Map(Va);
        AddVma(t, Va, Va + P);
        var th = Locked(t);
        int ptes = 0, pmds = 0;
        var ops = new MmWalkOps
        {
            PmdEntry = (s, a, n, w) => { pmds++; w.Action = PageWalkAction.Continue; return 0; },
            PteEntry = (s, a, n, w) => { ptes++; return 0; },
        };

        Assert.Equal(0, WalkRange(t, th, Va, Va + P, ops));
        Assert.Equal(1, pmds);
        Assert.Equal(0, ptes);
    }

    [Fact]
    public void Action_again_from_pmd_entry_calls_it_again_on_the_same_entry()
    {
        var t = new TestMachine();
        t.Map(Va);
        AddVma(t, Va, Va + P);
        var th = Locked(t);
        var log = new List<string>();
        var ops = new MmWalkOps
        {
            PmdEntry = (s, a, n, w) =>
            {
                log.Add($"pmd {a:x}");
                if (log.Count == 1) w.Action = PageWalkAction.Again;
                return 0;
            },
            PteEntry = (s, a, n, w) => { log.Add($"pte {a:x}"); return 0; },
        };

        Assert.Equal(0, WalkRange(t, th, Va, Va + P, ops));
        Assert.Equal([$"pmd {Va:x}", $"pmd {Va:x}", $"pte {Va:x}"], log);
    }

    [Fact]
    public void Pte_hole_depth_is_minus_1_without_a_vma_and_the_level_of_the_empty_entry_inside_one()
    {
        var t = new TestMachine();
        t.Map(Va);
        AddVma(t, Va, Va + P);
        AddVma(t, Va + PmdSize, Va + PmdSize + P);         // empty PMD entry
        AddVma(t, Va + PudSize, Va + PudSize + P);         // empty PUD entry
        AddVma(t, Va + P4dSize, Va + P4dSize + P);         // empty top-level entry (folded PGD)
        var th = Locked(t);
        var holes = new List<(ulong, ulong, int)>();
        var ops = new MmWalkOps
        {
            PteEntry = (s, a, n, w) => 0,
            PteHole = (a, n, d, w) => { holes.Add((a, n, d)); return 0; },
        };
        ulong end = Va + P4dSize + 2 * P;

        Assert.Equal(0, WalkRange(t, th, Va - P, end, ops));

        Assert.Equal(
            [(Va - P, Va, -1), (Va + P, Va + PmdSize, -1),
             (Va + PmdSize, Va + PmdSize + P, 3), (Va + PmdSize + P, Va + PudSize, -1),
             (Va + PudSize, Va + PudSize + P, 2), (Va + PudSize + P, Va + P4dSize, -1),
             (Va + P4dSize, Va + P4dSize + P, 0), (Va + P4dSize + P, end, -1)], holes);
    }

    [Fact]
    public void Test_walk_returning_1_skips_the_vma_without_pre_vma_or_entries()
    {
        var t = new TestMachine();
        t.Map(Va);
        t.Map(Va + PmdSize);
        AddVma(t, Va, Va + P);
        AddVma(t, Va + PmdSize, Va + PmdSize + P);
        var th = Locked(t);
        var log = new List<string>();
        var ops = new MmWalkOps
        {
            TestWalk = (s, e, w) => s == Va ? 1 : 0,
            PreVma = (s, e, w) => { log.Add($"pre {s:x}"); return 0; },
            PteEntry = (s, a, n, w) => { log.Add($"pte {a:x}"); return 0; },
        };

        Assert.Equal(0, WalkRange(t, th, Va, Va + PmdSize + P, ops));
        Assert.Equal([$"pre {Va + PmdSize:x}", $"pte {Va + PmdSize:x}"], log);
    }

    [Fact]
    public void Without_test_walk_a_pfnmap_vma_is_reported_as_a_hole_and_not_walked()
    {
        var t = new TestMachine();
        t.Map(Va);
        AddVma(t, Va, Va + P, VmaFlags.Read | VmaFlags.PfnMap);
        var th = Locked(t);
        var log = new List<string>();
        var ops = new MmWalkOps
        {
            PteEntry = (s, a, n, w) => { log.Add($"pte {a:x}"); return 0; },
            PteHole = (a, n, d, w) => { log.Add($"hole {a:x} {d}"); return 0; },
        };

        Assert.Equal(0, WalkRange(t, th, Va, Va + P, ops));
        Assert.Equal([$"hole {Va:x} -1"], log);
    }

    [Fact]
    public void Pre_vma_and_post_vma_bracket_the_walk_of_each_vma()
    {
        var t = new TestMachine();
        t.Map(Va);
        t.Map(Va + PmdSize);
        AddVma(t, Va, Va + P);
        AddVma(t, Va + PmdSize, Va + PmdSize + P);
        var th = Locked(t);
        var log = new List<string>();
        var ops = new MmWalkOps
        {
            PreVma = (s, e, w) => { log.Add($"pre {s:x}-{e:x}"); return 0; },
            PteEntry = (s, a, n, w) => { log.Add($"pte {a:x}"); return 0; },
            PostVma = w => log.Add($"post {w.Vma!.Start:x}"),
        };

        Assert.Equal(0, WalkRange(t, th, Va, Va + PmdSize + P, ops));
        Assert.Equal(
            [$"pre {Va:x}-{Va + P:x}", $"pte {Va:x}", $"post {Va:x}",
             $"pre {Va + PmdSize:x}-{Va + PmdSize + P:x}", $"pte {Va + PmdSize:x}", $"post {Va + PmdSize:x}"], log);
    }

    [Fact]
    public void Install_pte_allocates_missing_tables_instead_of_reporting_holes()
    {
        var t = new TestMachine();
        ulong va = Va + P4dSize;                            // nothing below the top table here
        AddVma(t, va, va + 2 * P);
        var th = Locked(t);
        var installed = new List<ulong>();
        int framesBefore = t.M.Memory.FramesUsed;
        int holes = 0;
        var ops = new MmWalkOps
        {
            InstallPte = GuardOps(installed).InstallPte,
            PteHole = (a, n, d, w) => { holes++; return 0; },
        };

        Assert.Equal(0, WalkRangeMm(t, th, va, va + 2 * P, ops));

        Assert.Equal([va, va + P], installed);
        Assert.Equal(0, holes);
        Assert.Equal(3, t.M.Memory.FramesUsed - framesBefore); // PUD, PMD and PTE tables
        Assert.Contains("alloc_pte", t.Backend.Calls);
        Assert.False(t.M.PageTables.TryWalk(t.Mm.Id, va + P, out var slot, out var entry));
        Assert.Equal(PageTableLevel.Pte, slot.Level);
        Assert.Equal(Guard, entry);
    }

    [Fact]
    public void Install_pte_fills_only_empty_ptes()
    {
        var t = new TestMachine();
        var (page, _) = t.Map(Va + P);
        t.M.PageTables.Populate(t.Mm.Id, Va + 2 * P, Guard);
        AddVma(t, Va, Va + 4 * P);
        var th = Locked(t);
        var installed = new List<ulong>();

        Assert.Equal(0, WalkRangeMm(t, th, Va, Va + 4 * P, GuardOps(installed)));

        Assert.Equal([Va, Va + 3 * P], installed);
        Assert.Equal(Guard, PteAt(t, Va));
        Assert.Equal(PageTableEntry.Make(page, TestMachine.UserRw), PteAt(t, Va + P));
        Assert.Equal(Guard, PteAt(t, Va + 2 * P));
        Assert.Equal(Guard, PteAt(t, Va + 3 * P));
    }

    [Fact]
    public void Install_pte_writes_through_set_ptes_and_update_mmu_cache_and_flushes_no_tlb()
    {
        var t = new TestMachine();
        t.Map(Va + P);
        AddVma(t, Va, Va + 3 * P);
        var th = Locked(t);

        Assert.Equal(0, WalkRangeMm(t, th, Va, Va + 3 * P, GuardOps([])));

        Assert.Equal(
            [$"set_ptes {Va:x}", $"update_mmu_cache {Va:x}", $"set_ptes {Va + 2 * P:x}", $"update_mmu_cache {Va + 2 * P:x}"],
            t.Backend.Calls.Where(c => c.StartsWith("set_ptes") || c.StartsWith("update_mmu_cache")));
        Assert.DoesNotContain(t.Backend.Calls, c => c.Contains("flush_tlb"));
        var metrics = t.M.Metrics;
        Assert.Equal(0, metrics.TlbFlushPage.Value + metrics.TlbFlushRange.Value + metrics.TlbFlushAsid.Value + metrics.TlbFlushAll.Value + metrics.TlbBroadcast.Value);
        Assert.Equal(0, metrics.IpiSent.Value);
    }

    [Fact]
    public void In_an_install_walk_pte_entry_sees_only_the_existing_ptes()
    {
        var t = new TestMachine();
        t.Map(Va + P);
        t.M.PageTables.Populate(t.Mm.Id, Va + 2 * P, Guard);
        AddVma(t, Va, Va + 4 * P);
        var th = Locked(t);
        var seen = new List<ulong>();

        Assert.Equal(0, WalkRangeMm(t, th, Va, Va + 4 * P, GuardOps([], seen)));

        Assert.Equal([Va + P, Va + 2 * P], seen);
    }

    [Fact]
    public void An_install_only_walk_leaves_a_present_huge_pmd_whole_and_pmd_entry_sees_the_leaf()
    {
        var t = new TestMachine();
        var huge = PageTableEntry.Make(new Pfn(0x200), TestMachine.UserRw | PteFlags.Huge);
        var pmdSlot = t.M.PageTables.Populate(t.Mm.Id, Va, huge, PageTableLevel.Pmd);
        AddVma(t, Va, Va + PmdSize);
        var th = Locked(t);
        var installed = new List<ulong>();
        var leaves = new List<PageTableEntry>();
        var ops = GuardOps(installed, pmdEntry: (s, a, n, w) => { leaves.Add(w.Read(s)); return 0; });

        Assert.Equal(0, WalkRangeMm(t, th, Va, Va + PmdSize, ops));

        Assert.Equal([huge], leaves);
        Assert.Empty(installed);
        Assert.Equal(huge, PteOps.Read(t.M, pmdSlot));
        Assert.DoesNotContain("alloc_pte", t.Backend.Calls);
    }

    [Fact]
    public void Install_pte_in_a_hugetlb_vma_is_einval_before_any_callback()
    {
        var t = new TestMachine();
        AddVma(t, Va, Va + PmdSize, VmaFlags.Read | VmaFlags.Write | VmaFlags.HugeTlb);
        var th = Locked(t);
        var installed = new List<ulong>();
        int pre = 0;
        var ops = new MmWalkOps { InstallPte = GuardOps(installed).InstallPte, PreVma = (s, e, w) => { pre++; return 0; } };

        Assert.Equal(-PageWalk.EINVAL, WalkRangeMm(t, th, Va, Va + PmdSize, ops));
        Assert.Empty(installed);
        Assert.Equal(0, pre);
    }

    [Fact]
    public void A_hugetlb_vma_goes_to_hugetlb_entry_per_huge_page_and_missing_tables_are_holes()
    {
        var t = new TestMachine();
        var huge = PageTableEntry.Make(new Pfn(0x200), TestMachine.UserRw | PteFlags.Huge);
        var pmdSlot = t.M.PageTables.Populate(t.Mm.Id, Va, huge, PageTableLevel.Pmd);
        const VmaFlags hugetlb = VmaFlags.Read | VmaFlags.HugeTlb;
        AddVma(t, Va, Va + 2 * PmdSize, hugetlb);
        AddVma(t, Va + PudSize, Va + PudSize + PmdSize, hugetlb);
        var th = Locked(t);
        var log = new List<string>();
        var ptes = 0;
        var ops = new MmWalkOps
        {
            HugetlbEntry = (s, hmask, a, n, w) => { log.Add($"hugetlb {s.Level} {a:x}-{n:x} {~hmask + 1:x} {w.Read(s)}"); return 0; },
            PteEntry = (s, a, n, w) => { ptes++; return 0; },
            PteHole = (a, n, d, w) => { log.Add($"hole {a:x}-{n:x} {d}"); return 0; },
        };

        Assert.Equal(0, WalkRange(t, th, Va, Va + PudSize + PmdSize, ops));

        Assert.Equal(
            [$"hugetlb Pmd {Va:x}-{Va + PmdSize:x} {PmdSize:x} {huge}",
             $"hugetlb Pmd {Va + PmdSize:x}-{Va + 2 * PmdSize:x} {PmdSize:x} none",
             $"hole {Va + 2 * PmdSize:x}-{Va + PudSize:x} -1",
             $"hole {Va + PudSize:x}-{Va + PudSize + PmdSize:x} -1"], log);
        Assert.Equal(0, ptes);
        Assert.Equal(PageTableLevel.Pmd, pmdSlot.Level);
    }

    [Fact]
    public void An_allocation_failure_aborts_with_enomem_and_keeps_what_was_populated()
    {
        var t = new TestMachine();
        var pmd0 = t.M.PageTables.EnsureTable(t.Mm.Id, Va, PageTableLevel.Pmd);
        t.Map(Va);
        AddVma(t, Va, Va + PmdSize + 2 * P);
        var th = Locked(t);
        var installed = new List<ulong>();
        t.M.Memory.InjectFailures(AllocSite.PageTable, 1);

        Assert.Equal(-PageWalk.ENOMEM, WalkRangeMm(t, th, Va, Va + PmdSize + 2 * P, GuardOps(installed)));

        Assert.Equal(PageGeometry.EntriesPerTable - 1, installed.Count);
        Assert.Equal(Guard, PteAt(t, Va + PmdSize - P));
        var pmd1 = pmd0 with { Index = pmd0.Index + 1 };
        Assert.True(PteOps.Read(t.M, pmd1).IsNone);
    }

    [Fact]
    public void Check_ops_valid_refuses_install_pte_on_every_exported_entry_point_but_walk_page_range_mm()
    {
        var t = new TestMachine();
        var file = new AddressSpace("f");
        var vma = new Vma(t.Mm, Va, Va + P, VmaFlags.Read | VmaFlags.Shared, file);
        t.Mm.InsertVma(vma);
        var th = Locked(t, write: true);
        PageWalk.RunToCompletion(file.IMmapRwsem.DownRead(th));
        var installed = new List<ulong>();
        var ops = GuardOps(installed);
        const int einval = -PageWalk.EINVAL;

        Assert.Equal(einval, WalkRange(t, th, Va, Va + P, ops));
        Assert.Equal(einval, Run(r => PageWalk.WalkPageVma(t.M, th, vma, ops, null, r)));
        Assert.Equal(einval, Run(r => PageWalk.WalkPageRangeNovma(t.M, th, t.Mm, Va, Va + P, ops, null, null, r)));
        Assert.Equal(einval, Run(r => PageWalk.WalkPageMapping(t.M, th, file, 0, 1, ops, null, r)));
        Assert.Empty(installed);

        Assert.Equal(0, WalkRangeMm(t, th, Va, Va + P, ops));
        Assert.Equal([Va], installed);
    }

    [Fact]
    public void A_walk_without_mmap_lock_in_the_mode_walk_lock_needs_throws_naming_the_lock()
    {
        var t = new TestMachine();
        t.Map(Va);
        AddVma(t, Va, Va + P);
        var reader = Locked(t);
        var other = t.M.AddThread("other", ThreadKind.User, 1, t.Mm);
        var ops = new MmWalkOps { PteEntry = (s, a, n, w) => 0 };

        // Read held: PGWALK_RDLOCK passes; PGWALK_WRLOCK and a user-mm novma walk need it for write.
        Assert.Equal(0, WalkRange(t, reader, Va, Va + P, ops));
        var e = Assert.Throws<InvalidOperationException>(() => WalkRange(t, reader, Va, Va + P, new MmWalkOps { PteEntry = ops.PteEntry, WalkLock = PageWalkLock.WrLock }));
        Assert.Contains("mmap_lock", e.Message);
        Assert.Contains("write", e.Message);
        Assert.Throws<InvalidOperationException>(() => Run(r => PageWalk.WalkPageRangeNovma(t.M, reader, t.Mm, Va, Va + P, ops, null, null, r)));

        // Not held at all.
        t.Mm.MmapLock.UpRead();
        e = Assert.Throws<InvalidOperationException>(() => WalkRange(t, reader, Va, Va + P, ops));
        Assert.Contains("mmap_lock", e.Message);

        // Held for write by another thread: the caller does not hold it.
        PageWalk.RunToCompletion(t.Mm.MmapLock.DownWrite(other));
        Assert.Throws<InvalidOperationException>(() => WalkRange(t, reader, Va, Va + P, ops));
        Assert.Equal(0, WalkRange(t, other, Va, Va + P, new MmWalkOps { PteEntry = ops.PteEntry, WalkLock = PageWalkLock.WrLockVerify }));
    }

    [Fact]
    public void In_a_machine_thread_an_unlocked_walk_is_a_kernel_bug()
    {
        var t = new TestMachine();
        AddVma(t, Va, Va + P);
        var r = new WalkResult();
        t.Thread("walker", 0, th => PageWalk.WalkPageRange(t.M, th, t.Mm, Va, Va + P, new MmWalkOps(), null, r));

        // A failed lockdep assertion is the engine's own bug: the run stops as an internal error, with the schedule.
        var e = Assert.Throws<SimulationInternalError>(() => t.RunSequential());
        Assert.IsType<InvalidOperationException>(e.InnerException);
        Assert.Contains("mmap_lock", e.Message);
    }

    [Fact]
    public void In_machine_threads_an_install_walk_takes_steps_under_mmap_lock_and_the_ptl()
    {
        for (ulong seed = 1; seed <= 20; seed++)
        {
            var t = new TestMachine();
            t.Map(Va + P);
            AddVma(t, Va, Va + 4 * P);
            var r = new WalkResult();
            var installed = new List<ulong>();
            var ops = new MmWalkOps
            {
                InstallPte = (ulong addr, ulong next, out PageTableEntry pte, MmWalk w) =>
                {
                    Assert.Same(w.Current, w.Mm.Ptl.Owner);
                    installed.Add(addr);
                    pte = Guard;
                    return 0;
                },
            };
            var walker = t.Thread("madvise", 0, th => GuardInstall(t, th, ops, r));
            // Another thread wants the PTL and then mmap_lock for write: it waits for the walk at each.
            t.Thread("other", 1, th => PtlThenWrite(t, th));

            var run = t.M.Run(new RandomPolicy(seed));

            Assert.Equal(RunOutcome.Completed, run.Outcome);
            Assert.Equal(0, r.Value);
            Assert.Equal([Va, Va + 2 * P, Va + 3 * P], installed);
            Assert.Null(t.Mm.Ptl.Owner);
            Assert.Equal(0, t.Mm.MmapLock.Readers);
            Assert.True(walker.StepsTaken >= 5); // mmap_lock, PTL, then one step per PTE
        }
    }

    private static IEnumerable<Step> GuardInstall(TestMachine t, SimThread th, MmWalkOps ops, WalkResult r)
    {
        yield return Step.Call(t.Mm.MmapLock.DownRead(th));
        yield return Step.Call(PageWalk.WalkPageRangeMm(t.M, th, t.Mm, Va, Va + 4 * P, ops, null, r));
        t.Mm.MmapLock.UpRead();
        yield return Step.Yield;
    }

    private static IEnumerable<Step> PtlThenWrite(TestMachine t, SimThread th)
    {
        yield return Step.Call(t.Mm.Ptl.Lock(th));
        yield return Step.Yield;
        t.Mm.Ptl.Unlock(th);
        yield return Step.Call(t.Mm.MmapLock.DownWrite(th));
        t.Mm.MmapLock.UpWrite(th);
        yield return Step.Yield;
    }

    [Fact]
    public void Walk_page_vma_walks_the_whole_vma_without_test_walk()
    {
        var t = new TestMachine();
        t.Map(Va);
        var vma = AddVma(t, Va, Va + 2 * P);
        var th = Locked(t);
        var seen = new List<ulong>();
        var ops = new MmWalkOps
        {
            TestWalk = (s, e, w) => 1,
            PteEntry = (s, a, n, w) => { seen.Add(a); return 0; },
        };

        Assert.Equal(0, Run(r => PageWalk.WalkPageVma(t.M, th, vma, ops, null, r)));
        Assert.Equal([Va, Va + P], seen);
    }

    [Fact]
    public void Walk_page_mapping_walks_the_clipped_file_range_of_each_mapping_vma()
    {
        var t = new TestMachine();
        var file = new AddressSpace("f");
        t.Map(Va + P);
        t.Mm.InsertVma(new Vma(t.Mm, Va, Va + 4 * P, VmaFlags.Read | VmaFlags.Shared, file, pgoff: 10));
        var th = t.M.AddThread("caller", ThreadKind.User, 0, t.Mm);
        var seen = new List<ulong>();
        var ops = new MmWalkOps { PteEntry = (s, a, n, w) => { seen.Add(a); return 0; } };

        Assert.Throws<InvalidOperationException>(() => Run(r => PageWalk.WalkPageMapping(t.M, th, file, 11, 2, ops, null, r)));
        PageWalk.RunToCompletion(file.IMmapRwsem.DownRead(th));
        Assert.Equal(0, Run(r => PageWalk.WalkPageMapping(t.M, th, file, 11, 2, ops, null, r)));
        Assert.Equal([Va + P, Va + 2 * P], seen);
    }

    [Fact]
    public void Walk_page_range_novma_walks_tables_without_vmas_or_the_ptl()
    {
        var t = new TestMachine();
        t.Map(Va);
        var th = Locked(t, write: true);
        var other = t.M.AddThread("other", ThreadKind.User, 1, t.Mm);
        PageWalk.RunToCompletion(t.Mm.Ptl.Lock(other));
        var seen = new List<ulong>();
        var ops = new MmWalkOps
        {
            PteEntry = (s, a, n, w) =>
            {
                Assert.True(w.NoVma);
                Assert.Null(w.Vma);
                seen.Add(a);
                return 0;
            },
        };

        Assert.Equal(0, Run(r => PageWalk.WalkPageRangeNovma(t.M, th, t.Mm, Va, Va + 2 * P, ops, null, null, r)));
        Assert.Equal([Va, Va + P], seen);
    }
}

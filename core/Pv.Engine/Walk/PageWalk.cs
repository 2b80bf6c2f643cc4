// The generic page walker (mm/pagewalk.c, 2024, with install_pte) as step sequences. One function per level,
// the same shape at each: read one entry per step, report an empty entry to pte_hole (or, in an install walk,
// allocate the missing table), call the level's callback, descend. The PTE level runs under the PTL (VMA
// walks); an install walk fills only empty PTEs (set_pte_at, then update_mmu_cache) and so flushes no TLB,
// and it never splits a present huge leaf. Entry points check the caller's mmap_lock per walk_lock (a
// violation is a kernel bug: InvalidOperationException) and reject install_pte (check_ops_valid), except the
// mm-internal walk_page_range_mm. Relies on the caller keeping the tables alive (mmap_lock), as the kernel does.
using Pv.Abstractions.Memory;
using Pv.Abstractions.Mm;
using Pv.Engine.Memory;
using Pv.Engine.Mm;
using Pv.Engine.Sched;

namespace Pv.Engine.Walk;

/// <summary>The page walker's entry points (<c>walk_page_range</c> and friends).</summary>
internal static class PageWalk
{
    /// <summary>EINVAL: bad range, or <c>install_pte</c> where it is not allowed (returned negated).</summary>
    public const int EINVAL = 22;

    /// <summary>ENOMEM: an install walk could not allocate a page table (returned negated).</summary>
    public const int ENOMEM = 12;

    /// <summary>
    /// <c>walk_page_range</c>: walk [<paramref name="start"/>, <paramref name="end"/>) of <paramref name="mm"/>, VMA
    /// by VMA (gaps go to <c>pte_hole</c> with depth -1), as thread <paramref name="t"/>. -EINVAL if
    /// <paramref name="ops"/> has <c>install_pte</c> or the range is empty.
    /// </summary>
    public static IEnumerable<Step> WalkPageRange(Machine m, SimThread t, MmStruct mm, ulong start, ulong end, MmWalkOps ops, object? @private, WalkResult result)
    {
        if (!CheckOpsValid(ops))
        {
            result.Value = -EINVAL;
            yield break;
        }
        yield return Step.Call(WalkPageRangeMm(m, t, mm, start, end, ops, @private, result));
    }

    /// <summary>
    /// <c>walk_page_range_mm</c> (mm/internal.h): <see cref="WalkPageRange"/> for the mm's own use, the only entry
    /// point that accepts <c>install_pte</c> (its user: MADV_GUARD_INSTALL).
    /// </summary>
    public static IEnumerable<Step> WalkPageRangeMm(Machine m, SimThread t, MmStruct mm, ulong start, ulong end, MmWalkOps ops, object? @private, WalkResult result)
    {
        result.Value = 0;
        if (start >= end)
        {
            result.Value = -EINVAL;
            yield break;
        }
        ProcessMmWalkLock(t, mm, ops.WalkLock);
        var walk = new MmWalk(m, t, ops, mm, @private);
        var ret = new WalkResult();
        int err = 0;
        var vma = FindVma(mm, start);
        ulong next;
        do
        {
            if (vma is null)
            {
                // After the last VMA.
                walk.Vma = null;
                next = end;
                if (ops.PteHole is { } hole) err = hole(start, next, -1, walk);
            }
            else if (start < vma.Start)
            {
                // A gap before the next VMA.
                walk.Vma = null;
                next = Math.Min(end, vma.Start);
                if (ops.PteHole is { } hole) err = hole(start, next, -1, walk);
            }
            else
            {
                ProcessVmaWalkLock(t, vma, ops.WalkLock);
                walk.Vma = vma;
                next = Math.Min(end, vma.End);
                vma = FindVma(mm, vma.End);
                err = WalkPageTest(start, next, walk);
                if (err > 0)
                {
                    // A positive test_walk result only steers the walk: skip the VMA.
                    err = 0;
                    continue;
                }
                if (err < 0) break;
                yield return Step.Call(WalkPageRangeInner(walk, start, next, ret));
                err = ret.Value;
            }
            if (err != 0) break;
        } while ((start = next) < end);
        result.Value = err;
    }

    /// <summary>
    /// <c>walk_page_range_novma</c>: walk the page tables of [<paramref name="start"/>, <paramref name="end"/>)
    /// ignoring VMAs and without the PTL, from <paramref name="pgd"/> if given, else the mm's. init_mm needs
    /// mmap_lock for read, a user mm for write. -EINVAL with <c>install_pte</c> or an empty range.
    /// </summary>
    public static IEnumerable<Step> WalkPageRangeNovma(Machine m, SimThread t, MmStruct mm, ulong start, ulong end, MmWalkOps ops, Pfn? pgd, object? @private, WalkResult result)
    {
        result.Value = 0;
        if (start >= end || !CheckOpsValid(ops))
        {
            result.Value = -EINVAL;
            yield break;
        }
        if (mm == m.InitMm) MmapAssertLocked(t, mm);
        else MmapAssertWriteLocked(t, mm);
        var walk = new MmWalk(m, t, ops, mm, @private) { Pgd = pgd, NoVma = true };
        yield return Step.Call(WalkPgdRange(walk, start, end, result));
    }

    /// <summary><c>walk_page_vma</c>: walk all of <paramref name="vma"/> (no <c>test_walk</c>). -EINVAL with <c>install_pte</c>.</summary>
    public static IEnumerable<Step> WalkPageVma(Machine m, SimThread t, Vma vma, MmWalkOps ops, object? @private, WalkResult result)
    {
        result.Value = 0;
        if (!CheckOpsValid(ops))
        {
            result.Value = -EINVAL;
            yield break;
        }
        ProcessMmWalkLock(t, vma.Mm, ops.WalkLock);
        ProcessVmaWalkLock(t, vma, ops.WalkLock);
        var walk = new MmWalk(m, t, ops, vma.Mm, @private) { Vma = vma };
        yield return Step.Call(WalkPageRangeInner(walk, vma.Start, vma.End, result));
    }

    /// <summary>
    /// <c>walk_page_range_vma</c>: walk [<paramref name="start"/>, <paramref name="end"/>) of <paramref name="vma"/>
    /// (no <c>test_walk</c>). -EINVAL if the range is empty or leaves the VMA, or with <c>install_pte</c>.
    /// </summary>
    public static IEnumerable<Step> WalkPageRangeVma(Machine m, SimThread t, Vma vma, ulong start, ulong end, MmWalkOps ops, object? @private, WalkResult result)
    {
        result.Value = 0;
        if (start >= end || start < vma.Start || end > vma.End || !CheckOpsValid(ops))
        {
            result.Value = -EINVAL;
            yield break;
        }
        ProcessMmWalkLock(t, vma.Mm, ops.WalkLock);
        ProcessVmaWalkLock(t, vma, ops.WalkLock);
        var walk = new MmWalk(m, t, ops, vma.Mm, @private) { Vma = vma };
        yield return Step.Call(WalkPageRangeInner(walk, start, end, result));
    }

    /// <summary>
    /// <c>walk_page_mapping</c>: walk every VMA of <paramref name="mapping"/>'s i_mmap over file pages
    /// [<paramref name="firstIndex"/>, <paramref name="firstIndex"/> + <paramref name="nr"/>). The caller holds
    /// i_mmap_rwsem, not mmap_lock. A positive <c>test_walk</c> result ends the walk (as the kernel's does).
    /// </summary>
    public static IEnumerable<Step> WalkPageMapping(Machine m, SimThread t, AddressSpace mapping, ulong firstIndex, ulong nr, MmWalkOps ops, object? @private, WalkResult result)
    {
        result.Value = 0;
        if (!CheckOpsValid(ops))
        {
            result.Value = -EINVAL;
            yield break;
        }
        if (mapping.IMmapRwsem.Readers == 0 && mapping.IMmapRwsem.Writer is null)
            throw new InvalidOperationException($"walk_page_mapping of {mapping.Name} by {t.Name} without {mapping.IMmapRwsem.Name} held (lockdep_assert_held)");
        var ret = new WalkResult();
        int err = 0;
        // Indexed: i_mmap is a list here; the rwsem keeps it stable for the walk.
        for (int i = 0; i < mapping.IMmap.Count; i++)
        {
            var vma = mapping.IMmap[i];
            ulong vba = vma.PgOff, vea = vba + ((vma.End - vma.Start) >> PageGeometry.PageShift);
            ulong cba = Math.Max(firstIndex, vba), cea = Math.Min(firstIndex + nr, vea);
            if (cba >= cea) continue;
            var walk = new MmWalk(m, t, ops, vma.Mm, @private) { Vma = vma };
            err = WalkPageTest(vma.Start, vma.End, walk);
            if (err > 0)
            {
                err = 0;
                break;
            }
            if (err < 0) break;
            ulong startAddr = ((cba - vba) << PageGeometry.PageShift) + vma.Start;
            ulong endAddr = ((cea - vba) << PageGeometry.PageShift) + vma.Start;
            yield return Step.Call(WalkPageRangeInner(walk, startAddr, endAddr, ret));
            err = ret.Value;
            if (err != 0) break;
        }
        result.Value = err;
    }

    /// <summary>
    /// Run <paramref name="operation"/> to completion outside the scheduler (setup and tests): every step at once.
    /// A wait that does not already hold would block forever here, so it throws.
    /// </summary>
    public static void RunToCompletion(IEnumerable<Step> operation)
    {
        var stack = new Stack<IEnumerator<Step>>();
        stack.Push(operation.GetEnumerator());
        while (stack.Count > 0)
        {
            var top = stack.Peek();
            if (!top.MoveNext())
            {
                stack.Pop().Dispose();
                continue;
            }
            var s = top.Current;
            if (s.Kind == StepKind.Call) stack.Push((IEnumerator<Step>)s.Payload!);
            else if (s.Kind == StepKind.Wait && s.Payload is IWaitCondition { IsSatisfied: false } c)
                throw new InvalidOperationException($"outside the scheduler, the operation would block on {c.Describe()}");
        }
    }

    /// <summary>
    /// <c>check_ops_valid</c>: installing PTEs is for the mm's own code only, so every exported entry point refuses
    /// ops that have <c>install_pte</c>.
    /// </summary>
    private static bool CheckOpsValid(MmWalkOps ops) => ops.InstallPte is null;

    /// <summary><c>find_vma</c>: the first VMA ending above <paramref name="addr"/>, or null.</summary>
    private static Vma? FindVma(MmStruct mm, ulong addr)
    {
        foreach (var v in mm.Vmas)
            if (v.End > addr) return v;
        return null;
    }

    /// <summary><c>walk_page_test</c>: 0 walks the VMA, &gt;0 skips it, &lt;0 aborts. VM_PFNMAP is a hole unless test_walk decides.</summary>
    private static int WalkPageTest(ulong start, ulong end, MmWalk walk)
    {
        var ops = walk.Ops;
        if (ops.TestWalk is { } test) return test(start, end, walk);
        // No struct pages behind VM_PFNMAP: not walked, but callers that track holes see it as one.
        if ((walk.Vma!.Flags & VmaFlags.PfnMap) != 0)
        {
            int err = ops.PteHole?.Invoke(start, end, -1, walk) ?? 1;
            return err != 0 ? err : 1;
        }
        return 0;
    }

    /// <summary><c>__walk_page_range</c>: one VMA's part [start, end): pre_vma, the table or hugetlb walk, post_vma.</summary>
    private static IEnumerable<Step> WalkPageRangeInner(MmWalk walk, ulong start, ulong end, WalkResult ret)
    {
        var ops = walk.Ops;
        bool isHugetlb = (walk.Vma!.Flags & VmaFlags.HugeTlb) != 0;
        // Installing PTEs in hugetlb VMAs is not supported.
        if (ops.InstallPte is not null && isHugetlb)
        {
            ret.Value = -EINVAL;
            yield break;
        }
        int err = 0;
        if (ops.PreVma is { } pre)
        {
            err = pre(start, end, walk);
            if (err != 0)
            {
                ret.Value = err;
                yield break;
            }
        }
        if (isHugetlb)
        {
            if (ops.HugetlbEntry is not null)
            {
                yield return Step.Call(WalkHugetlbRange(walk, start, end, ret));
                err = ret.Value;
            }
        }
        else
        {
            yield return Step.Call(WalkPgdRange(walk, start, end, ret));
            err = ret.Value;
        }
        ops.PostVma?.Invoke(walk);
        ret.Value = err;
    }

    /// <summary><c>walk_pgd_range</c>. With 4-level paging the PGD is folded: its "entry" is the top table's P4D slot, never empty, and reads nothing.</summary>
    private static IEnumerable<Step> WalkPgdRange(MmWalk walk, ulong addr, ulong end, WalkResult ret)
    {
        var m = walk.Machine;
        var ops = walk.Ops;
        bool hasHandler = ops.P4dEntry is not null || ops.PudEntry is not null || ops.PmdEntry is not null || ops.PteEntry is not null;
        bool hasInstall = ops.InstallPte is not null;
        bool folded = PgdFolded(m);
        var level = folded ? PageTableLevel.P4d : PageTableLevel.Pgd;
        var table = walk.Pgd ?? walk.Mm.Pgd;
        int err = 0;
        ulong next;
        do
        {
            next = AddrEnd(addr, end, level);
            var pgd = PageTables.SlotOf(table, addr, level);
            // pgd_none_or_clear_bad: an empty or bad (non-present) entry is a hole; Pv leaves a bad one in place.
            if (!folded && !PteOps.Read(m, pgd).IsPresent)
            {
                if (hasInstall) err = TableAlloc(walk, pgd);
                else if (ops.PteHole is { } hole) err = hole(addr, next, 0, walk);
                if (err != 0) break;
                if (!hasInstall)
                {
                    yield return Step.Yield;
                    continue;
                }
            }
            if (ops.PgdEntry is { } entry)
            {
                err = entry(pgd, addr, next, walk);
                if (err != 0) break;
            }
            if (!folded) yield return Step.Yield;
            if (!hasHandler && !hasInstall) continue;
            yield return Step.Call(WalkP4dRange(walk, pgd, addr, next, ret));
            err = ret.Value;
            if (err != 0) break;
        } while ((addr = next) != end);
        ret.Value = err;
    }

    /// <summary><c>walk_p4d_range</c>. With 4-level paging the P4D table is the top table and an empty entry is a depth-0 hole.</summary>
    private static IEnumerable<Step> WalkP4dRange(MmWalk walk, PteSlot pgd, ulong addr, ulong end, WalkResult ret)
    {
        var m = walk.Machine;
        var ops = walk.Ops;
        bool hasHandler = ops.PudEntry is not null || ops.PmdEntry is not null || ops.PteEntry is not null;
        bool hasInstall = ops.InstallPte is not null;
        bool folded = PgdFolded(m);
        int depth = folded ? 0 : 1;
        var table = folded ? pgd.Table : PteOps.Read(m, pgd).Pfn;
        int err = 0;
        ulong next;
        do
        {
            next = AddrEnd(addr, end, PageTableLevel.P4d);
            var p4d = PageTables.SlotOf(table, addr, PageTableLevel.P4d);
            // p4d_none_or_clear_bad, as at the PGD.
            if (!PteOps.Read(m, p4d).IsPresent)
            {
                if (hasInstall) err = TableAlloc(walk, p4d);
                else if (ops.PteHole is { } hole) err = hole(addr, next, depth, walk);
                if (err != 0) break;
                if (!hasInstall)
                {
                    yield return Step.Yield;
                    continue;
                }
            }
            if (ops.P4dEntry is { } entry)
            {
                err = entry(p4d, addr, next, walk);
                if (err != 0) break;
            }
            yield return Step.Yield;
            if (!hasHandler && !hasInstall) continue;
            yield return Step.Call(WalkPudRange(walk, p4d, addr, next, ret));
            err = ret.Value;
            if (err != 0) break;
        } while ((addr = next) != end);
        ret.Value = err;
    }

    /// <summary><c>walk_pud_range</c>: a present huge PUD goes to pud_entry and is not descended into.</summary>
    private static IEnumerable<Step> WalkPudRange(MmWalk walk, PteSlot p4d, ulong addr, ulong end, WalkResult ret)
    {
        var m = walk.Machine;
        var ops = walk.Ops;
        bool hasHandler = ops.PmdEntry is not null || ops.PteEntry is not null;
        bool hasInstall = ops.InstallPte is not null;
        const int depth = 2;
        var table = PteOps.Read(m, p4d).Pfn;
        int err = 0;
        ulong next;
        do
        {
        again:
            next = AddrEnd(addr, end, PageTableLevel.Pud);
            var pud = PageTables.SlotOf(table, addr, PageTableLevel.Pud);
            if (PteOps.IsNone(PteOps.Read(m, pud)))
            {
                if (hasInstall) err = TableAlloc(walk, pud);
                else if (ops.PteHole is { } hole) err = hole(addr, next, depth, walk);
                if (err != 0) break;
                if (!hasInstall)
                {
                    yield return Step.Yield;
                    continue;
                }
            }
            walk.Action = PageWalkAction.Subtree;
            if (ops.PudEntry is { } entry) err = entry(pud, addr, next, walk);
            if (err != 0) break;
            bool descend = walk.Action == PageWalkAction.Subtree && (hasHandler || hasInstall) && IsTable(PteOps.Read(m, pud));
            yield return Step.Yield;
            if (walk.Action == PageWalkAction.Again) goto again;
            if (!descend) continue;
            yield return Step.Call(WalkPmdRange(walk, pud, addr, next, ret));
            err = ret.Value;
            if (err != 0) break;
        } while ((addr = next) != end);
        ret.Value = err;
    }

    /// <summary><c>walk_pmd_range</c>: a present huge PMD goes to pmd_entry and is not descended into.</summary>
    private static IEnumerable<Step> WalkPmdRange(MmWalk walk, PteSlot pud, ulong addr, ulong end, WalkResult ret)
    {
        var m = walk.Machine;
        var ops = walk.Ops;
        bool hasHandler = ops.PteEntry is not null;
        bool hasInstall = ops.InstallPte is not null;
        const int depth = 3;
        var table = PteOps.Read(m, pud).Pfn;
        int err = 0;
        ulong next;
        do
        {
        again:
            next = AddrEnd(addr, end, PageTableLevel.Pmd);
            var pmd = PageTables.SlotOf(table, addr, PageTableLevel.Pmd);
            if (PteOps.IsNone(PteOps.Read(m, pmd)))
            {
                if (hasInstall) err = TableAlloc(walk, pmd);
                else if (ops.PteHole is { } hole) err = hole(addr, next, depth, walk);
                if (err != 0) break;
                if (!hasInstall)
                {
                    yield return Step.Yield;
                    continue;
                }
            }
            walk.Action = PageWalkAction.Subtree;
            // pmd_entry sees huge leaves too.
            if (ops.PmdEntry is { } entry) err = entry(pmd, addr, next, walk);
            if (err != 0) break;
            bool descend = walk.Action == PageWalkAction.Subtree && (hasHandler || hasInstall) && IsTable(PteOps.Read(m, pmd));
            yield return Step.Yield;
            if (walk.Action == PageWalkAction.Again) goto again;
            if (!descend) continue;
            yield return Step.Call(WalkPteRange(walk, pmd, addr, next, ret));
            err = ret.Value;
            if (err != 0) break;
            // The PMD changed before the PTL was taken: look at it again.
            if (walk.Action == PageWalkAction.Again) goto again;
        } while ((addr = next) != end);
        ret.Value = err;
    }

    /// <summary>
    /// <c>walk_pte_range</c> and <c>walk_pte_range_inner</c>: under the PTL (VMA walks), one PTE per step. An empty
    /// PTE in an install walk gets <c>install_pte</c>'s entry through <c>set_pte_at</c> and <c>update_mmu_cache</c>:
    /// nothing was mapped there, so no TLB can hold it and nothing is flushed. Other PTEs go to <c>pte_entry</c>.
    /// </summary>
    private static IEnumerable<Step> WalkPteRange(MmWalk walk, PteSlot pmd, ulong addr, ulong end, WalkResult ret)
    {
        var m = walk.Machine;
        var ops = walk.Ops;
        var ptl = walk.NoVma ? null : walk.Mm.Ptl;
        int err = 0;
        if (ptl is not null) yield return Step.Call(ptl.Lock(walk.Current));
        // pte_offset_map(_lock): the PMD must still point to a table, else the caller re-reads it.
        var pmdVal = PteOps.Read(m, pmd);
        if (!IsTable(pmdVal))
        {
            walk.Action = PageWalkAction.Again;
        }
        else
        {
            while (true)
            {
                var pte = PteOps.Child(pmdVal, addr, PageTableLevel.Pmd);
                if (ops.InstallPte is { } install && PteOps.IsNone(PteOps.Read(m, pte)))
                {
                    err = install(addr, addr + PageGeometry.PageSize, out var newPte, walk);
                    if (err != 0) break;
                    PteOps.SetPteAt(m, walk.Mm, addr, pte, newPte);
                    // Non-present before: for arches that preload or sync on it. Install walks always have a VMA.
                    m.Arch.UpdateMmuCache(walk.Mm.Id, addr, pte);
                }
                else if (ops.PteEntry is { } entry)
                {
                    err = entry(pte, addr, addr + PageGeometry.PageSize, walk);
                    if (err != 0) break;
                }
                yield return Step.Yield;
                if (addr >= end - PageGeometry.PageSize) break;
                addr += PageGeometry.PageSize;
            }
        }
        ptl?.Unlock(walk.Current);
        ret.Value = err;
    }

    /// <summary>
    /// <c>walk_hugetlb_range</c> with 2 MiB huge pages: per huge page, <c>hugetlb_walk</c> down to its PMD (or a huge
    /// or non-present PUD), one entry per step; <c>hugetlb_entry</c> if the tables reach it, else <c>pte_hole</c> (-1).
    /// </summary>
    private static IEnumerable<Step> WalkHugetlbRange(MmWalk walk, ulong addr, ulong end, WalkResult ret)
    {
        var m = walk.Machine;
        var ops = walk.Ops;
        ulong sz = PageGeometry.Span(PageTableLevel.Pmd);
        ulong hmask = ~(sz - 1);
        int err = 0;
        ulong next;
        do
        {
            next = Math.Min((addr & hmask) + sz, end);
            PteSlot? pte = null;
            var slot = PageTables.SlotOf(walk.Mm.Pgd, addr & hmask, m.PageTables.TopLevel);
            while (true)
            {
                var e = PteOps.Read(m, slot);
                if (slot.Level == PageTableLevel.Pud)
                {
                    if (!PteOps.IsNone(e)) pte = e.IsHuge || !e.IsPresent ? slot : PteOps.Child(e, addr & hmask, PageTableLevel.Pud);
                    break;
                }
                if (!e.IsPresent) break;
                slot = PteOps.Child(e, addr & hmask, slot.Level);
                yield return Step.Yield;
            }
            if (pte is { } p) err = ops.HugetlbEntry!(p, hmask, addr, next, walk);
            else if (ops.PteHole is { } hole) err = hole(addr, next, -1, walk);
            if (err != 0) break;
            yield return Step.Yield;
        } while ((addr = next) != end);
        ret.Value = err;
    }

    /// <summary>
    /// <c>__p4d_alloc</c> / <c>__pud_alloc</c> / <c>__pmd_alloc</c> / <c>__pte_alloc</c>: link a fresh table under the
    /// empty entry <paramref name="parent"/>; -ENOMEM if allocation fails (what was populated stays).
    /// </summary>
    private static int TableAlloc(MmWalk walk, PteSlot parent) =>
        PteOps.AllocTable(walk.Machine, walk.Mm, parent, out _) ? 0 : -ENOMEM;

    /// <summary>
    /// A present entry pointing to a table. A present huge leaf is never split here: an install-only walk must not
    /// (the kernel skips it too), and split_huge_pmd/pud is not modelled, so the leaf is left to pmd/pud_entry.
    /// </summary>
    private static bool IsTable(PageTableEntry e) => e.IsPresent && !e.IsHuge;

    /// <summary>With 4-level paging the PGD folds onto the P4D (<see cref="PageTables.TopLevel"/>).</summary>
    private static bool PgdFolded(Machine m) => m.PageTables.TopLevel == PageTableLevel.P4d;

    /// <summary><c>pgd_addr_end</c> and friends: the end of <paramref name="addr"/>'s entry at <paramref name="level"/>, capped at <paramref name="end"/>.</summary>
    private static ulong AddrEnd(ulong addr, ulong end, PageTableLevel level)
    {
        ulong span = PageGeometry.Span(level);
        ulong boundary = (addr + span) & ~(span - 1);
        return boundary - 1 < end - 1 ? boundary : end;
    }

    /// <summary><c>process_mm_walk_lock</c>: PGWALK_RDLOCK needs mmap_lock held, the write modes need it for write.</summary>
    private static void ProcessMmWalkLock(SimThread t, MmStruct mm, PageWalkLock walkLock)
    {
        if (walkLock == PageWalkLock.RdLock) MmapAssertLocked(t, mm);
        else if (walkLock != PageWalkLock.VmaRdLockVerify) MmapAssertWriteLocked(t, mm);
    }

    /// <summary>
    /// <c>process_vma_walk_lock</c>. Pv has no per-VMA locks: write locking a VMA needs nothing beyond the mmap write
    /// lock already checked, and a VMA read lock can only be mmap_lock itself.
    /// </summary>
    private static void ProcessVmaWalkLock(SimThread t, Vma vma, PageWalkLock walkLock)
    {
        if (walkLock == PageWalkLock.VmaRdLockVerify) MmapAssertLocked(t, vma.Mm);
    }

    /// <summary>
    /// <c>mmap_assert_locked</c>: <paramref name="t"/> holds mmap_lock for write, or someone holds it for read (readers
    /// are not recorded by thread, so any reader counts).
    /// </summary>
    private static void MmapAssertLocked(SimThread t, MmStruct mm)
    {
        var sem = mm.MmapLock;
        if (sem.Readers == 0 && sem.Writer != t)
            throw new InvalidOperationException($"page walk of {mm} by {t.Name} without {sem.Name} held (mmap_assert_locked)");
    }

    /// <summary><c>mmap_assert_write_locked</c>: <paramref name="t"/> holds mmap_lock for write.</summary>
    private static void MmapAssertWriteLocked(SimThread t, MmStruct mm)
    {
        var sem = mm.MmapLock;
        if (sem.Writer != t)
            throw new InvalidOperationException($"page walk of {mm} by {t.Name} without {sem.Name} held for write (mmap_assert_write_locked)");
    }
}

// The page walker's data (include/linux/pagewalk.h): the callback table mm_walk_ops, the per-walk state
// mm_walk that callbacks see and steer (walk->action), and the holder of a walk's int result. Callbacks are
// plain delegates run inside the walker's current step; each returns 0 to go on, >0 to stop the walk and
// return that value, <0 to abort it with that error. A null callback is not called.
using Pv.Abstractions.Memory;
using Pv.Engine.Mm;
using Pv.Engine.Sched;

namespace Pv.Engine.Walk;

/// <summary>
/// <c>pgd_entry</c> .. <c>pte_entry</c>: called for the entry at <paramref name="entry"/>, which covers
/// [<paramref name="addr"/>, <paramref name="next"/>). Read it with <see cref="MmWalk.Read"/>.
/// </summary>
internal delegate int MmWalkEntryFn(PteSlot entry, ulong addr, ulong next, MmWalk walk);

/// <summary>
/// <c>pte_hole</c>: [<paramref name="addr"/>, <paramref name="next"/>) has no table at <paramref name="depth"/>
/// (0..3 = PGD..PMD), or no VMA (-1).
/// </summary>
internal delegate int MmWalkPteHoleFn(ulong addr, ulong next, int depth, MmWalk walk);

/// <summary><c>hugetlb_entry</c>: the huge entry at <paramref name="pte"/> maps [<paramref name="addr"/>, <paramref name="next"/>).</summary>
internal delegate int MmWalkHugetlbFn(PteSlot pte, ulong hmask, ulong addr, ulong next, MmWalk walk);

/// <summary><c>test_walk</c> / <c>pre_vma</c>: called for the part [<paramref name="start"/>, <paramref name="end"/>) of <see cref="MmWalk.Vma"/>.</summary>
internal delegate int MmWalkRangeFn(ulong start, ulong end, MmWalk walk);

/// <summary>
/// <c>install_pte</c>: the PTE for [<paramref name="addr"/>, <paramref name="next"/>) is empty; return 0 with the
/// entry to write in <paramref name="pte"/> (the walker writes it with <c>set_pte_at</c>), or non-zero to stop.
/// </summary>
internal delegate int MmWalkInstallPteFn(ulong addr, ulong next, out PageTableEntry pte, MmWalk walk);

/// <summary><c>enum page_walk_lock</c>: the locks a walk's caller holds (checked) or the walk takes.</summary>
internal enum PageWalkLock : byte
{
    /// <summary><c>PGWALK_RDLOCK</c>: mmap_lock held for read (or write).</summary>
    RdLock,
    /// <summary><c>PGWALK_WRLOCK</c>: mmap_lock held for write; each VMA is write-locked as the walk reaches it.</summary>
    WrLock,
    /// <summary><c>PGWALK_WRLOCK_VERIFY</c>: mmap_lock held for write, VMAs already write-locked by the caller.</summary>
    WrLockVerify,
    /// <summary>
    /// <c>PGWALK_VMA_RDLOCK_VERIFY</c>: each VMA walked is read-locked by the caller. Pv has no per-VMA locks, so
    /// mmap_lock (either mode) is what satisfies it.
    /// </summary>
    VmaRdLockVerify,
}

/// <summary><c>enum page_walk_action</c>: what <c>pud_entry</c>/<c>pmd_entry</c> ask the walker to do next.</summary>
internal enum PageWalkAction : byte
{
    /// <summary><c>ACTION_SUBTREE</c> (the default): descend into the next level.</summary>
    Subtree,
    /// <summary><c>ACTION_CONTINUE</c>: skip this entry's subtree.</summary>
    Continue,
    /// <summary><c>ACTION_AGAIN</c>: read the entry again and call the callback again.</summary>
    Again,
}

/// <summary>
/// <c>struct mm_walk_ops</c>. Every callback is optional. <see cref="InstallPte"/> is for the mm itself: only
/// <see cref="PageWalk.WalkPageRangeMm"/> accepts it.
/// </summary>
internal sealed class MmWalkOps
{
    /// <summary><c>pgd_entry</c>: each top-level entry (with 4-level paging the folded PGD is the P4D slot).</summary>
    public MmWalkEntryFn? PgdEntry { get; init; }
    /// <summary><c>p4d_entry</c>: each present P4D entry (with 4-level paging, the same slot as the PGD).</summary>
    public MmWalkEntryFn? P4dEntry { get; init; }
    /// <summary><c>pud_entry</c>: each non-empty PUD entry, huge leaves included; may set <see cref="MmWalk.Action"/>.</summary>
    public MmWalkEntryFn? PudEntry { get; init; }
    /// <summary><c>pmd_entry</c>: each non-empty PMD entry, huge leaves included; may set <see cref="MmWalk.Action"/>.</summary>
    public MmWalkEntryFn? PmdEntry { get; init; }
    /// <summary><c>pte_entry</c>: each PTE; with <see cref="InstallPte"/> set, only the non-empty ones.</summary>
    public MmWalkEntryFn? PteEntry { get; init; }
    /// <summary><c>pte_hole</c>: a range with no VMA, or with no table at some level (where an install walk allocates one instead).</summary>
    public MmWalkPteHoleFn? PteHole { get; init; }
    /// <summary><c>hugetlb_entry</c>: each huge page of a VM_HUGETLB VMA.</summary>
    public MmWalkHugetlbFn? HugetlbEntry { get; init; }
    /// <summary><c>test_walk</c>: 0 walks the VMA, 1 skips it, &lt;0 aborts. Without it, VM_PFNMAP VMAs are skipped.</summary>
    public MmWalkRangeFn? TestWalk { get; init; }
    /// <summary><c>pre_vma</c>: before the walk of each VMA.</summary>
    public MmWalkRangeFn? PreVma { get; init; }
    /// <summary><c>post_vma</c>: after the walk of each VMA whose <c>pre_vma</c> succeeded.</summary>
    public Action<MmWalk>? PostVma { get; init; }
    /// <summary><c>install_pte</c>: fill empty PTEs, allocating missing tables on the way (mm-internal walks only).</summary>
    public MmWalkInstallPteFn? InstallPte { get; init; }
    /// <summary><c>walk_lock</c>.</summary>
    public PageWalkLock WalkLock { get; init; }
}

/// <summary><c>struct mm_walk</c>: the state of one walk, as its callbacks see it.</summary>
internal sealed class MmWalk
{
    internal MmWalk(Machine machine, SimThread current, MmWalkOps ops, MmStruct mm, object? @private)
    {
        Machine = machine;
        Current = current;
        Ops = ops;
        Mm = mm;
        Private = @private;
    }

    /// <summary>The machine whose page tables are walked.</summary>
    public Machine Machine { get; }
    /// <summary>The thread running the walk (the kernel's <c>current</c>): it holds the PTL over each PTE table.</summary>
    public SimThread Current { get; }
    /// <summary><c>ops</c>.</summary>
    public MmWalkOps Ops { get; }
    /// <summary><c>mm</c>.</summary>
    public MmStruct Mm { get; }
    /// <summary><c>pgd</c>: the top-level table to walk instead of the mm's (no-VMA walks), or null.</summary>
    public Pfn? Pgd { get; init; }
    /// <summary><c>vma</c>: the VMA being walked, or null in a gap or a no-VMA walk.</summary>
    public Vma? Vma { get; internal set; }
    /// <summary><c>action</c>: reset to <see cref="PageWalkAction.Subtree"/> before each <c>pud_entry</c>/<c>pmd_entry</c>.</summary>
    public PageWalkAction Action { get; set; }
    /// <summary><c>no_vma</c>: the walk ignores VMAs and does not take the PTL.</summary>
    public bool NoVma { get; init; }
    /// <summary><c>private</c>: the caller's data.</summary>
    public object? Private { get; }

    /// <summary><c>ptep_get</c> / <c>pmdp_get</c> ...: the entry at <paramref name="slot"/>.</summary>
    public PageTableEntry Read(PteSlot slot) => PteOps.Read(Machine, slot);
}

/// <summary>The int a walk returns: 0, a callback's positive stop value, or a negative errno.</summary>
internal sealed class WalkResult
{
    /// <summary>The walk's return value (valid once the walk's steps are done).</summary>
    public int Value { get; internal set; }
}
